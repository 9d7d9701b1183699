"""LaSOT (RECIPE.md 4): ``root/<class>/<class>-<id>/{img/%08d.jpg, groundtruth.txt,
full_occlusion.txt, out_of_view.txt}``. visible = not occluded, not out of view, w, h > 0."""

from __future__ import annotations

import os
from pathlib import Path

from training.data.annotations import box_valid, read_boxes, read_name_list, read_numbers
from training.data.errors import DatasetFormatError
from training.data.frames import NumberedFrames
from training.data.sequence import LoadReport, Sequence, VideoDataset


def load_lasot(root: str | os.PathLike, split_file: str | os.PathLike | None = None, name: str = "lasot") -> VideoDataset:
    """Load LaSOT. ``split_file``: one sequence name per line (e.g. ``airplane-10``, the 1120-name
    ``lasot_train_split.txt``); without it every ``<class>/<class>-<id>`` folder is used."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"LaSOT root folder not found: {root}")
    if split_file is not None:
        names = read_name_list(split_file, "LaSOT split file")
        dirs = [root / n.rsplit("-", 1)[0] / n for n in names]
    else:
        dirs = sorted(p.parent for p in root.glob("*/*-*/groundtruth.txt"))
        if not dirs:
            raise DatasetFormatError(f"no LaSOT sequences (<class>/<class>-<id>/groundtruth.txt) under {root}")
    report = LoadReport(name)
    seqs = []
    for d in dirs:
        if not d.is_dir():
            raise DatasetFormatError(f"LaSOT sequence folder not found: {d}")
        boxes = read_boxes(d / "groundtruth.txt", report)
        n = len(boxes)
        occ = read_numbers(d / "full_occlusion.txt", n, "LaSOT full_occlusion file")
        oov = read_numbers(d / "out_of_view.txt", n, "LaSOT out_of_view file")
        visible = (occ == 0) & (oov == 0) & box_valid(boxes)
        seqs.append(Sequence(d.name, NumberedFrames(d / "img", "%08d.jpg", 1, n), boxes, visible))
        report.sequences += 1
        report.frames += n
    return VideoDataset(name, seqs, report)
