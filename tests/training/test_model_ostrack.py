"""The OSTrack network: config, I/O contract, normalization in the graph, decoding, CE, key layout."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from training.models.ostrack import (  # noqa: E402
    ModelConfig,
    build_model,
    candidate_elimination,
    count_macs,
    decode_boxes,
)

TINY = dict(depth=2, embed_dim=64, num_heads=2, head_channels=32)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model(ModelConfig(**TINY)).eval()


def _inputs(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.rand(1, 3, cfg.template_size, cfg.template_size, generator=g) * 255,
        torch.rand(1, 3, cfg.search_size, cfg.search_size, generator=g) * 255,
    )


def test_default_config_is_ostrack256_vit_tiny():
    cfg = ModelConfig()
    assert (cfg.template_size, cfg.search_size, cfg.feature_size) == (128, 256, 16)
    assert (cfg.template_factor, cfg.search_factor) == (2.0, 4.0)
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.head_channels) == (192, 12, 3, 256)
    assert cfg.ce_loc == () and cfg.network_color == "RGB" and cfg.ln_eps == 1e-6


def test_config_round_trip_and_errors():
    cfg = ModelConfig(depth=4, ce_loc=(1, 2), embed_dim=96, num_heads=3)
    again = ModelConfig.from_dict(cfg.to_dict())
    assert again == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"embed_dims": 192})
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(embed_dim=100, num_heads=3)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ModelConfig(search_size=250)
    with pytest.raises(ValueError, match="ce_loc"):
        ModelConfig(depth=2, ce_loc=(5,))
    with pytest.raises(ValueError, match="unknown stem"):
        build_model(ModelConfig(**TINY, stem="resnet"))


def test_outputs_shapes_and_ranges(tiny):
    z, x = _inputs(tiny.cfg)
    with torch.no_grad():
        out = tiny(z, x)
    f = tiny.cfg.feature_size
    assert out["score_map"].shape == (1, 1, f, f)
    assert out["size_map"].shape == (1, 2, f, f)
    assert out["offset_map"].shape == (1, 2, f, f)
    assert out["pred_boxes"].shape == (1, 4)
    for k in ("score_map", "size_map"):
        assert out[k].min() >= 1e-4 and out[k].max() <= 1 - 1e-4
    assert torch.isfinite(out["offset_map"]).all()


def test_bgr_input_is_flipped_and_normalized_inside(tiny):
    """An RGB-trained network fed BGR pixels equals a BGR-trained one (same weights, no swap) fed the
    RGB image: the swap is the graph's first op."""
    rgb = build_model(ModelConfig(**TINY, network_color="BGR")).eval()
    rgb.load_state_dict(tiny.state_dict())
    z, x = _inputs(tiny.cfg, seed=1)
    with torch.no_grad():
        a = tiny(z, x)["score_map"]
        b = rgb(z.flip(1), x.flip(1))["score_map"]
    assert torch.allclose(a, b, atol=1e-6)
    # the mean colour (given in RGB, fed as BGR 0..255) normalizes to exactly zero
    mean_bgr = torch.tensor(tiny.cfg.norm_mean[::-1]).view(1, 3, 1, 1) * 255
    assert torch.allclose(tiny.normalize(mean_bgr.expand(1, 3, 4, 4)), torch.zeros(1, 3, 4, 4), atol=1e-6)
    one_std = mean_bgr + torch.tensor(tiny.cfg.norm_std[::-1]).view(1, 3, 1, 1) * 255
    assert torch.allclose(tiny.normalize(one_std.expand(1, 3, 4, 4)), torch.ones(1, 3, 4, 4), atol=1e-5)


def test_normalization_comes_from_the_config():
    cfg = ModelConfig(**TINY, norm_mean=(0.5, 0.5, 0.5), norm_std=(0.5, 0.5, 0.5))
    m = build_model(cfg)
    img = torch.full((1, 3, 2, 2), 255.0)
    assert torch.allclose(m.normalize(img), torch.ones(1, 3, 2, 2))


def test_decode_boxes_matches_cal_bbox_and_is_differentiable():
    f = 16
    score = torch.rand(2, 1, f, f)
    score[0, 0, 3, 11] = 2.0  # iy=3, ix=11
    score[1, 0, 15, 0] = 2.0
    size = torch.rand(2, 2, f, f, requires_grad=True)
    offset = torch.rand(2, 2, f, f, requires_grad=True)
    boxes = decode_boxes(score, size, offset)
    exp0 = [(11 + offset[0, 0, 3, 11]) / f, (3 + offset[0, 1, 3, 11]) / f, size[0, 0, 3, 11], size[0, 1, 3, 11]]
    exp1 = [(0 + offset[1, 0, 15, 0]) / f, (15 + offset[1, 1, 15, 0]) / f, size[1, 0, 15, 0], size[1, 1, 15, 0]]
    assert torch.allclose(boxes[0], torch.stack(exp0))
    assert torch.allclose(boxes[1], torch.stack(exp1))
    boxes.sum().backward()
    assert size.grad[0, 0, 3, 11] == 1 and size.grad.sum() == 4  # only the argmax cells get gradient
    assert offset.grad[1, 1, 15, 0] == pytest.approx(1 / f)


def test_pred_boxes_train_the_size_and_offset_branches(tiny):
    m = build_model(ModelConfig(**TINY)).train()
    z, x = _inputs(m.cfg)
    m(z, x)["pred_boxes"].sum().backward()
    assert m.box_head.conv5_size.weight.grad.abs().sum() > 0
    assert m.box_head.conv5_offset.weight.grad.abs().sum() > 0
    assert m.backbone.pos_embed_x.grad.abs().sum() > 0


def test_parameter_names_follow_the_official_ostrack_layout(tiny):
    keys = set(tiny.state_dict())
    for k in (
        "backbone.patch_embed.proj.weight",
        "backbone.pos_embed_z",
        "backbone.pos_embed_x",
        "backbone.blocks.0.norm1.weight",
        "backbone.blocks.0.attn.qkv.weight",
        "backbone.blocks.0.attn.qkv.bias",
        "backbone.blocks.1.mlp.fc2.weight",
        "backbone.norm.bias",
        "box_head.conv1_ctr.0.weight",
        "box_head.conv1_ctr.1.running_var",
        "box_head.conv4_offset.0.bias",
        "box_head.conv5_size.weight",
    ):
        assert k in keys, k
    assert tiny.backbone.pos_embed_z.shape == (1, 64, 64)  # 8x8 template grid
    assert tiny.backbone.pos_embed_x.shape == (1, 256, 64)  # 16x16 search grid
    head = tiny.box_head
    assert [head.conv1_ctr[0].out_channels, head.conv2_ctr[0].out_channels, head.conv3_ctr[0].out_channels,
            head.conv4_ctr[0].out_channels] == [32, 16, 8, 4]


def test_candidate_elimination_keeps_ceil_ratio_and_the_most_attended_tokens():
    n_z, n_x, c = 64, 256, 8
    x = torch.randn(1, n_z + n_x, c)
    attn = torch.zeros(1, 2, n_z + n_x, n_z + n_x)
    want = torch.randperm(n_x)[:180]
    attn[:, :, 27, n_z + want] = 1.0  # template centre token (3,3) of the 8x8 grid attends to these
    idx = torch.arange(n_x).unsqueeze(0)
    out, kept = candidate_elimination(x, attn, n_z, idx, 0.7)
    assert out.shape == (1, n_z + math.ceil(0.7 * n_x), c)
    assert set(kept[0].tolist()) == set(want.tolist())
    assert torch.equal(out[:, :n_z], x[:, :n_z])
    assert torch.equal(out[0, n_z:], x[0, n_z + kept[0]])


def test_ce_model_runs_and_restores_dropped_tokens_as_zeros():
    cfg = ModelConfig(**{**TINY, "depth": 3}, ce_loc=(0, 1))
    m = build_model(cfg).eval()
    z, x = _inputs(cfg)
    with torch.no_grad():
        feat, presence = m.backbone(m.normalize(z), m.normalize(x))
        out = m(z, x)
    assert feat.shape == (1, 256, 64) and presence is None
    n_zero = int((feat.abs().sum(-1) == 0).sum())
    assert n_zero == 256 - math.ceil(0.7 * math.ceil(0.7 * 256))  # 256 -> 180 -> 126 kept
    assert out["score_map"].shape == (1, 1, 16, 16)


def test_count_macs_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    cfg = ModelConfig(**{**TINY, "head_channels": 64, "mlp_ratio": 3.0})
    m = build_model(cfg).eval()
    z, x = _inputs(cfg)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(z, x)
    assert count_macs(cfg) == pytest.approx(fc.get_total_flops() / 2, rel=0.01)


def test_smaller_variants_are_one_line():
    m = build_model({"depth": 1, "embed_dim": 32, "num_heads": 1, "head_channels": 16, "mlp_ratio": 2.0})
    assert len(m.backbone.blocks) == 1 and m.backbone.blocks[0].mlp.fc1.out_features == 64
    z, x = _inputs(m.cfg)
    with torch.no_grad():
        assert m.eval()(z, x)["score_map"].shape == (1, 1, 16, 16)
