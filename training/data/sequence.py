"""The common interface every dataset loader returns.

* :class:`Sequence`: one video (or one still image as a one-frame "sequence"): ``name``,
  ``frames`` (a :class:`~training.data.frames.FrameSource`), ``boxes`` float32 ``(N, 4)`` xywh,
  ``visible`` bool ``(N,)``, optional ``visible_ratio`` float32 ``(N,)``, ``is_image``, ``fps``.
* :class:`SequenceDataset`: a named, indexable collection of sequences that also exposes the
  per-sequence ``lengths`` and ``visible_counts`` arrays the samplers need without building
  every :class:`Sequence`. Two implementations:

  - :class:`VideoDataset`: a list of :class:`Sequence` held in memory (LaSOT, GOT-10k,
    TrackingNet, user folders/videos).
  - :class:`ImageBoxDataset`: still images with boxes (COCO, the stills folders); holds flat
    arrays and builds a one-frame :class:`Sequence` per box on access (860k COCO boxes would
    not fit as objects).

* :class:`LoadReport`: what a loader skipped and why (bad rows, tiny boxes, ...), with counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from training.data.frames import FileListFrames, FrameSource

log = logging.getLogger("training.data")


@dataclass
class LoadReport:
    """Counts of what a loader kept and skipped. ``skipped`` maps a reason to a count."""

    dataset: str
    sequences: int = 0
    frames: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first example (file:line)

    def skip(self, reason: str, example: str = "", n: int = 1) -> None:
        self.skipped[reason] += n
        if example and reason not in self.examples:
            self.examples[reason] = example

    def log(self) -> None:
        """Log one info line, plus one warning per skip reason (count and first example)."""
        log.info("%s: %d sequences, %d frames", self.dataset, self.sequences, self.frames)
        for reason, n in sorted(self.skipped.items()):
            ex = self.examples.get(reason, "")
            log.warning("%s: skipped %d x %s%s", self.dataset, n, reason, f" (first: {ex})" if ex else "")


@dataclass
class Sequence:
    """One training sequence. Frame ``i`` is ``frames.read(i)``; its box is ``boxes[i]`` (xywh).

    ``visible[i]`` is False when the target is absent/occluded/out of view or the annotation row
    was bad (its box is then NaN). ``is_image`` marks a still image (one frame, interval 0).
    """

    name: str
    frames: FrameSource
    boxes: np.ndarray
    visible: np.ndarray
    visible_ratio: np.ndarray | None = None
    is_image: bool = False
    fps: float | None = None
    meta: dict | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.visible = np.asarray(self.visible, dtype=bool).reshape(-1)
        n = len(self.boxes)
        if len(self.visible) != n:
            raise ValueError(f"sequence {self.name!r}: {n} boxes but {len(self.visible)} visibility flags")
        if len(self.frames) != n:
            raise ValueError(f"sequence {self.name!r}: {n} boxes but {len(self.frames)} frames")
        if self.visible_ratio is not None:
            self.visible_ratio = np.asarray(self.visible_ratio, dtype=np.float32).reshape(-1)
            if len(self.visible_ratio) != n:
                raise ValueError(f"sequence {self.name!r}: {n} boxes but {len(self.visible_ratio)} visible ratios")
        if self.is_image and n != 1:
            raise ValueError(f"image sequence {self.name!r} must have exactly 1 frame, has {n}")

    def __len__(self) -> int:
        return len(self.boxes)


class SequenceDataset:
    """Interface of a dataset of sequences (see module docstring)."""

    name: str
    is_image: bool  # True: every sequence is a still image (sampled into bin 0)
    report: LoadReport

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def __getitem__(self, i: int) -> Sequence:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def lengths(self) -> np.ndarray:
        """Frames per sequence, int64 ``(len(self),)``."""
        raise NotImplementedError  # pragma: no cover - interface

    @property
    def visible_counts(self) -> np.ndarray:
        """Visible frames per sequence, int64 ``(len(self),)``."""
        raise NotImplementedError  # pragma: no cover - interface

    def __iter__(self) -> Iterator[Sequence]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        kind = "images" if self.is_image else "videos"
        return f"{type(self).__name__}({self.name!r}, {len(self)} {kind})"


class VideoDataset(SequenceDataset):
    """Sequences held in a list: all videos, or all still images (``is_image``), never mixed."""

    def __init__(self, name: str, sequences: list[Sequence], report: LoadReport | None = None):
        if not sequences:
            raise ValueError(f"dataset {name!r} has no usable sequences")
        self.name = name
        self.sequences = list(sequences)
        kinds = {bool(s.is_image) for s in self.sequences}
        if len(kinds) > 1:
            raise ValueError(
                f"dataset {name!r} mixes still images and videos; keep them in separate datasets "
                f"(images are sampled into bin 0, videos into the interval bins)"
            )
        self.is_image = kinds == {True}
        self._lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        self._visible = np.array([int(s.visible.sum()) for s in self.sequences], dtype=np.int64)
        self.report = report or LoadReport(name, sequences=len(self.sequences), frames=int(self._lengths.sum()))

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> Sequence:
        return self.sequences[i]

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths

    @property
    def visible_counts(self) -> np.ndarray:
        return self._visible


class ImageBoxDataset(SequenceDataset):
    """Still images with one box each: box ``k`` lies in image file ``files[image_index[k]]``."""

    is_image = True

    def __init__(
        self,
        name: str,
        files: list[str],
        image_index: np.ndarray,
        boxes: np.ndarray,
        box_names: list[str] | None = None,
        report: LoadReport | None = None,
    ):
        self.name = name
        self.files = list(files)
        self.image_index = np.asarray(image_index, dtype=np.int64).reshape(-1)
        self.boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if len(self.image_index) != len(self.boxes):
            raise ValueError(f"dataset {name!r}: {len(self.boxes)} boxes but {len(self.image_index)} image indices")
        if len(self.boxes) == 0:
            raise ValueError(f"dataset {name!r} has no usable boxes")
        if self.image_index.min() < 0 or self.image_index.max() >= len(self.files):
            raise ValueError(f"dataset {name!r}: image index out of range for {len(self.files)} files")
        self.box_names = box_names
        self.report = report or LoadReport(name, sequences=len(self.boxes), frames=len(self.boxes))

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, i: int) -> Sequence:
        if not -len(self) <= i < len(self):
            raise IndexError(f"box index {i} out of range for {len(self)} boxes in {self.name!r}")
        name = self.box_names[i] if self.box_names is not None else f"{self.name}/{i}"
        return Sequence(
            name=name,
            frames=FileListFrames([self.files[self.image_index[i]]]),
            boxes=self.boxes[i : i + 1],
            visible=np.ones(1, dtype=bool),
            is_image=True,
        )

    @property
    def lengths(self) -> np.ndarray:
        return np.ones(len(self), dtype=np.int64)

    @property
    def visible_counts(self) -> np.ndarray:
        return np.ones(len(self), dtype=np.int64)

    @staticmethod
    def concat(name: str, parts: list["ImageBoxDataset"]) -> "ImageBoxDataset":
        """Join several image datasets into one (file indices are re-based)."""
        if not parts:
            raise ValueError(f"cannot build {name!r} from zero image datasets")
        files: list[str] = []
        idx, boxes, names = [], [], []
        report = LoadReport(name)
        for p in parts:
            idx.append(p.image_index + len(files))
            files.extend(p.files)
            boxes.append(p.boxes)
            names.extend(p.box_names or [f"{p.name}/{i}" for i in range(len(p))])
            report.sequences += p.report.sequences
            report.frames += p.report.frames
            for reason, n in p.report.skipped.items():
                report.skip(f"{p.name}: {reason}", p.report.examples.get(reason, ""), n)
        return ImageBoxDataset(name, files, np.concatenate(idx), np.concatenate(boxes), names, report)
