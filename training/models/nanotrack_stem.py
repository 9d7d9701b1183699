"""Tracking-pretrained convolutional stem: NanoTrack v2's backbone (an ONNX file) + 1x1 projection.

Used as the tracker's patch embedding (``ModelConfig.stem = "nanotrack_v2"``): it maps an RGB
image with values 0..255 ``(B, 3, H, W)`` to tokens ``(B, (H/16)*(W/16), embed_dim)``, shared by
template and search, like the 16x16 ``PatchEmbed`` it replaces. See docs/conv-stem.md.

The backbone is the one OpenCV's ``cv2.TrackerNano`` runs (``nanotrack_backbone_sim.onnx``,
Apache-2.0, from the SiamTrackers project): MobileNetV3-small ``features[0:9]``, BatchNorm folded
into the convolutions, stride 16, 48 output channels, 0.19 M parameters, trained by its authors
for tracking. OpenCV feeds it RGB 0..255 without normalization (``blobFromImage(..., swapRB=true)``),
so a model with this stem must declare ``norm_mean (0, 0, 0)`` and ``norm_std (1/255, 1/255, 1/255)``
(the in-graph normalization is then the identity); the constructor checks that.

The ONNX graph is rebuilt as torch modules, node by node, from the operators that file uses (Conv,
Relu, HardSwish, HardSigmoid, GlobalAveragePool, Reshape, Gemm, Mul, Add); its weights become
trainable parameters. The squeeze-excitation Gemms become 1x1 convolutions on the pooled
``(B, C, 1, 1)`` tensor, so the batch-1 Reshape constants of the file are not needed and the stem
takes any batch size and any input size that is a multiple of 16. A file with another operator,
another input/output count or no weights raises :class:`StemWeightsError` naming the file and the
problem.

``ModelConfig.stem_options``::

    weights: PATH          the NanoTrack v2 backbone ONNX file (required: the graph is the architecture).
                           A relative path resolves like the trainer's paths (current directory first,
                           then the repository root).
    freeze_layers: 0       modules of ``features.0 .. features.(k-1)`` (the names in the ONNX file)
                           get ``requires_grad=False``.
    norm: none             ``none`` or ``layernorm`` (LayerNorm on the projected tokens).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .mobilenet_stem import StemWeightsError, options_from_dict, resolve_weights_path

log = logging.getLogger(__name__)

NORMS = ("none", "layernorm")
IDENTITY_NORM = ((0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255))
SUPPORTED_OPS = ("Conv", "Relu", "HardSwish", "HardSigmoid", "GlobalAveragePool", "Reshape", "Gemm", "Mul", "Add")
_LAYER = re.compile(r"features\.(\d+)")


@dataclass(frozen=True)
class NanoStemOptions:
    weights: str | None = None
    freeze_layers: int = 0
    norm: str = "none"

    def __post_init__(self) -> None:
        if not self.weights or not isinstance(self.weights, (str, Path)):
            raise ValueError("stem_options.weights must name the NanoTrack v2 backbone ONNX file "
                             f"(nanotrack_backbone_sim.onnx), got {self.weights!r}")
        if not isinstance(self.freeze_layers, int) or isinstance(self.freeze_layers, bool) or self.freeze_layers < 0:
            raise ValueError(f"stem_options.freeze_layers must be an int >= 0, got {self.freeze_layers!r}")
        if self.norm not in NORMS:
            raise ValueError(f"stem_options.norm must be one of {NORMS}, got {self.norm!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "NanoStemOptions":
        return options_from_dict(cls, d, "nanotrack_v2")


@dataclass(frozen=True)
class Step:
    """One node of the graph: operator, input value names, output name, module key (or None)."""

    op: str
    inputs: tuple[str, ...]
    output: str
    module: str | None = None
    alpha: float = 0.2  # HardSigmoid's attributes; ONNX's defaults
    beta: float = 0.5


def _module_key(index: int, node_name: str, output: str) -> str:
    m = _LAYER.search(output) or _LAYER.search(node_name)
    return f"features_{m.group(1)}_{index}" if m else f"node_{index}"


def read_graph(path: Path) -> tuple[list[Step], dict[str, nn.Module], str, str, int]:
    """Parse the ONNX file into steps and torch modules (weights copied). Returns
    ``(steps, modules, input_name, output_name, out_channels)``."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:  # the [train] extra installs onnx
        raise StemWeightsError(f"the nanotrack_v2 stem needs the 'onnx' package to read {path}: {e}") from e
    if not path.is_file():
        raise StemWeightsError(f"nanotrack_v2 stem weights file not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf raises several types for corrupt files
        raise StemWeightsError(f"nanotrack_v2 stem weights {path} cannot be read as ONNX: {e}") from e
    g = model.graph
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    inputs = [i.name for i in g.input if i.name not in inits]
    if len(inputs) != 1 or len(g.output) != 1 or not inits:
        raise StemWeightsError(f"nanotrack_v2 stem weights {path}: expected one image input, one feature output "
                               f"and weights; got inputs {inputs}, {len(g.output)} outputs, {len(inits)} tensors")
    steps: list[Step] = []
    modules: dict[str, nn.Module] = {}
    for i, node in enumerate(g.node):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type not in SUPPORTED_OPS:
            raise StemWeightsError(f"nanotrack_v2 stem weights {path}: operator {node.op_type} (node {i}) is not "
                                   f"supported; supported: {SUPPORTED_OPS}")
        data = [x for x in node.input if x not in inits]
        key = None
        if node.op_type in ("Conv", "Gemm"):
            key = _module_key(i, node.name, node.output[0])
            modules[key] = _weight_module(node.op_type, attrs, [inits[x] for x in node.input if x in inits], path, i)
        steps.append(Step(node.op_type, tuple(data), node.output[0], key, float(attrs.get("alpha", Step.alpha)),
                          float(attrs.get("beta", Step.beta))))
    out = g.output[0].name
    out_channels = _out_channels(steps, modules, out)
    return steps, modules, inputs[0], out, out_channels


def _weight_module(op: str, attrs: dict[str, Any], tensors: list[torch.Tensor], path: Path, i: int) -> nn.Conv2d:
    """A Conv node as ``nn.Conv2d``; a Gemm (``y = x W^T + b``) as a 1x1 ``nn.Conv2d`` on ``(B, C, 1, 1)``."""
    if not tensors or len(tensors) > 2:
        raise StemWeightsError(f"nanotrack_v2 stem weights {path}: node {i} ({op}) has {len(tensors)} weight tensors")
    w, b = tensors[0], (tensors[1] if len(tensors) == 2 else None)
    if op == "Gemm":
        if attrs.get("transB", 0) != 1 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise StemWeightsError(f"nanotrack_v2 stem weights {path}: Gemm node {i} is not x W^T + b ({attrs})")
        conv = nn.Conv2d(w.shape[1], w.shape[0], 1, bias=b is not None)
        w = w[:, :, None, None]
    else:
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if pads[:2] != pads[2:]:
            raise StemWeightsError(f"nanotrack_v2 stem weights {path}: Conv node {i} has asymmetric pads {pads}")
        groups = int(attrs.get("group", 1))
        conv = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=tuple(attrs.get("strides", [1, 1])),
                         padding=tuple(pads[:2]), dilation=tuple(attrs.get("dilations", [1, 1])), groups=groups,
                         bias=b is not None)
    with torch.no_grad():
        conv.weight.copy_(w)
        if b is not None:
            conv.bias.copy_(b)
    return conv


def _out_channels(steps: list[Step], modules: dict[str, nn.Module], out: str) -> int:
    """Channels of the graph output: those of the last Conv feeding it (through Add/activations)."""
    last_conv = [s for s in steps if s.op == "Conv"]
    if not last_conv:
        raise StemWeightsError(f"nanotrack_v2 stem: the graph has no Conv producing {out}")
    return modules[last_conv[-1].module].out_channels


class NanoTrackStem(nn.Module):
    """NanoTrack v2 backbone (graph rebuilt from the ONNX file) -> 1x1 conv to ``embed_dim`` -> tokens."""

    stride = 16

    def __init__(self, cfg):
        super().__init__()
        opts = NanoStemOptions.from_dict(cfg.stem_options)
        mean, std = IDENTITY_NORM
        if any(abs(a - b) > 1e-6 for a, b in zip(cfg.norm_mean + cfg.norm_std, mean + std)):
            raise ValueError("stem 'nanotrack_v2' takes RGB 0..255 as NanoTrack was trained (OpenCV feeds it so): "
                             f"set model.norm_mean to {list(mean)} and model.norm_std to [1/255, 1/255, 1/255]; "
                             f"got {list(cfg.norm_mean)} / {list(cfg.norm_std)}")
        if cfg.patch_size != self.stride:
            raise ValueError(f"stem 'nanotrack_v2' has stride {self.stride}; set patch_size to {self.stride}, "
                             f"got {cfg.patch_size}")
        path = resolve_weights_path(opts.weights, "nanotrack_v2", "the NanoTrack v2 backbone ONNX file "
                                    "(../shared/peers/nanotrack_v2/nanotrack_backbone_sim.onnx)")
        steps, modules, self._input, self._output, self.out_channels = read_graph(path)
        self.options = opts
        self._steps = steps
        self.features = nn.ModuleDict(modules)
        self.proj = nn.Conv2d(self.out_channels, cfg.embed_dim, kernel_size=1)
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps) if opts.norm == "layernorm" else nn.Identity()
        frozen = 0
        for key, mod in self.features.items():
            m = re.match(r"features_(\d+)_", key)
            if m and int(m.group(1)) < opts.freeze_layers:
                mod.requires_grad_(False)
                frozen += 1
        self.load_report = {"source": str(path), "modules": len(modules), "frozen_modules": frozen,
                            "parameters": sum(p.numel() for p in self.features.parameters())}
        log.info("nanotrack_v2 stem: %d conv modules (%d parameters) from %s, %d frozen", len(modules),
                 self.load_report["parameters"], path, frozen)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        """The ONNX graph on ``x`` (B, 3, H, W), RGB 0..255 -> (B, C, H/16, W/16)."""
        values: dict[str, torch.Tensor] = {self._input: x}
        for s in self._steps:
            a = values[s.inputs[0]]
            if s.op in ("Conv", "Gemm"):
                y = self.features[s.module](a)
            elif s.op == "Relu":
                y = F.relu(a)
            elif s.op == "HardSwish":
                y = F.hardswish(a)
            elif s.op == "HardSigmoid":  # ONNX: alpha x + beta, clipped to [0, 1]
                y = torch.clamp(a * s.alpha + s.beta, 0.0, 1.0)
            elif s.op == "GlobalAveragePool":
                y = a.mean(dim=(2, 3), keepdim=True)
            elif s.op == "Reshape":  # (B, C, 1, 1) <-> (B, C): the pooled tensor stays 4-D here
                y = a
            elif s.op == "Mul":
                y = a * values[s.inputs[1]]
            else:  # Add
                y = a + values[s.inputs[1]]
            values[s.output] = y
        return values[self._output]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.backbone(x))
        return self.norm(x.flatten(2).transpose(1, 2))  # (B, N, C)

    @staticmethod
    def count_macs(cfg) -> int:
        """Conv multiply-accumulates for the template and the search image (the SE pools' 1x1s
        included), counted by running the graph once on each size and hooking the convolutions."""
        stem = NanoTrackStem(cfg)
        macs = 0

        def hook(mod: nn.Conv2d, _inp, out: torch.Tensor) -> None:
            nonlocal macs
            k = mod.weight.shape[1] * mod.weight.shape[2] * mod.weight.shape[3]
            macs += out.shape[1] * out.shape[2] * out.shape[3] * k

        handles = [m.register_forward_hook(hook) for m in stem.modules() if isinstance(m, nn.Conv2d)]
        with torch.no_grad():
            for side in (cfg.template_size, cfg.search_size):
                stem(torch.zeros(1, 3, side, side))
        for h in handles:
            h.remove()
        return macs
