"""Long-term (presence-aware) evaluation: does the tracker know when the target is gone?

Conventions of the VOT long-term challenge (Lukezic et al., "Now you see me: evaluating performance
in long-term visual tracking", 2018; VOT-LT2018-2022): for every frame the tracker reports a box and
a confidence ``c_t``; at a confidence threshold ``tau`` it claims the target is present when
``c_t >= tau``.

* tracking precision ``Pr(tau)``: mean IoU with the ground truth over the frames it claims present
  (IoU 0 where the target is in fact absent);
* tracking recall ``Re(tau)``: mean over the frames where the target is visible of the IoU on the
  frames it claims present (0 on the others);
* F-score ``F(tau) = 2 Pr Re / (Pr + Re)``; a sequence set is scored by averaging ``Pr`` and ``Re``
  over sequences at each ``tau`` and reporting ``F`` at the best ``tau``.

Besides the curves, what drone software acts on, at the tracker's own decision (``ok``):

* ``absent_lost``: share of target-absent frames the tracker reports lost (want: high);
* ``visible_lost``: share of visible frames it reports lost (want: low);
* ``reacquire``: for each return of the target after at least one absent frame, frames from the
  return until the tracker reports ``ok`` with IoU >= 0.5 (median over returns; a return never
  re-acquired counts as the frames left in the sequence).

The presence rates and re-acquisition are also reported per kind of absence (``by_kind``): the
frames of each injected event kind (:mod:`.absence`) and the ``AFTER_FRAMES`` after it, and ``real``
for the clip's own absences and the frames after them (:func:`.absence.frame_kinds`); a return counts
for the kind of the absent frame before it. Streaming (``fps`` given to :func:`run_longterm`) scores
on a frame what the tracker had reported when the frame arrived (:mod:`.tracking_runs`).

Confidence per tracker: ``sstrack`` the runtime's score (``Tracker.result.score``), OpenCV VitTrack
and NanoTrack ``getTrackingScore()``, other OpenCV trackers their ``ok`` flag (1 or 0). Frame 0 (the
initialisation) is not scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sstrack_edge.geometry import iou_xywh
from .sequence import Sequence
from .tracking_runs import LatencyFn, run_offline, run_streaming

THRESHOLDS = np.linspace(0.0, 1.0, 101)


@dataclass
class LongTermRun:
    boxes: np.ndarray  # N x 4, the box reported for every frame (also when ok is False)
    confidence: np.ndarray  # N, the tracker's confidence; NaN on frame 0
    ok: np.ndarray  # N bool, the tracker's own present / lost decision; True on frame 0


def tracker_confidence(tracker, ok: bool) -> float:
    result = getattr(tracker, "result", None)
    if result is not None and hasattr(result, "score"):
        return float(result.score)
    score = getattr(tracker, "tracking_score", None)
    if callable(score):
        value = score()
        if value is not None:
            return float(value)
    return 1.0 if ok else 0.0


def run_longterm(tracker, sequence: Sequence, fps: float | None = None,
                 latency_fn: LatencyFn | None = None) -> LongTermRun:
    """One pass keeping every reported box, the confidence and the ok flag: offline, or with ``fps``
    streaming on the simulated real-time clock of :mod:`.tracking_runs` (a missed frame inherits
    the box, confidence and ok the tracker had last reported when it arrived)."""
    if fps is None:
        run = run_offline(tracker, sequence, confidence_fn=tracker_confidence)
    else:
        run = run_streaming(tracker, sequence, fps, latency_fn=latency_fn, confidence_fn=tracker_confidence)
    return LongTermRun(run.reported, run.confidence, run.ok)


@dataclass
class PresenceCounts:
    """Frames absent / reported lost, visible / reported lost, and frames to re-acquire per return."""

    absent_frames: int = 0
    absent_lost: int = 0
    visible_frames: int = 0
    visible_lost: int = 0
    reacquire: list[int] = field(default_factory=list)


@dataclass
class LongTermScores(PresenceCounts):
    """One sequence: its presence counts (all frames but frame 0), the curves and the counts per kind."""

    precision: np.ndarray | None = None  # per threshold
    recall: np.ndarray | None = None
    by_kind: dict[str, PresenceCounts] = field(default_factory=dict)


def _counts(ok: np.ndarray, vis: np.ndarray, reacquire: list[int]) -> PresenceCounts:
    return PresenceCounts(int((~vis).sum()), int((~ok & ~vis).sum()), int(vis.sum()), int((~ok & vis).sum()),
                          reacquire)


def score_longterm(run: LongTermRun, ground_truth: np.ndarray, present: np.ndarray,
                   kinds: np.ndarray | None = None) -> LongTermScores:
    """Scores of one sequence (frame 0 excluded); ``present``: the target is visible in that frame;
    ``kinds``: a label per frame (``""``: none) for the per-kind counts."""
    gt = np.asarray(ground_truth, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    if len(gt) != len(run.boxes) or len(present) != len(run.boxes):
        raise ValueError(f"{len(run.boxes)} tracked frames for {len(gt)} ground-truth rows")
    frames = np.arange(1, len(gt))
    iou = np.zeros(len(gt))
    iou[present] = iou_xywh(run.boxes[present], gt[present])
    conf, vis = run.confidence[frames], present[frames]
    claimed = conf[None, :] >= THRESHOLDS[:, None]  # thresholds x frames
    n_claimed = claimed.sum(axis=1)
    hit = (claimed * iou[frames][None, :]).sum(axis=1)
    precision = np.where(n_claimed > 0, hit / np.maximum(n_claimed, 1), 1.0)  # no claim: nothing wrong
    recall = hit / vis.sum() if vis.any() else np.zeros_like(hit)
    ok = run.ok[frames]
    returns = []  # (frame of the return, frames to re-acquire)
    for t in frames:
        if present[t] and not present[t - 1]:  # the target returns at frame t
            good = np.flatnonzero(run.ok[t:] & (iou[t:] >= 0.5))
            returns.append((int(t), int(good[0]) if len(good) else int(len(gt) - t)))
    total = _counts(ok, vis, [r for _, r in returns])
    by_kind = {}
    if kinds is not None:
        kinds = np.asarray(kinds, dtype=object)
        if len(kinds) != len(gt):
            raise ValueError(f"{len(kinds)} frame labels for {len(gt)} frames")
        for k in sorted(set(kinds[frames]) - {""}):
            m = kinds[frames] == k
            by_kind[k] = _counts(ok[m], vis[m], [r for t, r in returns if kinds[t - 1] == k])
    return LongTermScores(**vars(total), precision=precision, recall=recall, by_kind=by_kind)


def _rates(counts: list[PresenceCounts]) -> dict:
    absent = sum(c.absent_frames for c in counts)
    visible = sum(c.visible_frames for c in counts)
    returns = [r for c in counts for r in c.reacquire]
    return {
        "absent_frames": absent, "absent_lost": sum(c.absent_lost for c in counts) / absent if absent else None,
        "visible_frames": visible, "visible_lost": sum(c.visible_lost for c in counts) / visible if visible else None,
        "returns": len(returns), "reacquire_median": float(np.median(returns)) if returns else None,
    }


def summarize_longterm(scores: list[LongTermScores]) -> dict:
    """Pr and Re averaged over sequences at each threshold, F at the best threshold; presence rates
    pooled over frames; median frames to re-acquire over all returns; the same rates per kind."""
    if not scores:
        raise ValueError("no sequences to summarize")
    pr = np.mean([s.precision for s in scores], axis=0)
    re = np.mean([s.recall for s in scores], axis=0)
    f = np.where(pr + re > 0, 2 * pr * re / np.maximum(pr + re, 1e-12), 0.0)
    best = int(np.argmax(f))
    kinds = sorted({k for s in scores for k in s.by_kind})
    return {
        "f_score": float(f[best]), "precision": float(pr[best]), "recall": float(re[best]),
        "threshold": float(THRESHOLDS[best]),
        **_rates(scores),
        "by_kind": {k: _rates([s.by_kind[k] for s in scores if k in s.by_kind]) for k in kinds},
        "curves": {"threshold": THRESHOLDS.tolist(), "precision": pr.tolist(), "recall": re.tolist()},
    }


def evaluate_longterm(
    sequences: list[Sequence],
    trackers: list[str],
    modes: tuple[str, ...] = ("offline",),
    stream_fps: float | None = None,
    latency_fn: LatencyFn | None = None,
    threads: int | None = None,
    nanotrack_dir=None,
    vittrack_dir=None,
    progress: bool = False,
) -> dict[str, dict[str, dict]]:
    """``{tracker: {mode: summary}}`` (:func:`summarize_longterm`): one pass per tracker, mode and
    sequence; streaming at ``stream_fps`` or each sequence's own frame rate."""
    from tqdm import tqdm

    from .absence import frame_kinds
    from .trackers import create_tracker

    for m in modes:
        if m not in ("offline", "streaming"):
            raise ValueError(f"unknown evaluation mode {m!r}; known: offline, streaming")
    if not sequences:
        raise ValueError("no sequences to evaluate")
    partial = [s.name for s in sequences if not s.has_full_annotation]
    if partial:
        raise ValueError(f"the long-term evaluation needs ground truth on every frame: {', '.join(partial[:5])}")
    if "streaming" in modes:
        no_rate = [s.name for s in sequences if not (stream_fps or s.fps)]
        if no_rate:
            raise ValueError(f"streaming needs a frame rate: pass --fps (no fps for {', '.join(no_rate[:5])})")
    instances = {name: create_tracker(name, threads=threads, nanotrack_dir=nanotrack_dir, vittrack_dir=vittrack_dir)
                 for name in trackers}  # all built first: a bad name fails before any run
    kinds = [frame_kinds(s) for s in sequences]
    rows: dict[str, dict[str, dict]] = {}
    for name, tracker in instances.items():
        for mode in modes:
            scores = []
            for seq, k in tqdm(list(zip(sequences, kinds)), desc=f"{name} {mode} long-term", unit="seq",
                               disable=not progress, leave=False):
                fps = (stream_fps or seq.fps) if mode == "streaming" else None
                run = run_longterm(tracker, seq, fps=fps, latency_fn=latency_fn)
                scores.append(score_longterm(run, seq.ground_truth, seq.present(), k))
            rows.setdefault(name, {})[mode] = summarize_longterm(scores)
    return rows
