"""Drawing tracking results onto frames (annotated videos of ``track`` and ``demo``)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .tracker import TrackResult

GREEN, RED, YELLOW = (60, 200, 60), (40, 40, 230), (0, 220, 255)


def _dashed_rect(img: np.ndarray, box: tuple[int, int, int, int], color, dash: int = 8) -> None:
    x, y, w, h = box
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) // dash))
        for i in range(0, n, 2):
            a, b = i / n, min(1.0, (i + 1) / n)
            p = (int(x0 + (x1 - x0) * a), int(y0 + (y1 - y0) * a))
            q = (int(x0 + (x1 - x0) * b), int(y0 + (y1 - y0) * b))
            cv2.line(img, p, q, color, 2)


def draw_result(frame: np.ndarray, result: TrackResult, fps: float | None = None, truth=None) -> np.ndarray:
    """A BGR copy of ``frame`` with the box (solid green while tracking, dashed red last-good box
    while lost), the score, the state and optionally FPS and a ground-truth box (yellow)."""
    img = frame.copy() if frame.ndim == 3 and frame.shape[2] == 3 else _to_bgr(frame)
    if truth is not None and all(math.isfinite(v) for v in truth):
        tx, ty, tw, th = (int(round(v)) for v in truth)
        cv2.rectangle(img, (tx, ty), (tx + tw, ty + th), YELLOW, 1)
    x, y, w, h = result.bbox_int
    if result.lost:
        _dashed_rect(img, (x, y, w, h), RED)
        label = f"LOST  score {result.score:.2f}"
        color = RED
    else:
        cv2.rectangle(img, (x, y), (x + w, y + h), GREEN, 2)
        label = "init" if math.isnan(result.score) else f"score {result.score:.2f}"
        color = GREEN
    if fps is not None:
        label += f"  {fps:.1f} FPS"
    cv2.putText(img, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, color, 1, cv2.LINE_AA)
    return img


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)


class VideoWriter:
    """``cv2.VideoWriter`` opened lazily on the first frame (size known then); mp4v for .mp4, MJPG else."""

    def __init__(self, path: str, fps: float):
        self.path, self.fps, self._w = str(path), float(fps), None

    def write(self, img: np.ndarray) -> None:
        if self._w is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.lower().endswith(".mp4") else "MJPG"))
            self._w = cv2.VideoWriter(self.path, fourcc, self.fps, (img.shape[1], img.shape[0]))
            if not self._w.isOpened():
                raise ValueError(f"cannot open video writer for {self.path}")
        self._w.write(img)

    def close(self) -> None:
        if self._w is not None:
            self._w.release()
