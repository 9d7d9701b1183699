"""The trained-model INT8 keep rule (training/export/accuracy_gate.py): faster and within 1.0 AUC of
FP32 either way, on the validation clips (TRE), through the runtime."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sstrack_edge.model_card import ModelCard
from training.export.accuracy_gate import apply_gate, evaluate_variants, prune_rejected, tracker_name
from training.export.package import export_model
from training.models.ostrack import ModelConfig, build_model


@pytest.fixture()
def int8_card(tmp_path) -> ModelCard:
    torch.manual_seed(0)
    model = build_model(ModelConfig(depth=1, embed_dim=32, num_heads=2, head_channels=16)).eval()
    export_model(model, tmp_path, name="gate-test", trained=False, openvino=False, quantize=["int8-dynamic"],
                 compare_pairs=[])
    return ModelCard.load(tmp_path)


def result(auc: float, frames: int = 10) -> SimpleNamespace:
    summary = SimpleNamespace(auc=auc, precision20=auc + 0.1, sequences=2)
    return SimpleNamespace(summary=summary, fps=50.0, runs={"a": SimpleNamespace(times=np.ones(frames))})


DATA = {"data": "clips", "sequences": ["a", "b"], "starts": 5}


@pytest.mark.parametrize("auc, speedup, kept", [(0.545, 1.4, True), (0.539, 1.4, True), (0.5389, 1.4, False),
                                                (0.559, 1.4, True), (0.5591, 1.4, False), (0.56, 0.9, False)])
def test_gate_rule_is_two_sided(int8_card, auc, speedup, kept):
    int8_card.variant("int8-dynamic").metrics["speedup"] = speedup
    rows = apply_gate(int8_card, {"fp32": result(0.549), "int8-dynamic": result(auc)}, DATA)
    assert rows["int8-dynamic"]["kept"] is kept
    assert rows["int8-dynamic"]["auc_delta"] == pytest.approx(100 * (auc - 0.549), abs=0.01)
    gate = int8_card.metrics["int8_gate"]
    assert gate["auc"] == 54.9 and gate["frames"] == 10 and gate["sequences"] == ["a", "b"] and gate["starts"] == 5
    assert int8_card.variant("fp32").kept  # the reference is never gated


def test_prune_deletes_rejected_files_and_keeps_their_numbers(int8_card):
    int8_card.variant("int8-dynamic").metrics["speedup"] = 1.5
    apply_gate(int8_card, {"fp32": result(0.50), "int8-dynamic": result(0.45)}, DATA)
    path = int8_card.root / int8_card.variant("int8-dynamic").files["model"]
    assert path.is_file()
    assert prune_rejected(int8_card) == ["int8-dynamic"]
    assert not path.exists() and [v.name for v in int8_card.variants] == ["fp32"]
    assert int8_card.metrics["rejected_variants"]["int8-dynamic"]["val_auc"] == 45.0
    int8_card.save(int8_card.root)
    assert [v.name for v in ModelCard.load(int8_card.root).variants] == ["fp32"]


def test_untrained_models_are_refused(int8_card, tmp_path):
    with pytest.raises(ValueError, match="untrained"):
        evaluate_variants(int8_card.root, tmp_path, tmp_path / "out")
    assert tracker_name("m", int8_card.variant("fp32")) == "sstrack:m:onnxruntime:fp32"
    assert tracker_name("m", int8_card.variant("int8-dynamic")) == "sstrack:m:onnxruntime:int8-dynamic"



def test_gate_tracks_the_validation_clips_of_a_real_model(vittrack_dir, train_videos, tmp_path, capsys):
    """The VitTrack import with a dynamic INT8 variant, gated on one real validation clip (TRE-2);
    the recorded numbers are what the runtime measured, and the card says what was tracked."""
    from training.export.accuracy_gate import main
    from training.export.cli import main as export_main

    out = tmp_path / "m"
    assert export_main(["--checkpoint", str(vittrack_dir / "object_tracking_vittrack_2023sep.onnx"), "--out", str(out),
                        "--name", "v", "--no-openvino", "--quantize", "int8-dynamic",
                        "--calib-root", str(train_videos), "--compare-pairs", "4"]) == 0
    assert main([str(out), "--data", str(train_videos), "--sequences", "UAVDT_S0310", "--starts", "2",
                 "--out", str(tmp_path / "gate"), "--update-card"]) == 0
    card = ModelCard.load(out)
    gate = card.metrics["int8_gate"]
    assert gate["sequences"] == ["UAVDT_S0310"] and gate["starts"] == 2 and gate["segments"] == 2
    assert gate["auc"] > 30  # the pretrained tracker follows the car
    v = card.variant("int8-dynamic").metrics
    assert v["auc_delta"] == pytest.approx(v["val_auc"] - gate["auc"], abs=0.02)
    assert card.variant("int8-dynamic").kept == (v["faster"] and abs(v["auc_delta"]) <= 1.0)
    assert "| int8-dynamic |" in capsys.readouterr().out
