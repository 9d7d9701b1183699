"""Choosing the lost threshold (training/export/calibrate_lost.py) from present / absent-target scores."""

from __future__ import annotations

import numpy as np
import pytest

from training.export.calibrate_lost import choose, record, table


def test_largest_threshold_with_at_most_one_percent_false_lost():
    rng = np.random.default_rng(0)
    present = np.concatenate([rng.uniform(0.42, 0.95, 990), rng.uniform(0.05, 0.3, 10)])  # 1 % low scores
    scores = {"present": present, "absent": rng.uniform(0.0, 0.5, 500)}
    t = choose(scores)
    assert t == 0.4  # 0.45 would call >1 % of the present frames lost
    row = next(r for r in table(scores) if r["threshold"] == t)
    assert row["present_called_lost"] <= 0.01 and row["absent_called_lost"] == pytest.approx(0.8, abs=0.06)
    assert choose({"present": np.full(10, 0.01), "absent": np.zeros(3)}) == 0.05  # nothing qualifies: lowest
    with pytest.raises(ValueError, match="no frame"):
        choose({"present": np.array([]), "absent": np.zeros(3)})


def test_record_on_real_frames(tiny_model_dir, sot_train):
    scores = record(tiny_model_dir, sot_train, absent_frames=3)
    assert len(scores["absent"]) >= 3 and np.all((scores["absent"] >= 0) & (scores["absent"] <= 1))
    assert np.all((scores["present"] >= 0) & (scores["present"] <= 1))
