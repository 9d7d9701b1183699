"""Frame sources for the CLI: video files, image folders, cameras and network streams.

``open_source(spec)`` returns an iterable of BGR uint8 frames:

* a directory -> its images in name order (``.jpg .jpeg .png .bmp``), e.g. a got10k/OTB ``img/``;
* an integer (``"0"``) -> that camera; ``rtsp://``, ``http(s)://`` ... -> a network stream: both are
  *live* sources, read on a background thread that keeps only the newest frame, so a slow tracker
  processes the latest image instead of falling behind a growing buffer (frames overwritten
  before they were consumed are counted in ``dropped``);
* any other path -> a video file, read frame by frame (nothing dropped).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")


class FrameSource:
    """Base class: iterate to get frames; ``fps`` (or None), ``length`` (or None), ``dropped``."""

    live = False
    fps: float | None = None
    length: int | None = None
    dropped = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ImageFolderSource(FrameSource):
    def __init__(self, folder: str | Path, fps: float | None = None):
        self.folder = Path(folder)
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"image folder {self.folder} has no {'/'.join(IMAGE_SUFFIXES)} files")
        self.length = len(self.files)
        self.fps = fps

    def __iter__(self) -> Iterator[np.ndarray]:
        for p in self.files:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot read image {p}")
            yield img


class VideoFileSource(FrameSource):
    def __init__(self, path: str | Path):
        self.path = str(path)
        self.cap = cv2.VideoCapture(self.path)
        if not self.cap.isOpened():
            raise ValueError(f"cannot open video file {self.path}")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.length = n if n > 0 else None

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self.cap.read()
            if not ok:
                return
            yield frame

    def close(self) -> None:
        self.cap.release()


class LatestFrameSource(FrameSource):
    """A camera or stream read on a background thread; iteration yields the newest unseen frame."""

    live = True

    def __init__(self, spec: int | str, open_timeout_s: float = 10.0):
        self.spec = spec
        self.cap = cv2.VideoCapture(spec)
        if not self.cap.isOpened():
            raise ValueError(f"cannot open live source {spec!r} (camera index or stream URL)")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0  # frames read by the thread
        self._taken = 0  # seq of the last frame handed out
        self.dropped = 0
        self._ended = False
        self._stop = threading.Event()
        self._open_timeout_s = open_timeout_s
        self._thread = threading.Thread(target=self._reader, name="sstrack-latest-frame", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        while not self._stop.is_set():
            ok, frame = self.cap.read()
            with self._cond:
                if not ok:
                    self._ended = True
                    self._cond.notify_all()
                    return
                if self._frame is not None and self._seq > self._taken:
                    self.dropped += 1  # the previous frame was never consumed
                self._frame = frame
                self._seq += 1
                self._cond.notify_all()

    def read(self, timeout_s: float | None = None) -> np.ndarray | None:
        """Block until a frame newer than the last one returned exists; None at end of stream."""
        timeout_s = self._open_timeout_s if timeout_s is None else timeout_s
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > self._taken or self._ended, timeout=timeout_s):
                raise TimeoutError(f"no frame from {self.spec!r} within {timeout_s:.0f} s")
            if self._seq == self._taken:  # ended and nothing new
                return None
            self._taken = self._seq
            return self._frame

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.cap.release()


def open_source(spec: str | int | Path, fps: float | None = None) -> FrameSource:
    """Open a video file, image folder, camera index or stream URL (see module docstring)."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return LatestFrameSource(int(spec))
    s = str(spec)
    if s.lower().startswith(LIVE_PREFIXES):
        return LatestFrameSource(s)
    p = Path(s)
    if p.is_dir():
        return ImageFolderSource(p, fps=fps)
    if p.is_file():
        return VideoFileSource(p)
    raise ValueError(f"source {s!r} is not a video file, image folder, camera index or stream URL")
