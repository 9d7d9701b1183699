"""Validation of the frames and boxes users pass to the tracker.

Decisions (docs/runtime.md, "Input"):

* frames are ``uint8`` numpy arrays, BGR ``HxWx3``; grayscale ``HxW`` / ``HxWx1`` and BGRA ``HxWx4``
  are accepted without a full-frame conversion (the crop is taken from the frame as it is and only
  the small crop is expanded to 3 channels / stripped of alpha);
* non-contiguous views (slices, ``[::-1]``) are accepted (OpenCV reads strided arrays);
* a frame must be at least ``min_side`` pixels on each side; the tracker asks for twice the card's
  ``clip_margin`` (20 px for the bundled model): a tracked box is at least ``clip_margin`` wide and
  must fit in the frame with room to move;
* a box is 4 real numbers ``x, y, w, h`` (ints or floats; not strings, not bools), finite, with
  ``w > 0`` and ``h > 0``, that overlaps the frame. The part outside the frame is clipped off
  (:func:`clip_to_frame`), and the clipped box is what the tracker reports back.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _dtype_hint(frame: np.ndarray) -> str:
    if np.issubdtype(frame.dtype, np.floating) and frame.size and np.nanmax(frame) <= 1.0:
        return ("its values are in 0..1, so scale them: (frame * 255).round().clip(0, 255).astype(np.uint8) "
                "(np.clip(frame, 0, 255) alone would turn the image black)")
    return "convert with np.clip(frame, 0, 255).astype(np.uint8)"


def check_frame(frame: object, name: str = "frame", min_side: int = 1) -> np.ndarray:
    """Return ``frame`` if it is a usable image of at least ``min_side`` x ``min_side`` pixels,
    else raise ``TypeError``/``ValueError``."""
    if frame is None:
        raise TypeError(f"{name} is None (the video source returned no image: end of stream or read error?)")
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (HxWx3 BGR uint8), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(
            f"{name} must have dtype uint8 (BGR 0..255 as read by cv2.imread / VideoCapture), got {frame.dtype}; "
            + _dtype_hint(frame)
        )
    if frame.ndim == 3:
        channels = frame.shape[2]
        if channels not in (1, 3, 4):
            raise ValueError(
                f"{name} has {channels} channels; expected 3 (BGR), 1 (grayscale) or 4 (BGRA), shape {frame.shape}"
            )
    elif frame.ndim != 2:
        raise ValueError(f"{name} must be HxW, HxWx1, HxWx3 or HxWx4, got shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {frame.shape}")
    if frame.shape[0] < min_side or frame.shape[1] < min_side:
        raise ValueError(f"{name} is {frame.shape[1]}x{frame.shape[0]} pixels; this model needs at least "
                         f"{min_side}x{min_side} (twice its clip margin: a tracked box is at least that margin wide)")
    return frame


def channels_of(frame: np.ndarray) -> int:
    return 1 if frame.ndim == 2 else int(frame.shape[2])


def check_box(box: object, frame_shape: tuple[int, ...] | None = None, name: str = "bbox") -> tuple[float, float, float, float]:
    """Return ``box`` as 4 floats ``(x, y, w, h)`` or raise a ``TypeError``/``ValueError`` naming the problem."""
    if box is None:
        raise TypeError(f"{name} is None; expected (x, y, w, h) in pixels")
    if isinstance(box, (str, bytes)):
        raise TypeError(f"{name} must be 4 numbers (x, y, w, h), got a string {box!r}")
    items = box.reshape(-1).tolist() if isinstance(box, np.ndarray) else box
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"{name} must be 4 numbers (x, y, w, h), got {box!r}") from None
    bad = [v for v in items if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))]
    if bad:
        raise TypeError(f"{name} must be 4 numbers (x, y, w, h); {bad[0]!r} ({type(bad[0]).__name__}) is not one: {box!r}")
    values = np.asarray(items, dtype=np.float64).reshape(-1)
    if values.size != 4:
        raise ValueError(f"{name} must have 4 values (x, y, w, h), got {values.size}: {box!r}")
    x, y, w, h = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError(f"{name} has non-finite coordinates (NaN/inf): {box!r}")
    if w <= 0 or h <= 0:
        raise ValueError(f"{name} must have positive width and height, got w={w:g}, h={h:g}")
    if frame_shape is not None:
        H, W = int(frame_shape[0]), int(frame_shape[1])
        if x >= W or y >= H or x + w <= 0 or y + h <= 0:
            raise ValueError(
                f"{name} {tuple(round(v, 2) for v in (x, y, w, h))} lies entirely outside the {W}x{H} frame"
            )
    return x, y, w, h


def clip_to_frame(box: tuple[float, float, float, float], frame_shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """The part of ``box`` inside the frame (zero width / height where it lies outside)."""
    H, W = int(frame_shape[0]), int(frame_shape[1])
    x, y, w, h = box
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + w, float(W)), min(y + h, float(H))
    return x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1)


def parse_box_string(text: str) -> tuple[float, float, float, float]:
    """``"x,y,w,h"`` (commas, spaces or tabs) -> 4 floats; used by the CLI."""
    parts = [p for p in text.replace(",", " ").replace("\t", " ").split() if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"box {text!r} is not 4 numbers x,y,w,h") from None
    return check_box(values, name=f"box {text!r}")

