"""Frame sources for the CLI: video files, image folders, cameras and network streams.

``open_source(spec)`` returns an iterable of BGR uint8 frames:

* a directory -> its images in name order (``.jpg .jpeg .png .bmp``), e.g. a got10k/OTB ``img/``;
* an integer (``"0"``) -> that camera; ``rtsp://``, ``http(s)://`` ... -> a network stream: both are
  *live* sources, read on a background thread that keeps only the newest frame, so a slow tracker
  processes the latest image instead of falling behind a growing buffer (frames overwritten
  before they were consumed are counted in ``dropped``). The first frame is never dropped: it
  is the frame the initial box refers to. A live source that delivers no new frame for
  ``stall_timeout_s`` seconds raises :class:`StreamStalledError`;
* any other path -> a video file, read frame by frame (nothing dropped).

An image that cannot be decoded (a corrupt file in a folder) raises :class:`SourceReadError`
naming the file.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_STALL_TIMEOUT_S = 10.0


class StreamStalledError(TimeoutError):
    """A live source delivered no new frame within its stall timeout."""


class SourceReadError(ValueError):
    """A frame of the source could not be read (e.g. a corrupt image in a folder)."""
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
        for i, p in enumerate(self.files):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise SourceReadError(f"cannot read image {p} (frame {i + 1} of {self.length}): not a decodable image")
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
    """A camera or stream read on a background thread; iteration yields the newest unseen frame.

    The first frame is kept until it is consumed (the initial box refers to it); after that a
    frame not consumed before the next one arrives is dropped and counted in ``dropped``. When no
    new frame arrives for ``stall_timeout_s`` seconds, reading raises :class:`StreamStalledError`;
    when the stream ends (the capture reports end of stream at once), iteration stops.

    Stream URLs are opened with FFmpeg's open and read timeouts set from ``stall_timeout_s``
    (at least 10 s to open), so a dead stream cannot block the reader thread for long. The reader
    thread owns the capture and releases it when it stops.
    """

    live = True

    def __init__(self, spec: int | str, stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S):
        if not stall_timeout_s > 0:
            raise ValueError(f"stall timeout must be > 0 seconds, got {stall_timeout_s}")
        self.spec = spec
        self.stall_timeout_s = float(stall_timeout_s)
        self.cap = _open_capture(spec, self.stall_timeout_s)
        if not self.cap.isOpened():
            self.cap.release()
            raise ValueError(f"cannot open live source {spec!r} (camera index or stream URL)")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        self._cond = threading.Condition()
        self._first: np.ndarray | None = None  # frame 1, held until consumed
        self._frame: np.ndarray | None = None  # newest frame
        self._seq = 0  # frames read by the thread
        self._taken = 0  # seq of the last frame handed out
        self._delivered = 0  # frames handed out
        self._ended = False
        self._last_frame_t = time.monotonic()
        self._ended_t: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, name="sstrack-latest-frame", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:  # type: ignore[override]
        """Frames read from the source but overwritten before they were consumed."""
        with self._cond:
            pending = 1 if self._seq > self._taken else 0
            return max(0, self._seq - self._delivered - pending)

    def _reader(self) -> None:
        try:
            while not self._stop.is_set():
                ok, frame = self.cap.read()
                with self._cond:
                    now = time.monotonic()
                    if not ok:
                        self._ended, self._ended_t = True, now
                        self._cond.notify_all()
                        return
                    self._seq += 1
                    if self._seq == 1:
                        self._first = frame
                    self._frame = frame
                    self._last_frame_t = now
                    self._cond.notify_all()
        finally:
            self.cap.release()

    def _stalled_for(self) -> float:
        return time.monotonic() - self._last_frame_t

    def read(self, timeout_s: float | None = None) -> np.ndarray | None:
        """Block until a frame newer than the last one returned exists; None at end of stream.

        Raises :class:`StreamStalledError` when no new frame came for ``timeout_s`` (default: the
        stall timeout) seconds, or when the capture gave up after waiting about that long (a
        stream that stopped sending, as opposed to one that ended)."""
        timeout_s = self.stall_timeout_s if timeout_s is None else timeout_s
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > self._taken or self._ended, timeout=timeout_s):
                raise StreamStalledError(
                    f"live source {self.spec!r} stalled: no new frame for {self._stalled_for():.1f} s"
                )
            if self._seq == self._taken:  # ended and nothing new
                assert self._ended_t is not None
                waited = self._ended_t - self._last_frame_t
                if waited >= 0.9 * self.stall_timeout_s:  # the capture's read timeout fired: a stall, not an end
                    raise StreamStalledError(
                        f"live source {self.spec!r} stalled: no new frame for {waited:.1f} s"
                    )
                return None
            if self._taken == 0:
                frame, self._taken = self._first, 1
                self._first = None
            else:
                frame, self._taken = self._frame, self._seq
            self._delivered += 1
            return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        """Stop the reader thread. If it is blocked in a read it finishes (and releases the
        capture) on its own once the read returns (at most about the read timeout)."""
        self._stop.set()
        self._thread.join(timeout=1.0)


def _open_capture(spec: int | str, stall_timeout_s: float) -> cv2.VideoCapture:
    if isinstance(spec, int) or not cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
        return cv2.VideoCapture(spec)
    open_ms = int(1000 * max(10.0, stall_timeout_s))
    read_ms = max(1, int(1000 * stall_timeout_s))
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms]
    return cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)


def open_source(
    spec: str | int | Path, fps: float | None = None, stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
) -> FrameSource:
    """Open a video file, image folder, camera index or stream URL (see module docstring);
    ``stall_timeout_s`` applies to cameras and streams."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return LatestFrameSource(int(spec), stall_timeout_s=stall_timeout_s)
    s = str(spec)
    if s.lower().startswith(LIVE_PREFIXES):
        return LatestFrameSource(s, stall_timeout_s=stall_timeout_s)
    p = Path(s)
    if p.is_dir():
        return ImageFolderSource(p, fps=fps)
    if p.is_file():
        return VideoFileSource(p)
    raise ValueError(f"source {s!r} is not a video file, image folder, camera index or stream URL")
