"""Pretrained / tracker checkpoint loading in every key layout, and loud failures.

The checkpoints are small fakes written with ``torch.save`` in the real layouts (timm/DeiT, MAE-Lite
D-MAE with its ``module.model.`` prefix and decoder keys, official OSTrack ``net``, and this
project's training checkpoint), so every test runs in well under a second.
"""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from training.models.checkpoints import (
    PretrainedLoadError,
    interpolate_pos_embed,
    load_pretrained,
    load_tracker,
)
from training.models.ostrack import ModelConfig, build_model

# template 32 -> 2x2 tokens, search 64 -> 4x4 tokens
ARCH = dict(template_size=32, search_size=64, embed_dim=24, depth=2, num_heads=3, head_channels=16)


def _vit_state(dim: int, depth: int = 2, seed: int = 0, grid: int = 14) -> dict[str, torch.Tensor]:
    """A timm ViT state dict (with cls token, 1 + grid^2 position embedding and a classifier)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    hid = 4 * dim
    s = {
        "cls_token": r(1, 1, dim),
        "pos_embed": r(1, 1 + grid * grid, dim),
        "patch_embed.proj.weight": r(dim, 3, 16, 16),
        "patch_embed.proj.bias": r(dim),
        "norm.weight": r(dim),
        "norm.bias": r(dim),
        "head.weight": r(1000, dim),
        "head.bias": r(1000),
    }
    for i in range(depth):
        p = f"blocks.{i}."
        s.update({
            p + "norm1.weight": r(dim), p + "norm1.bias": r(dim),
            p + "attn.qkv.weight": r(3 * dim, dim), p + "attn.qkv.bias": r(3 * dim),
            p + "attn.proj.weight": r(dim, dim), p + "attn.proj.bias": r(dim),
            p + "norm2.weight": r(dim), p + "norm2.bias": r(dim),
            p + "mlp.fc1.weight": r(hid, dim), p + "mlp.fc1.bias": r(hid),
            p + "mlp.fc2.weight": r(dim, hid), p + "mlp.fc2.bias": r(dim),
        })
    return s


def _grid_resize(pos: torch.Tensor, side: int) -> torch.Tensor:
    """Reference: drop cls, 14x14 grid -> side x side, bicubic, align_corners=False (OSTrack finetune_track)."""
    c = pos.shape[-1]
    grid = pos[:, 1:].reshape(1, 14, 14, c).permute(0, 3, 1, 2)
    out = F.interpolate(grid, size=(side, side), mode="bicubic", align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(1, side * side, c)


def test_timm_checkpoint_lands_in_the_backbone(tmp_path, caplog):
    state = _vit_state(24)
    path = tmp_path / "deit_tiny.pth"
    torch.save({"model": state}, path)
    model = build_model(ModelConfig(**ARCH))
    head_before = model.box_head.conv1_ctr[0].weight.clone()
    with caplog.at_level(logging.INFO, logger="training.models.checkpoints"):
        report = load_pretrained(model, path)
    assert report.kind == "timm"
    assert report.loaded_backbone == report.expected_backbone == len(
        [k for k in model.state_dict() if k.startswith("backbone.")])
    assert report.mismatched == [] and report.missing == []
    assert set(report.unexpected) == {"cls_token", "head.weight", "head.bias"}
    assert "backbone 30/30" in caplog.text  # the report is logged
    bb = model.backbone
    assert torch.equal(bb.blocks[1].attn.qkv.weight, state["blocks.1.attn.qkv.weight"])
    assert torch.equal(bb.blocks[0].mlp.fc2.bias, state["blocks.0.mlp.fc2.bias"])
    assert torch.equal(bb.patch_embed.proj.weight, state["patch_embed.proj.weight"])
    assert torch.equal(bb.norm.weight, state["norm.weight"])
    assert torch.allclose(bb.pos_embed_z, _grid_resize(state["pos_embed"], 2), atol=1e-6)
    assert torch.allclose(bb.pos_embed_x, _grid_resize(state["pos_embed"], 4), atol=1e-6)
    assert torch.equal(model.box_head.conv1_ctr[0].weight, head_before)  # head untouched


def test_pos_embed_interpolation_drops_cls_and_keeps_smooth_fields():
    c = 5
    # the cls slot carries a huge value; a constant grid must stay constant after bicubic resizing
    pos = torch.full((1, 197, c), 0.25)
    pos[:, 0] = 1e6
    out = interpolate_pos_embed(pos, 16)
    assert out.shape == (1, 256, c)
    assert torch.allclose(out, torch.full_like(out, 0.25), atol=1e-6)
    # same grid size and no cls: a copy
    grid = torch.randn(1, 64, c)
    assert torch.equal(interpolate_pos_embed(grid, 8), grid)
    with pytest.raises(PretrainedLoadError, match="not a square grid"):
        interpolate_pos_embed(torch.zeros(1, 51, c), 8)  # neither 51 nor 50 is a square


def test_dmae_checkpoint_with_prefix_and_decoder(tmp_path):
    arch = dict(ARCH, embed_dim=48, num_heads=12)
    state = {"module.model." + k: v for k, v in _vit_state(48).items() if not k.startswith("head.")}
    state["module.model.decoder_embed.weight"] = torch.randn(32, 48)
    state["module.model.decoder_pos_embed"] = torch.randn(1, 197, 32)
    state["module.model.mask_token"] = torch.randn(1, 1, 32)
    path = tmp_path / "mae_tiny_distill_400e.pth.tar"
    torch.save({"model": state, "epoch": 400}, path)
    model = build_model(ModelConfig(**arch))
    report = load_pretrained(model, path)
    assert report.kind == "dmae"
    assert report.backbone_fraction == 1.0
    assert "module.model.decoder_embed.weight" in report.unexpected
    assert report.interpolated == ["backbone.pos_embed_z", "backbone.pos_embed_x"]
    assert torch.equal(model.backbone.blocks[0].attn.proj.weight, state["module.model.blocks.0.attn.proj.weight"])
    assert torch.allclose(model.backbone.pos_embed_x, _grid_resize(state["module.model.pos_embed"], 4), atol=1e-6)


def test_dmae_checkpoint_refuses_a_model_without_12_heads(tmp_path):
    state = {"module.model." + k: v for k, v in _vit_state(48).items()}
    torch.save({"model": state}, tmp_path / "dmae.pth")
    model = build_model(ModelConfig(**dict(ARCH, embed_dim=48, num_heads=3)))
    with pytest.raises(PretrainedLoadError, match="12 attention heads.*num_heads=3"):
        load_pretrained(model, tmp_path / "dmae.pth")


def test_mismatched_checkpoint_fails_loudly(tmp_path):
    torch.save(_vit_state(32), tmp_path / "wrong_width.pth")  # width 32 into a width-24 model
    model = build_model(ModelConfig(**ARCH))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PretrainedLoadError, match=r"only 0 of 30 backbone tensors .* below min_loaded_fraction=90%"):
        load_pretrained(model, tmp_path / "wrong_width.pth")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing half-loaded


def test_unknown_prefix_loads_nothing_and_raises_unless_allowed(tmp_path):
    state = {"student.encoder." + k: v for k, v in _vit_state(24).items()}
    model = build_model(ModelConfig(**ARCH))
    with pytest.raises(PretrainedLoadError, match="only 0 of 30"):
        load_pretrained(model, {"state_dict": state}, kind="timm")
    report = load_pretrained(model, {"state_dict": state}, kind="timm", min_loaded_fraction=0.0)
    assert report.loaded == [] and len(report.unexpected) == len(state)


def test_partial_checkpoint_threshold_is_configurable(tmp_path):
    state = _vit_state(24)
    del state["blocks.1.mlp.fc2.weight"], state["blocks.1.mlp.fc2.bias"], state["norm.weight"]  # 27/30 left
    model = build_model(ModelConfig(**ARCH))
    report = load_pretrained(model, state, min_loaded_fraction=0.9)
    assert report.loaded_backbone == 27 and sorted(report.missing) == sorted(
        ["backbone.blocks.1.mlp.fc2.weight", "backbone.blocks.1.mlp.fc2.bias", "backbone.norm.weight"])
    with pytest.raises(PretrainedLoadError, match="27 of 30"):
        load_pretrained(build_model(ModelConfig(**ARCH)), state, min_loaded_fraction=0.95)


def _official_state(seed: int = 1) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    src = build_model(ModelConfig(**ARCH)).eval()
    with torch.no_grad():  # non-trivial BN statistics, so the head really has to be copied
        for m in src.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    state = dict(src.state_dict())
    state["backbone.cls_token"] = torch.zeros(1, 1, 24)  # the official file keeps these two
    state["backbone.pos_embed"] = torch.zeros(1, 197, 24)
    return src, state


def test_official_ostrack_checkpoint_loads_whole_tracker(tmp_path):
    src, state = _official_state()
    torch.save({"net": state, "epoch": 300, "settings": {"note": "official layout"}},
               tmp_path / "OSTrack_ep0300.pth.tar")
    model = build_model(ModelConfig(**ARCH)).eval()
    report = load_pretrained(model, tmp_path / "OSTrack_ep0300.pth.tar")
    assert report.kind == "ostrack"
    assert report.missing == [] and report.mismatched == []
    assert sorted(report.unexpected) == ["backbone.cls_token", "backbone.pos_embed"]
    z, x = torch.rand(1, 3, 32, 32) * 255, torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        a, b = src(z, x), model(z, x)
    assert torch.equal(a["score_map"], b["score_map"]) and torch.equal(a["size_map"], b["size_map"])


def test_load_tracker_official_needs_heads_and_infers_the_rest(tmp_path):
    _, state = _official_state()
    path = tmp_path / "official.pth"
    torch.save({"net": state}, path)
    with pytest.raises(PretrainedLoadError, match="number of attention heads cannot be read"):
        load_tracker(path)
    model, info = load_tracker(path, overrides={"num_heads": 3})
    cfg = model.cfg
    assert (cfg.template_size, cfg.search_size, cfg.embed_dim, cfg.depth, cfg.head_channels) == (32, 64, 24, 2, 16)
    assert info["report"]["missing"] == 0 and info["report"]["loaded"] == len(model.state_dict())
    with pytest.raises(PretrainedLoadError, match="config sets depth=4 but the checkpoint's tensors say depth=2"):
        load_tracker(path, config={"depth": 4, "num_heads": 3})


def test_load_tracker_training_checkpoint_uses_stored_config(tmp_path):
    src, _ = _official_state(seed=2)
    cfg = ModelConfig(**ARCH, ce_loc=(1,))
    path = tmp_path / "epoch_0008.pt"
    torch.save({"format": "sstrack-train-checkpoint", "version": 1, "epoch": 8,
                "model_config": cfg.to_dict(), "model": src.state_dict()}, path)
    model, info = load_tracker(path)
    assert model.cfg == cfg and info["epoch"] == 8 and info["config_source"] == "checkpoint"
    assert torch.equal(model.box_head.conv5_ctr.weight, src.box_head.conv5_ctr.weight)
    with pytest.raises(PretrainedLoadError, match="trained with num_heads=3"):
        load_tracker(path, overrides={"num_heads": 4})


def test_unreadable_and_tensorless_files_raise(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    model = build_model(ModelConfig(**ARCH))
    with pytest.raises(PretrainedLoadError, match="cannot be read"):
        load_pretrained(model, bad)
    torch.save({"epoch": 3, "args": {"lr": 1}}, tmp_path / "empty.pth")
    with pytest.raises(PretrainedLoadError, match="no tensor dict found"):
        load_pretrained(model, tmp_path / "empty.pth")
    with pytest.raises(PretrainedLoadError, match="checkpoint not found"):
        load_pretrained(model, tmp_path / "missing.pth")
