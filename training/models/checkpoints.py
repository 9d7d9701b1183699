"""Load pretrained weights into :class:`training.models.ostrack.OSTrack`, loudly.

Three checkpoint layouts are understood (``kind``; ``"auto"`` detects it from the keys):

``timm``
    A plain ViT / DeiT state dict (``patch_embed.proj.weight``, ``pos_embed`` (1, 1+14*14, C) with a
    cls slot, ``cls_token``, ``blocks.i.*``, ``norm.*``), possibly under ``"model"`` or
    ``"state_dict"``. It fills ``backbone.*``; the box head stays randomly initialised.
``dmae``
    MAE-Lite's D-MAE ViT-Tiny (``mae_tiny_distill_400e.pth.tar``): keys under ``ckpt["model"]`` with
    the prefix ``module.model.``, plus decoder / distillation keys that are ignored. Same mapping as
    ``timm``. Its ViT-Tiny uses **12 heads** (RECIPE 2.6), so the model must be built with
    ``num_heads=12``; a mismatch raises.
``ostrack``
    A full tracker: official OSTrack/SSTrack (``{"net": state}``, keys ``backbone.*`` incl.
    ``backbone.pos_embed_z/x`` and ``box_head.*``) or this project's training checkpoint
    (``{"model": state, "model_config": {...}}``). The module names of ``OSTrack`` follow the official
    layout, so keys map one to one (``backbone.cls_token`` / ``backbone.pos_embed`` of the official
    file are reported as unexpected and ignored).

In the ViT layouts ``pos_embed`` drops its cls slot and is bicubically interpolated (14x14 ->
template and search grids, ``align_corners=False``, as OSTrack ``finetune_track``); a tracker's own
``pos_embed_z/x`` are interpolated only when the grid differs.

Attention heads cannot be read from a checkpoint (``qkv`` is ``3C x C`` for any head count): the model
config decides, and only the D-MAE head count (12) is checked.

:func:`load_pretrained` returns a :class:`LoadReport`, logs it, and raises
:class:`PretrainedLoadError` when fewer than ``min_loaded_fraction`` of the backbone tensors were
loaded: the silent ``strict=False`` trap of RECIPE 2.6 (a prefixed D-MAE file loads *nothing* into
OSTrack's own loader).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from .ostrack import ModelConfig, OSTrack, build_model

log = logging.getLogger(__name__)

KINDS = ("auto", "timm", "dmae", "ostrack")
DMAE_NUM_HEADS = 12
_CONTAINERS = ("net", "model", "state_dict", "model_state", "module")
_VIT_PREFIXES = ("module.model.", "module.", "model.", "encoder.", "backbone.")


class PretrainedLoadError(RuntimeError):
    """A checkpoint cannot be read, has an unknown layout, or loads too few of the model's tensors."""


@dataclass
class LoadReport:
    """What a load did. Counts are tensors (state-dict entries), not parameters."""

    source: str
    kind: str
    expected: int  # tensors in the model's state dict
    expected_backbone: int
    loaded: list[str] = field(default_factory=list)  # model keys that received checkpoint values
    missing: list[str] = field(default_factory=list)  # model keys with no checkpoint value
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys with no place in the model
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (model key, ckpt, model shape)
    interpolated: list[str] = field(default_factory=list)  # position embeddings resized
    # presence-branch tensors the file lacks, started from the ctr branch's (a tracker checkpoint
    # loaded into a model with ``presence_head``: docs/presence.md)
    presence_from_ctr: list[str] = field(default_factory=list)
    # the presence copy of the last block and norm (``presence_block``), started from them
    presence_from_last_block: list[str] = field(default_factory=list)

    @property
    def loaded_backbone(self) -> int:
        return sum(k.startswith("backbone.") for k in self.loaded)

    @property
    def backbone_fraction(self) -> float:
        return self.loaded_backbone / self.expected_backbone if self.expected_backbone else 0.0

    def summary(self) -> str:
        head = sum(k.startswith("box_head.") for k in self.loaded)
        s = (
            f"pretrained {self.kind} weights from {self.source}: loaded {len(self.loaded)}/{self.expected} tensors "
            f"(backbone {self.loaded_backbone}/{self.expected_backbone} = {self.backbone_fraction:.1%}, "
            f"box_head {head}); missing {len(self.missing)}, unexpected {len(self.unexpected)}, "
            f"shape-mismatched {len(self.mismatched)}, interpolated {self.interpolated or 'none'}"
        )
        if self.presence_from_ctr:
            s += f"; presence branch started from the ctr branch ({len(self.presence_from_ctr)} tensors)"
        if self.presence_from_last_block:
            s += f"; presence block started from the last block ({len(self.presence_from_last_block)} tensors)"
        if self.mismatched:
            s += "; mismatched: " + ", ".join(
                f"{k} ckpt{tuple(a)} vs model{tuple(b)}" for k, a, b in self.mismatched[:5])
        return s

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "loaded": len(self.loaded),
            "expected": self.expected,
            "loaded_backbone": self.loaded_backbone,
            "expected_backbone": self.expected_backbone,
            "missing": len(self.missing),
            "unexpected": len(self.unexpected),
            "mismatched": len(self.mismatched),
            "interpolated": list(self.interpolated),
            "presence_from_ctr": len(self.presence_from_ctr),
            "presence_from_last_block": len(self.presence_from_last_block),
        }


# --------------------------------------------------------------------------------- reading
def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load`` a checkpoint file on CPU (pickled objects allowed: OSTrack files hold settings).

    A ``.onnx`` file is read as a VitTrack-layout tracker (:mod:`training.models.vittrack_onnx`):
    ``{"model": state, "model_config": config, "config_defaults": {...}}``, like this project's
    training checkpoints; ``config_defaults`` are fields the file does not determine."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedLoadError(f"checkpoint not found: {path}")
    if path.suffix.lower() == ".onnx":
        from .vittrack_onnx import read_vittrack_onnx

        cfg, state = read_vittrack_onnx(path)
        color = cfg.pop("network_color")  # not in the file: a default that --arch may override
        return {"model": state, "model_config": cfg, "config_defaults": {"network_color": color}}
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for corrupt files
        raise PretrainedLoadError(f"checkpoint {path} cannot be read: {e}") from e
    if not isinstance(obj, Mapping):
        raise PretrainedLoadError(f"checkpoint {path} holds a {type(obj).__name__}, not a dict")
    return dict(obj)


def unwrap_state_dict(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: the first of ``net``/``model``/``state_dict``/... that is a
    dict of tensors, or ``obj`` itself."""
    for key in _CONTAINERS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and any(torch.is_tensor(v) for v in inner.values()):
            return {k: v for k, v in inner.items() if torch.is_tensor(v)}
    tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if not tensors:
        raise PretrainedLoadError(
            f"no tensor dict found in the checkpoint (top-level keys: {sorted(obj)[:12]}); expected the "
            f"weights under one of {_CONTAINERS} or at the top level"
        )
    return tensors


def detect_kind(state: Mapping[str, torch.Tensor]) -> str:
    keys = list(state)
    if any(k.startswith(("backbone.", "module.backbone.")) for k in keys) and any(
        k.startswith(("box_head.", "module.box_head.")) for k in keys
    ):
        return "ostrack"
    if any(k.startswith("module.model.") for k in keys):  # MAE-Lite's own layout; decoder keys are ignored
        return "dmae"
    if any(_strip_vit_prefix(k).startswith("blocks.") for k in keys):
        return "timm"
    raise PretrainedLoadError(
        f"cannot tell the checkpoint layout from its keys (first: {keys[:6]}); pass kind= one of {KINDS[1:]}"
    )


def _strip_vit_prefix(key: str) -> str:
    for p in _VIT_PREFIXES:
        if key.startswith(p):
            return key[len(p):]
    return key


# --------------------------------------------------------------------------- conversions
def interpolate_pos_embed(pos: torch.Tensor, side: int, has_cls: bool | None = None) -> torch.Tensor:
    """(1, [1+] s*s, C) -> (1, side*side, C): drop the cls slot, bicubic resize of the s x s grid."""
    if pos.ndim != 3 or pos.shape[0] != 1:
        raise PretrainedLoadError(f"position embedding must be (1, N, C), got {tuple(pos.shape)}")
    n = pos.shape[1]
    if has_cls is None:
        has_cls = math.isqrt(n) ** 2 != n and math.isqrt(n - 1) ** 2 == n - 1
    grid = pos[:, 1:] if has_cls else pos
    s = math.isqrt(grid.shape[1])
    if s * s != grid.shape[1]:
        raise PretrainedLoadError(f"position embedding with {n} tokens is not a square grid (cls slot: {has_cls})")
    c = grid.shape[2]
    if s == side:
        return grid.clone()
    g = grid.float().reshape(1, s, s, c).permute(0, 3, 1, 2)
    g = F.interpolate(g, size=(side, side), mode="bicubic", align_corners=False)
    return g.permute(0, 2, 3, 1).reshape(1, side * side, c).to(pos.dtype)


def vit_to_backbone(state: Mapping[str, torch.Tensor], cfg: ModelConfig) -> tuple[dict, list[str], list[str]]:
    """timm / D-MAE ViT keys -> ``backbone.*`` (pos-embeds interpolated). Returns (mapped, unexpected, interpolated)."""
    out: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    interpolated: list[str] = []
    for key, value in state.items():
        k = _strip_vit_prefix(key)
        if k == "pos_embed":
            out["backbone.pos_embed_z"] = interpolate_pos_embed(value, cfg.template_feature_size)
            out["backbone.pos_embed_x"] = interpolate_pos_embed(value, cfg.feature_size)
            interpolated += ["backbone.pos_embed_z", "backbone.pos_embed_x"]
        elif k.startswith(("patch_embed.", "blocks.", "norm.")):
            out["backbone." + k] = value
        else:  # cls_token, head.*, decoder_*, mask_token, fc_norm, distillation adapters ...
            unexpected.append(key)
    return out, unexpected, interpolated


def tracker_keys(
    state: Mapping[str, torch.Tensor], model_state: Mapping[str, torch.Tensor]
) -> tuple[dict, list[str], list[str]]:
    """Official OSTrack / our tracker keys (``module.`` stripped); pos_embed_z/x resized when the grid differs."""
    out: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    interpolated: list[str] = []
    for key, value in state.items():
        k = key[7:] if key.startswith("module.") else key
        if k in ("backbone.pos_embed_z", "backbone.pos_embed_x") and k in model_state:
            want = model_state[k].shape
            if value.shape != want and value.ndim == 3 and value.shape[2] == want[2]:
                value = interpolate_pos_embed(value, math.isqrt(want[1]), has_cls=False)
                interpolated.append(k)
        if k in model_state:
            out[k] = value
        else:
            unexpected.append(key)
    return out, unexpected, interpolated


# ----------------------------------------------------------------------------------- load
def load_pretrained(
    model: OSTrack,
    source: str | os.PathLike | Mapping[str, Any],
    kind: str = "auto",
    min_loaded_fraction: float = 0.9,
) -> LoadReport:
    """Copy checkpoint tensors into ``model`` (in place) and return the :class:`LoadReport`.

    ``source``: a checkpoint path or an already loaded dict. Raises :class:`PretrainedLoadError`
    when the layout is unknown, a D-MAE file meets a model without 12 heads, or fewer than
    ``min_loaded_fraction`` of the backbone's tensors received values.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not 0.0 <= min_loaded_fraction <= 1.0:
        raise ValueError(f"min_loaded_fraction must be in [0, 1], got {min_loaded_fraction}")
    if isinstance(source, Mapping):
        name, obj = "<dict>", dict(source)
    else:
        name, obj = str(source), read_checkpoint(source)
    state = unwrap_state_dict(obj)
    if kind == "auto":
        kind = detect_kind(state)
    cfg = model.cfg
    if kind == "dmae" and cfg.num_heads != DMAE_NUM_HEADS:
        raise PretrainedLoadError(
            f"{name} is a MAE-Lite D-MAE ViT-Tiny checkpoint, trained with {DMAE_NUM_HEADS} attention heads, "
            f"but the model has num_heads={cfg.num_heads}; build it with num_heads={DMAE_NUM_HEADS} "
            f"(head count cannot be read from the weights, RECIPE 2.6)"
        )
    model_state = model.state_dict()
    if kind == "ostrack":
        mapped, unexpected, interpolated = tracker_keys(state, model_state)
    else:
        mapped, unexpected, interpolated = vit_to_backbone(state, cfg)

    report = LoadReport(
        source=name,
        kind=kind,
        expected=len(model_state),
        expected_backbone=sum(k.startswith("backbone.") for k in model_state),
        unexpected=unexpected,
        interpolated=interpolated,
    )
    new_state = dict(model_state)
    for k, v in mapped.items():
        if k not in model_state:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(model_state[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(model_state[k].shape)))
        else:
            new_state[k] = v.to(model_state[k].dtype)
            report.loaded.append(k)
    loaded = set(report.loaded)
    report.missing = [k for k in model_state if k not in loaded]
    if kind != "ostrack":  # a backbone-only file is not expected to fill the head
        report.missing = [k for k in report.missing if k.startswith("backbone.")]
    branch = {k for k in model_state if k.startswith("box_head.") and "_presence." in k}
    presence = [k for k in report.missing if k in branch]
    ctr_loaded = all(k.replace("_presence.", "_ctr.") in loaded for k in presence)
    if presence and ctr_loaded and len(presence) == len(branch):
        # a tracker without a presence branch: the new branch starts as a copy of the ctr branch
        for k in presence:
            new_state[k] = new_state[k.replace("_presence.", "_ctr.")].clone()
        report.presence_from_ctr = presence
        report.missing = [k for k in report.missing if k not in set(presence)]
    copies = {k: k.replace("backbone.block_presence.", f"backbone.blocks.{cfg.depth - 1}.")
              .replace("backbone.norm_presence.", "backbone.norm.")
              for k in model_state if k.startswith(("backbone.block_presence.", "backbone.norm_presence."))}
    if copies and all(k in report.missing and src in loaded for k, src in copies.items()):
        # a checkpoint without the presence block: it starts as a copy of the last block and norm,
        # so the presence branch reads what the box head reads until it is trained
        for k, src in copies.items():
            new_state[k] = new_state[src].clone()
        report.presence_from_last_block = list(copies)
        report.loaded.extend(copies)
        report.missing = [k for k in report.missing if k not in copies]
    report.interpolated = [k for k in report.interpolated if k in loaded]
    log.info(report.summary())
    if report.backbone_fraction < min_loaded_fraction:
        raise PretrainedLoadError(
            f"only {report.loaded_backbone} of {report.expected_backbone} backbone tensors "
            f"({report.backbone_fraction:.1%}) loaded from {name}, below min_loaded_fraction="
            f"{min_loaded_fraction:.0%}. {report.summary()}. First missing: {report.missing[:5]}; first "
            f"unexpected: {report.unexpected[:5]}. Check the checkpoint kind ({kind}) and the model config "
            f"(embed_dim={cfg.embed_dim}, depth={cfg.depth}, patch_size={cfg.patch_size})."
        )
    model.load_state_dict(new_state, strict=True)
    return report


# ------------------------------------------------------------- whole trackers (export side)
def infer_tracker_config(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """ModelConfig fields readable from a tracker state dict (sizes, width, depth, head channels).

    Not readable: ``num_heads`` (any count gives the same tensors), ``ce_loc`` (no parameters),
    crop factors and normalization: those come from the caller's config.
    """
    s = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
    try:
        w = s["backbone.patch_embed.proj.weight"]
        pz, px = s["backbone.pos_embed_z"], s["backbone.pos_embed_x"]
        head = s["box_head.conv1_ctr.0.weight"]
    except KeyError as e:
        raise PretrainedLoadError(f"not a tracker checkpoint: key {e.args[0]!r} is missing") from None
    patch = int(w.shape[-1])
    depth = 1 + max(int(k.split(".")[2]) for k in s if k.startswith("backbone.blocks."))
    dim = int(w.shape[0])
    d = dict(
        embed_dim=dim,
        patch_size=patch,
        depth=depth,
        template_size=math.isqrt(pz.shape[1]) * patch,
        search_size=math.isqrt(px.shape[1]) * patch,
        head_channels=int(head.shape[0]),
        qkv_bias="backbone.blocks.0.attn.qkv.bias" in s,
        presence_head="box_head.conv1_presence.0.weight" in s,
        presence_block="backbone.block_presence.norm1.weight" in s,
    )
    fc1 = s.get("backbone.blocks.0.mlp.fc1.weight")
    if fc1 is not None:
        d["mlp_ratio"] = fc1.shape[0] / dim
    return d


def load_tracker(
    path: str | os.PathLike,
    config: ModelConfig | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[OSTrack, dict[str, Any]]:
    """Build an :class:`OSTrack` from a complete tracker checkpoint, every tensor loaded.

    * This project's training checkpoint (``model_config`` + ``model``): the stored config is used;
      ``config`` / ``overrides`` must agree with it where they set a field.
    * An official OSTrack/SSTrack file (``net``/``model`` with ``backbone.*``, ``box_head.*``): sizes,
      width, depth and head channels are read from the tensors; ``num_heads`` must come from
      ``config`` or ``overrides`` (it is not in the weights), like ``ce_loc`` and the crop factors.

    Returns ``(model in eval mode, info)`` where info has ``trained_config`` (bool: config stored in
    the file), ``report`` (LoadReport dict), the raw checkpoint's ``epoch`` if present and, for an
    ``sstrack-train`` checkpoint, ``train`` (its training config, last epoch metrics, world size).
    """
    obj = read_checkpoint(path)
    state = unwrap_state_dict(obj)
    base = dict(config.to_dict() if isinstance(config, ModelConfig) else (config or {}))
    over = dict(overrides or {})
    info: dict[str, Any] = {"epoch": obj.get("epoch")}
    if isinstance(obj.get("config"), Mapping):  # an sstrack-train checkpoint: how it was trained
        info["train"] = {"config": dict(obj["config"]), "metrics": dict(obj.get("metrics") or {}),
                         "world_size": int(obj.get("world_size", 1)), "best": obj.get("best")}
    if isinstance(obj.get("model_config"), Mapping):
        stored = dict(obj["model_config"])
        for k, v in {**base, **over}.items():
            if k in stored and _norm(stored[k]) != _norm(v):
                raise PretrainedLoadError(
                    f"{path} was trained with {k}={stored[k]!r}, the export asks for {k}={v!r}; drop the override"
                )
        cfg_dict = {**dict(obj.get("config_defaults") or {}), **stored,
                    **{k: v for k, v in over.items() if k not in stored}}
        info["config_source"] = "checkpoint"
    else:
        inferred = infer_tracker_config(state)
        for k, v in base.items():
            if k in inferred and _norm(inferred[k]) != _norm(v):
                raise PretrainedLoadError(
                    f"the config sets {k}={v!r} but the checkpoint's tensors say {k}={inferred[k]!r}"
                )
        cfg_dict = {**base, **inferred, **over}
        if "num_heads" not in base and "num_heads" not in over:
            raise PretrainedLoadError(
                f"{path} stores no model config, and the number of attention heads cannot be read from "
                f"the weights; pass it (--arch num_heads=N or a --config; ViT-Tiny: 3 for DeiT/timm, "
                f"12 for MAE-Lite D-MAE; embed_dim here is {inferred['embed_dim']})"
            )
        info["config_source"] = "inferred from tensors + given config"
    try:
        # every tensor comes from the file below: the stem's ImageNet init file is not needed
        model = build_model(ModelConfig.from_dict(cfg_dict).for_full_state_dict())
    except (TypeError, ValueError) as e:
        raise PretrainedLoadError(f"bad model config for {path}: {e}") from e
    report = load_pretrained(model, {"model": state}, kind="ostrack", min_loaded_fraction=1.0)
    if report.missing or report.mismatched:
        raise PretrainedLoadError(
            f"{path} does not fill the whole tracker: {report.summary()}; missing {report.missing[:5]}")
    info["report"] = report.to_dict()
    return model.eval(), info


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v
