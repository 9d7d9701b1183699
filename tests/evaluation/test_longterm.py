"""Long-term (presence) evaluation: VOT-LT precision / recall / F, presence rates, re-acquisition."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sstrack_edge.evaluation import create_tracker, load_dataset
from sstrack_edge.evaluation.cli import main
from sstrack_edge.evaluation.absence import KINDS, inject_absences
from sstrack_edge.evaluation.longterm import (
    THRESHOLDS, LongTermRun, evaluate_longterm, run_longterm, score_longterm, summarize_longterm,
)

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
    """The confidence the long-term scoring reads is the score the lost decision compares: a frame
    is ok only at or above the bar in force (the lost threshold, raised by ``lost_relative``), lost
    only below the re-acquire bar, and always lost below the card's lost threshold."""
    (seq,) = load_dataset(train_videos, "videos", ["UAV123_10fps_person9"])
    tracker = create_tracker("sstrack", threads=1)
    run = run_longterm(tracker, seq)
    t = tracker.lost_threshold
    assert np.isnan(run.confidence[0]) and np.isfinite(run.confidence[1:]).all()
    assert (~run.ok[1:][run.confidence[1:] < t]).all()
    assert np.isfinite(run.boxes).all()  # a box is reported also for lost frames (the last good one)
    tracker.init(seq.read_frame(0), seq.init_box)  # frame by frame, with the bars in force before each
    for i in range(1, len(seq)):
        low, high = tracker.current_lost_threshold, tracker.reacquire_threshold
        ok, _ = tracker.update(seq.read_frame(i))
        score = tracker.result.score
        assert (score >= low) if ok else (score < high), (i, ok, score, low, high)
        assert score >= t or not ok


@pytest.mark.realdata
def test_long_term_cli_on_a_clip_with_absences(train_videos, tmp_path, capsys):
    argv = [str(train_videos), "--sequences", "UAV123_10fps_person9", "--trackers", "sstrack,opencv:csrt,opencv:vit",
            "--long-term", "--out", str(tmp_path), "--threads", "1", "--quiet"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "absent->lost" in table and "opencv:vit" in table
    res = json.loads((tmp_path / "longterm.json").read_text())
    assert res["modes"] == ["offline"] and res["injection"] is None  # --long-term alone: offline
    absent = int(np.isnan(np.genfromtxt(train_videos / "UAV123_10fps_person9.txt", delimiter=",")[1:]).any(axis=1).sum())
    for name, modes in res["trackers"].items():
        (r,) = modes.values()
        assert r["by_kind"]["real"]["absent_frames"] == absent  # the clip's own absences, reported as such
        assert r["absent_frames"] == absent == 12 and r["visible_frames"] == 220 - absent
        assert 0.0 <= r["f_score"] <= 1.0 and 0.0 <= r["absent_lost"] <= 1.0 and 0.0 <= r["visible_lost"] <= 1.0
        assert r["returns"] >= 1 and len(r["curves"]["precision"]) == len(THRESHOLDS)
    assert res["trackers"]["sstrack"]["offline"]["f_score"] > 0.3  # it tracks the person while visible


def test_presence_counts_per_kind():
    # frames 0..7: visible, blank x2, visible, visible, real-absent, visible, visible
    nan = [np.nan] * 4
    gt = np.array([BOX, nan, nan, BOX, BOX, nan, BOX, BOX])
    kinds = np.array(["", "blank", "blank", "", "", "real", "real", ""], dtype=object)  # a return: the kind before it
    ok = np.array([True, False, True, False, True, False, True, True])
    run = LongTermRun(np.array([BOX] * 8), np.where(ok, 0.9, 0.1), ok)
    s = score_longterm(run, gt, ~np.isnan(gt[:, 0]), kinds)
    blank, real = s.by_kind["blank"], s.by_kind["real"]
    assert (blank.absent_frames, blank.absent_lost, blank.visible_frames, blank.visible_lost) == (2, 1, 0, 0)
    assert blank.reacquire == [1] and real.reacquire == [0]  # returns at 3 (lost, ok at 4) and at 6
    assert (real.absent_frames, real.absent_lost, real.visible_frames, real.visible_lost) == (1, 1, 1, 0)
    summary = summarize_longterm([s, s])
    assert summary["by_kind"]["blank"] == {"absent_frames": 4, "absent_lost": 0.5, "visible_frames": 0,
                                           "visible_lost": None, "returns": 2, "reacquire_median": 1.0}
    assert summary["by_kind"]["real"]["visible_lost"] == 0.0
    assert summary["absent_frames"] == 6 and set(summary["by_kind"]) == {"blank", "real"}


CLIPS = ["DTB70_MountainBike6", "OTB_Bird2"]  # 81 and 99 frames, no absences of their own


@pytest.mark.realdata
def test_long_term_cli_with_injected_absences_reports_each_kind(train_videos, tmp_path, capsys):
    argv = [str(train_videos), "--sequences", ",".join(CLIPS), "--trackers", "sstrack,opencv:csrt", "--long-term",
            "--inject", "blank,noise,scene,pan,occluder", "--inject-seed", "5", "--out", str(tmp_path),
            "--threads", "1", "--quiet"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    res = json.loads((tmp_path / "longterm.json").read_text())
    assert res["injection"]["kinds"] == list(KINDS) and res["injection"]["seed"] == 5
    injected = inject_absences(load_dataset(train_videos, "videos", CLIPS), KINDS, 5)
    events = {s.name: s.meta["absence_events"] for s in injected}
    assert res["injection"]["events"] == events
    kinds = {e["kind"] for ev in events.values() for e in ev}
    assert len(kinds) == 4  # seed 5: blank, noise, scene, occluder
    absent = {k: sum(int(np.isnan(s.ground_truth[e.start:e.stop, 0]).sum()) for s in injected for e in s.events
                     if e.kind == k) for k in kinds}
    assert "by kind of absence" in table
    for name in ("sstrack", "opencv:csrt"):
        r = res["trackers"][name]["offline"]
        assert set(r["by_kind"]) == kinds  # no real absences in these clips
        for k in kinds:
            assert r["by_kind"][k]["absent_frames"] == absent[k]
            assert r["by_kind"][k]["returns"] == sum(e["kind"] == k for ev in events.values() for e in ev)
            assert 0.0 <= r["by_kind"][k]["absent_lost"] <= 1.0
            line = [ln for ln in table.splitlines() if ln.startswith(name + " ") and f" {k} " in ln]
            assert len(line) == 1 and f"{r['by_kind'][k]['absent_frames']:6d}" in line[0]
        assert r["absent_frames"] == sum(absent.values())
    # the runtime's score drops on blank and noise frames: it reports them lost
    by_kind = res["trackers"]["sstrack"]["offline"]["by_kind"]
    assert all(by_kind[k]["absent_lost"] > 0.5 for k in ("blank", "noise") if k in by_kind)


@pytest.mark.realdata
def test_streaming_long_term_equals_offline_when_fast_and_differs_when_slow(train_videos):
    (seq,) = inject_absences(load_dataset(train_videos, "videos", CLIPS), KINDS, 0)[:1]
    period = 1.0 / seq.fps
    fast = lambda i, measured: 0.5 * period  # noqa: E731
    slow = lambda i, measured: 3.0 * period  # noqa: E731
    offline = run_longterm(create_tracker("opencv:csrt"), seq)
    stream = run_longterm(create_tracker("opencv:csrt"), seq, fps=seq.fps, latency_fn=fast)
    for field in ("boxes", "confidence", "ok"):
        assert np.array_equal(getattr(stream, field), getattr(offline, field), equal_nan=True), field
    lagging = run_longterm(create_tracker("opencv:csrt"), seq, fps=seq.fps, latency_fn=slow)
    # frames 0, 3, 6, ... processed, frame 3m finished at 3(m+1) periods: a missed frame 3m+1 or 3m+2
    # shows frame 3(m-1)'s box, confidence and ok (the initialisation's for 1, 2, 4, 5)
    assert not np.array_equal(lagging.boxes, offline.boxes)
    for i in range(1, len(seq) - 3):
        if i % 3 == 0:
            continue
        src = max(0, 3 * (i // 3) - 3)
        assert np.array_equal(lagging.boxes[i], lagging.boxes[src] if src else seq.init_box), i
        assert lagging.ok[i] == (lagging.ok[src] if src else True)
        assert lagging.confidence[i] == (lagging.confidence[src] if src else 1.0)
    rows = evaluate_longterm([seq], ["opencv:csrt"], modes=("offline", "streaming"), latency_fn=fast)
    assert rows["opencv:csrt"]["streaming"] == rows["opencv:csrt"]["offline"]
    rows = evaluate_longterm([seq], ["opencv:csrt"], modes=("offline", "streaming"), latency_fn=slow)
    off, st = rows["opencv:csrt"]["offline"], rows["opencv:csrt"]["streaming"]
    assert st != off and st["absent_frames"] == off["absent_frames"]


@pytest.mark.realdata
def test_bad_injection_input_exits_2_with_a_message(train_videos, tmp_path, capsys):
    base = [str(train_videos), "--sequences", CLIPS[0], "--trackers", "opencv:csrt", "--out", str(tmp_path), "--quiet"]
    for extra, message in ((["--long-term", "--inject", "blank,smoke"], "unknown absence kind"),
                           (["--long-term", "--inject", "blank", "--inject-seed", "-1"], "non-negative")):
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        assert e.value.code == 2 and message in capsys.readouterr().err
    assert main(base + ["--inject", "blank"]) == 2 and "with --long-term" in capsys.readouterr().err
    assert main(base + ["--long-term", "--inject", "scene"]) == 2 and "another clip" in capsys.readouterr().err
    assert main(base + ["--long-term", "--inject", "blank", "--starts", "3"]) == 2
    assert "--starts" in capsys.readouterr().err
    # a clip too short for an event: the first 30 frames of a real clip, as a sot folder
    (seq,) = load_dataset(train_videos, "videos", CLIPS[:1])
    root = tmp_path / "short"
    (root / "clip" / "img").mkdir(parents=True)
    for i, frame in enumerate(seq.frames[:30], start=1):
        (root / "clip" / "img" / f"{i:06d}.jpg").symlink_to(frame)
    np.savetxt(root / "clip" / "groundtruth.txt", seq.ground_truth[:30], delimiter=",", fmt="%.2f")
    argv = [str(root), "--format", "sot", "--trackers", "opencv:csrt", "--long-term", "--inject", "blank",
            "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2 and "too short for an absence event" in capsys.readouterr().err
