"""Offline runs and the streaming simulator, made deterministic with injected latencies."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sstrack_edge.evaluation import Sequence, run_offline, run_streaming

N = 12
FPS = 20.0
T = 1.0 / FPS
INIT = np.array([1.0, 1.0, 5.0, 5.0])


class FrameIndexTracker:
    """Test double: reads the frame index written into pixel (0, 0) and returns a box encoding it."""

    def __init__(self):
        self.seen = []

    def init(self, frame, box):
        self.seen.append(int(frame[0, 0, 0]))

    def update(self, frame):
        i = int(frame[0, 0, 0])
        self.seen.append(i)
        return True, (100.0 + i, 0.0, 10.0, 10.0)


class LosesOddFrames(FrameIndexTracker):
    def update(self, frame):
        ok, box = super().update(frame)
        return self.seen[-1] % 2 == 0, box


def box_of(i: int) -> list[float]:
    return INIT.tolist() if i == 0 else [100.0 + i, 0.0, 10.0, 10.0]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    d = tmp_path_factory.mktemp("frames")
    paths = []
    for i in range(N):
        p = d / f"{i + 1:06d}.png"  # lossless: the pixel value is the frame index
        cv2.imwrite(str(p), np.full((8, 8, 3), i, dtype=np.uint8))
        paths.append(p)
    gt = np.tile(INIT, (N, 1))
    return Sequence("indexed", paths, gt, fps=FPS)


def constant(latency):
    return lambda i, measured: latency


def test_offline_run_processes_every_frame_in_order(sequence):
    tracker = FrameIndexTracker()
    run = run_offline(tracker, sequence)
    assert tracker.seen == list(range(N))
    assert run.boxes.tolist() == [box_of(i) for i in range(N)]
    assert run.times.shape == (N,) and (run.times > 0).all()


def test_frames_reported_lost_have_no_box(sequence):
    run = run_offline(LosesOddFrames(), sequence)
    assert np.isnan(run.boxes[1::2]).all() and run.boxes[2].tolist() == box_of(2)
    stream = run_streaming(LosesOddFrames(), sequence, FPS, latency_fn=constant(0.5 * T))
    assert np.array_equal(stream.boxes, run.boxes, equal_nan=True)


def test_tracker_faster_than_the_frame_rate_scores_as_offline(sequence):
    run = run_streaming(FrameIndexTracker(), sequence, FPS, latency_fn=constant(0.5 * T))
    assert run.processed.tolist() == list(range(N))
    assert run.boxes.tolist() == [box_of(i) for i in range(N)]


def test_latency_of_two_frame_periods_processes_every_other_frame(sequence):
    tracker = FrameIndexTracker()
    run = run_streaming(tracker, sequence, FPS, latency_fn=constant(2 * T))
    # the last frame (11) is the newest one when frame 10 finishes at 12T
    assert run.processed.tolist() == [0, 2, 4, 6, 8, 10, 11]
    assert tracker.seen == [0, 2, 4, 6, 8, 10, 11]
    # a missed frame i shows the box finished last before it arrived: frame i-3's (frame i-1 is still running)
    expected = [box_of(0), box_of(0)] + [box_of(i) if i % 2 == 0 else box_of(i - 3) for i in range(2, N - 1)]
    assert run.boxes.tolist() == expected + [box_of(N - 1)]
    assert run.times[1:N - 1:2].tolist() == [0.0] * 5


def test_latency_of_one_and_a_half_periods_takes_the_newest_arrived_frame(sequence):
    run = run_streaming(FrameIndexTracker(), sequence, FPS, latency_fn=constant(1.5 * T))
    # init ends at 1.5T -> frame 1; ends 3T -> frame 3; 4.5T -> 4; 6T -> 6; 7.5T -> 7; ...
    assert run.processed.tolist() == [0, 1, 3, 4, 6, 7, 9, 10, 11]
    assert run.boxes[2].tolist() == box_of(0)  # at 2T only the init output exists (frame 1 ends at 3T)
    assert run.boxes[5].tolist() == box_of(3)  # at 5T: frame 3 ended at 4.5T, frame 4 runs until 6T
    assert run.boxes[8].tolist() == box_of(6)


def test_one_slow_frame_makes_the_tracker_skip_ahead(sequence):
    latency = lambda i, measured: 3.2 * T if i == 3 else 0.5 * T  # noqa: E731
    run = run_streaming(FrameIndexTracker(), sequence, FPS, latency_fn=latency)
    assert run.processed.tolist() == [0, 1, 2, 3, 6, 7, 8, 9, 10, 11]
    assert run.boxes[4].tolist() == box_of(2) and run.boxes[5].tolist() == box_of(2)
    assert run.boxes[6].tolist() == box_of(6)


def test_measured_latency_drives_the_clock(sequence):
    # at a frame rate no tracker can follow, each update jumps to the newest frame: the last one
    run = run_streaming(FrameIndexTracker(), sequence, fps=1e9)
    assert run.processed.tolist() == [0, N - 1]
    slow_source = run_streaming(FrameIndexTracker(), sequence, fps=1e-3)
    assert slow_source.processed.tolist() == list(range(N))


def test_bad_frame_rate_or_latency_is_a_value_error(sequence):
    with pytest.raises(ValueError, match="positive frame rate"):
        run_streaming(FrameIndexTracker(), sequence, fps=0)
    with pytest.raises(ValueError, match="latency must be positive"):
        run_streaming(FrameIndexTracker(), sequence, FPS, latency_fn=constant(0.0))


class ScoredTracker(LosesOddFrames):
    """Reports lost on odd frames and a confidence encoding the frame index."""

    def confidence(self, ok):
        return self.seen[-1] / 100.0


def test_runs_keep_what_the_tracker_reported_and_missed_frames_inherit_it(sequence):
    conf = lambda tracker, ok: tracker.confidence(ok)  # noqa: E731
    offline = run_offline(ScoredTracker(), sequence, confidence_fn=conf)
    assert offline.reported.tolist() == [box_of(i) for i in range(N)]  # the box also where it said lost
    assert offline.ok.tolist() == [True] + [i % 2 == 0 for i in range(1, N)]
    assert np.isnan(offline.confidence[0]) and offline.confidence[1:].tolist() == [i / 100 for i in range(1, N)]
    fast = run_streaming(ScoredTracker(), sequence, FPS, latency_fn=constant(0.5 * T), confidence_fn=conf)
    for field in ("boxes", "reported", "ok", "confidence"):
        assert np.array_equal(getattr(fast, field), getattr(offline, field), equal_nan=True), field
    slow = run_streaming(ScoredTracker(), sequence, FPS, latency_fn=constant(2 * T), confidence_fn=conf)
    # processed 0, 2, 4, 6, 8, 10, 11; missed frame i >= 3 shows frame i-3's output, 1 the init
    source = [0, 0, 2, 0, 4, 2, 6, 4, 8, 6, 10, 11]
    assert slow.reported.tolist() == [box_of(s) for s in source]
    assert slow.ok.tolist() == [s % 2 == 0 for s in source]
    assert slow.confidence[1:].tolist() == [1.0 if s == 0 else s / 100 for s in source[1:]]
    assert run_offline(ScoredTracker(), sequence).confidence is None  # no confidence function: none kept
