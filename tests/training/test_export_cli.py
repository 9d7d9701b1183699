"""``sstrack-export``: random and checkpoint exports, loud untrained warning, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sstrack_edge.model_card import ModelCard, sha256_file
from training.export.cli import main
from training.models.ostrack import ModelConfig, build_model

ort = pytest.importorskip("onnxruntime")

ARCH = ["depth=1", "embed_dim=32", "num_heads=2", "head_channels=16"]


def _run_fp32(out, z, x):
    card = ModelCard.load(out)
    sess = ort.InferenceSession(str(out / card.variant("fp32").files["model"]), providers=["CPUExecutionProvider"])
    return sess.run(["score_map", "size_map", "offset_map"], {"template": z, "search": x})


def test_random_export_is_marked_untrained_and_says_so(tmp_path, capsys):
    out = tmp_path / "rand"
    assert main(["--random", "--arch", *ARCH, "--out", str(out), "--name", "rnd", "--no-openvino"]) == 0
    err = capsys.readouterr().err
    assert "UNTRAINED" in err
    card = ModelCard.load(out)
    assert card.trained is False and card.source_checkpoint["trained"] is False
    assert card.architecture["depth"] == 1 and card.architecture["embed_dim"] == 32
    assert [v.name for v in card.variants] == ["fp32"]


def test_training_checkpoint_export_matches_torch(tmp_path, capsys):
    torch.manual_seed(5)
    cfg = ModelConfig(depth=1, embed_dim=32, num_heads=2, head_channels=16, ce_loc=(0,))
    model = build_model(cfg).eval()
    ckpt = tmp_path / "last.pt"
    train_cfg = {"name": "tiny", "epochs": 5,
                 "data": {"samples_per_epoch": 64, "datasets": [{"kind": "folder", "root": "r", "weight": 3,
                                                                  "options": {"exclude": ["v"]}}]},
                 "schedule": {"sampler": "interval", "gradient_scaling": True}, "optim": {"lr": 4e-4},
                 "pretrained": {"path": "../shared/peers/vittrack/net.onnx", "kind": "ostrack"},
                 "validation": {"root": "r", "sequences": ["v"], "every": 1}}
    torch.save({"format": "sstrack-train-checkpoint", "version": 1, "epoch": 3, "config": train_cfg,
                "metrics": {"mean_iou": 0.71234, "val_auc": 41.234}, "world_size": 2,
                "best": {"epoch": 3, "val_auc": 41.234},
                "model_config": cfg.to_dict(), "model": model.state_dict()}, ckpt)
    out = tmp_path / "trained"
    assert main(["--checkpoint", str(ckpt), "--out", str(out), "--name", "mine", "--no-openvino"]) == 0
    assert "UNTRAINED" not in capsys.readouterr().err
    card = ModelCard.load(out)
    assert card.trained is True and card.architecture["ce_loc"] == [0]
    assert card.source_checkpoint["sha256"] == sha256_file(ckpt)
    t = card.metrics["training"]  # how it was trained travels with the model
    assert (t["config"], t["epochs"], t["pairs_seen"], t["sampler"]) == ("tiny", 3, 3 * 64 * 2, "interval")
    assert t["final_train_mean_iou"] == 0.7123
    assert t["datasets"] == [{"kind": "folder", "root": "r", "weight": 3, "options": {"exclude": ["v"]}}]
    assert t["epochs_planned"] == 5  # chosen by validation: epoch 3 of 5
    assert t["initialisation"] == "../shared/peers/vittrack/net.onnx"  # what the weights started from
    assert t["validation"] == {"root": "r", "sequences": ["v"], "auc": 41.23, "best": {"epoch": 3, "val_auc": 41.234}}
    assert "initialisation_training" not in t  # an ONNX start has no training record
    # a run started from that checkpoint (e.g. a presence branch trained on top): the chain is kept
    child = tmp_path / "child.pt"
    child_cfg = {**train_cfg, "name": "child", "pretrained": {"path": str(ckpt), "kind": "ostrack"}}
    torch.save({**torch.load(ckpt, weights_only=False), "epoch": 2, "config": child_cfg}, child)
    assert main(["--checkpoint", str(child), "--out", str(tmp_path / "child"), "--name", "c", "--no-openvino",
                 "--licences", "weights Apache-2.0; data research use"]) == 0
    assert ModelCard.load(tmp_path / "child").source_checkpoint["licences"] == "weights Apache-2.0; data research use"
    assert "licences" not in card.source_checkpoint  # not given, not invented
    chain = ModelCard.load(tmp_path / "child").metrics["training"]
    assert (chain["config"], chain["epochs"]) == ("child", 2)
    parent = chain["initialisation_training"]
    assert (parent["config"], parent["epochs"], parent["initialisation"]) == ("tiny", 3, "../shared/peers/vittrack/net.onnx")
    z = np.random.default_rng(0).uniform(0, 255, (1, 3, 128, 128)).astype(np.float32)
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 256, 256)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(z), torch.from_numpy(x))
    score, size, offset = _run_fp32(out, z, x)
    assert np.abs(score - ref["score_map"].numpy()).max() < 1e-4
    assert np.abs(offset - ref["offset_map"].numpy()).max() < 1e-4


def test_official_checkpoint_needs_heads(tmp_path, capsys):
    torch.manual_seed(6)
    model = build_model(ModelConfig(depth=1, embed_dim=32, num_heads=2, head_channels=16)).eval()
    ckpt = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": model.state_dict()}, ckpt)
    out = tmp_path / "official"
    assert main(["--checkpoint", str(ckpt), "--out", str(out), "--name", "o", "--no-openvino"]) == 2
    assert "attention heads cannot be read" in capsys.readouterr().err
    cfg_file = tmp_path / "arch.yaml"
    cfg_file.write_text("model:\n  num_heads: 2\n  search_factor: 4.0\n")
    assert main(["--checkpoint", str(ckpt), "--config", str(cfg_file), "--out", str(out), "--name", "o",
                 "--no-openvino"]) == 0
    assert ModelCard.load(out).architecture["num_heads"] == 2


def test_bad_arguments_are_named(tmp_path, capsys):
    assert main(["--random", "--arch", "depth", "--out", str(tmp_path / "a"), "--name", "a"]) == 2
    assert "must look like key=value" in capsys.readouterr().err
    assert main(["--random", "--arch", "embed_dim=100", "num_heads=3", "--out", str(tmp_path / "b"),
                 "--name", "b"]) == 2
    assert "not divisible by num_heads" in capsys.readouterr().err
    assert main(["--random", "--arch", *ARCH, "--out", str(tmp_path / "c"), "--name", "c", "--no-openvino",
                 "--quantize", "int8-static", "--calib-root", str(tmp_path / "nowhere")]) == 2
    assert "--calib-root" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--random", "--checkpoint", "x.pth", "--out", str(tmp_path / "d"), "--name", "d"])


@pytest.mark.realdata
def test_dynamic_int8_from_the_cli_is_compared(train_videos, tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["--random", "--arch", *ARCH, "--out", str(out), "--name", "q", "--no-openvino",
                 "--quantize", "int8-dynamic", "--calib-root", str(train_videos), "--compare-pairs", "3"]) == 0
    v = ModelCard.load(out).variant("int8-dynamic")
    assert v.metrics["pairs"] == 3 and "score_corr" in v.metrics and isinstance(v.kept, bool)
    assert "int8-dynamic" in capsys.readouterr().out


@pytest.mark.realdata
def test_exclusions_reach_the_quantizer(train_videos, tmp_path, capsys):
    base = ["--random", "--arch", *ARCH, "--no-openvino", "--name", "x", "--quantize", "int8-static",
            "--calib-root", str(train_videos), "--calib-sequences", "OTB_Bird2,UAV123_10fps_car10",
            "--calib-pairs", "2", "--compare-pairs", "0"]
    assert main([*base, "--out", str(tmp_path / "a"), "--exclude", "int8-static=attention,head"]) == 0
    v = ModelCard.load(tmp_path / "a").variant("int8-static")
    assert v.quantization["exclude"] == ["attention", "head"]
    calib = v.quantization["calibration"]
    assert calib["source"] == "../shared/data/sot/train_videos"  # no build-machine path in the card
    assert calib["sequences"] == ["OTB_Bird2", "UAV123_10fps_car10"]
    assert len(v.quantization["excluded_nodes"]) == 2 + 15  # q k^T + attn v of 1 block, 15 head convs
    assert v.kept is False and "not compared" in v.metrics["note"]
    assert main([*base, "--out", str(tmp_path / "b"), "--exclude", "int8-static=patch_embd"]) == 2
    assert "'patch_embd' matches no node" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "c"), "--exclude", "int8-dynamic=head"]) == 2
    assert "does not build" in capsys.readouterr().err


@pytest.mark.realdata
def test_size_smoothing_travels_in_the_card_and_the_torch_runner_matches_the_export(sot_eval, tmp_path, capsys):
    import warnings

    from sstrack_edge import Tracker
    from sstrack_edge.errors import UntrainedModelWarning
    from sstrack_edge.evaluation.datasets import read_sot
    from sstrack_edge.evaluation.tracking_runs import run_offline
    from training.evaluate import checkpoint_tracker

    torch.manual_seed(7)
    cfg = ModelConfig(depth=1, embed_dim=32, num_heads=2, head_channels=16)
    ckpt = tmp_path / "last.pt"
    torch.save({"format": "sstrack-train-checkpoint", "version": 1, "epoch": 1, "model_config": cfg.to_dict(),
                "model": build_model(cfg).eval().state_dict()}, ckpt)
    out = tmp_path / "smooth"
    assert main(["--checkpoint", str(ckpt), "--out", str(out), "--name", "s", "--no-openvino",
                 "--inference", "size_update_rate=0.3"]) == 0
    card = ModelCard.load(out)
    assert card.inference["size_update_rate"] == 0.3 and card.inference["lost_threshold"] == 0.25
    seq = min(read_sot(sot_eval), key=len)
    n = 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        runtime = Tracker(out, backend="onnxruntime", precision="fp32", threads=1, lost_threshold=0.0)
    torch_runner, _ = checkpoint_tracker(ckpt, {"size_update_rate": 0.3, "lost_threshold": 0.0})
    assert torch_runner.card.inference == {**card.inference, "lost_threshold": 0.0}
    for tracker in (runtime, torch_runner):
        tracker.init(seq.read_frame(0), seq.init_box)
    # one loop, two runners, from the same state (over a whole run, last-bit differences move a crop
    # pixel by one uint8 step now and then and the trajectories drift apart: 0.57 px after 11 frames)
    np.testing.assert_allclose(torch_runner.update(seq.read_frame(1))[1], runtime.update(seq.read_frame(1))[1],
                               atol=0.01)
    seq.frames, seq.ground_truth = seq.frames[:n], seq.ground_truth[:n]
    smoothed = run_offline(checkpoint_tracker(ckpt, {"size_update_rate": 0.3, "lost_threshold": 0.0})[0], seq).boxes[1:]
    raw = run_offline(checkpoint_tracker(ckpt, {"lost_threshold": 0.0})[0], seq).boxes[1:]
    assert np.abs(np.diff(smoothed[:, 2:], axis=0)).max() < np.abs(np.diff(raw[:, 2:], axis=0)).max()
    for bad, message in (("size_update_rate=2", "size_update_rate must be null or a number in"),
                         ("max_serch_factor=6", "not a card inference key")):
        assert main(["--checkpoint", str(ckpt), "--out", str(tmp_path / "bad"), "--name", "b", "--no-openvino",
                     "--inference", bad]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()  # refused before anything was written
