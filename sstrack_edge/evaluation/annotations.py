"""Reading annotation and label files of tracking benchmarks, with clear errors.

Every benchmark stores one box per line as ``x,y,w,h`` (comma, tab or whitespace separated,
``NaN`` for frames where the target is absent). These helpers read such files into ``N x 4``
float arrays and raise :class:`AnnotationError` (a ``ValueError``) naming the file and line when
it is missing or malformed, instead of failing deep inside numpy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

_SPLIT = re.compile(r"[,\s;]+")


class AnnotationError(ValueError):
    """An annotation or label file is missing, empty or malformed."""


def _read_lines(path: str | os.PathLike) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(f"annotation file {path} is unreadable: {e}") from e
    lines = [ln.strip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise AnnotationError(f"annotation file {path} is empty")
    return lines


def read_table(path: str | os.PathLike, columns: int | None = None) -> list[list[str]]:
    """Split every non-empty line of a text file on commas / whitespace; check the column count."""
    rows = []
    for i, line in enumerate(_read_lines(path), start=1):
        if not line:
            raise AnnotationError(f"{path}: line {i} is empty")
        fields = [f for f in _SPLIT.split(line) if f]
        if columns is not None and len(fields) < columns:
            raise AnnotationError(f"{path}: line {i} has {len(fields)} values, expected {columns}: {line!r}")
        rows.append(fields)
    return rows


def _to_float(path, i, fields) -> list[float]:
    try:
        return [float(f) for f in fields]
    except ValueError as e:
        raise AnnotationError(f"{path}: line {i} is not numeric: {','.join(fields)!r}") from e


def read_boxes(path: str | os.PathLike) -> np.ndarray:
    """Read ``x,y,w,h`` boxes, one per line (comma or whitespace separated) -> ``N x 4`` float64.

    ``nan`` values (absent target) are kept as NaN.
    """
    rows = read_table(path, columns=4)
    out = np.empty((len(rows), 4), dtype=np.float64)
    for i, fields in enumerate(rows):
        if len(fields) != 4:
            raise AnnotationError(f"{path}: line {i + 1} has {len(fields)} values, expected 4 (x,y,w,h)")
        out[i] = _to_float(path, i + 1, fields)
    return out


def read_flags(path: str | os.PathLike) -> np.ndarray:
    """Read 0/1 (or small integer) labels: one per line, or all on one comma-separated line."""
    rows = read_table(path)
    values = [f for row in rows for f in row]
    try:
        return np.array([int(float(v)) for v in values], dtype=np.int64)
    except ValueError as e:
        raise AnnotationError(f"{path}: labels must be integers: {e}") from e


def write_boxes(path: str | os.PathLike, boxes: np.ndarray, delimiter: str = ",", fmt: str = "%.3f") -> None:
    """Write ``N x 4`` boxes atomically (temporary file + rename), got10k style (comma, 3 decimals)."""
    write_rows_atomic(path, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), delimiter=delimiter, fmt=fmt)


def write_rows_atomic(path: str | os.PathLike, rows: np.ndarray, delimiter: str = ",", fmt: str = "%.3f",
                      header: str = "") -> None:
    """``rows`` written atomically; a non-empty ``header`` becomes a first ``# `` comment line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    np.savetxt(tmp, rows, delimiter=delimiter, fmt=fmt, header=header)
    os.replace(tmp, path)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
