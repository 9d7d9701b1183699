"""Configuration dataclasses for pair processing.

* :class:`CropSizes`: crop sizes/factors and the network stride. These belong to the network
  config (``training.models.ostrack.ModelConfig``), so build them with
  :meth:`CropSizes.from_model_config` rather than repeating the numbers.
* :class:`ProcessingConfig`: jitter and augmentation (OSTrack defaults, RECIPE.md 1.2-1.3).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CropSizes:
    template_size: int = 128
    search_size: int = 256
    template_factor: float = 2.0
    search_factor: float = 4.0
    stride: int = 16  # patch size: search_size // stride = feature (score-map) side

    def __post_init__(self) -> None:
        for name in ("template_size", "search_size", "stride"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"CropSizes.{name} must be a positive int, got {v!r}")
        for name in ("template_factor", "search_factor"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise ValueError(f"CropSizes.{name} must be a positive number, got {v!r}")
        if self.search_size % self.stride or self.template_size % self.stride:
            raise ValueError(
                f"template_size {self.template_size} and search_size {self.search_size} must be "
                f"multiples of the stride {self.stride}"
            )

    @property
    def feature_size(self) -> int:
        return self.search_size // self.stride

    @classmethod
    def from_model_config(cls, cfg: Any) -> "CropSizes":
        """From any object with ``template_size``, ``search_size``, ``template_factor``,
        ``search_factor`` and ``patch_size`` attributes (e.g. ``ModelConfig``) or such a dict."""
        get = cfg.__getitem__ if isinstance(cfg, dict) else (lambda k: getattr(cfg, k))
        try:
            return cls(
                template_size=int(get("template_size")),
                search_size=int(get("search_size")),
                template_factor=float(get("template_factor")),
                search_factor=float(get("search_factor")),
                stride=int(get("patch_size")),
            )
        except (AttributeError, KeyError) as e:
            raise TypeError(f"model config lacks a crop field: {e}") from e


@dataclass(frozen=True)
class ProcessingConfig:
    # jitter (RECIPE 1.2): size * exp(N(0,1) * scale_jitter) per w/h; centre moved by
    # sqrt(w'h') * center_jitter * U(-0.5, 0.5) per axis. The template gets none.
    search_center_jitter: float = 3.0
    search_scale_jitter: float = 0.25
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    # augmentation (RECIPE 1.3)
    grayscale_prob: float = 0.05  # joint
    joint_flip_prob: float = 0.5  # joint
    crop_flip_prob: float = 0.5  # per crop, independent
    brightness: float = 0.2  # per crop factor U(1 - b, 1 + b)
    # extras, off by default
    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    motion_blur_prob: float = 0.0
    motion_blur_length: tuple[int, int] = (3, 9)  # kernel length in pixels (inclusive range)
    strong_scale_prob: float = 0.0  # with this probability use strong_scale_jitter for the search box
    strong_scale_jitter: float = 0.5
    # GT heatmap (RECIPE 2.5)
    heatmap_min_overlap: float = 0.7
    # OSTrack redraws rejected samples; we give up on a pair after this many jitter tries
    jitter_tries: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            for x in vals:
                if not isinstance(x, (int, float)) or isinstance(x, bool) or x != x or x < 0:
                    raise ValueError(f"ProcessingConfig.{f.name} must be >= 0, got {v!r}")
            if f.name.endswith("_prob") and v > 1:
                raise ValueError(f"ProcessingConfig.{f.name} is a probability, got {v!r}")
            if isinstance(v, tuple) and (len(v) != 2 or v[0] > v[1]):
                raise ValueError(f"ProcessingConfig.{f.name} must be a (low, high) pair, got {v!r}")
        if self.brightness >= 1:
            raise ValueError(f"ProcessingConfig.brightness must be < 1, got {self.brightness}")
        if not 0 < self.heatmap_min_overlap < 1:
            raise ValueError(f"heatmap_min_overlap must be in (0, 1), got {self.heatmap_min_overlap}")
        if self.jitter_tries < 1:
            raise ValueError(f"jitter_tries must be >= 1, got {self.jitter_tries}")

    @classmethod
    def from_dict(cls, d: dict) -> "ProcessingConfig":
        """From a YAML mapping; unknown keys are an error naming them; lists become tuples."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown processing config keys {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
