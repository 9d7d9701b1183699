"""One annotated video: frame files, ground-truth boxes, visibility, frame rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


class FrameReadError(ValueError):
    """A frame image is missing or cannot be decoded."""


@dataclass
class Sequence:
    """A single-object tracking sequence.

    ``ground_truth`` is ``N x 4`` ``(x, y, w, h)`` in pixels with NaN rows where the target is
    absent; it may hold only the first row (GOT-10k test, TrackingNet test: no public labels).
    ``visible`` (bool per frame) adds the benchmark's own visibility labels (LaSOT occlusion /
    out-of-view, GOT-10k absence / cover); a frame counts as *present* only if it is visible and
    its box is finite with positive size (see :meth:`present`).
    """

    name: str
    frames: list[Path]
    ground_truth: np.ndarray
    dataset: str = ""
    fps: float | None = None
    visible: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.frames = [Path(f) for f in self.frames]
        gt = np.asarray(self.ground_truth, dtype=np.float64)
        if gt.ndim != 2 or gt.shape[1] != 4:
            raise ValueError(f"sequence {self.name!r}: ground truth must be N x 4, got shape {gt.shape}")
        if len(self.frames) == 0:
            raise ValueError(f"sequence {self.name!r} has no frames")
        if len(gt) not in (1, len(self.frames)):
            raise ValueError(
                f"sequence {self.name!r}: {len(gt)} ground-truth rows for {len(self.frames)} frames"
            )
        if not np.all(np.isfinite(gt[0])) or gt[0, 2] <= 0 or gt[0, 3] <= 0:
            raise ValueError(f"sequence {self.name!r}: the first-frame box {gt[0].tolist()} is not a valid box")
        self.ground_truth = gt
        if self.visible is not None:
            vis = np.asarray(self.visible).astype(bool).reshape(-1)
            if len(vis) != len(gt):
                raise ValueError(
                    f"sequence {self.name!r}: {len(vis)} visibility labels for {len(gt)} ground-truth rows"
                )
            self.visible = vis

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> np.ndarray:
        return self.ground_truth[0].copy()

    @property
    def has_full_annotation(self) -> bool:
        return len(self.ground_truth) == len(self.frames)

    def present(self) -> np.ndarray:
        """Boolean per frame: the target is annotated, visible and has a positive-size box."""
        gt = self.ground_truth
        ok = np.all(np.isfinite(gt), axis=1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
        if self.visible is not None:
            ok &= self.visible
        return ok

    def read_frame(self, index: int) -> np.ndarray:
        """Decode frame ``index`` (0-based) as a BGR uint8 image."""
        path = self.frames[index]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FrameReadError(f"sequence {self.name!r}: cannot read frame {index} ({path})")
        return img
