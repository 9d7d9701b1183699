"""A synthetic tracking clip with known truth (for ``sstrack-edge demo`` and the bench fallback).

No third-party media: a textured object (a smoothed random colour pattern with a ring) moves
along a curve over a textured background; half-way through it passes behind an occluder bar and
later leaves the frame and comes back, so the lost state shows. Truth boxes are NaN while the
object is fully hidden or out of view.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _texture(rng: np.random.Generator, h: int, w: int, blur: int, lo: int, hi: int) -> np.ndarray:
    noise = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(noise, (0, 0), blur)
    return cv2.normalize(smooth, None, lo, hi, cv2.NORM_MINMAX).astype(np.uint8)


def make_clip(
    n_frames: int = 150, width: int = 480, height: int = 320, obj: int = 48, seed: int = 0, period: int = 150
) -> tuple[list[np.ndarray], np.ndarray]:
    """Return ``(frames, truth)``: BGR uint8 frames and an ``n x 4`` array of x,y,w,h (NaN = absent).

    The motion repeats every ``period`` frames (so the speed does not depend on ``n_frames``): the
    object is hidden by the occluder around frames 41-45 and out of view around frames 106-134."""
    if n_frames < 2 or period < 2:
        raise ValueError(f"n_frames and period must be >= 2, got {n_frames}, {period}")
    rng = np.random.default_rng(seed)
    background = _texture(rng, height, width, 6, 40, 170)
    pattern = _texture(rng, obj, obj, 2, 0, 255)
    cv2.circle(pattern, (obj // 2, obj // 2), obj // 3, (255, 255, 255), 3)
    occluder_x = (int(width * 0.42), int(width * 0.42) + obj + 16)
    frames, truth = [], np.full((n_frames, 4), np.nan)
    for t in range(n_frames):
        u = (t % period) / (period - 1)
        # left -> right across the occluder (first 60 %), then out of the top edge and back in
        if u < 0.6:
            cx = width * (0.15 + 0.7 * u / 0.6)
            cy = height * (0.5 + 0.2 * math.sin(2 * math.pi * u / 0.6))
        else:
            v = (u - 0.6) / 0.4
            cx = width * (0.85 - 0.5 * v)
            cy = height * 0.5 - (height * 0.75) * math.sin(math.pi * v)
        frame = background.copy()
        x0, y0 = int(round(cx - obj / 2)), int(round(cy - obj / 2))
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + obj, width), min(y0 + obj, height)
        if xb > xa and yb > ya:
            frame[ya:yb, xa:xb] = pattern[ya - y0 : yb - y0, xa - x0 : xb - x0]
        frame[:, occluder_x[0] : occluder_x[1]] = (90, 90, 90)
        vis_x = max(0, min(xb, occluder_x[0]) - xa) + max(0, xb - max(xa, occluder_x[1]))
        if xb > xa and yb > ya and vis_x > 0:
            truth[t] = (xa, ya, xb - xa, yb - ya)
        frames.append(frame)
    return frames, truth
