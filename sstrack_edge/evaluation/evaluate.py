"""Evaluate several trackers on a list of sequences, offline and streaming, with resumable results."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from tqdm import tqdm

from .metrics import SequenceScores, Summary, score_sequence, summarize
from .result_files import ResultStore
from .sequence import Sequence
from .trackers import create_tracker, run_identity, tracker_label
from .tracking_runs import LatencyFn, TrackingRun, run_offline, run_offline_batched, run_streaming

MODES = ("offline", "streaming")
log = logging.getLogger(__name__)


@dataclass
class ModeResult:
    """One tracker in one mode: per-sequence scores and runs, and their summary."""

    tracker: str
    label: str
    mode: str
    scores: dict[str, SequenceScores]
    runs: dict[str, TrackingRun]
    summary: Summary
    fps: float  # processed frames (init excluded) / their summed processing time
    processed_fraction: float  # share of frames the tracker processed (1.0 offline)
    computed: list[str] = field(default_factory=list)  # sequences run now (the rest was resumed)
    batch: int = 1  # sequences per network call for the ones run now (1: one tracker at a time)
    wall_s: float = 0.0  # wall-clock seconds of running them (frame decoding and result files included)

    @property
    def timing(self) -> str:
        """What :attr:`fps` measures: ``latency`` (every run timed alone) or ``throughput, batch K``
        (runs of ``--batch K``: per-frame time = a batch step's wall time / its rows)."""
        kinds = sorted({r.batch for r in self.runs.values()})
        if kinds == [1]:
            return "latency"
        return ("throughput, batch " if len(kinds) == 1 else "mixed, batch ") + "/".join(map(str, kinds))


def check_batch(batch) -> int:
    if not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"batch (sequences per network call) must be a positive integer, got {batch!r}")
    return int(batch)


def batch_trackers(tracker, batch: int, label: str) -> list | None:
    """``batch`` trackers on ``tracker``'s network for :func:`run_offline_batched` (``tracker`` the
    first), or None (with a one-line note) when ``batch`` is 1 or ``tracker`` cannot run batched: an
    OpenCV peer, or an sstrack variant that takes one target per call (card without ``batch: "dynamic"``)."""
    if batch == 1:
        return None
    model = getattr(tracker, "model", None)
    why = "not an sstrack tracker" if model is None else None
    if why is None:
        try:
            model.create_batch_runner()
        except ValueError as e:
            why = str(e)
    if why is not None:
        log.warning("--batch does not apply to %s (%s): tracked one sequence at a time", label, why)
        return None
    from sstrack_edge.tracker import Tracker

    return [tracker] + [Tracker(model, **tracker.settings) for _ in range(batch - 1)]


def _track(tracker, mode: str, sequences: list[Sequence], batch: int, label: str, stream_fps=None,
           latency_fn=None) -> Iterator[tuple[Sequence, TrackingRun]]:
    """Run ``sequences`` in ``mode``; offline with ``batch`` > 1 through one batched network."""
    if mode == "offline":
        trackers = batch_trackers(tracker, min(batch, len(sequences)), label) if len(sequences) > 1 else None
        if trackers is not None:
            yield from run_offline_batched(trackers, sequences)
            return
    for seq in sequences:
        if mode == "offline":
            yield seq, run_offline(tracker, seq)
        else:
            yield seq, run_streaming(tracker, seq, stream_fps or seq.fps, latency_fn=latency_fn)


def tracking_fps(runs: list[TrackingRun]) -> float:
    t = np.concatenate([r.times[1:] for r in runs])
    t = t[t > 0]
    return float(len(t) / t.sum()) if t.size and t.sum() > 0 else float("nan")


def evaluate(
    sequences: list[Sequence],
    trackers: list[str],
    out_dir: str | os.PathLike,
    modes: tuple[str, ...] = MODES,
    stream_fps: float | None = None,
    threads: int | None = None,
    nanotrack_dir: str | os.PathLike | None = None,
    vittrack_dir: str | os.PathLike | None = None,
    exclude_first_frame: bool = True,
    absent: str = "exclude",
    latency_fn: LatencyFn | None = None,
    progress: bool = True,
    batch: int = 1,
) -> list[ModeResult]:
    """Run (or resume) every tracker on every sequence in every mode and score the results.
    ``batch`` > 1: the offline runs of a batched sstrack variant track that many sequences at a time
    through one network (same boxes; see :func:`run_offline_batched`); streaming, OpenCV peers and
    single-target variants run one sequence at a time."""
    batch = check_batch(batch)
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown evaluation mode {m!r}; known: {', '.join(MODES)}")
    if not sequences:
        raise ValueError("no sequences to evaluate")
    unlabelled = [s.name for s in sequences if not s.has_full_annotation]
    if unlabelled:
        raise ValueError(
            f"sequences without full ground truth cannot be scored: {', '.join(unlabelled[:5])}"
            + (" ..." if len(unlabelled) > 5 else "")
            + " (use --submission to only write result files)"
        )
    if "streaming" in modes:
        no_rate = [s.name for s in sequences if not (stream_fps or s.fps)]
        if no_rate:
            raise ValueError(f"streaming needs a frame rate: pass --fps (no fps for {', '.join(no_rate[:5])})")
    labels = [tracker_label(t) for t in trackers]
    if len(set(labels)) != len(labels):
        raise ValueError(f"tracker names must give distinct result folders, got {labels}")

    if batch > 1 and "streaming" in modes:
        log.warning("--batch applies to offline runs: streaming runs one tracker at a time (it needs its latency)")
    store = ResultStore(out_dir)
    # build every tracker before running any, so a bad name fails fast; results are keyed by what
    # each one runs (card, files, settings), not by its folder name
    instances = {name: create_tracker(name, threads=threads, nanotrack_dir=nanotrack_dir, vittrack_dir=vittrack_dir)
                 for name in trackers}
    for name, label in zip(trackers, labels):
        identity = run_identity(instances[name])
        for m in modes:
            if store.claim(m, label, identity):
                log.warning("%s/%s held results of another model or setting: recomputed", m, label)
    results = []
    for name, label in zip(trackers, labels):
        tracker = instances[name]
        for mode in modes:
            runs = {seq.name: store.load(mode, label, seq.name, len(seq)) for seq in sequences}
            todo = [seq for seq in sequences if runs[seq.name] is None]
            t0 = time.perf_counter()
            with tqdm(total=len(todo), desc=f"{label} {mode}", unit="seq", disable=not progress, leave=False) as bar:
                for seq, run in _track(tracker, mode, todo, batch, name, stream_fps, latency_fn):
                    store.save(mode, label, seq.name, run)
                    runs[seq.name] = run
                    bar.update()
            wall = time.perf_counter() - t0 if todo else 0.0
            scores = {
                seq.name: score_sequence(runs[seq.name].boxes, seq.ground_truth, seq.present(),
                                         exclude_first_frame=exclude_first_frame, absent=absent)
                for seq in sequences
            }
            all_runs = list(runs.values())
            processed = sum(len(r.processed) for r in all_runs) / sum(len(r.times) for r in all_runs)
            used = max([runs[seq.name].batch for seq in todo], default=1)
            results.append(
                ModeResult(name, label, mode, scores, runs, summarize(list(scores.values())),
                           tracking_fps(all_runs), float(processed), [seq.name for seq in todo], used, wall)
            )
    return results


def track_sequences(
    sequences: list[Sequence],
    tracker: str,
    out_dir: str | os.PathLike,
    threads: int | None = None,
    nanotrack_dir: str | os.PathLike | None = None,
    vittrack_dir: str | os.PathLike | None = None,
    progress: bool = True,
    batch: int = 1,
) -> dict[str, TrackingRun]:
    """Offline runs without scoring (test sets with only the first box), resumable like :func:`evaluate`."""
    batch = check_batch(batch)
    store, label = ResultStore(out_dir), tracker_label(tracker)
    instance = create_tracker(tracker, threads=threads, nanotrack_dir=nanotrack_dir, vittrack_dir=vittrack_dir)
    if store.claim("offline", label, run_identity(instance)):
        log.warning("offline/%s held results of another model or setting: recomputed", label)
    runs = {seq.name: store.load("offline", label, seq.name, len(seq)) for seq in sequences}
    todo = [seq for seq in sequences if runs[seq.name] is None]
    for seq, run in tqdm(_track(instance, "offline", todo, batch, tracker), total=len(todo),
                         desc=f"{label} offline", unit="seq", disable=not progress, leave=False):
        store.save("offline", label, seq.name, run)
        runs[seq.name] = run
    return runs
