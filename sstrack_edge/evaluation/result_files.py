"""Per-sequence result files in the got10k / pytracking layout, written atomically.

``<out>/<mode>/<tracker>/<seq>.txt``: one ``x,y,w,h`` row per frame (comma, 3 decimals; pytracking's
loader reads comma or tab) and ``<out>/<mode>/<tracker>/times/<seq>_time.txt``: seconds per frame
(got10k; 0 marks a frame the streaming tracker missed). A time file of a batched run
(``eval --batch K``) starts with the comment line ``# batch K: ...``: its times are a share of a
batch step (throughput), not single-target latencies (``np.loadtxt`` skips the line). The time
file is written first and the box file last, each through a temporary file + rename, so an
existing box file means the sequence is complete: an interrupted run resumes without recomputing it.

``<out>/<mode>/<tracker>/run.json`` records what the results were computed with
(:func:`sstrack_edge.evaluation.trackers.run_identity`: card and file hashes, backend, precision,
settings). Results are reused only under the same identity; a folder computed with anything else
(another model that has the same folder name, other settings, another OpenCV) is emptied and
recomputed, never reported under the new name.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .annotations import AnnotationError, read_boxes, write_boxes, write_rows_atomic, write_text_atomic
from .tracking_runs import TrackingRun


BATCH_TAG = "# batch "
BATCH_NOTE = ("seconds per frame = a batched network step's wall time / its rows (sequences tracked at once), "
              "not single-target latency; frame 0: this tracker's init")


class ResultStore:
    def __init__(self, out_dir: str | os.PathLike):
        self.root = Path(out_dir)

    def tracker_dir(self, mode: str, label: str) -> Path:
        return self.root / mode / label

    def box_path(self, mode: str, label: str, seq: str) -> Path:
        return self.tracker_dir(mode, label) / f"{seq}.txt"

    def time_path(self, mode: str, label: str, seq: str) -> Path:
        return self.tracker_dir(mode, label) / "times" / f"{seq}_time.txt"

    def claim(self, mode: str, label: str, identity: dict) -> bool:
        """Make ``<mode>/<label>`` hold only results of ``identity``; True when earlier results
        there were dropped because they were computed with something else."""
        d = self.tracker_dir(mode, label)
        marker = d / "run.json"
        want = json.loads(json.dumps(identity, sort_keys=True, default=str))
        if marker.is_file():
            try:
                if json.loads(marker.read_text()) == want:
                    return False
            except (OSError, ValueError):
                pass
        stale = d.is_dir() and any(d.iterdir())
        if stale:
            shutil.rmtree(d)
        d.mkdir(parents=True, exist_ok=True)
        write_text_atomic(marker, json.dumps(want, indent=2, sort_keys=True) + "\n")
        return stale

    def save(self, mode: str, label: str, seq: str, run: TrackingRun) -> None:
        header = f"{BATCH_TAG[2:]}{run.batch}: {BATCH_NOTE}" if run.batch > 1 else ""  # savetxt adds the "# "
        write_rows_atomic(self.time_path(mode, label, seq), run.times.reshape(-1, 1), fmt="%.6f", header=header)
        write_boxes(self.box_path(mode, label, seq), run.boxes)

    def load(self, mode: str, label: str, seq: str, n_frames: int) -> TrackingRun | None:
        """A finished run, or None when it is missing or incomplete (then it is recomputed)."""
        bp, tp = self.box_path(mode, label, seq), self.time_path(mode, label, seq)
        if not (bp.is_file() and tp.is_file()):
            return None
        try:
            boxes = read_boxes(bp)
            times = np.loadtxt(tp, dtype=np.float64, ndmin=1)
            with open(tp) as f:
                first = f.readline()
            batch = int(first[len(BATCH_TAG):].split(":")[0]) if first.startswith(BATCH_TAG) else 1
        except (AnnotationError, ValueError, OSError):
            return None
        if len(boxes) != n_frames or len(times) != n_frames:
            return None
        return TrackingRun(boxes, times, batch=batch)
