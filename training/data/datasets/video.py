"""Video files with a ground-truth file: ``clip.mp4`` + ``clip.txt`` (``x,y,w,h`` per frame,
``nan`` = absent), also ``.avi``/``.mov``/``.mkv``/``.m4v``.

Decoding decision: random access by seeking (``CAP_PROP_POS_FRAMES``) is slow for long-GOP codecs
and not guaranteed frame-exact across OpenCV backends, and training reads random frames. So each
video is decoded ONCE, sequentially, into a JPEG frame cache (``<cache_dir>/<clip>/%08d.jpg``,
quality 95), and training reads those files like any image sequence. The cache is reused when its
``frames.json`` records the same video size and modification time; otherwise it is rebuilt.
Default ``cache_dir``: ``<video folder>/.sstrack_frames`` (pass another one for read-only data).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2

from training.data.annotations import box_valid, read_boxes
from training.data.errors import DatasetFormatError
from training.data.frames import NumberedFrames
from training.data.sequence import LoadReport, Sequence, VideoDataset

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")


def extract_frames(video: Path, out_dir: Path, jpeg_quality: int = 95) -> tuple[int, float | None]:
    """Decode ``video`` sequentially into ``out_dir/%08d.jpg`` (1-based) unless a valid cache
    exists; returns ``(frame_count, fps)``."""
    st = video.stat()
    stamp = {"video": str(video), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    marker = out_dir / "frames.json"
    if marker.is_file():
        try:
            rec = json.loads(marker.read_text())
            if all(rec.get(k) == v for k, v in stamp.items()):
                return int(rec["frames"]), rec.get("fps")
        except (OSError, ValueError, KeyError, TypeError):
            pass  # stale or broken cache: rebuild
    out_dir.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise DatasetFormatError(f"video file cannot be opened: {video}")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = float(fps) if fps and fps > 0 else None
    n = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            if not cv2.imwrite(str(out_dir / f"{n:08d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                raise DatasetFormatError(f"cannot write frame cache file {out_dir / f'{n:08d}.jpg'}")
    finally:
        cap.release()
    if n == 0:
        raise DatasetFormatError(f"video file has no decodable frames: {video}")
    marker.write_text(json.dumps({**stamp, "frames": n, "fps": fps}))
    return n, fps


def load_video_files(
    root: str | os.PathLike, cache_dir: str | os.PathLike | None = None, name: str | None = None
) -> VideoDataset:
    """Every video in folder ``root`` that has a ``<stem>.txt`` ground truth (a video without one
    is an error naming the missing file)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"video folder not found: {root}")
    videos = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise DatasetFormatError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {root}")
    cache = Path(cache_dir) if cache_dir is not None else root / ".sstrack_frames"
    report = LoadReport(name or root.name)
    seqs = []
    for v in videos:
        boxes = read_boxes(v.with_suffix(".txt"), report)
        n_frames, fps = extract_frames(v, cache / v.stem)
        n = min(n_frames, len(boxes))
        if n_frames > n:
            report.skip("frames without a ground-truth row", str(v), n_frames - n)
        if len(boxes) > n:
            report.skip("ground-truth rows without a frame", str(v), len(boxes) - n)
        boxes = boxes[:n]
        seqs.append(Sequence(v.stem, NumberedFrames(cache / v.stem, "%08d.jpg", 1, n), boxes, box_valid(boxes), fps=fps))
        report.sequences += 1
        report.frames += n
    return VideoDataset(name or root.name, seqs, report)
