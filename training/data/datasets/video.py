"""Video files with a ground-truth file: ``clip.mp4`` + ``clip.txt`` (``x,y,w,h`` per frame,
``nan`` = absent), also ``.avi``/``.mov``/``.mkv``/``.m4v``; ``../shared/data/sot/train_videos``.

Each video is decoded once into the shared JPEG frame cache of
:mod:`sstrack_edge.evaluation.video_frames` (``$SSTRACK_FRAME_CACHE`` or
``~/.cache/sstrack_edge/frames``, never beside the videos), which the runtime's evaluation reads
too, so validation tracks exactly the pixels training sampled from.
"""

from __future__ import annotations

import os
from pathlib import Path

from sstrack_edge.evaluation.video_frames import (
    FRAME_PATTERN,
    VIDEO_SUFFIXES,
    VideoDecodeError,
    clip_cache_dir,
    extract_frames,
    list_videos,
)
from training.data.annotations import box_valid, read_boxes
from training.data.errors import DatasetFormatError
from training.data.frames import NumberedFrames
from training.data.sequence import LoadReport, Sequence, VideoDataset


def select_clips(root: Path, names: list[str] | None, exclude: list[str] | None) -> list[Path]:
    """The videos of ``root`` (or only ``names``), minus ``exclude``; unknown names raise."""
    videos = list_videos(root)
    if not videos:
        raise DatasetFormatError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {root}")
    by_stem = {v.stem: v for v in videos}
    for label, wanted in (("names", names), ("exclude", exclude)):
        unknown = sorted(set(wanted or ()) - set(by_stem))
        if unknown:
            raise DatasetFormatError(f"{label} lists clips that are not in {root}: {unknown}")
    if names is not None:
        videos = [by_stem[n] for n in names]
    held_out = set(exclude or ())
    videos = [v for v in videos if v.stem not in held_out]
    if not videos:
        raise DatasetFormatError(f"no clip left to load in {root} (names {names}, exclude {exclude})")
    return videos


def load_video_files(
    root: str | os.PathLike, cache_dir: str | os.PathLike | None = None, name: str | None = None,
    names: list[str] | None = None, exclude: list[str] | None = None,
) -> VideoDataset:
    """Every video in folder ``root`` that has a ``<stem>.txt`` ground truth (a video without one
    is an error naming the missing file), or only ``names``, leaving out ``exclude`` (the clips held
    out for validation). ``cache_dir``: the frame cache root (default: see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"video folder not found: {root}")
    report = LoadReport(name or root.name)
    seqs = []
    for v in select_clips(root, names, exclude):
        boxes = read_boxes(v.with_suffix(".txt"), report)
        out = clip_cache_dir(v, cache_dir)
        try:
            n_frames, fps = extract_frames(v, out)
        except VideoDecodeError as e:
            raise DatasetFormatError(str(e)) from e
        n = min(n_frames, len(boxes))
        if n_frames > n:
            report.skip("frames without a ground-truth row", str(v), n_frames - n)
        if len(boxes) > n:
            report.skip("ground-truth rows without a frame", str(v), len(boxes) - n)
        boxes = boxes[:n]
        seqs.append(Sequence(v.stem, NumberedFrames(out, FRAME_PATTERN, 1, n), boxes, box_valid(boxes), fps=fps))
        report.sequences += 1
        report.frames += n
    return VideoDataset(name or root.name, seqs, report)
