"""Users' own sequences (the layout of ../shared/data/sot): ``root/<name>/img/*.jpg`` (also
``.jpeg``/``.png``, sorted by name) + ``root/<name>/groundtruth.txt`` (``x,y,w,h`` per frame,
``nan`` rows = target absent), and an optional ``root/sequences.json`` (``{name: {"fps": ..}}``).

Every sub-folder holding ``img/`` or ``groundtruth.txt`` is a sequence; a missing
``groundtruth.txt`` or ``img/`` there is an error naming it. If the frame and row counts differ,
the shorter length is used and the difference is counted in the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from training.data.annotations import box_valid, read_boxes
from training.data.errors import DatasetFormatError
from training.data.frames import FileListFrames
from training.data.sequence import LoadReport, Sequence, VideoDataset

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_sequences_json(root: Path) -> dict:
    path = root / "sequences.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetFormatError(f"sequences.json is not valid JSON: {path} ({e})") from e
    if not isinstance(info, dict):
        raise DatasetFormatError(f"sequences.json must map sequence names to objects: {path}")
    return info


def load_sequence_folder(root: str | os.PathLike, names: list[str] | None = None, name: str | None = None,
                         exclude: list[str] | None = None) -> VideoDataset:
    """Load every sequence folder under ``root`` (or only ``names``), leaving out ``exclude``
    (e.g. the sequences held out for validation, ``validation.sequences`` in the training config)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"sequence folder not found: {root}")
    info = read_sequences_json(root)
    if names is None:
        dirs = sorted(p for p in root.iterdir() if p.is_dir() and ((p / "img").is_dir() or (p / "groundtruth.txt").exists()))
        if not dirs:
            raise DatasetFormatError(f"no sequences (<name>/img/ + groundtruth.txt) under {root}")
    else:
        dirs = [root / n for n in names]
    if exclude:
        held_out = set(exclude)
        unknown = sorted(held_out - {d.name for d in dirs})
        if unknown:
            raise DatasetFormatError(f"exclude names sequences that are not in {root}: {unknown}")
        dirs = [d for d in dirs if d.name not in held_out]
        if not dirs:
            raise DatasetFormatError(f"exclude leaves no sequence to train on in {root}")
    report = LoadReport(name or root.name)
    seqs = []
    for d in dirs:
        img_dir = d / "img"
        if not img_dir.is_dir():
            raise DatasetFormatError(f"frame folder not found: {img_dir}")
        boxes = read_boxes(d / "groundtruth.txt", report)
        files = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetFormatError(f"no .jpg/.jpeg/.png frames in {img_dir}")
        n = min(len(files), len(boxes))
        if len(files) > n:
            report.skip("frames without a ground-truth row", str(d), len(files) - n)
        if len(boxes) > n:
            report.skip("ground-truth rows without a frame", str(d), len(boxes) - n)
        boxes = boxes[:n]
        meta = info.get(d.name) if isinstance(info.get(d.name), dict) else None
        fps = float(meta["fps"]) if meta and isinstance(meta.get("fps"), (int, float)) else None
        seqs.append(Sequence(d.name, FileListFrames(files[:n]), boxes, box_valid(boxes), fps=fps, meta=meta))
        report.sequences += 1
        report.frames += n
    return VideoDataset(name or root.name, seqs, report)
