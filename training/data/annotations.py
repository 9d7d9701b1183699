"""Parsing of per-frame annotation text files shared by the loaders.

``read_boxes``: one ``x,y,w,h`` row per frame, separated by commas, tabs or spaces. ``nan`` rows
mean "target absent". A malformed row (wrong field count, not a number) does not stop loading:
its frame gets a NaN box (not visible) and the row is counted in the :class:`LoadReport` with the
first example. A missing, unreadable or empty file raises :class:`DatasetFormatError` naming it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from training.data.errors import DatasetFormatError
from training.data.sequence import LoadReport

_SEP = re.compile(r"[,\s;]+")


def read_text(path: str | os.PathLike, what: str = "annotation file") -> str:
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{what} not found: {path}")
    try:
        return path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetFormatError(f"{what} cannot be read: {path} ({e})") from e


def read_boxes(path: str | os.PathLike, report: LoadReport) -> np.ndarray:
    """Boxes ``(N, 4)`` float32 from a ground-truth file; bad rows become NaN and are counted."""
    lines = read_text(path, "ground-truth file").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetFormatError(f"ground-truth file is empty: {path}")
    boxes = np.full((len(lines), 4), np.nan, dtype=np.float32)
    for i, line in enumerate(lines):
        parts = [p for p in _SEP.split(line.strip()) if p]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != 4:
            report.skip("bad annotation row", f"{path}:{i + 1}: {line.strip()[:60]!r}")
            continue
        if any(math.isnan(v) for v in vals):
            continue  # target absent
        if any(math.isinf(v) for v in vals):
            report.skip("bad annotation row", f"{path}:{i + 1}: {line.strip()[:60]!r}")
            continue
        boxes[i] = vals
    return boxes


def read_numbers(path: str | os.PathLike, n: int, what: str) -> np.ndarray:
    """All numbers in a label file (commas/whitespace/newlines), which must be exactly ``n``."""
    text = read_text(path, what)
    parts = [p for p in _SEP.split(text.strip()) if p]
    try:
        vals = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError as e:
        raise DatasetFormatError(f"{what} has a non-numeric entry: {path} ({e})") from e
    if len(vals) != n:
        raise DatasetFormatError(f"{what} has {len(vals)} entries for {n} frames: {path}")
    return vals


def box_valid(boxes: np.ndarray) -> np.ndarray:
    """Rows that hold a usable box: finite and ``w, h > 0``."""
    b = np.asarray(boxes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(b), axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)


def read_name_list(path: str | os.PathLike, what: str) -> list[str]:
    """Non-empty stripped lines of a list/split file."""
    return [ln.strip() for ln in read_text(path, what).splitlines() if ln.strip()]
