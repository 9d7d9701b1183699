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
_EPS = 1e-9


@dataclass
class TrackingRun:
    """Boxes scored for every frame (NaN where the tracker reported ``ok=False``) and per-frame
    processing time (0 for missed frames)."""

    boxes: np.ndarray  # N x 4
    times: np.ndarray  # N, seconds; offline: every frame; streaming: 0 where the frame was missed
    # rows per network call the times were measured at: 1 = single-tracker latency; K > 1 (--batch K):
    # frame 0 is the tracker's own init, every other frame the batch step's wall time / its rows
    batch: int = 1

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


def run_offline(tracker, sequence: Sequence) -> TrackingRun:
    """One pass over every frame; times cover ``init``/``update`` only (frame decoding excluded)."""
    n = len(sequence)
    boxes = np.empty((n, 4), dtype=np.float64)
    times = np.empty(n, dtype=np.float64)
    boxes[0] = sequence.init_box
    _, times[0] = _timed(tracker.init, sequence.read_frame(0), sequence.init_box)
    for i in range(1, n):
        (ok, box), times[i] = _timed(tracker.update, sequence.read_frame(i))
        boxes[i] = _as_box(box, bool(ok))
    return TrackingRun(boxes, times)


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
) -> TrackingRun:
    """Real-time run at ``fps`` (see the module docstring). Only processed frames are decoded."""
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"streaming needs a positive frame rate, got {fps!r} (set --fps or sequences.json)")
    period = 1.0 / float(fps)
    n = len(sequence)
    charge = latency_fn if latency_fn is not None else (lambda i, measured: measured)

    own_box: dict[int, np.ndarray] = {0: sequence.init_box}
    finished: list[tuple[float, np.ndarray]] = []  # (finish time, box), in time order
    times = np.zeros(n, dtype=np.float64)

    _, measured = _timed(tracker.init, sequence.read_frame(0), sequence.init_box)
    latency = float(charge(0, measured))
    if not latency > 0:
        raise ValueError(f"latency must be positive, got {latency} for frame 0")
    times[0] = latency
    done = latency
    finished.append((done, sequence.init_box))
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
        (ok, box), measured = _timed(tracker.update, sequence.read_frame(k))
        latency = float(charge(k, measured))
        if not latency > 0:
            raise ValueError(f"latency must be positive, got {latency} for frame {k}")
        times[k] = latency
        done = start + latency
        own_box[k] = _as_box(box, bool(ok))
        finished.append((done, own_box[k]))
        last = k
        if k == n - 1:
            break

    boxes = np.empty((n, 4), dtype=np.float64)
    finish_times = np.array([t for t, _ in finished])
    for i in range(n):
        if i in own_box:
            boxes[i] = own_box[i]
            continue
        j = int(np.searchsorted(finish_times, i * period + _EPS, side="right")) - 1
        boxes[i] = finished[j][1] if j >= 0 else sequence.init_box
    return TrackingRun(boxes, times)
