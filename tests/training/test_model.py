"""The OSTrack network as exported: other input sizes, CE through ONNX, MACs against the ONNX graph.

Config validation, BGR/normalization, cal_bbox decoding, CE token selection, the official key layout
and MACs vs torch's FlopCounter are covered by tests/training/test_model_ostrack.py (written in
parallel by another engineer); this file adds what needs the exported graph.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sstrack_edge.bench import count_onnx_macs
from training.export.onnx_export import export_onnx
from training.models.checkpoints import infer_tracker_config
from training.models.ostrack import ModelConfig, build_model, count_macs

SMALL = dict(template_size=64, search_size=128, embed_dim=32, depth=2, num_heads=2, head_channels=16)


def _inputs(cfg: ModelConfig, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 3, cfg.template_size, cfg.template_size, generator=g) * 255,
            torch.rand(1, 3, cfg.search_size, cfg.search_size, generator=g) * 255)


@pytest.mark.parametrize("arch,feat", [(SMALL, 8)])
def test_output_shapes_and_ranges_at_other_input_sizes(arch, feat):
    torch.manual_seed(0)
    cfg = ModelConfig(**arch)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(*_inputs(cfg))
    assert cfg.feature_size == feat
    assert out["score_map"].shape == (1, 1, feat, feat)
    assert out["size_map"].shape == (1, 2, feat, feat)
    assert out["offset_map"].shape == (1, 2, feat, feat)
    assert out["pred_boxes"].shape == (1, 4)
    s = out["score_map"]
    assert float(s.min()) >= 1e-4 and float(s.max()) <= 1 - 1e-4
    assert float(out["size_map"].min()) >= 1e-4 and float(out["size_map"].max()) <= 1 - 1e-4


def test_ce_model_shrinks_tokens_and_exports(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    cfg = ModelConfig(depth=4, embed_dim=32, num_heads=2, head_channels=16, ce_loc=(1, 2))
    model = build_model(cfg).eval()
    counts = []
    for blk in model.backbone.blocks:
        blk.register_forward_hook(lambda m, i, o: counts.append(o[0].shape[1]))
    z, x = _inputs(cfg)
    with torch.no_grad():
        ref = model(z, x)
    assert counts == [64 + 256, 64 + 180, 64 + 126, 64 + 126]  # 256 -> ceil(.7*256) -> ceil(.7*180)
    # dropped tokens come back as zeros before the head: the head still sees a full 16x16 map
    assert ref["score_map"].shape == (1, 1, 16, 16)

    path = export_onnx(model, tmp_path / "ce.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    score, size, offset = sess.run(None, {"template": z.numpy(), "search": x.numpy()})
    assert np.abs(score - ref["score_map"].numpy()).max() < 1e-4
    assert np.abs(size - ref["size_map"].numpy()).max() < 1e-4
    assert np.abs(offset - ref["offset_map"].numpy()).max() < 1e-4
    assert count_onnx_macs(path) == count_macs(cfg)


def test_count_macs_equals_the_onnx_graph_count(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL)
    path = export_onnx(build_model(cfg).eval(), tmp_path / "m.onnx")
    assert count_onnx_macs(path) == count_macs(cfg)
    # and the count moves with the architecture the way the formula says
    assert count_macs(ModelConfig(**{**SMALL, "depth": 3})) > count_macs(cfg)


@pytest.mark.parametrize("ce_loc", [(), (0, 1)])
def test_count_macs_of_the_presence_block(tmp_path, ce_loc):
    """The presence copy of the last block runs on every token (no candidate elimination); the
    exporter reads the option back from the weights."""
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL, presence_head=True, presence_block=True, ce_loc=ce_loc)
    model = build_model(cfg).eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    assert count_onnx_macs(path) == count_macs(cfg)
    assert count_macs(cfg) > count_macs(ModelConfig(**SMALL, presence_head=True, ce_loc=ce_loc))
    inferred = infer_tracker_config(model.state_dict())
    assert inferred["presence_head"] is True and inferred["presence_block"] is True
    assert infer_tracker_config(build_model(ModelConfig(**SMALL)).state_dict())["presence_block"] is False


