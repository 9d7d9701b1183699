"""Frame sources: how a sequence's frames are found and decoded (BGR uint8, as cv2.imread).

Two kinds, both cheap to hold for hundreds of thousands of sequences:

* ``NumberedFrames(folder, pattern, start, count)``: ``folder / (pattern % (start + i))``, e.g.
  LaSOT/GOT-10k ``%08d.jpg`` from 1, TrackingNet ``%d.jpg`` from 0. Paths are built on demand.
* ``FileListFrames(paths)``: an explicit list (user folders, still images).

``read_image`` decodes one file and raises :class:`FrameReadError` naming it when it is missing or
corrupt; the pair dataset catches that, counts it, and redraws the sample.

``DecodeCache`` is an optional per-process LRU of decoded frames, bounded in bytes. It pays off
only for tiny datasets that fit in memory (the ../shared training set is about 2,000 frames of
640x360, ~1.4 GB decoded, so a few hundred MB keeps the hot part); it is off by default.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from training.data.errors import FrameReadError


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to a BGR uint8 ``H x W x 3`` array (grayscale files are expanded)."""
    path = str(path)
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        if not os.path.exists(path):
            raise FrameReadError(f"frame file not found: {path}")
        raise FrameReadError(f"frame file cannot be decoded (corrupt or not an image): {path}")
    return img


class DecodeCache:
    """LRU cache of decoded frames keyed by path, bounded by ``max_bytes`` (0 disables it)."""

    def __init__(self, max_bytes: int = 0):
        if max_bytes < 0:
            raise ValueError(f"DecodeCache max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def read(self, path: str) -> np.ndarray:
        if self.max_bytes == 0:
            self.misses += 1
            return read_image(path)
        img = self._items.get(path)
        if img is not None:
            self._items.move_to_end(path)
            self.hits += 1
            return img
        self.misses += 1
        img = read_image(path)
        img.flags.writeable = False  # cached frames are shared: callers must not modify them
        if img.nbytes <= self.max_bytes:
            self._items[path] = img
            self.bytes += img.nbytes
            while self.bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.bytes -= old.nbytes
        return img


class FrameSource:
    """Interface: ``len(src)`` frames, ``src.path(i)`` the file of frame ``i`` (0-based)."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def path(self, i: int) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, i: int, cache: DecodeCache | None = None) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(f"frame index {i} out of range for {len(self)} frames")
        p = self.path(i)
        return cache.read(p) if cache is not None else read_image(p)


class NumberedFrames(FrameSource):
    """Frames ``folder / (pattern % (start + i))`` for ``i`` in ``range(count)``."""

    __slots__ = ("folder", "pattern", "start", "count")

    def __init__(self, folder: str | os.PathLike, pattern: str, start: int, count: int):
        if count < 0:
            raise ValueError(f"frame count must be >= 0, got {count}")
        self.folder = str(folder)
        self.pattern = pattern
        self.start = int(start)
        self.count = int(count)

    def __len__(self) -> int:
        return self.count

    def path(self, i: int) -> str:
        return os.path.join(self.folder, self.pattern % (self.start + i))

    def __repr__(self) -> str:
        return f"NumberedFrames({self.folder!r}, {self.pattern!r}, start={self.start}, count={self.count})"


class FileListFrames(FrameSource):
    """An explicit list of frame files."""

    __slots__ = ("paths",)

    def __init__(self, paths: list[str | os.PathLike]):
        self.paths = [str(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, i: int) -> str:
        return self.paths[i]

    def __repr__(self) -> str:
        first = Path(self.paths[0]).name if self.paths else ""
        return f"FileListFrames({len(self.paths)} files, first={first!r})"
