"""Seed ensembles (training.models.ensemble): mean of the members' maps, through export and evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sstrack_edge.bench import _torch_row, count_onnx_macs
from sstrack_edge.model_card import ModelCard, sha256_file
from training.evaluate import main as evaluate_main
from training.export.cli import main as export_main
from training.models.ensemble import TrackerEnsemble, load_ensemble
from training.models.ostrack import ModelConfig, build_model, count_macs, decode_boxes

ort = pytest.importorskip("onnxruntime")

TINY = dict(depth=1, embed_dim=32, num_heads=2, head_channels=16)


def _member(seed: int, **over) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(ModelConfig(**{**TINY, **over})).eval()


def _inputs(cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return (torch.rand(1, 3, cfg.template_size, cfg.template_size, generator=g) * 255,
            torch.rand(1, 3, cfg.search_size, cfg.search_size, generator=g) * 255)


def _save(model, path, epoch=4):
    torch.save({"format": "sstrack-train-checkpoint", "version": 1, "epoch": epoch,
                "config": {"name": "tiny", "epochs": 6, "data": {"samples_per_epoch": 32}},
                "metrics": {"mean_iou": 0.5}, "model_config": model.cfg.to_dict(), "model": model.state_dict()},
               path)
    return path


def test_outputs_are_the_mean_of_the_members_maps():
    a, b, c = _member(1), _member(2), _member(3)
    ens = TrackerEnsemble([a, b, c]).eval()
    z, x = _inputs(a.cfg)
    with torch.no_grad():
        outs, got = [m(z, x) for m in (a, b, c)], ens(z, x)
    for k in ("score_map", "size_map", "offset_map"):
        mean = sum(o[k] for o in outs) / 3
        assert torch.allclose(got[k], mean, atol=1e-6), k
        assert not torch.allclose(got[k], outs[0][k], atol=1e-3), k  # the members do differ
    assert torch.equal(got["pred_boxes"], decode_boxes(got["score_map"], got["size_map"], got["offset_map"]))
    assert ens.cfg == a.cfg and len(ens.members) == 3


def test_members_must_share_the_architecture():
    with pytest.raises(ValueError, match="at least 2"):
        TrackerEnsemble([_member(1)])
    with pytest.raises(ValueError, match=r"differ in .*depth \(1 vs 2\)"):
        TrackerEnsemble([_member(1), _member(2, depth=2)])
    with pytest.raises(ValueError, match="search_factor"):
        TrackerEnsemble([_member(1), _member(2, search_factor=5.0)])


def test_export_of_two_checkpoints_is_one_graph_with_the_ensembles_maps(tmp_path, capsys):
    a, b = _member(1), _member(2)
    ca, cb = _save(a, tmp_path / "s1.pt"), _save(b, tmp_path / "s2.pt", epoch=5)
    out, single = tmp_path / "ens", tmp_path / "single"
    assert export_main(["--checkpoint", str(ca), str(cb), "--out", str(out), "--name", "ens", "--no-openvino"]) == 0
    assert "2 members x 1 blocks" in capsys.readouterr().out
    assert export_main(["--checkpoint", str(ca), "--out", str(single), "--name", "one", "--no-openvino"]) == 0
    card, one = ModelCard.load(out), ModelCard.load(single)

    assert card.architecture["ensemble_members"] == 2 and "ensemble_members" not in one.architecture
    assert card.architecture["macs"] == 2 * one.architecture["macs"] == 2 * count_macs(a.cfg)
    assert card.architecture["macs"] == count_onnx_macs(out / card.variant("fp32").files["model"])
    assert card.architecture["params"] == 2 * one.architecture["params"]
    assert card.source_checkpoint["sha256"] == [sha256_file(ca), sha256_file(cb)]
    t = card.metrics["training"]  # shared fields once, the budget summed, each member's own summary
    assert t["config"] == "tiny" and t["pairs_seen"] == (4 + 5) * 32
    assert [m["epochs"] for m in t["members"]] == [4, 5]

    z, x = _inputs(a.cfg)
    sess = ort.InferenceSession(str(out / card.variant("fp32").files["model"]), providers=["CPUExecutionProvider"])
    score, size, offset = sess.run(None, {"template": z.numpy(), "search": x.numpy()})
    ens, _ = load_ensemble([ca, cb])
    with torch.no_grad():
        ref = ens(z, x)
    assert np.abs(score - ref["score_map"].numpy()).max() < 1e-4
    assert np.abs(size - ref["size_map"].numpy()).max() < 1e-4
    assert np.abs(offset - ref["offset_map"].numpy()).max() < 1e-4

    row = _torch_row(card, threads=1)  # bench's torch eager reference runs both members too
    assert row is not None and row.name == "torch-eager-fp32"


def test_export_refuses_members_of_different_architectures(tmp_path, capsys):
    ca, cb = _save(_member(1), tmp_path / "s1.pt"), _save(_member(2, depth=2), tmp_path / "s2.pt")
    assert export_main(["--checkpoint", str(ca), str(cb), "--out", str(tmp_path / "o"), "--name", "e",
                        "--no-openvino"]) == 2
    assert "differ in depth" in capsys.readouterr().err


@pytest.mark.realdata
def test_evaluate_runs_the_ensemble_on_a_real_sequence(tmp_path, train_videos, capsys):
    ca, cb = _save(_member(1), tmp_path / "s1.pt"), _save(_member(2), tmp_path / "s2.pt", epoch=5)
    res_file = tmp_path / "res.json"
    assert evaluate_main([str(ca), str(cb), "--data", str(train_videos), "--sequences",
                          "UAV123_10fps_wakeboard7", "--threads", "1", "--json", str(res_file)]) == 0
    res = json.loads(res_file.read_text())
    assert res["checkpoint"] == [str(ca), str(cb)] and res["epoch"] == [4, 5]
    assert res["sequences"] == 1 and res["frames"] == 67 and 0.0 <= res["auc"] <= 100.0
    assert "mean over 1 sequences" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # --record appends to one run's eval.jsonl
        evaluate_main([str(ca), str(cb), "--data", str(train_videos), "--sequences", "UAV123_10fps_wakeboard7",
                       "--record"])
    assert "give one checkpoint" in capsys.readouterr().err


def test_nncf_scope_accepts_excluded_nodes_openvino_merged_into_identical_twins(tmp_path):
    """Members that share frozen layers (same ImageNet stem) compute them twice on the same input;
    OpenVINO's conversion merges the copies, so the ignored scope finds one node for both."""
    import onnx

    ov = pytest.importorskip("openvino")
    from training.export.onnx_export import export_onnx
    from training.export.quantize import _ov_ignored_scope, select_nodes

    a, b = _member(1), _member(2)
    b.backbone.patch_embed.load_state_dict(a.backbone.patch_embed.state_dict())  # shared frozen stem
    path = export_onnx(TrackerEnsemble([a, b]), tmp_path / "ens.onnx")
    m = onnx.load(str(path))
    excluded = select_nodes(m, ["patch_embed"])
    assert len(excluded) == 4 and any("members.1/" in n for n in excluded)  # 2 members x template + search
    converted = ov.convert_model(str(path))
    with pytest.raises(ValueError, match="no \\(Group\\)Convolution/MatMul"):
        _ov_ignored_scope(converted, excluded)  # without the ONNX graph the merge cannot be told apart
    _, found = _ov_ignored_scope(converted, excluded, m)
    assert found and all("members.0/" in f for f in found)

    c = _member(3)  # its own stem: nothing to merge, so a node missing from OpenVINO is still an error
    path = export_onnx(TrackerEnsemble([a, c]), tmp_path / "ens2.onnx")
    m2 = onnx.load(str(path))
    with pytest.raises(ValueError, match="no \\(Group\\)Convolution/MatMul"):
        _ov_ignored_scope(ov.convert_model(str(path)), [*select_nodes(m2, ["patch_embed"]), "/no/such/Conv"], m2)
