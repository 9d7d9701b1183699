"""Pretrained convolutional stem: ImageNet MobileNetV2 ``features[0:layers]`` + 1x1 projection.

Used as the tracker's patch embedding (``ModelConfig.stem = "mobilenet_v2"``): it maps a normalized
RGB image ``(B, 3, H, W)`` to tokens ``(B, (H/16)*(W/16), embed_dim)``, shared by template and
search, exactly like the 16x16 ``PatchEmbed`` it replaces. See docs/conv-stem.md.

``ModelConfig.stem_options`` (all optional)::

    weights: PATH | null   torchvision MobileNetV2 state dict (``mobilenet_v2-b0353104.pth``), read
                           from a local file, never downloaded. A relative path resolves like the
                           trainer's paths (training.train_config.resolve_path): the current
                           directory first, then the repository root. null = random init.
    layers: 14             keep ``features[0:layers]``; 14 -> stride 16, 96 channels. The stride must
                           equal ``ModelConfig.patch_size`` (layers 8..14 for 16, 5..7 for 8).
    freeze_bn: true        BatchNorm layers of the MobileNet part stay in eval mode (running
                           statistics frozen) even in ``model.train()``; their affine weights still train.
    freeze_layers: 0       ``features[0:k]`` get ``requires_grad=False`` (weights frozen too).
    norm: none             ``none`` or ``layernorm`` (LayerNorm on the projected tokens).

Module and key names follow torchvision's ``mobilenet_v2().features`` (``features.0.0.weight``,
``features.1.conv.0.0.weight``, ``features.2.conv.0.1.running_mean`` ...), so the ImageNet file
loads directly (no torchvision needed). A weights file that does not fill every tensor of the kept
layers raises :class:`StemWeightsError` naming the file and the offending keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

log = logging.getLogger(__name__)

# torchvision's inverted residual setting (expand ratio t, channels c, repeats n, first stride s)
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
FIRST_CHANNELS, LAST_CHANNELS = 32, 1280
NORMS = ("none", "layernorm")


class StemWeightsError(RuntimeError):
    """The stem's weights file is missing, unreadable, or its keys/shapes do not match the stem."""


@dataclass(frozen=True)
class LayerSpec:
    """One entry of ``features``: kind (``conv`` or ``block``), in/out channels, stride, expand ratio."""

    kind: str
    cin: int
    cout: int
    stride: int
    expand: int = 1


def feature_specs() -> tuple[LayerSpec, ...]:
    """The 19 entries of torchvision's MobileNetV2 ``features`` (width multiplier 1.0)."""
    specs = [LayerSpec("conv", 3, FIRST_CHANNELS, 2)]
    cin = FIRST_CHANNELS
    for t, c, n, s in INVERTED_RESIDUAL_SETTING:
        for i in range(n):
            specs.append(LayerSpec("block", cin, c, s if i == 0 else 1, t))
            cin = c
    specs.append(LayerSpec("conv1x1", cin, LAST_CHANNELS, 1))
    return tuple(specs)


def truncated_stride(layers: int) -> int:
    """Total stride of ``features[0:layers]``."""
    s = 1
    for spec in feature_specs()[:layers]:
        s *= spec.stride
    return s


@dataclass(frozen=True)
class StemOptions:
    weights: str | None = None
    layers: int = 14
    freeze_bn: bool = True
    freeze_layers: int = 0
    norm: str = "none"

    def __post_init__(self) -> None:
        n = len(feature_specs())
        if not isinstance(self.layers, int) or isinstance(self.layers, bool) or not 1 <= self.layers <= n:
            raise ValueError(f"stem_options.layers must be an int in 1..{n}, got {self.layers!r}")
        if not isinstance(self.freeze_layers, int) or not 0 <= self.freeze_layers <= self.layers:
            raise ValueError(f"stem_options.freeze_layers must be an int in 0..layers={self.layers}, "
                             f"got {self.freeze_layers!r}")
        if not isinstance(self.freeze_bn, bool):
            raise ValueError(f"stem_options.freeze_bn must be true or false, got {self.freeze_bn!r}")
        if self.norm not in NORMS:
            raise ValueError(f"stem_options.norm must be one of {NORMS}, got {self.norm!r}")
        if self.weights is not None and not isinstance(self.weights, (str, Path)):
            raise ValueError(f"stem_options.weights must be a path or null, got {self.weights!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "StemOptions":
        """``StemOptions(**d)``; an unknown key raises and names the known ones."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown stem_options key(s) {unknown} for stem 'mobilenet_v2'; known: {sorted(known)}")
        return cls(**d)


# ------------------------------------------------------------------ torchvision-layout modules
class ConvBNReLU(nn.Sequential):
    """torchvision ``Conv2dNormActivation``: keys ``.0`` conv (no bias), ``.1`` BN, ``.2`` ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """torchvision's block: ``conv`` = [1x1 expand] + 3x3 depthwise + 1x1 linear projection + BN."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def mobilenet_v2_features(layers: int) -> nn.Sequential:
    """``features[0:layers]`` of torchvision's MobileNetV2 with its module names (random init as
    torchvision)."""
    mods: list[nn.Module] = []
    for spec in feature_specs()[:layers]:
        if spec.kind == "conv":
            mods.append(ConvBNReLU(spec.cin, spec.cout, stride=spec.stride))
        elif spec.kind == "conv1x1":
            mods.append(ConvBNReLU(spec.cin, spec.cout, kernel=1))
        else:
            mods.append(InvertedResidual(spec.cin, spec.cout, spec.stride, spec.expand))
    features = nn.Sequential(*mods)
    for m in features.modules():  # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return features


# ------------------------------------------------------------------------------ weights
def resolve_weights_path(path: str | Path) -> Path:
    """Absolute as is; relative: current directory, then the repository root (trainer's rule)."""
    from training.train_config import ConfigError, resolve_path

    try:
        return resolve_path(path, Path.cwd())
    except ConfigError as e:
        raise StemWeightsError(f"mobilenet_v2 stem weights file not found: {e}. Set model.stem_options.weights "
                               "to the torchvision file (mobilenet_v2-b0353104.pth) or null for random init") from None


def load_features_weights(features: nn.Sequential, path: str | Path) -> dict[str, Any]:
    """Copy a torchvision MobileNetV2 state dict into ``features`` (a truncated copy); strict.

    Every tensor of ``features`` must come from the file with the same shape, except
    ``num_batches_tracked`` counters, which are optional (unused with frozen BN). File tensors of
    deeper layers and of the classifier are reported as unused. Returns the load report.
    """
    path = resolve_weights_path(path)
    if not path.is_file():
        raise StemWeightsError(f"mobilenet_v2 stem weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for corrupt or non-tensor files
        raise StemWeightsError(f"mobilenet_v2 stem weights {path} cannot be read: {e}") from e
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not any(torch.is_tensor(v) for v in obj.values()):
        raise StemWeightsError(f"mobilenet_v2 stem weights {path} hold no state dict of tensors "
                               f"(got {type(obj).__name__})")
    file_sd = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    own = {f"features.{k}": v for k, v in features.state_dict().items()}
    required = [k for k in own if not k.endswith("num_batches_tracked")]
    missing = [k for k in required if k not in file_sd]
    mismatched = [(k, tuple(file_sd[k].shape), tuple(v.shape)) for k, v in own.items()
                  if k in file_sd and file_sd[k].shape != v.shape]
    if missing or mismatched:
        msg = [f"mobilenet_v2 stem weights {path} do not match features[0:{len(features)}] "
               f"(torchvision layout, keys like 'features.1.conv.0.0.weight')"]
        if missing:
            msg.append(f"{len(missing)}/{len(required)} required tensors missing, e.g. {missing[:4]}; "
                       f"the file's first keys are {list(file_sd)[:4]}")
        if mismatched:
            msg.append(f"{len(mismatched)} shape mismatches, e.g. "
                       + ", ".join(f"{k} file{a} vs stem{b}" for k, a, b in mismatched[:4]))
        raise StemWeightsError("; ".join(msg))
    loaded = [k for k in own if k in file_sd]
    with torch.no_grad():
        for k, v in features.state_dict().items():
            if f"features.{k}" in file_sd:
                v.copy_(file_sd[f"features.{k}"])
    report = {"source": str(path), "loaded": len(loaded), "expected": len(own),
              "unused": len(file_sd) - len(loaded), "layers": len(features)}
    log.info("mobilenet_v2 stem: loaded %d/%d tensors of features[0:%d] from %s (%d file tensors unused: "
             "deeper layers / classifier)", report["loaded"], report["expected"], len(features), path,
             report["unused"])
    return report


# --------------------------------------------------------------------------------- the stem
class MobileNetV2Stem(nn.Module):
    """``features[0:layers]`` -> 1x1 conv to ``embed_dim`` -> [LayerNorm] -> tokens ``(B, N, C)``.

    With ``freeze_bn`` (default) every BatchNorm of ``features`` stays in eval mode: :meth:`train`
    is overridden, so ``model.train()`` cannot switch them back to batch statistics (small CPU
    batches of crops would otherwise wreck the ImageNet statistics).
    """

    def __init__(self, cfg):
        super().__init__()
        opts = StemOptions.from_dict(cfg.stem_options)
        _check_stride(opts, cfg.patch_size)
        self.options = opts
        self.stride = cfg.patch_size
        self.out_channels = feature_specs()[opts.layers - 1].cout
        self.features = mobilenet_v2_features(opts.layers)
        self.proj = nn.Conv2d(self.out_channels, cfg.embed_dim, kernel_size=1)
        self.norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.ln_eps) if opts.norm == "layernorm" else nn.Identity()
        self.load_report = load_features_weights(self.features, opts.weights) if opts.weights else None
        for p in self.features[: opts.freeze_layers].parameters():
            p.requires_grad_(False)
        self.train()  # applies freeze_bn

    def train(self, mode: bool = True) -> "MobileNetV2Stem":
        super().train(mode)
        if self.options.freeze_bn:
            for m in self.features.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.features(x))
        return self.norm(x.flatten(2).transpose(1, 2))  # (B, N, C)

    @staticmethod
    def count_macs(cfg) -> int:
        """Conv multiply-accumulates for the template and the search image (BN folded, ReLU6 free),
        counted as ``training.models.ostrack.count_macs`` counts the patch embedding."""
        opts = StemOptions.from_dict(cfg.stem_options)
        _check_stride(opts, cfg.patch_size)
        plan = feature_specs()[:opts.layers]
        return sum(_features_macs(side, plan, cfg.embed_dim) for side in (cfg.template_size, cfg.search_size))


def _check_stride(opts: StemOptions, patch_size: int) -> None:
    """Raises when the kept layers do not give stride ``patch_size``."""
    stride = truncated_stride(opts.layers)
    if stride == patch_size:
        return
    ok = [n for n in range(1, len(feature_specs()) + 1) if truncated_stride(n) == patch_size]
    raise ValueError(f"mobilenet_v2 stem with layers={opts.layers} has stride {stride}, but "
                     f"patch_size is {patch_size}; use layers in {ok or 'none'} for this patch_size")


def _features_macs(side: int, plan: tuple[LayerSpec, ...], embed_dim: int) -> int:
    macs, h = 0, side
    for spec in plan:
        if spec.kind == "conv":
            h = (h - 1) // spec.stride + 1
            macs += h * h * spec.cout * spec.cin * 9
        elif spec.kind == "conv1x1":
            macs += h * h * spec.cout * spec.cin
        else:
            hidden = spec.cin * spec.expand
            if spec.expand != 1:
                macs += h * h * hidden * spec.cin
            h = (h - 1) // spec.stride + 1
            macs += h * h * hidden * 9 + h * h * spec.cout * hidden
    return macs + h * h * embed_dim * plan[-1].cout
