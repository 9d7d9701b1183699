"""The bundled default model (models/default): what ``Tracker()`` loads, and its accuracy gates.

* the card is trained, ships the ONNX FP32 file and only INT8 variants that passed the accuracy
  gate (the rejected ones are on record with their AUC), and records how it was trained and what
  it scored;
* ``Tracker()`` and ``sstrack-edge demo`` use it with no arguments;
* on ../shared/data/sot/eval, FP32 reproduces the card's AUC (within 1.0 point: other CPUs may
  round differently) and every kept INT8 variant runnable here is within 1.0 AUC point of FP32 (the
  keep rule of training/export/accuracy_gate.py, re-checked on every CI run).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import sstrack_edge
from sstrack_edge.backends import current_platform, default_model_dir
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.evaluate import evaluate
from sstrack_edge.geometry import iou_xywh
from sstrack_edge.model_card import ModelCard

MAX_AUC_DROP = 1.0  # training.export.accuracy_gate.MAX_AUC_DROP (the runtime tests do not import training)


@pytest.fixture(scope="module")
def card() -> ModelCard:
    return ModelCard.load(default_model_dir())


def test_default_model_is_trained_and_documented(card):
    assert card.root.name == "default" and card.trained
    names = [v.name for v in card.variants]
    assert "fp32" in names and card.variant("fp32").files["model"].endswith(".onnx")
    int8 = [v for v in card.variants if v.precision == "int8"]
    assert all(v.kept for v in int8), "ship only INT8 variants that passed the gate"
    for v in int8:
        assert v.metrics["auc_drop"] <= MAX_AUC_DROP and v.metrics["speedup"] > 1.0, v.name
    for name, m in card.metrics.get("rejected_variants", {}).items():  # measured, and failed the rule
        assert m["auc_drop"] > MAX_AUC_DROP or m["speedup"] <= 1.0, name
    assert int8 or card.metrics["rejected_variants"], "INT8 candidates were neither shipped nor measured"
    assert card.metrics["eval"]["sequences"] == 11 and card.metrics["eval"]["auc"] > 0
    assert card.metrics["training"]["sampler"] == "interval" and card.metrics["training"]["gradient_scaling"]
    assert card.metrics["training"]["pairs_seen"] > 0


def test_tracker_with_no_arguments_follows_a_real_target(sot_eval):
    seq = next(s for s in load_dataset(sot_eval, "sot") if s.name == "car14")
    tracker = sstrack_edge.Tracker(threads=1)
    assert tracker.card.root == default_model_dir()
    tracker.init(seq.read_frame(0), seq.init_box)
    ious = []
    for i in range(1, 60):
        tracker.update(seq.read_frame(i))
        ious.append(iou_xywh(tracker.result.bbox, seq.ground_truth[i]))
    assert np.mean(ious) > 0.5


def test_demo_runs_on_the_default_model(tmp_path, capsys):
    from sstrack_edge.cli import main

    assert main(["demo", "--out", str(tmp_path), "--frames", "30", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"mean_iou_visible: ([0-9.]+)", out).group(1)) > 0.5


@pytest.mark.realdata
@pytest.mark.slow
def test_fp32_reproduces_the_card_and_int8_is_within_one_auc_point(card, sot_eval, tmp_path):
    here = current_platform()
    variants = [card.variant("fp32")] + [v for v in card.variants if v.precision == "int8" and here in v.platforms]
    specs = [f"sstrack:{card.root}:onnxruntime:fp32"] + [f"sstrack:{card.root}:{v.backend}:{v.name}"
                                                         for v in variants[1:]]
    results = evaluate(load_dataset(sot_eval, "sot"), specs, tmp_path, modes=("offline",), threads=1,
                       progress=False)
    auc = {v.name: 100 * r.summary.auc for v, r in zip(variants, results)}
    assert abs(auc["fp32"] - card.metrics["eval"]["auc"]) <= 1.0, auc
    for v in variants[1:]:
        assert auc[v.name] >= auc["fp32"] - MAX_AUC_DROP, (v.name, auc)


def test_freezing_at_once_reacquires_on_the_occlusion_clip(tmp_path, capsys):
    """On the demo clip, where the target hides behind a bar and leaves the frame, freezing the
    search at once (patience 0, threshold 0.3) re-acquires it (docs/runtime.md)."""
    from sstrack_edge.cli import main

    def mean_iou(*extra):
        assert main(["demo", "--out", str(tmp_path), "--threads", "1", *extra]) == 0
        return float(re.search(r"mean_iou_visible: ([0-9.]+)", capsys.readouterr().out).group(1))

    assert mean_iou("--lost-threshold", "0.3", "--lost-patience", "0") > 0.6
    with pytest.raises(SystemExit) as bad:  # the demo reports a bad option through argparse
        main(["demo", "--out", str(tmp_path), "--lost-patience", "-1"])
    assert bad.value.code == 2
    assert "lost_patience must be a whole number" in capsys.readouterr().err


@pytest.mark.realdata
def test_tracker_settings_sweep_reproduces_the_documented_row(train_videos):
    """benchmarks/tracker_settings_sweep.py, the docs/runtime.md "Lost target" table's tool."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "tracker_settings_sweep.py"
    spec = importlib.util.spec_from_file_location("tracker_settings_sweep", path)
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    clip = "UAV123_10fps_wakeboard3"
    rows = sweep.sweep(str(default_model_dir()), str(train_videos), [clip],
                       [{"lost_threshold": 0.3, "lost_patience": 0}, {"lost_threshold": 0.15, "lost_patience": 10}])
    frozen, shipped = (r["per_sequence"][clip] for r in rows)
    # documented: 69.3 vs 14.7 on the held-out clip's former JPEG frames; 68.8 vs 14.4 measured on train_videos
    assert shipped > 60 > 20 > frozen


@pytest.mark.realdata
def test_held_out_tre_reproduces_the_card(card, train_videos, tmp_path):
    """The number a new default model must beat (benchmarks/RESULTS.md): ``Tracker()`` on the
    card's held-out clips, 10 start frames each, as ``training.export.held_out_tre`` recorded it.
    The card was measured on the clips' former JPEG frames (names without the dataset prefix); on
    the re-encoded train_videos clips it scores 47.62 (card: 47.95)."""
    from sstrack_edge.evaluation import temporal_segments

    rec = card.metrics["held_out_tre"]
    names = [n if n.startswith("UAV123_10fps_") else f"UAV123_10fps_{n}" for n in rec["sequences"]]
    segments = temporal_segments(load_dataset(train_videos, "videos", names), rec["starts"])
    assert len(segments) == rec["segments"]
    res = evaluate(segments, [f"sstrack:{card.root}"], tmp_path, modes=("offline",), threads=1, progress=False)[0]
    assert abs(100 * res.summary.auc - rec["auc"]) <= 1.0, (100 * res.summary.auc, rec["auc"])
