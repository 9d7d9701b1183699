"""Export parity of a network with a convolutional stem (tests/training/test_mobilenet_stem.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _train_tiny import TRAIN_CLIPS

MAPS = ["score_map", "size_map", "offset_map"]


def export_and_check_parity(model, cfg, train_videos: Path, tmp_path: Path, name: str):
    """Export ``model`` (ONNX + OpenVINO IR + ``int8-dynamic``) and check on one real crop pair that
    torch, ONNX Runtime and OpenVINO f32 agree within 1e-4 on the three maps, that the card's MACs
    equal the config count and the ONNX graph count, and that the INT8 variant runs and keeps the
    score map's shape. Returns ``(card, fp32 onnx path)``."""
    ort = pytest.importorskip("onnxruntime")
    ov = pytest.importorskip("openvino")
    from sstrack_edge.bench import count_onnx_macs
    from training.export.calibration import CalibrationSet
    from training.export.package import export_model
    from training.models.ostrack import count_macs

    card = export_model(model, tmp_path, name=name, trained=False, openvino=True, quantize=["int8-dynamic"])
    onnx_path = tmp_path / card.variant("fp32").files["model"]
    assert card.architecture["stem"] == cfg.stem
    assert card.architecture["macs"] == count_macs(cfg) == count_onnx_macs(onnx_path)
    pair = CalibrationSet.from_config(train_videos, cfg, num_pairs=1, seed=3, sequences=TRAIN_CLIPS)[0]
    assert pair.search.max() > 100  # a real crop
    feed = {"template": pair.template, "search": pair.search}
    with torch.no_grad():
        ref = model(torch.from_numpy(pair.template), torch.from_numpy(pair.search))
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(MAPS, feed)
    compiled = ov.Core().compile_model(str(tmp_path / card.variant("openvino-fp32").files["xml"]), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    res = compiled(feed)
    int8 = ort.InferenceSession(str(tmp_path / card.variant("int8-dynamic").files["model"]),
                                providers=["CPUExecutionProvider"]).run(MAPS, feed)
    for i, k in enumerate(MAPS):
        assert np.abs(got[i] - ref[k].numpy()).max() < 1e-4, k
        assert np.abs(res[compiled.output(k)] - ref[k].numpy()).max() < 1e-4, k
        assert int8[i].shape == got[i].shape and np.isfinite(int8[i]).all()
    assert np.corrcoef(int8[0].ravel(), got[0].ravel())[0, 1] > 0.9
    return card, onnx_path
