"""OSTrack pair processing (RECIPE.md 1.2, 2.5): jitter, crop, augment, GT box and heatmap.

Crops use :func:`sstrack_edge.geometry.crop_square` (one ``cv2.warpAffine`` per crop, zero
padding, continuous crop corner), the same implementation the runtime tracker uses, so training
and inference see identical crops. Crops stay BGR uint8: the network normalizes internally
(docs/model-contract.md).

A sample is rejected (``PairProcessor`` returns ``None``, the caller redraws) as OSTrack does when
a crop side is < 1 or the crop does not overlap the frame at all (all padding), and additionally
when the GT box centre falls outside the search crop (the heatmap could not hold it). With
``avoid_box`` (same-scene negative pairs, :mod:`training.data.negatives`) a search crop that
touches that box is drawn again (up to ``jitter_tries`` times), then the sample is rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sstrack_edge.geometry import box_to_crop, crop_side, crop_square
from training.data.augment import augment_pair
from training.data.config import CropSizes, ProcessingConfig
from training.data.heatmap import center_heatmap


@dataclass
class ProcessedPair:
    template: np.ndarray  # Hz x Hz x 3 uint8 BGR
    search: np.ndarray  # Hx x Hx x 3 uint8 BGR
    template_box: np.ndarray  # float32 (4,) xywh normalized to the template crop
    search_box: np.ndarray  # float32 (4,) xywh normalized to the search crop
    search_box_cxcywh: np.ndarray  # float32 (4,) cx, cy, w, h normalized to the search crop
    heatmap: np.ndarray  # float32 F x F


def jitter_box(box: np.ndarray, center_jitter: float, scale_jitter: float, rng: np.random.Generator) -> np.ndarray:
    """OSTrack's jitter: returns the jittered ``(cx, cy, w, h)``."""
    x, y, w, h = (float(v) for v in box)
    if scale_jitter > 0:
        s = np.exp(rng.standard_normal(2) * scale_jitter)
        jw, jh = w * float(s[0]), h * float(s[1])
    else:
        jw, jh = w, h
    cx, cy = x + w / 2.0, y + h / 2.0
    if center_jitter > 0:
        max_off = math.sqrt(jw * jh) * center_jitter
        off = max_off * (rng.random(2) - 0.5)
        cx, cy = cx + float(off[0]), cy + float(off[1])
    return np.array([cx, cy, jw, jh], dtype=np.float64)


def _touches_crop(box, cx: float, cy: float, side: float) -> bool:
    """Whether image rectangle ``box`` (x, y, w, h) overlaps the square crop of ``side`` centred at (cx, cy)."""
    x, y, w, h = box_to_crop(box, cx, cy, side)
    return x < 1 and y < 1 and x + w > 0 and y + h > 0


class PairProcessor:
    """Turn two frames and their GT boxes into network-ready crops and targets."""

    def __init__(self, sizes: CropSizes | None = None, config: ProcessingConfig | None = None):
        self.sizes = sizes or CropSizes()
        self.config = config or ProcessingConfig()
        if not isinstance(self.sizes, CropSizes):
            raise TypeError(f"sizes must be a CropSizes, got {type(self.sizes).__name__}")
        if not isinstance(self.config, ProcessingConfig):
            raise TypeError(f"config must be a ProcessingConfig, got {type(self.config).__name__}")

    def _crop(self, img, box, factor, out_size, center_jitter, scale_jitter, rng):
        jb = jitter_box(box, center_jitter, scale_jitter, rng)
        side = crop_side(jb, factor)
        if not side >= 1 or not _touches_crop((0.0, 0.0, img.shape[1], img.shape[0]), jb[0], jb[1], side):
            return None
        crop = crop_square(img, jb[0], jb[1], side, out_size)
        return crop, box_to_crop(box, jb[0], jb[1], side), (jb[0], jb[1], side)

    def __call__(
        self,
        template_img: np.ndarray,
        template_box: np.ndarray,
        search_img: np.ndarray,
        search_box: np.ndarray,
        rng: np.random.Generator,
        avoid_box: np.ndarray | None = None,
    ) -> ProcessedPair | None:
        """Process one pair; ``None`` when the sample must be rejected (see module docstring).

        ``avoid_box`` (x, y, w, h in ``search_img``): no search crop may contain any part of it.
        """
        for name, img in (("template_img", template_img), ("search_img", search_img)):
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise TypeError(f"{name} must be an H x W x 3 uint8 BGR array, got {getattr(img, 'shape', type(img))}")
        for name, box in (("template_box", template_box), ("search_box", search_box)):
            b = np.asarray(box, dtype=np.float64)
            if b.shape != (4,) or not np.all(np.isfinite(b)) or b[2] <= 0 or b[3] <= 0:
                raise ValueError(f"{name} must be a finite (x, y, w, h) with w, h > 0, got {box!r}")
        cfg, sz = self.config, self.sizes
        t = self._crop(template_img, template_box, sz.template_factor, sz.template_size,
                       cfg.template_center_jitter, cfg.template_scale_jitter, rng)
        if t is None:
            return None
        scale_jitter = cfg.search_scale_jitter
        if cfg.strong_scale_prob > 0 and rng.random() < cfg.strong_scale_prob:
            scale_jitter = cfg.strong_scale_jitter
        s = None
        for _ in range(cfg.jitter_tries):
            s = self._crop(search_img, search_box, sz.search_factor, sz.search_size,
                           cfg.search_center_jitter, scale_jitter, rng)
            if s is not None:
                c = s[1][:2] + s[1][2:] / 2.0
                if np.all(c >= 0) and np.all(c < 1) and (avoid_box is None or not _touches_crop(avoid_box, *s[2])):
                    break
                s = None
        if s is None:
            return None
        tz, tz_box, _ = t
        sx, sx_box, _ = s
        tz, tz_box, sx, sx_box = augment_pair(tz, tz_box, sx, sx_box, cfg, rng)
        sx_box = np.asarray(sx_box, dtype=np.float32)
        cxcywh = np.array([sx_box[0] + sx_box[2] / 2, sx_box[1] + sx_box[3] / 2, sx_box[2], sx_box[3]], dtype=np.float32)
        heat = center_heatmap(sx_box, sz.feature_size, cfg.heatmap_min_overlap)
        return ProcessedPair(tz, sx, np.asarray(tz_box, dtype=np.float32), sx_box, cxcywh, heat)
