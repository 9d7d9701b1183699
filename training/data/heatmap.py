"""Ground-truth centre heatmap, as OSTrack's ``generate_heatmap`` (RECIPE.md 2.5).

The box (normalized to the search crop) is scaled to feature cells; the centre cell is
``round(x + w/2), round(y + h/2)``; a CenterNet gaussian of radius ``r`` (CornerNet radius at
``min_overlap``, the minimum of the three roots, truncated to int, >= 0) and sigma ``(2r+1)/6``
is drawn with peak 1. Deviation: the centre cell is clamped into the map, so every sample has
exactly one positive cell (OSTrack draws nothing when the centre rounds to ``F``).
"""

from __future__ import annotations

import math

import numpy as np


def gaussian_radius(w: float, h: float, min_overlap: float = 0.7) -> float:
    """CornerNet's radius (OSTrack/CenterNet variant: minimum of the three quadratic roots)."""
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(max(b1 * b1 - 4 * c1, 0.0))) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(max(b2 * b2 - 16 * c2, 0.0))) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(max(b3 * b3 - 4 * a3 * c3, 0.0))) / 2
    return min(r1, r2, r3)


def gaussian_2d(radius: int) -> np.ndarray:
    """``(2r+1)^2`` gaussian with sigma ``(2r+1)/6``, peak 1, tiny values zeroed (as CenterNet)."""
    sigma = (2 * radius + 1) / 6.0
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    g = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g


def center_heatmap(box_xywh: np.ndarray, feature_size: int, min_overlap: float = 0.7) -> np.ndarray:
    """``F x F`` float32 heatmap for one box ``(x, y, w, h)`` normalized to the search crop."""
    if feature_size < 1:
        raise ValueError(f"feature_size must be >= 1, got {feature_size}")
    x, y, w, h = (float(v) * feature_size for v in box_xywh)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise ValueError(f"heatmap needs a finite box with w, h > 0, got {list(box_xywh)}")
    f = feature_size
    cx = int(np.clip(np.round(x + w / 2), 0, f - 1))
    cy = int(np.clip(np.round(y + h / 2), 0, f - 1))
    r = max(int(gaussian_radius(w, h, min_overlap)), 0)
    g = gaussian_2d(r)
    out = np.zeros((f, f), dtype=np.float32)
    left, right = min(cx, r), min(f - cx, r + 1)
    top, bottom = min(cy, r), min(f - cy, r + 1)
    out[cy - top : cy + bottom, cx - left : cx + right] = g[r - top : r + bottom, r - left : r + right]
    return out
