"""One-pass evaluation (OPE) metrics: success AUC, precision, normalized precision, GOT-10k AO/SR.

Conventions (``docs/evaluation.md`` discusses them against pytracking and got10k):

* IoU in the continuous convention (``sstrack_edge.geometry.iou_xywh``, no ``-1``), centre
  ``x + w/2``. Centre *differences* are the same in the ``-1`` convention.
* Frame 0 (the initialization frame) is excluded by default.
* A frame where the tracker reported ``ok=False`` has no prediction (NaN row) and is a failure, as
  in the project's reference numbers (/work/shared/README.md); empty boxes (w or h <= 0) are
  replaced by the previous box.
* Frames where the target is absent (NaN / non-positive GT box, or not visible by the benchmark's
  own labels) are excluded by default (``absent="exclude"``); ``absent="failure"`` keeps them in the
  denominator as failures (pytracking's ``exclude_invalid_frames=False`` for overlap).
* Success: fraction of frames with IoU **>** t for 21 thresholds ``t = 0, 0.05, .., 1``; AUC = mean.
* Precision: fraction with centre error <= t px, t = 0..50; reported at 20 px.
* Normalized precision: centre error divided per axis by the GT w, h; t = 0..0.5 step 0.01;
  reported at 0.20 (pytracking).
* Sequences are averaged with equal weight; GOT-10k AO/SR pool all frames (frame-weighted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sstrack_edge.geometry import iou_xywh

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0
ABSENT_POLICIES = ("exclude", "failure")


@dataclass(frozen=True)
class SequenceScores:
    """Per-sequence curves and the headline numbers taken from them."""

    success_curve: np.ndarray  # 21 values
    precision_curve: np.ndarray  # 51 values (0..50 px)
    norm_precision_curve: np.ndarray  # 51 values (0..0.5)
    ious: np.ndarray  # per scored frame (NaN-free; failures = 0)
    frames_scored: int

    @property
    def auc(self) -> float:
        return float(self.success_curve.mean())

    @property
    def precision20(self) -> float:
        return float(self.precision_curve[20])

    @property
    def norm_precision(self) -> float:
        return float(self.norm_precision_curve[20])

    @property
    def op50(self) -> float:
        return float(self.success_curve[10])

    @property
    def op75(self) -> float:
        return float(self.success_curve[15])


def _check_boxes(name: str, boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must be an N x 4 array of (x, y, w, h), got shape {boxes.shape}")
    return boxes


def center_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    pc = pred[:, :2] + pred[:, 2:] / 2.0
    gc = gt[:, :2] + gt[:, 2:] / 2.0
    return np.sqrt(np.sum((pc - gc) ** 2, axis=1))


def normalized_center_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    pc = pred[:, :2] + pred[:, 2:] / 2.0
    gc = gt[:, :2] + gt[:, 2:] / 2.0
    return np.sqrt(np.sum(((pc - gc) / gt[:, 2:]) ** 2, axis=1))


def sanitize_predictions(pred: np.ndarray, init_box: np.ndarray) -> np.ndarray:
    """Replace empty predicted boxes (w or h <= 0) by the previous box (pytracking's rule).

    NaN rows mean "no prediction" (the tracker reported ``ok=False``) and stay NaN: scored as failures.
    """
    pred = np.array(pred, dtype=np.float64, copy=True)
    prev = np.asarray(init_box, dtype=np.float64)
    for i in range(len(pred)):
        if np.any(np.isnan(pred[i])):
            continue
        if not np.all(np.isfinite(pred[i])) or pred[i, 2] <= 0 or pred[i, 3] <= 0:
            pred[i] = prev
        prev = pred[i]
    return pred


def frame_mask(present: np.ndarray, exclude_first_frame: bool = True, absent: str = "exclude") -> np.ndarray:
    """Which frames enter the denominator."""
    if absent not in ABSENT_POLICIES:
        raise ValueError(f"absent must be one of {ABSENT_POLICIES}, got {absent!r}")
    mask = np.ones(len(present), dtype=bool) if absent == "failure" else np.asarray(present, dtype=bool).copy()
    if exclude_first_frame and len(mask):
        mask[0] = False
    return mask


def score_sequence(
    pred: np.ndarray,
    gt: np.ndarray,
    present: np.ndarray | None = None,
    exclude_first_frame: bool = True,
    absent: str = "exclude",
) -> SequenceScores:
    """Score one sequence. ``present`` defaults to "GT box finite with positive size"."""
    pred = _check_boxes("predictions", pred)
    gt = _check_boxes("ground truth", gt)
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    if present is None:
        present = np.all(np.isfinite(gt), axis=1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
    present = np.asarray(present, dtype=bool)
    pred = sanitize_predictions(pred, gt[0])
    mask = frame_mask(present, exclude_first_frame, absent)
    n = int(mask.sum())
    if n == 0:
        raise ValueError("no frame to score (every frame is excluded)")
    p, g = pred[mask], gt[mask]
    has_box = ~np.any(np.isnan(p), axis=1)  # no prediction (ok=False) = failure
    scored = present[mask] & has_box  # absent frames (when kept) are failures too
    p_safe = np.where(has_box[:, None], p, 0.0)
    g_safe = np.where(present[mask][:, None], g, 1.0)
    ious = np.where(scored, iou_xywh(p_safe, g_safe), 0.0)
    ce = np.where(scored, center_errors(p_safe, g_safe), np.inf)
    nce = np.where(scored, normalized_center_errors(p_safe, g_safe), np.inf)
    return SequenceScores(
        success_curve=(ious[:, None] > SUCCESS_THRESHOLDS[None, :]).mean(axis=0),
        precision_curve=(ce[:, None] <= PRECISION_THRESHOLDS[None, :]).mean(axis=0),
        norm_precision_curve=(nce[:, None] <= NORM_PRECISION_THRESHOLDS[None, :]).mean(axis=0),
        ious=ious,
        frames_scored=n,
    )


@dataclass(frozen=True)
class Summary:
    """Equal-weight mean over sequences (OTB/UAV/LaSOT style) plus pooled GOT-10k numbers."""

    auc: float
    precision20: float
    norm_precision: float
    op50: float
    op75: float
    success_curve: np.ndarray
    precision_curve: np.ndarray
    norm_precision_curve: np.ndarray
    ao: float
    sr50: float
    sr75: float
    sequences: int


def summarize(scores: list[SequenceScores]) -> Summary:
    if not scores:
        raise ValueError("no sequence scores to summarize")
    succ = np.mean([s.success_curve for s in scores], axis=0)
    prec = np.mean([s.precision_curve for s in scores], axis=0)
    nprec = np.mean([s.norm_precision_curve for s in scores], axis=0)
    ao, sr50, sr75 = got10k_scores([s.ious for s in scores])
    return Summary(
        auc=float(succ.mean()),
        precision20=float(prec[20]),
        norm_precision=float(nprec[20]),
        op50=float(succ[10]),
        op75=float(succ[15]),
        success_curve=succ,
        precision_curve=prec,
        norm_precision_curve=nprec,
        ao=ao,
        sr50=sr50,
        sr75=sr75,
        sequences=len(scores),
    )


def got10k_scores(ious_per_sequence: list[np.ndarray]) -> tuple[float, float, float]:
    """GOT-10k AO, SR0.5, SR0.75: IoUs of all scored frames of all sequences pooled (frame-weighted)."""
    pooled = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in ious_per_sequence])
    if pooled.size == 0:
        raise ValueError("no frames to score")
    return float(pooled.mean()), float((pooled > 0.5).mean()), float((pooled > 0.75).mean())
