"""TrackingNet (RECIPE.md 4): ``root/TRAIN_k/anno/<video>.txt`` and
``root/TRAIN_k/frames/<video>/<i>.jpg`` (``i`` 0-based, not zero-padded). visible = w, h > 0."""

from __future__ import annotations

import os
from pathlib import Path

from training.data.annotations import box_valid, read_boxes
from training.data.errors import DatasetFormatError
from training.data.frames import NumberedFrames
from training.data.sequence import LoadReport, Sequence, VideoDataset


def load_trackingnet(root: str | os.PathLike, chunks: list[int] | None = None, name: str = "trackingnet") -> VideoDataset:
    """Load TrackingNet chunks ``TRAIN_<k>`` (default: every ``TRAIN_0..TRAIN_11`` present)."""
    root = Path(root)
    if chunks is None:
        chunk_dirs = [root / f"TRAIN_{k}" for k in range(12) if (root / f"TRAIN_{k}").is_dir()]
        if not chunk_dirs:
            raise DatasetFormatError(f"no TrackingNet TRAIN_<k> chunk folders under {root}")
    else:
        chunk_dirs = [root / f"TRAIN_{int(k)}" for k in chunks]
        for c in chunk_dirs:
            if not c.is_dir():
                raise DatasetFormatError(f"TrackingNet chunk folder not found: {c}")
    report = LoadReport(name)
    seqs = []
    for c in chunk_dirs:
        anno = c / "anno"
        if not anno.is_dir():
            raise DatasetFormatError(f"TrackingNet annotation folder not found: {anno}")
        for f in sorted(anno.glob("*.txt")):
            boxes = read_boxes(f, report)
            n = len(boxes)
            frames = NumberedFrames(c / "frames" / f.stem, "%d.jpg", 0, n)
            seqs.append(Sequence(f"{c.name}/{f.stem}", frames, boxes, box_valid(boxes)))
            report.sequences += 1
            report.frames += n
    return VideoDataset(name, seqs, report)
