"""Long-term (presence) evaluation: VOT-LT precision / recall / F, presence rates, re-acquisition."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sstrack_edge.evaluation import create_tracker, load_dataset
from sstrack_edge.evaluation.cli import main
from sstrack_edge.evaluation.longterm import THRESHOLDS, LongTermRun, run_longterm, score_longterm, summarize_longterm

BOX = [10.0, 10.0, 20.0, 20.0]


def test_scores_follow_the_vot_lt_definitions():
    # frames 0..5: target visible, visible, absent, absent, visible, visible
    gt = np.array([BOX, BOX, [np.nan] * 4, [np.nan] * 4, BOX, BOX])
    present = np.array([True, True, False, False, True, True])
    half = [10.0, 10.0, 10.0, 20.0]  # IoU 0.5 with BOX
    boxes = np.array([BOX, BOX, BOX, BOX, half, BOX])
    conf = np.array([np.nan, 0.9, 0.8, 0.2, 0.6, 0.9])
    ok = np.array([True, True, True, False, False, True])
    s = score_longterm(LongTermRun(boxes, conf, ok), gt, present)
    at = lambda tau: int(np.argmin(np.abs(THRESHOLDS - tau)))  # noqa: E731
    # tau 0.5: claimed frames 1, 2, 4, 5 with IoU 1, 0 (absent), 0.5, 1 -> Pr 2.5 / 4; Re 2.5 / 3 visible
    assert s.precision[at(0.5)] == pytest.approx(2.5 / 4) and s.recall[at(0.5)] == pytest.approx(2.5 / 3)
    # tau 0.85: frames 1 and 5 -> Pr 1, Re 2 / 3
    assert s.precision[at(0.85)] == pytest.approx(1.0) and s.recall[at(0.85)] == pytest.approx(2 / 3)
    assert (s.absent_frames, s.absent_lost, s.visible_frames, s.visible_lost) == (2, 1, 3, 1)  # frame 0 not scored
    assert s.reacquire == [1]  # returns at frame 4 (lost), re-acquired at frame 5
    summary = summarize_longterm([s, s])
    assert summary["absent_lost"] == 0.5 and summary["visible_lost"] == pytest.approx(1 / 3)
    assert summary["reacquire_median"] == 1
    pr, re = summary["precision"], summary["recall"]
    assert summary["f_score"] == pytest.approx(2 * pr * re / (pr + re))


def test_a_return_never_reacquired_counts_the_frames_left():
    gt = np.array([BOX, [np.nan] * 4, BOX, BOX, BOX])
    run = LongTermRun(np.array([BOX] * 5), np.array([np.nan, 0.1, 0.1, 0.1, 0.1]), np.array([True] + [False] * 4))
    assert score_longterm(run, gt, ~np.isnan(gt[:, 0])).reacquire == [3]


@pytest.mark.realdata
def test_runtime_confidence_is_the_score_its_lost_decision_uses(train_videos):
    (seq,) = load_dataset(train_videos, "videos", ["UAV123_10fps_person9"])
    tracker = create_tracker("sstrack", threads=1)
    run = run_longterm(tracker, seq)
    t = tracker.lost_threshold
    assert np.isnan(run.confidence[0]) and np.isfinite(run.confidence[1:]).all()
    # reported lost exactly when the score is below the threshold (the presence signal is the score)
    assert (~run.ok[1:] == (run.confidence[1:] < t)).all()
    assert np.isfinite(run.boxes).all()  # a box is reported also for lost frames (the last good one)


@pytest.mark.realdata
def test_long_term_cli_on_a_clip_with_absences(train_videos, tmp_path, capsys):
    argv = [str(train_videos), "--sequences", "UAV123_10fps_person9", "--trackers", "sstrack,opencv:csrt,opencv:vit",
            "--long-term", "--out", str(tmp_path), "--threads", "1", "--quiet"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "absent->lost" in table and "opencv:vit" in table
    res = json.loads((tmp_path / "longterm.json").read_text())
    absent = int(np.isnan(np.genfromtxt(train_videos / "UAV123_10fps_person9.txt", delimiter=",")[1:]).any(axis=1).sum())
    for name, r in res["trackers"].items():
        assert r["absent_frames"] == absent == 12 and r["visible_frames"] == 220 - absent
        assert 0.0 <= r["f_score"] <= 1.0 and 0.0 <= r["absent_lost"] <= 1.0 and 0.0 <= r["visible_lost"] <= 1.0
        assert r["returns"] >= 1 and len(r["curves"]["precision"]) == len(THRESHOLDS)
    assert res["trackers"]["sstrack"]["f_score"] > 0.3  # it tracks the person while visible
