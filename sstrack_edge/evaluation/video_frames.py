"""Annotated video clips (``<name>.mp4`` + ``<name>.txt``) as frame files: a decode-once JPEG cache.

Decoding decision: random access by seeking (``CAP_PROP_POS_FRAMES``) is slow for long-GOP codecs
and not guaranteed frame-exact across OpenCV backends, while training reads random frames and TRE
evaluation starts mid-clip. So each video is decoded ONCE, sequentially, into
``<cache>/<folder name>/<clip>/%08d.jpg`` (1-based, JPEG quality 95), and everything reads those
files like any image sequence. A clip's cache is reused when its ``frames.json`` records the same
video size and modification time; otherwise it is rebuilt. Training and validation read the same
cached pixels.

The cache root is ``$SSTRACK_FRAME_CACHE`` or ``~/.cache/sstrack_edge/frames``: never beside the
videos, whose folder may be read-only (``../shared``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")
FRAME_PATTERN = "%08d.jpg"


class VideoDecodeError(ValueError):
    """A video cannot be opened or decoded, or its frame cache cannot be written."""


def frame_cache_root() -> Path:
    env = os.environ.get("SSTRACK_FRAME_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sstrack_edge" / "frames"


def clip_cache_dir(video: Path, cache_root: str | os.PathLike | None = None) -> Path:
    root = Path(cache_root) if cache_root is not None else frame_cache_root()
    return root / video.parent.name / video.stem


def list_videos(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def extract_frames(video: Path, out_dir: Path, jpeg_quality: int = 95) -> tuple[int, float | None]:
    """Decode ``video`` sequentially into ``out_dir/%08d.jpg`` unless a valid cache exists;
    returns ``(frame_count, fps)``."""
    st = video.stat()
    stamp = {"video": str(video), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    marker = out_dir / "frames.json"
    if marker.is_file():
        try:
            rec = json.loads(marker.read_text())
            if all(rec.get(k) == v for k, v in stamp.items() if k != "video"):
                return int(rec["frames"]), rec.get("fps")
        except (OSError, ValueError, KeyError, TypeError):
            pass  # stale or broken cache: rebuild
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoDecodeError(f"cannot create the frame cache {out_dir} ({e}); set SSTRACK_FRAME_CACHE "
                               "to a writable folder") from e
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise VideoDecodeError(f"video file cannot be opened: {video}")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = float(fps) if fps and fps > 0 else None
    n = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            path = out_dir / (FRAME_PATTERN % n)
            if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                raise VideoDecodeError(f"cannot write frame cache file {path}")
    finally:
        cap.release()
    if n == 0:
        raise VideoDecodeError(f"video file has no decodable frames: {video}")
    marker.write_text(json.dumps({**stamp, "frames": n, "fps": fps}))
    return n, fps


def cached_frames(out_dir: Path, n: int) -> list[Path]:
    return [out_dir / (FRAME_PATTERN % i) for i in range(1, n + 1)]
