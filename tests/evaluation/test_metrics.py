"""OPE metrics: hand-computed cases, conventions, and a cross-check against the got10k toolkit."""

from __future__ import annotations

import numpy as np
import pytest

from sstrack_edge.evaluation import got10k_scores, score_sequence, summarize
from sstrack_edge.evaluation.metrics import sanitize_predictions

GT = np.array([[10, 10, 10, 10]] * 5, dtype=float)


def test_perfect_tracker_scores_20_of_21_thresholds():
    s = score_sequence(GT.copy(), GT)
    # IoU = 1 is > every threshold but 1.0 itself
    assert s.success_curve.tolist() == [1.0] * 20 + [0.0]
    assert s.auc == pytest.approx(20 / 21)
    assert s.precision20 == 1.0 and s.norm_precision == 1.0 and s.frames_scored == 4


def test_hand_computed_success_precision_and_normalized_precision():
    pred = GT.copy()
    pred[1] = [15, 10, 10, 10]  # IoU 50/150 = 1/3, centre error 5 px, normalized 0.5
    pred[2] = [40, 40, 10, 10]  # IoU 0, centre error 30*sqrt(2) px
    pred[3] = [10, 10, 20, 20]  # IoU 100/400 = 0.25, centre error 5*sqrt(2) px = 7.07, normalized 0.707
    s = score_sequence(pred, GT)  # frames 1..4 scored (frame 0 excluded)
    ious = np.array([1 / 3, 0.0, 0.25, 1.0])
    t = np.linspace(0, 1, 21)
    expected_curve = (ious[:, None] > t[None]).mean(axis=0)
    assert np.allclose(s.success_curve, expected_curve)
    assert s.auc == pytest.approx(expected_curve.mean())
    assert s.precision20 == pytest.approx(3 / 4)  # 0, 5, 7.07 px <= 20; 42.4 px not
    assert s.precision_curve[4] == pytest.approx(1 / 4) and s.precision_curve[5] == pytest.approx(1 / 2)
    assert s.precision_curve[7] == pytest.approx(1 / 2) and s.precision_curve[8] == pytest.approx(3 / 4)
    assert s.norm_precision == pytest.approx(1 / 4)  # only the exact frame is within 0.2
    assert s.op50 == pytest.approx(1 / 4)


def test_first_frame_and_absent_frames_are_excluded_by_default():
    gt = GT.copy()
    gt[2] = np.nan
    pred = GT.copy()
    pred[0] = [100, 100, 5, 5]  # frame 0 is the init frame: ignored
    pred[2] = [100, 100, 5, 5]  # the target is absent: ignored
    s = score_sequence(pred, gt)
    assert s.frames_scored == 3 and s.auc == pytest.approx(20 / 21)
    with_first = score_sequence(pred, gt, exclude_first_frame=False)
    assert with_first.frames_scored == 4
    as_failure = score_sequence(pred, gt, absent="failure")
    assert as_failure.frames_scored == 4 and as_failure.precision20 == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="absent must be one of"):
        score_sequence(pred, gt, absent="ignore")


def test_visibility_labels_exclude_frames_with_a_box():
    present = np.array([True, True, False, True, True])
    pred = GT.copy()
    pred[2] = [100, 100, 5, 5]
    assert score_sequence(pred, GT, present).frames_scored == 3


def test_empty_predictions_fall_back_to_the_previous_box_and_missing_ones_fail():
    pred = GT.copy()
    pred[1] = [0, 0, 0, 0]
    assert np.array_equal(sanitize_predictions(pred, GT[0]), GT)
    assert score_sequence(pred, GT).auc == pytest.approx(20 / 21)
    pred[2] = np.nan  # the tracker reported ok=False: no prediction, a failure at every threshold
    s = score_sequence(pred, GT)
    assert s.auc == pytest.approx(3 / 4 * 20 / 21) and s.precision20 == pytest.approx(3 / 4)
    assert s.norm_precision == pytest.approx(3 / 4) and s.ious.tolist() == [1.0, 0.0, 1.0, 1.0]


def test_bad_shapes_are_value_errors():
    with pytest.raises(ValueError, match="4 predicted boxes for 5"):
        score_sequence(GT[:4], GT)
    with pytest.raises(ValueError, match="N x 4"):
        score_sequence(GT[:, :3], GT)
    with pytest.raises(ValueError, match="no frame to score"):
        score_sequence(GT[:1], GT[:1])


def test_summary_averages_sequences_equally_and_got10k_pools_frames():
    good = score_sequence(GT.copy(), GT)  # 4 frames, IoU 1
    long_gt = np.array([[10, 10, 10, 10]] * 9, dtype=float)
    long_pred = long_gt.copy()
    long_pred[1:] = [50, 50, 10, 10]  # 8 frames, IoU 0
    bad = score_sequence(long_pred, long_gt)
    summary = summarize([good, bad])
    assert summary.auc == pytest.approx((20 / 21 + 0.0) / 2)
    assert summary.ao == pytest.approx(4 / 12)  # pooled over 12 frames
    assert summary.sr50 == pytest.approx(4 / 12) and summary.sr75 == pytest.approx(4 / 12)
    assert got10k_scores([np.array([0.6, 0.8]), np.array([0.1])]) == pytest.approx((0.5, 2 / 3, 1 / 3))


def test_matches_the_got10k_toolkit_on_random_boxes():
    """Our success / precision curves equal got10k 0.1.3's (``rect_iou``, ``center_error``, OTB curves)."""
    metrics = pytest.importorskip("got10k.utils.metrics")
    rng = np.random.default_rng(1)
    n = 300
    gt = np.column_stack([rng.uniform(0, 200, (n, 2)), rng.uniform(5, 80, (n, 2))])
    pred = gt + rng.normal(0, 12, (n, 4))
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    ours = score_sequence(pred, gt, exclude_first_frame=False)
    ious = metrics.rect_iou(pred.copy(), gt.copy())
    errors = metrics.center_error(pred, gt)
    # got10k's ExperimentOTB._calc_curves: 21 IoU bins (linspace), 51 centre-error bins (arange)
    succ = np.mean(ious[:, None] > np.linspace(0, 1, 21)[None, :], axis=0)
    prec = np.mean(errors[:, None] <= np.arange(0, 51)[None, :], axis=0)
    assert np.allclose(ours.ious, ious, atol=1e-9)
    assert np.allclose(ours.success_curve, succ)
    assert np.allclose(ours.precision_curve, prec)
    assert ours.auc == pytest.approx(float(np.mean(succ)))
