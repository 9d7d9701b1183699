"""OSTrack-256 one-stream tracker with a ViT backbone (ViT-Tiny by default), in one readable file.

Layout (RECIPE.md 2.1-2.5), parameter names chosen so official OSTrack/SSTrack checkpoints map
one-to-one (``backbone.*``, ``box_head.*``):

    raw BGR 0..255 -> [RGB,] /255, mean/std        (inside the graph; see docs/model-contract.md)
    backbone.patch_embed (16x16 conv, shared)      template 128 -> 8x8 = 64 tokens, search 256 -> 256 tokens
    + backbone.pos_embed_z / backbone.pos_embed_x  (separate learnable position embeddings)
    [z; x] -> backbone.blocks[0..depth)            pre-norm ViT blocks (optional candidate elimination)
    backbone.norm (LayerNorm eps 1e-6)
    box_head (CenterPredictor) on the F x F search tokens: score / offset / size maps
                                                   [+ presence map: ``presence_head``, docs/presence.md;
                                                    with ``presence_block`` read from its own copy of the
                                                    last block: backbone.block_presence / norm_presence]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .conv_stem import ConvStride2Stem
from .mobilenet_stem import MobileNetV2Stem


@dataclass
class ModelConfig:
    template_size: int = 128
    search_size: int = 256
    template_factor: float = 2.0
    search_factor: float = 4.0
    patch_size: int = 16
    embed_dim: int = 192
    depth: int = 12
    num_heads: int = 3
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path: float = 0.1
    head_channels: int = 256
    # a fourth head branch, the ctr branch's twin: the probability that the target (not just something
    # like it) is centred in each cell; trained on positive and negative pairs (docs/presence.md)
    presence_head: bool = False
    # the presence branch reads the search tokens of its own copy of the last ViT block (started from
    # it and trained for presence, with the template tokens in its attention) instead of the tokens the
    # box head reads; needs presence_head
    presence_block: bool = False
    ce_loc: tuple[int, ...] = ()  # candidate-elimination block indices; empty = off
    ce_keep_ratio: float = 0.7
    norm_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    norm_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    network_color: str = "RGB"  # colour order the weights expect; the graph input is always BGR
    ln_eps: float = 1e-6
    stem: str = "patch16"
    stem_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ce_loc = tuple(int(i) for i in self.ce_loc)
        self.norm_mean = tuple(float(v) for v in self.norm_mean)
        self.norm_std = tuple(float(v) for v in self.norm_std)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        for name in ("template_size", "search_size"):
            if getattr(self, name) % self.patch_size:
                raise ValueError(f"{name} {getattr(self, name)} is not a multiple of patch_size {self.patch_size}")
        if self.network_color not in ("BGR", "RGB"):
            raise ValueError(f"network_color must be 'BGR' or 'RGB', got {self.network_color!r}")
        if self.presence_block and not self.presence_head:
            raise ValueError("presence_block needs presence_head: true")
        if any(not 0 <= i < self.depth for i in self.ce_loc):
            raise ValueError(f"ce_loc {self.ce_loc} must index blocks 0..{self.depth - 1}")

    @property
    def feature_size(self) -> int:
        return self.search_size // self.patch_size

    @property
    def template_feature_size(self) -> int:
        return self.template_size // self.patch_size

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ce_loc"] = list(self.ce_loc)
        d["norm_mean"] = list(self.norm_mean)
        d["norm_std"] = list(self.norm_std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        d = dict(d)
        legacy = d.pop("input_channel_order", None)  # configs before network_color: graph input order
        if legacy not in (None, "BGR"):
            raise ValueError(f"input_channel_order {legacy!r}: the runtime feeds BGR frames; to run a network "
                             "trained on BGR input set network_color: BGR instead")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)

    def for_full_state_dict(self) -> "ModelConfig":
        """This config without the stem's ImageNet init file (``stem_options.weights``): for building a
        network whose every tensor is then loaded from a checkpoint, so the file need not exist here."""
        if not self.stem_options.get("weights"):
            return self
        return replace(self, stem_options={**self.stem_options, "weights": None})


# ----------------------------------------------------------------------------- building blocks
class DropPath(nn.Module):
    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x), attn


class Block(nn.Module):
    """Pre-norm ViT block; with ``keep_ratio`` < 1 it also does OSTrack's candidate elimination."""

    def __init__(self, cfg: ModelConfig, drop_path: float, keep_ratio: float | None = None):
        super().__init__()
        d = cfg.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.attn = Attention(d, cfg.num_heads, cfg.qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.mlp = Mlp(d, int(d * cfg.mlp_ratio))
        self.keep_ratio = keep_ratio

    def forward(self, x: torch.Tensor, n_z: int, global_idx: torch.Tensor | None):
        a, attn = self.attn(self.norm1(x))
        x = x + self.drop_path(a)
        if self.keep_ratio is not None and global_idx is not None and self.keep_ratio < 1.0:
            x, global_idx = candidate_elimination(x, attn, n_z, global_idx, self.keep_ratio)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, global_idx


def candidate_elimination(x, attn, n_z: int, global_idx, keep_ratio: float):
    """Keep the search tokens most attended by the template's centre token (RECIPE 2.2, CTR_POINT)."""
    n_x = x.shape[1] - n_z
    keep = math.ceil(keep_ratio * n_x)
    if keep >= n_x:
        return x, global_idx
    side = int(round(math.sqrt(n_z)))
    ctr = (side // 2 - 1) * side + side // 2 - 1 if side > 1 else 0  # 8x8 grid -> index 27 region
    score = attn[:, :, ctr, n_z:].mean(dim=1)  # (B, n_x)
    idx = torch.topk(score, keep, dim=1, sorted=True).indices  # (B, keep)
    x_s = x[:, n_z:]
    x_s = torch.gather(x_s, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    global_idx = torch.gather(global_idx, 1, idx)
    return torch.cat([x[:, :n_z], x_s], dim=1), global_idx


class PatchEmbed(nn.Module):
    """16x16 non-overlapping patch embedding (ViT). Shared by template and search."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.embed_dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, C)


STEMS: dict[str, type[nn.Module]] = {"patch16": PatchEmbed, "mobilenet_v2": MobileNetV2Stem,
                                     "conv_stride2": ConvStride2Stem}


def build_stem(cfg: ModelConfig) -> nn.Module:
    try:
        return STEMS[cfg.stem](cfg)
    except KeyError:
        raise ValueError(f"unknown stem {cfg.stem!r}; available: {sorted(STEMS)}") from None


class Backbone(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.patch_embed = build_stem(cfg)
        self.pos_embed_z = nn.Parameter(torch.zeros(1, cfg.template_feature_size**2, d))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, cfg.feature_size**2, d))
        dpr = [float(v) for v in torch.linspace(0, cfg.drop_path, cfg.depth)]
        self.blocks = nn.ModuleList(
            Block(cfg, dpr[i], cfg.ce_keep_ratio if i in cfg.ce_loc else None) for i in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(d, eps=cfg.ln_eps)
        if cfg.presence_block:  # the presence branch's copy of the last block (no candidate elimination)
            self.block_presence = Block(cfg, dpr[-1])
            self.norm_presence = nn.LayerNorm(d, eps=cfg.ln_eps)
        nn.init.trunc_normal_(self.pos_embed_z, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_x, std=0.02)
        self.apply(_init_vit_weights)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The search tokens (B, F*F, C) after the last block and the final norm, and with
        ``presence_block`` the presence branch's (its block runs on the input of the last block),
        else None."""
        z = self.patch_embed(z) + self.pos_embed_z
        x = self.patch_embed(x) + self.pos_embed_x
        n_z, n_x = z.shape[1], x.shape[1]
        tokens = torch.cat([z, x], dim=1)
        global_idx = None
        if self.cfg.ce_loc:
            global_idx = torch.arange(n_x, device=x.device).unsqueeze(0).expand(x.shape[0], -1)
        for blk in self.blocks[:-1]:
            tokens, global_idx = blk(tokens, n_z, global_idx)
        presence = None
        if self.cfg.presence_block:  # on the input of the last block
            p, _ = self.block_presence(tokens, n_z, None)
            presence = _search_tokens(self.norm_presence(p), n_z, n_x, global_idx)
        tokens, global_idx = self.blocks[-1](tokens, n_z, global_idx)
        return _search_tokens(self.norm(tokens), n_z, n_x, global_idx), presence


def _search_tokens(tokens: torch.Tensor, n_z: int, n_x: int, global_idx: torch.Tensor | None) -> torch.Tensor:
    """The search part of ``tokens``; search tokens dropped by candidate elimination come back as
    zeros at their original positions (vit_ce)."""
    x = tokens[:, n_z:]
    if global_idx is not None and x.shape[1] < n_x:
        full = x.new_zeros(x.shape[0], n_x, x.shape[2])
        x = full.scatter(1, global_idx.unsqueeze(-1).expand(-1, -1, x.shape[2]), x)
    return x


def _init_vit_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CenterPredictor(nn.Module):
    """OSTrack's center head: three branches of 4 x (3x3 conv + BN + ReLU) then a 1x1 conv; with
    ``presence`` a fourth branch like ``ctr`` (the presence map)."""

    def __init__(self, in_ch: int, channels: int, feat_size: int, presence: bool = False):
        super().__init__()
        self.feat_size = feat_size
        self.presence = presence
        c = [in_ch, channels, channels // 2, channels // 4, channels // 8]
        branches = [("ctr", 1), ("offset", 2), ("size", 2)] + ([("presence", 1)] if presence else [])
        for branch, out in branches:
            for i in range(4):
                setattr(self, f"conv{i + 1}_{branch}", conv_bn_relu(c[i], c[i + 1]))
            setattr(self, f"conv5_{branch}", nn.Conv2d(c[4], out, 1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _branch(self, x: torch.Tensor, name: str) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"conv{i}_{name}")(x)
        return x

    def forward(self, x: torch.Tensor, presence_x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` (B, C, F, F): the search features; ``presence_x``: the presence branch's own
        (``presence_block``), else it reads ``x`` too."""
        out = {
            "score_map": _clamped_sigmoid(self._branch(x, "ctr")),
            "size_map": _clamped_sigmoid(self._branch(x, "size")),
            "offset_map": self._branch(x, "offset"),
        }
        if self.presence:
            out["presence_map"] = _clamped_sigmoid(self._branch(x if presence_x is None else presence_x, "presence"))
        return out


def _clamped_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x.sigmoid(), min=1e-4, max=1 - 1e-4)


def decode_boxes(score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor) -> torch.Tensor:
    """OSTrack ``cal_bbox``: argmax of the score map, then (cx, cy, w, h) normalized to the search crop.

    ``cx = (ix + dx) / F``, ``cy = (iy + dy) / F`` (no +0.5), ``(w, h)`` read at the argmax cell.
    Differentiable w.r.t. size and offset (the argmax index is not).
    """
    b, _, fh, fw = score_map.shape
    idx = score_map.flatten(1).argmax(dim=1, keepdim=True)  # (B, 1)
    iy = torch.div(idx, fw, rounding_mode="floor").to(size_map.dtype)
    ix = (idx % fw).to(size_map.dtype)
    gather = idx.unsqueeze(1).expand(-1, 2, -1)  # (B, 2, 1)
    size = size_map.flatten(2).gather(2, gather).squeeze(-1)  # (B, 2)
    offset = offset_map.flatten(2).gather(2, gather).squeeze(-1)
    cx = (ix.squeeze(1) + offset[:, 0]) / fw
    cy = (iy.squeeze(1) + offset[:, 1]) / fh
    return torch.stack([cx, cy, size[:, 0], size[:, 1]], dim=1)


class OSTrack(nn.Module):
    """One-stream tracker. ``forward(template, search)`` takes raw BGR pixels 0..255; the graph swaps
    them to RGB first unless ``network_color`` is ``"BGR"`` (weights trained on BGR input)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        mean = torch.tensor(cfg.norm_mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(cfg.norm_std).view(1, 3, 1, 1) * 255.0
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        self.backbone = Backbone(cfg)
        self.box_head = CenterPredictor(cfg.embed_dim, cfg.head_channels, cfg.feature_size, cfg.presence_head)

    def normalize(self, img: torch.Tensor) -> torch.Tensor:
        if self.cfg.network_color == "RGB":
            img = img.flip(1)  # BGR -> RGB
        return (img - self.pixel_mean) / self.pixel_std

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.normalize(template.float())
        x = self.normalize(search.float())
        feat, presence = self.backbone(z, x)  # (B, F*F, C) each
        b, n, c = feat.shape
        f = self.cfg.feature_size
        feat = feat.transpose(1, 2).reshape(b, c, f, f)
        if presence is not None:
            presence = presence.transpose(1, 2).reshape(b, c, f, f)
        out = self.box_head(feat, presence)
        out["pred_boxes"] = decode_boxes(out["score_map"], out["size_map"], out["offset_map"])
        return out


def build_model(cfg: ModelConfig | dict) -> OSTrack:
    if isinstance(cfg, dict):
        cfg = ModelConfig.from_dict(cfg)
    return OSTrack(cfg)


def count_macs(cfg: ModelConfig) -> int:
    """Multiply-accumulates of one forward pass: matmuls and convs (norms, softmax, GELU and other
    elementwise ops are not counted), as counted from the exported ONNX graph's MatMul/Gemm/Conv
    shapes (``sstrack_edge.bench.count_onnx_macs``; checked in tests/training/test_model.py).

    With candidate elimination, a CE block's attention runs on all its input tokens and its MLP on
    the kept ones (``ceil(keep_ratio * n_search)``), and later blocks on the kept ones.
    """
    d, hid = cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio)
    n_z, n_x = cfg.template_feature_size**2, cfg.feature_size**2
    p2 = cfg.patch_size**2
    stem_macs = getattr(STEMS.get(cfg.stem), "count_macs", None)  # a stem may count its own MACs
    macs = stem_macs(cfg) if stem_macs else (n_z + n_x) * 3 * p2 * d  # patch embedding
    for i in range(cfg.depth):
        n = n_z + n_x
        if cfg.presence_block and i == cfg.depth - 1:  # the presence copy of the last block, no CE
            macs += n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * hid
        macs += n * d * 3 * d + 2 * n * n * d + n * d * d  # qkv, q k^T and attn v, proj
        if i in cfg.ce_loc and cfg.ce_keep_ratio < 1.0:
            n_x = min(n_x, math.ceil(cfg.ce_keep_ratio * n_x))
        macs += 2 * (n_z + n_x) * d * hid  # mlp
    f2 = cfg.feature_size**2
    c = [d, cfg.head_channels, cfg.head_channels // 2, cfg.head_channels // 4, cfg.head_channels // 8]
    head = sum(f2 * 9 * c[i] * c[i + 1] for i in range(4))
    branches = 4 if cfg.presence_head else 3
    macs += branches * head + f2 * c[4] * (1 + 2 + 2 + (1 if cfg.presence_head else 0))
    return int(macs)
