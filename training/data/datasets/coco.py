"""COCO-format box annotations (COCO 2017 and the stills folders): every kept box is a one-frame
"sequence" (:class:`ImageBoxDataset`). Read with pycocotools.

Kept: non-crowd boxes with finite ``w, h > 0`` and ``min(w, h) >= min_side``. Skipped and counted
in the report: crowd boxes, degenerate boxes, tiny boxes, boxes whose image is not listed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from training.data.errors import DatasetFormatError
from training.data.sequence import ImageBoxDataset, LoadReport


def load_coco_boxes(
    annotation_file: str | os.PathLike, image_dir: str | os.PathLike, name: str, min_side: float = 0.0
) -> ImageBoxDataset:
    """Boxes of a COCO instances json whose images live in ``image_dir``."""
    from pycocotools.coco import COCO

    annotation_file, image_dir = Path(annotation_file), Path(image_dir)
    if not annotation_file.is_file():
        raise DatasetFormatError(f"COCO annotation file not found: {annotation_file}")
    if not image_dir.is_dir():
        raise DatasetFormatError(f"COCO image folder not found: {image_dir}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco = COCO(str(annotation_file))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetFormatError(f"COCO annotation file is not valid JSON: {annotation_file} ({e})") from e
    except (KeyError, TypeError, AssertionError) as e:
        raise DatasetFormatError(f"COCO annotation file lacks images/annotations: {annotation_file} ({e!r})") from e
    report = LoadReport(name)
    img_ids = sorted(coco.imgs)
    files, img_pos = [], {}
    for iid in img_ids:
        fn = coco.imgs[iid].get("file_name")
        if not fn:
            report.skip("image entry without file_name", f"{annotation_file}: image id {iid}")
            continue
        img_pos[iid] = len(files)
        files.append(str(image_dir / fn))
    image_index, boxes, names = [], [], []
    for aid in sorted(coco.anns):
        a = coco.anns[aid]
        where = f"{annotation_file}: annotation id {aid}"
        if a.get("iscrowd", 0):
            report.skip("crowd box", where)
            continue
        if a.get("image_id") not in img_pos:
            report.skip("box of an unlisted image", where)
            continue
        bb = a.get("bbox")
        try:
            x, y, w, h = (float(v) for v in bb)
        except (TypeError, ValueError):
            report.skip("malformed bbox", where)
            continue
        if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
            report.skip("degenerate box (w or h <= 0)", where)
            continue
        if min(w, h) < min_side:
            report.skip(f"tiny box (side < {min_side:g} px)", where)
            continue
        image_index.append(img_pos[a["image_id"]])
        boxes.append((x, y, w, h))
        names.append(f"{name}/{Path(files[img_pos[a['image_id']]]).name}#{aid}")
    if not boxes:
        raise DatasetFormatError(
            f"COCO annotation file has no usable boxes: {annotation_file} (skipped: {dict(report.skipped)})"
        )
    report.sequences = report.frames = len(boxes)
    return ImageBoxDataset(name, files, np.array(image_index), np.array(boxes, dtype=np.float32), names, report)


def load_coco(
    root: str | os.PathLike, split: str = "train2017", min_side: float = 0.0, name: str = "coco"
) -> ImageBoxDataset:
    """COCO 2017: ``root/annotations/instances_<split>.json`` and ``root/images/<split>/``.
    ``min_side`` 0 keeps every non-degenerate box (OSTrack's sampler never checks its w, h > 50)."""
    root = Path(root)
    return load_coco_boxes(root / "annotations" / f"instances_{split}.json", root / "images" / split, name, min_side)
