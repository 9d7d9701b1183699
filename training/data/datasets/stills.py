"""Still-image folders (the layout of ../shared/data/stills): ``<src>/images/*.jpg`` +
``<src>/annotations.json`` (COCO format, read with pycocotools). Every box is a one-frame sequence;
degenerate and tiny boxes are skipped with a count."""

from __future__ import annotations

import os
from pathlib import Path

from training.data.datasets.coco import load_coco_boxes
from training.data.errors import DatasetFormatError
from training.data.sequence import ImageBoxDataset

DEFAULT_MIN_SIDE = 8.0  # px; smaller boxes become a blur of a few pixels at template size


def load_stills(
    root: str | os.PathLike, sources: list[str] | None = None, min_side: float = DEFAULT_MIN_SIDE, name: str = "stills"
) -> ImageBoxDataset:
    """``root`` is one source folder (holding ``annotations.json``) or a folder of sources;
    ``sources`` picks some of them by folder name. All are joined into one dataset."""
    root = Path(root)
    if (root / "annotations.json").is_file():
        dirs = [root]
        if sources:
            raise ValueError(f"{root} is a single stills source; sources={sources} cannot be selected in it")
    elif sources:
        dirs = [root / s for s in sources]
        for d in dirs:
            if not (d / "annotations.json").is_file():
                raise DatasetFormatError(f"stills annotation file not found: {d / 'annotations.json'}")
    else:
        dirs = sorted(p.parent for p in root.glob("*/annotations.json"))
        if not dirs:
            raise DatasetFormatError(f"no stills sources (<src>/annotations.json) under {root}")
    parts = [load_coco_boxes(d / "annotations.json", d / "images", d.name, min_side) for d in dirs]
    return parts[0] if len(parts) == 1 and parts[0].name == name else ImageBoxDataset.concat(name, parts)
