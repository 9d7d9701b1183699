"""Server submission formats: GOT-10k (test) and TrackingNet.

* GOT-10k: one folder per sequence with ``<seq>_001.txt`` (comma ``x,y,w,h`` row per frame, frame 1
  included) and ``<seq>_time.txt`` (seconds per frame), zipped.
* TrackingNet: ``<seq>.txt`` (comma ``x,y,w,h`` row per frame), zipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .annotations import write_boxes, write_rows_atomic
from .tracking_runs import TrackingRun

SUBMISSION_FORMATS = ("got10k", "trackingnet")


def write_got10k_submission(out_dir: str | os.PathLike, runs: dict[str, TrackingRun], zip_file: bool = True) -> Path:
    out_dir = Path(out_dir)
    for name, run in runs.items():
        write_boxes(out_dir / name / f"{name}_001.txt", run.boxes)
        write_rows_atomic(out_dir / name / f"{name}_time.txt", run.times.reshape(-1, 1), fmt="%.6f")
    return Path(shutil.make_archive(str(out_dir), "zip", out_dir)) if zip_file else out_dir


def write_trackingnet_submission(out_dir: str | os.PathLike, runs: dict[str, TrackingRun], zip_file: bool = True) -> Path:
    out_dir = Path(out_dir)
    for name, run in runs.items():
        write_boxes(out_dir / f"{name}.txt", run.boxes)
    return Path(shutil.make_archive(str(out_dir), "zip", out_dir)) if zip_file else out_dir


def write_submission(fmt: str, out_dir: str | os.PathLike, runs: dict[str, TrackingRun], zip_file: bool = True) -> Path:
    if fmt == "got10k":
        return write_got10k_submission(out_dir, runs, zip_file)
    if fmt == "trackingnet":
        return write_trackingnet_submission(out_dir, runs, zip_file)
    raise ValueError(f"unknown submission format {fmt!r}; known: {', '.join(SUBMISSION_FORMATS)}")
