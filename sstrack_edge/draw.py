"""Drawing tracking results onto frames (annotated videos of ``track`` and ``demo``)."""

from __future__ import annotations

import math
from typing import Mapping

import cv2
import numpy as np

from .tracker import TrackResult

GREEN, RED, YELLOW = (60, 200, 60), (40, 40, 230), (0, 220, 255)
# colours of tracked targets by id (BGR; no red: red marks a lost target, yellow a ground-truth box)
TARGET_COLOURS = (GREEN, (230, 150, 30), (200, 70, 200), (0, 150, 255), (220, 220, 0), (150, 90, 40), (140, 255, 170), (255, 110, 170))


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


def target_colour(target_id: int) -> tuple[int, int, int]:
    """The colour a target is drawn in while tracked (by id; lost targets are drawn in ``RED``)."""
    return TARGET_COLOURS[int(target_id) % len(TARGET_COLOURS)]


def _label(img: np.ndarray, text: str, org: tuple[int, int], color, scale: float = 0.55) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def draw_targets(frame: np.ndarray, results: Mapping[int, TrackResult], fps: float | None = None) -> np.ndarray:
    """A BGR copy of ``frame`` with every target of a multi-target run: a solid box in the target's
    colour (:func:`target_colour`) while tracked, a dashed red box (its last good box) while lost or
    failed; each box labelled with its id, state and score; a header with the count of targets, how
    many are lost, and optionally FPS."""
    img = frame.copy() if frame.ndim == 3 and frame.shape[2] == 3 else _to_bgr(frame)
    for target_id, r in results.items():
        x, y, w, h = r.bbox_int
        if r.lost:
            _dashed_rect(img, (x, y, w, h), RED)
            color = RED
        else:
            color = target_colour(target_id)
            cv2.rectangle(img, (x, y), (x + w, y + h), color, 2)
        label = f"{target_id} {r.state.upper() if r.lost else r.state}"
        if math.isfinite(r.score):
            label += f" {r.score:.2f}"
        _label(img, label, (x + 2, y - 5 if y >= 18 else y + h + 14), color, 0.45)
    n_lost = sum(r.lost for r in results.values())
    header = f"{len(results)} targets, {n_lost} lost"
    if fps is not None:
        header += f"  {fps:.1f} FPS"
    _label(img, header, (6, 20), RED if n_lost else GREEN)
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
