"""GOT-10k (RECIPE.md 4): ``root/list.txt`` + ``root/<seq>/{%08d.jpg, groundtruth.txt,
absence.label, cover.label, meta_info.ini}``. visible = not absent, cover > 0, w, h > 0;
``visible_ratio = cover / 8``. Split files (vot_train, vot_val, ...) hold 0-based indices into
``list.txt``, one per line."""

from __future__ import annotations

import os
from pathlib import Path

from training.data.annotations import box_valid, read_boxes, read_name_list, read_numbers, read_text
from training.data.errors import DatasetFormatError
from training.data.frames import NumberedFrames
from training.data.sequence import LoadReport, Sequence, VideoDataset


def read_meta_info(path: Path) -> dict[str, str]:
    """``key: value`` lines after the section header (as the got10k toolkit); {} when absent."""
    if not path.is_file():
        return {}
    meta = {}
    for line in read_text(path, "GOT-10k meta_info file").splitlines()[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            meta[k.strip()] = v.strip()
    return meta


def load_got10k(root: str | os.PathLike, split_file: str | os.PathLike | None = None, name: str = "got10k") -> VideoDataset:
    """Load GOT-10k train (``root`` holds ``list.txt``). ``split_file``: 0-based indices into it."""
    root = Path(root)
    names = read_name_list(root / "list.txt", "GOT-10k list.txt")
    if split_file is not None:
        try:
            idx = [int(v) for v in read_name_list(split_file, "GOT-10k split file")]
        except ValueError as e:
            raise DatasetFormatError(f"GOT-10k split file must hold integer indices: {split_file} ({e})") from e
        bad = [i for i in idx if not 0 <= i < len(names)]
        if bad:
            raise DatasetFormatError(
                f"GOT-10k split file {split_file} has indices {bad[:5]} outside list.txt (0..{len(names) - 1})"
            )
        names = [names[i] for i in idx]
    report = LoadReport(name)
    seqs = []
    for n_ in names:
        d = root / n_
        if not d.is_dir():
            raise DatasetFormatError(f"GOT-10k sequence folder listed in list.txt not found: {d}")
        boxes = read_boxes(d / "groundtruth.txt", report)
        n = len(boxes)
        absent = read_numbers(d / "absence.label", n, "GOT-10k absence.label")
        cover = read_numbers(d / "cover.label", n, "GOT-10k cover.label")
        visible = (absent == 0) & (cover > 0) & box_valid(boxes)
        seqs.append(
            Sequence(d.name, NumberedFrames(d, "%08d.jpg", 1, n), boxes, visible,
                     visible_ratio=cover / 8.0, meta=read_meta_info(d / "meta_info.ini"))
        )
        report.sequences += 1
        report.frames += n
    return VideoDataset(name, seqs, report)
