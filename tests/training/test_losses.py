"""OSTrack losses per sample (RECIPE 1.4, 2.5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.data.heatmap import center_heatmap
from training.losses import (
    LossWeights,
    TrackingLoss,
    focal_loss_per_sample,
    giou_loss_per_sample,
    l1_loss_per_sample,
)

def test_giou_known_values():
    pred = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.2, 0.2], [0.1, 0.1, 0.3, 0.3]])
    gt = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.4, 0.4, 0.6, 0.6], [0.2, 0.1, 0.4, 0.3]])
    loss, iou = giou_loss_per_sample(pred, gt)
    # identical / disjoint (enclosing 0.36, union 0.08) / half-overlapping (inter .02, union .06)
    np.testing.assert_allclose(iou.numpy(), [1.0, 0.0, 1 / 3], atol=1e-6)
    np.testing.assert_allclose(loss.numpy(), [0.0, 1 + (0.36 - 0.08) / 0.36, 1 - 1 / 3], atol=1e-6)

def test_giou_degenerate_prediction_is_finite():
    pred = torch.tensor([[0.3, 0.3, 0.3, 0.3]], requires_grad=True)
    loss, iou = giou_loss_per_sample(pred, torch.tensor([[0.2, 0.2, 0.4, 0.4]]))
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(pred.grad).all() and iou.item() == 0

def test_l1_mean_over_coords():
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    gt = torch.tensor([[0.1, 0.2, 0.7, 1.0]])
    assert l1_loss_per_sample(pred, gt).item() == pytest.approx((0.1 + 0.2 + 0.3) / 4)

def _batch_focal_ostrack_style(pred, gt):
    """Reference: CenterNet focal summed over the batch, divided by the total positives."""
    pred = pred.clamp(min=1e-12)
    pos = gt.eq(1).float()
    neg = gt.lt(1).float()
    pos_loss = (torch.log(pred) * (1 - pred) ** 2 * pos).sum()
    neg_loss = (torch.log(1 - pred) * pred**2 * (1 - gt) ** 4 * neg).sum()
    return -(pos_loss + neg_loss) / pos.sum()

def test_focal_matches_batch_form_with_one_positive_each():
    torch.manual_seed(0)
    boxes = [np.array([0.4, 0.4, 0.2, 0.25]), np.array([0.1, 0.55, 0.3, 0.1]), np.array([0.6, 0.2, 0.05, 0.4])]
    heat = torch.stack([torch.from_numpy(center_heatmap(b, 16)).float() for b in boxes])
    assert (heat.eq(1).flatten(1).sum(1) == 1).all()
    score = torch.rand(3, 1, 16, 16).clamp(1e-4, 1 - 1e-4)
    per = focal_loss_per_sample(score, heat)
    assert per.shape == (3,)
    assert per.mean().item() == pytest.approx(_batch_focal_ostrack_style(score[:, 0], heat).item(), rel=1e-5)

def test_focal_perfect_prediction_near_zero():
    heat = torch.from_numpy(center_heatmap(np.array([0.4, 0.4, 0.2, 0.2]), 16)).float()[None]
    good = heat.clamp(1e-4, 1 - 1e-4)[:, None]
    bad = (1 - heat).clamp(1e-4, 1 - 1e-4)[:, None]
    assert focal_loss_per_sample(good, heat).item() < 0.01 < focal_loss_per_sample(bad, heat).item()

def _outputs(pred_cxcywh, f=16):
    b = pred_cxcywh.shape[0]
    return {"pred_boxes": pred_cxcywh, "score_map": torch.full((b, 1, f, f), 0.01)}

def test_total_is_weighted_sum_and_gt_clamped():
    pred = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.9, 0.9, 0.3, 0.3]])
    gt_xywh = torch.tensor([[0.4, 0.4, 0.2, 0.2], [0.85, 0.85, 0.3, 0.3]])  # 2nd leaves the crop
    heat = torch.stack([torch.from_numpy(center_heatmap(b.numpy(), 16)).float() for b in gt_xywh])
    loss_fn = TrackingLoss(LossWeights(giou=2, l1=5, focal=1))
    terms = loss_fn.per_sample(_outputs(pred), gt_xywh, heat)
    np.testing.assert_allclose(
        terms["total"].numpy(), (2 * terms["giou"] + 5 * terms["l1"] + terms["focal"]).numpy(), rtol=1e-6
    )
    gt_xyxy_clamped = torch.tensor([[0.85, 0.85, 1.0, 1.0]])
    want_l1 = (torch.tensor([[0.75, 0.75, 1.05, 1.05]]) - gt_xyxy_clamped).abs().mean()
    assert terms["l1"][1].item() == pytest.approx(want_l1.item(), rel=1e-6)

def test_sample_weights_multiply_whole_loss():
    pred = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.6, 0.1, 0.3]], requires_grad=True)
    gt = torch.tensor([[0.45, 0.4, 0.2, 0.25], [0.3, 0.5, 0.2, 0.2]])
    heat = torch.stack([torch.from_numpy(center_heatmap(b.numpy(), 16)).float() for b in gt])
    loss_fn = TrackingLoss()
    plain, terms = loss_fn(_outputs(pred), gt, heat)
    weighted, _ = loss_fn(_outputs(pred), gt, heat, sample_weights=torch.tensor([3.0, 1.0]))
    want = (3 * terms["total"][0] + terms["total"][1]) / 2
    assert weighted.item() == pytest.approx(want.item(), rel=1e-6)
    assert plain.item() == pytest.approx(terms["total"].mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="sample weights"):
        loss_fn(_outputs(pred), gt, heat, sample_weights=torch.ones(3))

def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="shape"):
        giou_loss_per_sample(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(KeyError, match="score_map"):
        TrackingLoss().per_sample({"pred_boxes": torch.zeros(1, 4)}, torch.zeros(1, 4), torch.zeros(1, 16, 16))
    with pytest.raises(ValueError, match="loss weight"):
        LossWeights(giou=-1)
