"""Box and crop geometry shared by the runtime and the training code.

Conventions (one source of truth for both sides):

* Boxes are ``(x, y, w, h)`` in continuous pixel coordinates: pixel ``i`` covers ``[i, i+1)``,
  so a box's centre is ``(x + w/2, y + h/2)``.
* A crop is a square of side ``side`` (image pixels) centred on ``(cx, cy)``; it is resampled to
  ``out_size x out_size`` with bilinear interpolation and zero padding outside the image (as
  OSTrack's ``sample_target``: crop side ``ceil(sqrt(w*h) * factor)``, ``cv2.BORDER_CONSTANT``).
  We keep the crop corner continuous (``cx - side/2``) instead of rounding it, so mapping back to
  the frame is exact: a crop coordinate ``u`` corresponds to image coordinate
  ``cx - side/2 + u * side / out_size``.
* One ``cv2.warpAffine`` does crop + pad + resize in a single pass, straight from the full frame,
  with no intermediate copies.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np


def crop_side(box_xywh: Sequence[float], factor: float) -> float:
    """Side (image pixels) of the square crop around ``box`` at area factor ``factor``."""
    w, h = float(box_xywh[2]), float(box_xywh[3])
    return math.ceil(math.sqrt(max(w, 0.0) * max(h, 0.0)) * factor)


def crop_matrix(cx: float, cy: float, side: float, out_size: int) -> np.ndarray:
    """2x3 matrix mapping *output* pixel indices to *source* pixel indices (WARP_INVERSE_MAP).

    Output pixel centre ``i + 0.5`` sits at continuous source coordinate
    ``x0 + (i + 0.5) * side / out_size`` with ``x0 = cx - side / 2``; source pixel index is that
    minus 0.5 (the same half-pixel convention as ``cv2.resize``).
    """
    a = side / float(out_size)
    bx = cx - side / 2.0 + 0.5 * a - 0.5
    by = cy - side / 2.0 + 0.5 * a - 0.5
    return np.array([[a, 0.0, bx], [0.0, a, by]], dtype=np.float64)


def crop_square(
    image: np.ndarray,
    cx: float,
    cy: float,
    side: float,
    out_size: int,
    out: np.ndarray | None = None,
    border_value: float = 0.0,
) -> np.ndarray:
    """Crop a square of ``side`` pixels centred at ``(cx, cy)`` and resize it to ``out_size``.

    Zero padding outside the image. ``out`` (``out_size x out_size x C``, same dtype as ``image``)
    may be passed to avoid an allocation on the per-frame path.
    """
    m = crop_matrix(cx, cy, side, out_size)
    return cv2.warpAffine(
        image,
        m,
        (out_size, out_size),
        dst=out,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border_value, border_value, border_value, border_value),
    )


def box_to_crop(box_xywh: Sequence[float], cx: float, cy: float, side: float) -> np.ndarray:
    """Express an image box in the crop's normalized coordinates ([0, 1] spans the crop)."""
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    x, y, w, h = (float(v) for v in box_xywh)
    return np.array([(x - x0) / side, (y - y0) / side, w / side, h / side], dtype=np.float64)


def crop_to_image(box_cxcywh_norm: Sequence[float], cx: float, cy: float, side: float) -> np.ndarray:
    """Map a box ``(cx, cy, w, h)`` normalized to a crop back to an image ``(x, y, w, h)`` box."""
    bcx, bcy, bw, bh = (float(v) for v in box_cxcywh_norm)
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    w, h = bw * side, bh * side
    return np.array([x0 + bcx * side - w / 2.0, y0 + bcy * side - h / 2.0, w, h], dtype=np.float64)


def clip_box(box_xywh: Sequence[float], width: int, height: int, margin: float = 10.0) -> np.ndarray:
    """OSTrack's ``clip_box``: keep the box inside the frame, at least ``margin`` pixels wide/high."""
    x, y, w, h = (float(v) for v in box_xywh)
    x1, y1, x2, y2 = x, y, x + w, y + h
    x1 = min(max(0.0, x1), width - margin)
    x2 = min(max(margin, x2), float(width))
    y1 = min(max(0.0, y1), height - margin)
    y2 = min(max(margin, y2), float(height))
    w = max(margin, x2 - x1)
    h = max(margin, y2 - y1)
    return np.array([x1, y1, w, h], dtype=np.float64)


def smooth_size(prev_box: Sequence[float], new_box: Sequence[float], rate: float) -> np.ndarray:
    """``new_box``'s centre with its size moved from ``prev_box``'s toward ``new_box``'s by ``rate``.

    ``rate`` in [0, 1]: 0 keeps the previous size, 1 takes the new one. The runtime passes
    ``inference.size_update_rate x score`` (the SiamRPN/NanoTrack size update), so a confident
    detection changes the box size faster than a doubtful one.
    """
    px, py, pw, ph = (float(v) for v in prev_box)
    nx, ny, nw, nh = (float(v) for v in new_box)
    a = min(max(float(rate), 0.0), 1.0)
    w, h = pw + a * (nw - pw), ph + a * (nh - ph)
    cx, cy = nx + nw / 2.0, ny + nh / 2.0
    return np.array([cx - w / 2.0, cy - h / 2.0, w, h], dtype=np.float64)


def tile_centres(width: int, height: int, side: float, cx: float, cy: float, stride: float) -> list[tuple[float, float]]:
    """Centres of square tiles of ``side`` pixels covering a ``width`` x ``height`` frame, neighbours
    ``stride x side`` apart (or closer, so the first and last tile touch the frame edges; one centre
    on an axis the tile already spans), nearest to ``(cx, cy)`` first."""
    if not (side > 0 and 0 < stride <= 1):
        raise ValueError(f"tile side must be > 0 and stride in (0, 1], got side {side}, stride {stride}")

    def axis(extent: int) -> np.ndarray:
        if extent <= side:
            return np.array([extent / 2.0])
        n = math.ceil((extent - side) / (stride * side)) + 1
        return np.linspace(side / 2.0, extent - side / 2.0, n)

    centres = [(float(x), float(y)) for y in axis(height) for x in axis(width)]
    centres.sort(key=lambda c: (c[0] - cx) ** 2 + (c[1] - cy) ** 2)
    return centres


def hann2d(size: int) -> np.ndarray:
    """OSTrack's Hann window: ``0.5 (1 - cos(2 pi k / (size + 1)))``, k = 1..size, outer product."""
    k = np.arange(1, size + 1, dtype=np.float64)
    w = 0.5 * (1.0 - np.cos(2.0 * np.pi * k / (size + 1)))
    return np.outer(w, w).astype(np.float32)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``(..., 4)`` in ``(x, y, w, h)``, continuous convention, 0 for empty boxes."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax2, ay2 = a[..., 0] + a[..., 2], a[..., 1] + a[..., 3]
    bx2, by2 = b[..., 0] + b[..., 2], b[..., 1] + b[..., 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out
