"""Helpers for the evaluation tests: tiny benchmark layouts (JPEG frames + annotation files)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_frames(folder: Path, names: list[str], size=(48, 32)) -> list[Path]:
    """Write small JPEGs (a moving bright square on noise) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []
    for i, name in enumerate(names):
        img = rng.integers(0, 60, size=(size[1], size[0], 3), dtype=np.uint8)
        x = 4 + i % 20
        img[8:20, x:x + 12] = 230
        path = folder / name
        assert cv2.imwrite(str(path), img)
        out.append(path)
    return out


def write_rows(path: Path, rows, sep: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sep.join(str(v) for v in r) for r in rows) + "\n")
    return path


def boxes(n: int, start: int = 0) -> list[list[float]]:
    return [[4.0 + (start + i) % 20, 8.0, 12.0, 12.0] for i in range(n)]
