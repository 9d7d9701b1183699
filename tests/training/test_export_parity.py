"""torch vs ONNX Runtime vs OpenVINO (FP32) on real crops: the exported files compute the network.

OpenVINO is compiled with ``INFERENCE_PRECISION_HINT=f32``: without it, CPUs with AVX512-BF16/AMX
run the FP32 IR in bf16 and differ by ~1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _train_tiny import TRAIN_CLIPS

from training.export.calibration import CalibrationSet
from training.export.package import export_model
from training.models.ostrack import ModelConfig, build_model, count_macs

ort = pytest.importorskip("onnxruntime")
ov = pytest.importorskip("openvino")

OUTPUTS = ("score_map", "size_map", "offset_map")
TOL = 1e-4


def _parity(model, out_dir, pairs) -> dict[str, float]:
    card = export_model(model, out_dir, name="parity", trained=False, openvino=True)
    sess = ort.InferenceSession(str(out_dir / card.variant("fp32").files["model"]), providers=["CPUExecutionProvider"])
    core = ov.Core()
    compiled = core.compile_model(str(out_dir / card.variant("openvino-fp32").files["xml"]), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    worst = {"ort": 0.0, "openvino": 0.0}
    for p in pairs:
        with torch.no_grad():
            ref = model(torch.from_numpy(p.template), torch.from_numpy(p.search))
        ref = [ref[k].numpy() for k in OUTPUTS]
        got_ort = sess.run(list(OUTPUTS), {"template": p.template, "search": p.search})
        res = compiled({"template": p.template, "search": p.search})
        got_ov = [res[compiled.output(k)] for k in OUTPUTS]
        for r, a, b in zip(ref, got_ort, got_ov):
            assert a.shape == r.shape and b.shape == r.shape
            worst["ort"] = max(worst["ort"], float(np.abs(a - r).max()))
            worst["openvino"] = max(worst["openvino"], float(np.abs(b - r).max()))
    return worst


@pytest.mark.realdata
def test_small_network_parity_on_real_crops(train_videos, tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(depth=2, embed_dim=64, num_heads=2, head_channels=32)
    pairs = CalibrationSet.from_config(train_videos, cfg, num_pairs=4, seed=3, sequences=TRAIN_CLIPS)
    # real crops: natural images, with zero padding where a jittered crop leaves the frame
    assert all(p.search.max() > 100 for p in pairs)
    worst = _parity(build_model(cfg).eval(), tmp_path, pairs)
    assert worst["ort"] < TOL and worst["openvino"] < TOL, worst


@pytest.mark.realdata
def test_candidate_elimination_network_parity(train_videos, tmp_path):
    torch.manual_seed(1)
    cfg = ModelConfig(depth=4, embed_dim=64, num_heads=2, head_channels=32, ce_loc=(1, 2))
    pairs = CalibrationSet.from_config(train_videos, cfg, num_pairs=3, seed=4, sequences=TRAIN_CLIPS)
    worst = _parity(build_model(cfg).eval(), tmp_path, pairs)
    assert worst["ort"] < TOL and worst["openvino"] < TOL, worst


@pytest.mark.realdata
@pytest.mark.slow
def test_full_size_vit_tiny_parity(train_videos, tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig()  # depth 12, width 192, 3 heads, 128/256
    assert 2.8e9 < count_macs(cfg) < 3.0e9
    pairs = CalibrationSet.from_config(train_videos, cfg, num_pairs=2, seed=5, sequences=TRAIN_CLIPS)
    worst = _parity(build_model(cfg).eval(), tmp_path, pairs)
    assert worst["ort"] < TOL and worst["openvino"] < TOL, worst
