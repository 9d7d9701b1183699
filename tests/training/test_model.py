"""The OSTrack network: shapes, config validation, box decoding, candidate elimination, MAC count."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sstrack_edge.bench import count_onnx_macs
from training.export.onnx_export import export_onnx
from training.models.ostrack import ModelConfig, build_model, candidate_elimination, count_macs, decode_boxes

SMALL = dict(template_size=64, search_size=128, embed_dim=32, depth=2, num_heads=2, head_channels=16)


def _inputs(cfg: ModelConfig, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 3, cfg.template_size, cfg.template_size, generator=g) * 255,
            torch.rand(1, 3, cfg.search_size, cfg.search_size, generator=g) * 255)


@pytest.mark.parametrize("arch,feat", [({}, 16), (SMALL, 8)])
def test_output_shapes_and_ranges(arch, feat):
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


def test_default_config_is_vit_tiny_ostrack256():
    cfg = ModelConfig()
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.template_size, cfg.search_size) == (192, 12, 3, 128, 256)
    assert 2.8e9 < count_macs(cfg) < 3.0e9
    n_params = sum(p.numel() for p in build_model(cfg).parameters())
    assert 5e6 < n_params < 9e6


@pytest.mark.parametrize(
    "bad,needle",
    [
        (dict(embed_dim=100, num_heads=3), "not divisible by num_heads"),
        (dict(search_size=250), "not a multiple of patch_size"),
        (dict(input_channel_order="YUV"), "input_channel_order"),
        (dict(ce_loc=(12,)), "ce_loc"),
    ],
)
def test_config_validation_errors(bad, needle):
    with pytest.raises(ValueError, match=needle):
        ModelConfig(**bad)


def test_config_dict_roundtrip_and_unknown_key():
    cfg = ModelConfig(**SMALL, ce_loc=(1,))
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys.*'dept'"):
        ModelConfig.from_dict({"dept": 4})


def test_decode_boxes_matches_hand_computation():
    f = 4
    score = torch.zeros(2, 1, f, f)
    score[0, 0, 1, 2] = 0.9  # row 1, col 2
    score[1, 0, 3, 0] = 0.7  # row 3, col 0
    size = torch.zeros(2, 2, f, f)
    size[0, :, 1, 2] = torch.tensor([0.25, 0.5])
    size[1, :, 3, 0] = torch.tensor([0.1, 0.2])
    offset = torch.zeros(2, 2, f, f)
    offset[0, :, 1, 2] = torch.tensor([0.5, 0.25])
    offset[1, :, 3, 0] = torch.tensor([0.75, 0.0])
    boxes = decode_boxes(score, size, offset)
    expected = torch.tensor([[(2 + 0.5) / 4, (1 + 0.25) / 4, 0.25, 0.5], [(0 + 0.75) / 4, (3 + 0.0) / 4, 0.1, 0.2]])
    assert torch.allclose(boxes, expected)


def test_candidate_elimination_keeps_the_tokens_the_template_centre_attends_to():
    n_z, n_x, c, heads = 64, 256, 8, 2
    x = torch.arange(n_z + n_x, dtype=torch.float32).view(1, -1, 1).repeat(1, 1, c)
    attn = torch.rand(1, heads, n_z + n_x, n_z + n_x, generator=torch.Generator().manual_seed(0))
    ctr = 3 * 8 + 3  # template cell (3, 3) of the 8x8 grid (OSTrack CTR_POINT)
    idx = torch.arange(n_x).unsqueeze(0)
    out, kept = candidate_elimination(x, attn, n_z, idx, 0.7)
    keep = math.ceil(0.7 * n_x)
    assert out.shape == (1, n_z + keep, c) and kept.shape == (1, keep)
    want = torch.topk(attn[0, :, ctr, n_z:].mean(0), keep).indices
    assert torch.equal(kept[0], want)
    assert torch.equal(out[0, :n_z, 0], torch.arange(n_z, dtype=torch.float32))  # template untouched
    assert torch.equal(out[0, n_z:, 0], (want + n_z).float())  # search tokens gathered in rank order


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


def test_official_module_names():
    """Parameter names follow the official OSTrack layout, so checkpoints map one to one."""
    keys = set(build_model(ModelConfig(**SMALL)).state_dict())
    for k in ("backbone.patch_embed.proj.weight", "backbone.pos_embed_z", "backbone.pos_embed_x",
              "backbone.blocks.0.attn.qkv.weight", "backbone.blocks.1.mlp.fc2.bias", "backbone.norm.weight",
              "box_head.conv1_ctr.0.weight", "box_head.conv1_ctr.1.running_var", "box_head.conv5_size.weight",
              "box_head.conv4_offset.1.num_batches_tracked"):
        assert k in keys, k
