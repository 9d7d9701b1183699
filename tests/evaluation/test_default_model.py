"""The bundled default model (models/default): what ``Tracker()`` loads, and its accuracy gates.

* the card is trained, names its initialisation, ships the ONNX FP32 file and only INT8 variants
  that passed the gate (the rejected ones are on record with their numbers), records how it was
  chosen and what it scored, and carries no build-machine paths;
* ``Tracker()`` and ``sstrack-edge demo`` use it with no arguments;
* on the validation clips the card records, FP32 reproduces the card's AUC and every kept INT8
  variant runnable here is within 1.0 AUC point of FP32, either way (the keep rule of
  training/export/accuracy_gate.py, re-checked on every CI run, in the full and in the plain install).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import sstrack_edge
from sstrack_edge.backends import current_platform, default_model_dir
from sstrack_edge.evaluation import temporal_segments
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.evaluate import evaluate
from sstrack_edge.geometry import iou_xywh
from sstrack_edge.model_card import ModelCard

MAX_AUC_DELTA = 1.0  # training.export.accuracy_gate.MAX_AUC_DELTA (the runtime tests do not import training)


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
        assert abs(v.metrics["auc_delta"]) <= MAX_AUC_DELTA and v.metrics["speedup"] > 1.0, v.name
    for name, m in card.metrics.get("rejected_variants", {}).items():  # measured, and failed the rule
        assert abs(m["auc_delta"]) > MAX_AUC_DELTA or m["speedup"] <= 1.0, name
    assert int8 or card.metrics["rejected_variants"], "INT8 candidates were neither shipped nor measured"
    gate = card.metrics["int8_gate"]
    assert len(gate["sequences"]) >= 10 and gate["starts"] >= 5 and gate["auc"] > 0
    assert "object_tracking_vittrack_2023sep.onnx" in json.dumps(card.source_checkpoint) + json.dumps(
        card.metrics.get("training", {}))  # the initialisation is named
    licences = card.source_checkpoint["licences"]  # and the licences of what it was made from
    assert "Apache-2.0" in licences and "research use" in licences
    peers = card.metrics["eval_vs_peers"]["trackers"]
    assert {"opencv:vit", "opencv:nano", "opencv:csrt"} <= set(peers)
    # ONNX node names ("/model/box_head/...", the exporter's module paths) are not file paths
    path = re.search(r"[\s'\"(]/(?!model/)\w[^'\"]*", (card.root / "model_card.json").read_text())
    assert path is None, f"a build-machine path in the card: {path.group(0)}"


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
def test_fp32_reproduces_the_gate_and_int8_is_within_one_auc_point(card, train_videos, tmp_path):
    """The card's INT8 gate, re-run on this machine: TRE on the recorded validation clips through
    the runtime. In a plain install (no OpenVINO) this covers what ``Tracker()`` picks there."""
    gate = card.metrics["int8_gate"]
    here = current_platform()
    runnable = {"onnxruntime"} | ({"openvino"} if _has("openvino") else set())
    variants = [card.variant("fp32")] + [v for v in card.variants
                                         if v.precision == "int8" and here in v.platforms and v.backend in runnable]
    specs = [f"sstrack:{card.root}:onnxruntime:fp32"] + [f"sstrack:{card.root}:{v.backend}:{v.name}"
                                                         for v in variants[1:]]
    segments = temporal_segments(load_dataset(train_videos, "videos", gate["sequences"]), gate["starts"])
    results = evaluate(segments, specs, tmp_path, modes=("offline",), threads=1, progress=False)
    auc = {v.name: 100 * r.summary.auc for v, r in zip(variants, results)}
    assert abs(auc["fp32"] - gate["auc"]) <= 1.0, auc  # other CPUs may round crops differently
    for v in variants[1:]:
        assert abs(auc[v.name] - auc["fp32"]) <= MAX_AUC_DELTA, (v.name, auc)
    chosen = sstrack_edge.Tracker(threads=1).model.variant  # what this install runs by default
    assert chosen.precision == "fp32" or chosen.name in auc  # an INT8 pick was gated just above


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


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
