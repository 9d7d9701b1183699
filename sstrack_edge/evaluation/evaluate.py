"""Evaluate several trackers on a list of sequences, offline and streaming, with resumable results."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .metrics import SequenceScores, Summary, score_sequence, summarize
from .result_files import ResultStore
from .sequence import Sequence
from .trackers import create_tracker, run_identity, tracker_label
from .tracking_runs import LatencyFn, TrackingRun, run_offline, run_streaming

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
) -> list[ModeResult]:
    """Run (or resume) every tracker on every sequence in every mode and score the results."""
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
            runs, scores, computed = {}, {}, []
            bar = tqdm(sequences, desc=f"{label} {mode}", unit="seq", disable=not progress, leave=False)
            for seq in bar:
                run = store.load(mode, label, seq.name, len(seq))
                if run is None:
                    if mode == "offline":
                        run = run_offline(tracker, seq)
                    else:
                        run = run_streaming(tracker, seq, stream_fps or seq.fps, latency_fn=latency_fn)
                    store.save(mode, label, seq.name, run)
                    computed.append(seq.name)
                runs[seq.name] = run
                scores[seq.name] = score_sequence(
                    run.boxes, seq.ground_truth, seq.present(), exclude_first_frame=exclude_first_frame, absent=absent
                )
            all_runs = list(runs.values())
            processed = sum(len(r.processed) for r in all_runs) / sum(len(r.times) for r in all_runs)
            results.append(
                ModeResult(name, label, mode, scores, runs, summarize(list(scores.values())),
                           tracking_fps(all_runs), float(processed), computed)
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
) -> dict[str, TrackingRun]:
    """Offline runs without scoring (test sets with only the first box), resumable like :func:`evaluate`."""
    store, label, runs = ResultStore(out_dir), tracker_label(tracker), {}
    instance = create_tracker(tracker, threads=threads, nanotrack_dir=nanotrack_dir, vittrack_dir=vittrack_dir)
    if store.claim("offline", label, run_identity(instance)):
        log.warning("offline/%s held results of another model or setting: recomputed", label)
    for seq in tqdm(sequences, desc=f"{label} offline", unit="seq", disable=not progress, leave=False):
        run = store.load("offline", label, seq.name, len(seq))
        if run is None:
            run = run_offline(instance, seq)
            store.save("offline", label, seq.name, run)
        runs[seq.name] = run
    return runs
