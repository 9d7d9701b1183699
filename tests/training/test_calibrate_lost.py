"""Choosing the lost threshold (training/export/calibrate_lost.py) from per-frame score and IoU."""

from __future__ import annotations

import numpy as np
import pytest

from training.export.calibrate_lost import choose, objective, record


def test_threshold_separates_failures_from_good_frames():
    # failures (IoU 0 or absent) score <= 0.25, good frames >= 0.35 but one failure scores 0.5
    recs = [{"score": np.array([0.9, 0.8, 0.2, 0.1, 0.7, 0.5]), "iou": np.array([0.8, 0.7, 0.0, 0.0, 0.6, 0.05])},
            {"score": np.array([0.6, 0.25, 0.05, 0.35]), "iou": np.array([0.9, 0.0, np.nan, 0.5])}]
    t, table = choose(recs)
    assert t == 0.3  # the lowest threshold that flags every low-scoring failure and no good frame
    row = objective(recs, t)
    assert row["failures"] == 5 and row["failures_flagged"] == pytest.approx(4 / 5) and row["good_flagged"] == 0.0
    assert row["J"] == pytest.approx(np.mean([(0.8 + 0.7 + 0.6 + 0.05) / 6, (0.9 + 0.5) / 3]))
    assert objective(recs, 0.4)["youden"] < row["youden"]  # hiding a good frame costs


def test_record_on_real_frames(tiny_model_dir, sot_train):
    recs = record(tiny_model_dir, sot_train)
    assert len(recs) >= 1 and all(len(r["score"]) == len(r["iou"]) for r in recs)
    assert all(np.all((r["score"] >= 0) & (r["score"] <= 1)) for r in recs)
