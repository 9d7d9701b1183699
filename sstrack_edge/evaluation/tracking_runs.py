"""Tracking runs: offline (every frame, timed) and streaming (real-time, on a simulated clock).

Streaming model (as the VOT real-time experiment and streaming-perception evaluation):

* frame ``i`` arrives at ``i / fps`` seconds; the tracker is initialised on frame 0 at time 0;
* processing a frame takes the tracker's latency measured on this machine (``latency_fn`` can
  replace it, e.g. for deterministic tests or to emulate a slower device);
* when the tracker finishes at time ``t`` it takes the **newest** frame that has arrived by ``t``
  (frames in between are missed); if none is newer than the last one it processed it waits for
  the next arrival;
* every frame is scored: a processed frame on its own output, a missed frame on the box the tracker
  had last produced when that frame arrived (the initial box before the first output).

A tracker faster than the frame rate therefore scores exactly as offline.

Batched offline (``sstrack-edge eval --batch K``, :func:`run_offline_batched`): up to K sequences
tracked at once by K :class:`~sstrack_edge.Tracker` objects on one batched network
(:class:`~sstrack_edge.TrackerBatch`, one network call per step, each tracker on the next frame of
its own sequence; a finished sequence's slot takes the next pending one). A row's output depends
only on that row, so the boxes equal those of :func:`run_offline`. Its per-frame times are the
step's wall time divided by the rows in the step: a throughput share, not single-target latency
(``TrackingRun.batch`` > 1 marks them).

The offline and streaming runs also keep what the tracker reported on each frame, for the presence (long-term)
evaluation: the box also when it said lost (``reported``), its ``ok`` flag and, when a
``confidence`` function is given, its confidence. A missed frame inherits all three from the output
it is scored on; before the first output that is the initialisation (the given box, ``ok``,
confidence 1). Frame 0's confidence is NaN (not scored).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .sequence import Sequence

# latency_fn(frame_index, measured_seconds) -> seconds charged on the simulated clock
LatencyFn = Callable[[int, float], float]
# confidence_fn(tracker, ok) -> the tracker's confidence after an update (longterm.tracker_confidence)
ConfidenceFn = Callable[[object, bool], float]
_EPS = 1e-9


@dataclass
class TrackingRun:
    """Boxes scored for every frame (NaN where the tracker reported ``ok=False``) and per-frame
    processing time (0 for missed frames); for a run just made (not one loaded from a result file)
    also what the tracker reported (see the module docstring)."""

    boxes: np.ndarray  # N x 4
    times: np.ndarray  # N, seconds; offline: every frame; streaming: 0 where the frame was missed
    # rows per network call the times were measured at: 1 = single-tracker latency; K > 1 (--batch K):
    # frame 0 is the tracker's own init, every other frame the batch step's wall time / its rows
    batch: int = 1
    reported: np.ndarray | None = None  # N x 4, the box reported also with ok=False (NaN if it gave none)
    ok: np.ndarray | None = None  # N bool, the tracker's own present / lost decision; True on frame 0
    confidence: np.ndarray | None = None  # N, only with a confidence function; NaN on frame 0

    @property
    def processed(self) -> np.ndarray:
        return np.flatnonzero(self.times > 0)


NO_BOX = np.full(4, np.nan)


def _as_box(box, ok: bool = True) -> np.ndarray:
    """The tracker's box, or NaN (no prediction, scored as a failure) when it reports ``ok=False``."""
    if not ok:
        return NO_BOX.copy()
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,):
        raise ValueError(f"tracker returned a box of shape {b.shape}, expected (x, y, w, h)")
    return b


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


class _Outputs:
    """What the tracker reported per processed frame: the scored box, the reported box, ok, confidence."""

    def __init__(self, n: int, init_box: np.ndarray, confidence_fn: ConfidenceFn | None):
        self.confidence_fn = confidence_fn
        self.boxes = np.full((n, 4), np.nan)
        self.reported = np.full((n, 4), np.nan)
        self.ok = np.ones(n, dtype=bool)
        self.conf = np.full(n, np.nan)
        self.boxes[0] = self.reported[0] = init_box
        self.conf[0] = 1.0  # the initialisation, inherited by frames missed before the first output

    def update(self, tracker, frame: np.ndarray, k: int) -> float:
        """``tracker.update`` on frame ``k``; records its output, returns the measured seconds."""
        (ok, box), measured = _timed(tracker.update, frame)
        ok = bool(ok)
        self.boxes[k] = _as_box(box, ok)
        try:
            self.reported[k] = np.asarray(box, dtype=np.float64).reshape(4)
        except (TypeError, ValueError):
            pass  # no usable box with ok=False (an ok box was checked by _as_box): stays NaN
        self.ok[k] = ok
        if self.confidence_fn is not None:
            self.conf[k] = float(self.confidence_fn(tracker, ok))
        return measured

    def run(self, times: np.ndarray, source: np.ndarray | None = None) -> TrackingRun:
        """Frame ``i`` shows the output of processed frame ``source[i]`` (offline: its own)."""
        idx = np.arange(len(times)) if source is None else source
        conf = self.conf[idx]
        conf[0] = np.nan
        return TrackingRun(self.boxes[idx], times, reported=self.reported[idx], ok=self.ok[idx],
                           confidence=conf if self.confidence_fn is not None else None)


def run_offline(tracker, sequence: Sequence, confidence_fn: ConfidenceFn | None = None) -> TrackingRun:
    """One pass over every frame; times cover ``init``/``update`` only (frame decoding excluded)."""
    n = len(sequence)
    out = _Outputs(n, sequence.init_box, confidence_fn)
    times = np.empty(n, dtype=np.float64)
    _, times[0] = _timed(tracker.init, sequence.read_frame(0), sequence.init_box)
    for i in range(1, n):
        times[i] = out.update(tracker, sequence.read_frame(i), i)
    return out.run(times)


def run_offline_batched(trackers: list, sequences: list[Sequence]) -> Iterator[tuple[Sequence, TrackingRun]]:
    """:func:`run_offline` for several sequences at once: ``trackers`` (sstrack ``Tracker`` objects
    sharing one batched ``LoadedModel``) track ``len(trackers)`` sequences at a time with one
    :class:`~sstrack_edge.TrackerBatch` call per step; yields ``(sequence, run)`` as each finishes."""
    from sstrack_edge.multi_tracker import TrackerBatch

    step = TrackerBatch(trackers[0].model)  # ValueError for a single-target variant
    pending, free, slots = iter(sequences), list(trackers), []  # slot: [tracker, sequence, next frame, run]
    while True:
        while free and (seq := next(pending, None)) is not None:  # keep the batch full
            n, tracker = len(seq), free.pop()
            boxes, times = np.empty((n, 4), dtype=np.float64), np.empty(n, dtype=np.float64)
            boxes[0] = seq.init_box
            _, times[0] = _timed(tracker.init, seq.read_frame(0), seq.init_box)
            slots.append([tracker, seq, 1, TrackingRun(boxes, times, batch=len(trackers))])
        done = [s for s in slots if s[2] == len(s[1])]
        for slot in done:
            slots.remove(slot)
            free.append(slot[0])
            yield slot[1], slot[3]
        if done:
            continue  # refill the freed slots before the next step
        if not slots:
            return
        frames = [seq.read_frame(i) for _, seq, i, _ in slots]
        results, elapsed = _timed(step.update, [s[0] for s in slots], frames)
        for slot, result in zip(slots, results):
            if isinstance(result, Exception):
                raise result  # as Tracker.update alone would
            run, i = slot[3], slot[2]
            run.boxes[i] = _as_box(result.bbox, bool(result.ok))
            run.times[i] = elapsed / len(slots)
            slot[2] = i + 1


def run_streaming(
    tracker,
    sequence: Sequence,
    fps: float,
    latency_fn: LatencyFn | None = None,
    confidence_fn: ConfidenceFn | None = None,
) -> TrackingRun:
    """Real-time run at ``fps`` (see the module docstring). Only processed frames are decoded."""
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"streaming needs a positive frame rate, got {fps!r} (set --fps or sequences.json)")
    period = 1.0 / float(fps)
    n = len(sequence)
    charge = latency_fn if latency_fn is not None else (lambda i, measured: measured)

    out = _Outputs(n, sequence.init_box, confidence_fn)
    finished: list[tuple[float, int]] = []  # (finish time, processed frame), in time order
    times = np.zeros(n, dtype=np.float64)

    _, measured = _timed(tracker.init, sequence.read_frame(0), sequence.init_box)
    latency = float(charge(0, measured))
    if not latency > 0:
        raise ValueError(f"latency must be positive, got {latency} for frame 0")
    times[0] = latency
    done = latency
    finished.append((done, 0))
    last = 0
    while True:
        newest = min(n - 1, int(math.floor(done / period + _EPS)))
        if newest > last:
            k, start = newest, done
        else:
            k = last + 1
            if k >= n:
                break
            start = max(done, k * period)
        measured = out.update(tracker, sequence.read_frame(k), k)
        latency = float(charge(k, measured))
        if not latency > 0:
            raise ValueError(f"latency must be positive, got {latency} for frame {k}")
        times[k] = latency
        done = start + latency
        finished.append((done, k))
        last = k
        if k == n - 1:
            break

    # frame i: its own output if processed, else the output finished last when it arrived
    source = np.zeros(n, dtype=np.int64)
    finish_times = np.array([t for t, _ in finished])
    processed = {k for _, k in finished}
    for i in range(n):
        if i in processed:
            source[i] = i
            continue
        j = int(np.searchsorted(finish_times, i * period + _EPS, side="right")) - 1
        source[i] = finished[j][1] if j >= 0 else 0
    return out.run(times, source)
