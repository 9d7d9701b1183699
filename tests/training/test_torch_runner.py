"""The runtime Tracker on a torch network (training/torch_runner.py) and the validation selector
(training/validate.py): the loop that chooses checkpoints is the loop that ships."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sstrack_edge import Tracker
from sstrack_edge.evaluation.datasets import load_dataset
from training.models.checkpoints import load_tracker
from training.torch_runner import torch_model, torch_tracker
from training.validate import main as validate_main, paired_interval

VITTRACK = "object_tracking_vittrack_2023sep.onnx"


@pytest.fixture(scope="module")
def vittrack(vittrack_dir):
    model, _ = load_tracker(vittrack_dir / VITTRACK)
    return model


def test_torch_runner_tracks_like_the_exported_model(vittrack, train_videos, tmp_path):
    """Same card, same loop: the torch runner and ONNX Runtime FP32 give the same boxes on a real
    clip (float noise only), including the card's inference settings."""
    from training.export.package import export_model

    settings = {"lost_threshold": 0.15, "lost_patience": 10}
    export_model(vittrack, tmp_path / "m", name="vittrack", trained=True, openvino=False, inference=settings)
    seq = load_dataset(train_videos, "videos", ["UAV123_10fps_wakeboard3"])[0]
    a, b = torch_tracker(vittrack, settings), Tracker(str(tmp_path / "m"), backend="onnxruntime", precision="fp32")
    assert a.card.inference == b.card.inference
    first = seq.read_frame(0)
    a.init(first, seq.init_box)
    b.init(first, seq.init_box)
    worst = 0.0
    for i in range(1, 80):
        frame = seq.read_frame(i)
        (ok_a, box_a), (ok_b, box_b) = a.update(frame), b.update(frame)
        assert ok_a == ok_b
        worst = max(worst, float(np.abs(np.subtract(box_a, box_b)).max()))
    assert worst < 0.05, worst  # pixels: float noise, fed back through 80 crops (measured 0.019)


def test_torch_runner_refuses_bad_settings_and_restores_training_mode(vittrack):
    with pytest.raises(ValueError, match="lost_threshold"):
        torch_tracker(vittrack, {"lost_threshold": 2})
    vittrack.train()
    run = torch_model(vittrack).create_runner()
    score, size, offset = run(np.zeros((1, 3, 128, 128), np.float32), np.zeros((1, 3, 256, 256), np.float32))
    assert score.shape == (16, 16) and size.shape == offset.shape == (2, 16, 16)
    assert vittrack.training  # the runner switched to eval for the call only
    vittrack.eval()


def test_paired_interval_separates_a_real_gain_from_noise():
    ref = {f"c{i}": 50.0 for i in range(12)}
    assert paired_interval(ref, {k: v + 3.0 for k, v in ref.items()})[1] > 0  # every clip gains
    mixed = {k: v + (10.0 if i % 2 else -9.0) for i, (k, v) in enumerate(ref.items())}
    mean, lo, hi = paired_interval(ref, mixed)
    assert lo < 0 < hi and mean == pytest.approx(0.5)


def test_validate_cli_compares_candidates_on_the_config_clips(vittrack_dir, train_videos, tmp_path, capsys):
    cfg = {"name": "t", "epochs": 1, "model": {}, "data": {"datasets": [{"kind": "video", "root": str(train_videos),
                                                                 "options": {"exclude": ["UAVDT_S0310"]}}]},
           "validation": {"root": str(train_videos), "format": "videos", "sequences": ["UAVDT_S0310"],
                          "starts": 2, "inference": {"lost_threshold": 0.15}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    onnx = vittrack_dir / VITTRACK
    out = tmp_path / "v.json"
    assert validate_main([str(path), str(onnx), str(onnx), "--json", str(out), "--inference", "lost_patience=10"]) == 0
    res = json.loads(out.read_text())
    assert res["sequences"] == ["UAVDT_S0310"] and res["starts"] == 2
    assert res["inference"]["lost_threshold"] == 0.15 and res["inference"]["lost_patience"] == 10
    a, b = res["candidates"]
    assert a["auc"] == b["auc"] > 30 and b["diff_vs_first"]["mean"] == 0.0
    assert "(reference)" in capsys.readouterr().out
    assert validate_main([str(path), str(tmp_path / "missing.pt")]) == 2
