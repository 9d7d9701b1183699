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
class LongTermScores:
    precision: np.ndarray  # per threshold
    recall: np.ndarray
    absent_frames: int
    absent_lost: int
    visible_frames: int
    visible_lost: int
    reacquire: list[int] = field(default_factory=list)  # frames to re-acquire, one per return


def score_longterm(run: LongTermRun, ground_truth: np.ndarray, present: np.ndarray) -> LongTermScores:
    """Scores of one sequence (frame 0 excluded); ``present``: the target is visible in that frame."""
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
    reacquire = []
    for t in frames:
        if present[t] and not present[t - 1]:  # the target returns at frame t
            good = np.flatnonzero(run.ok[t:] & (iou[t:] >= 0.5))
            reacquire.append(int(good[0]) if len(good) else len(gt) - t)
    return LongTermScores(precision, recall, int((~vis).sum()), int((~ok & ~vis).sum()),
                          int(vis.sum()), int((~ok & vis).sum()), reacquire)


def summarize_longterm(scores: list[LongTermScores]) -> dict:
    """Pr and Re averaged over sequences at each threshold, F at the best threshold; presence rates
    pooled over frames; median frames to re-acquire over all returns."""
    if not scores:
        raise ValueError("no sequences to summarize")
    pr = np.mean([s.precision for s in scores], axis=0)
    re = np.mean([s.recall for s in scores], axis=0)
    f = np.where(pr + re > 0, 2 * pr * re / np.maximum(pr + re, 1e-12), 0.0)
    best = int(np.argmax(f))
    absent = sum(s.absent_frames for s in scores)
    visible = sum(s.visible_frames for s in scores)
    returns = [r for s in scores for r in s.reacquire]
    return {
        "f_score": float(f[best]), "precision": float(pr[best]), "recall": float(re[best]),
        "threshold": float(THRESHOLDS[best]),
        "absent_frames": absent, "absent_lost": sum(s.absent_lost for s in scores) / absent if absent else None,
        "visible_frames": visible, "visible_lost": sum(s.visible_lost for s in scores) / visible if visible else None,
        "returns": len(returns), "reacquire_median": float(np.median(returns)) if returns else None,
        "curves": {"threshold": THRESHOLDS.tolist(), "precision": pr.tolist(), "recall": re.tolist()},
    }
