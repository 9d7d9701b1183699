"""OSTrack's training losses, per sample (RECIPE 1.4, 2.5), so SSTrack can weight each sample.

* :func:`giou_loss_per_sample`: ``1 - GIoU`` and the IoU per sample (the IoU is the scheduler's
  success signal).
* :func:`l1_loss_per_sample`: mean over the 4 xyxy coordinates.
* :func:`focal_loss_per_sample`: CenterNet focal loss (alpha 2, beta 4) on the score map,
  normalized by the sample's number of positive cells (1 per sample with OSTrack's heatmap).
* :class:`TrackingLoss`: ``w_giou GIoU + w_l1 L1 + w_focal focal`` per sample (2 / 5 / 1 by
  default), optional per-sample weights (``Gamma``), then the batch mean. Negative pairs
  (``positive`` 0, :mod:`training.data.negatives`) keep only the focal term, against their zero
  heatmap: no box exists to regress.
* With a presence branch (``presence_map`` in the outputs) the total adds ``w_presence`` times the
  same focal loss on the presence map: the target's heatmap for a positive pair, all zero for a
  negative one (docs/presence.md).

Predicted boxes are ``(cx, cy, w, h)`` normalized to the search crop; the GT is ``(x, y, w, h)``
normalized the same way, converted to ``xyxy`` and clamped to [0, 1] as OSTrack does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def xywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    x, y, w, h = b.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)


def _check_boxes(name: str, b: torch.Tensor) -> None:
    if not isinstance(b, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(b).__name__}")
    if b.ndim != 2 or b.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [B, 4], got {list(b.shape)}")


def giou_loss_per_sample(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor, eps: float = 1e-7):
    """``(1 - GIoU, IoU)``, each ``[B]``. Degenerate predicted boxes give finite values."""
    _check_boxes("pred_xyxy", pred_xyxy)
    _check_boxes("gt_xyxy", gt_xyxy)
    if pred_xyxy.shape != gt_xyxy.shape:
        raise ValueError(f"pred has {pred_xyxy.shape[0]} boxes, gt has {gt_xyxy.shape[0]}")
    area_p = (pred_xyxy[:, 2] - pred_xyxy[:, 0]).clamp(min=0) * (pred_xyxy[:, 3] - pred_xyxy[:, 1]).clamp(min=0)
    area_g = (gt_xyxy[:, 2] - gt_xyxy[:, 0]).clamp(min=0) * (gt_xyxy[:, 3] - gt_xyxy[:, 1]).clamp(min=0)
    lt = torch.maximum(pred_xyxy[:, :2], gt_xyxy[:, :2])
    rb = torch.minimum(pred_xyxy[:, 2:], gt_xyxy[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = area_p + area_g - inter
    iou = inter / (union + eps)
    lt_c = torch.minimum(pred_xyxy[:, :2], gt_xyxy[:, :2])
    rb_c = torch.maximum(pred_xyxy[:, 2:], gt_xyxy[:, 2:])
    wh_c = (rb_c - lt_c).clamp(min=0)
    area_c = wh_c[:, 0] * wh_c[:, 1]
    giou = iou - (area_c - union) / (area_c + eps)
    return 1.0 - giou, iou


def l1_loss_per_sample(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the 4 coordinates, ``[B]``."""
    _check_boxes("pred_xyxy", pred_xyxy)
    _check_boxes("gt_xyxy", gt_xyxy)
    return (pred_xyxy - gt_xyxy).abs().mean(dim=-1)


def focal_loss_per_sample(score: torch.Tensor, heatmap: torch.Tensor, alpha: float = 2.0, beta: float = 4.0):
    """CenterNet focal loss per sample. ``score``: ``[B, 1, F, F]`` or ``[B, F, F]`` probabilities
    (after sigmoid); ``heatmap``: ``[B, F, F]`` Gaussian GT with peak 1 at the centre cell."""
    if score.ndim == 4:
        if score.shape[1] != 1:
            raise ValueError(f"score map must have 1 channel, got {list(score.shape)}")
        score = score[:, 0]
    if score.shape != heatmap.shape:
        raise ValueError(f"score map {list(score.shape)} and heatmap {list(heatmap.shape)} differ in shape")
    pred = score.float().clamp(min=1e-12, max=1 - 1e-12)
    gt = heatmap.float()
    pos = gt.eq(1).float()
    neg = 1.0 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred**alpha * (1 - gt) ** beta * neg
    num_pos = pos.flatten(1).sum(1)
    total = (pos_loss + neg_loss).flatten(1).sum(1)
    return -total / num_pos.clamp(min=1.0)


@dataclass
class LossWeights:
    giou: float = 2.0
    l1: float = 5.0
    focal: float = 1.0
    presence: float = 1.0  # used only when the network has a presence branch

    def __post_init__(self) -> None:
        for k in ("giou", "l1", "focal", "presence"):
            v = getattr(self, k)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"loss weight {k} must be a number >= 0, got {v!r}")


class TrackingLoss:
    """OSTrack's total loss, per sample, with optional per-sample weights (``Gamma``)."""

    def __init__(self, weights: LossWeights | None = None):
        self.w = weights or LossWeights()

    def per_sample(self, outputs: dict, search_box_xywh: torch.Tensor, heatmap: torch.Tensor, positive=None) -> dict:
        """Per-sample terms (``[B]`` each): ``total``, ``giou``, ``l1``, ``focal``, ``iou``, and
        ``presence`` when the outputs have a ``presence_map``.
        ``positive`` (``[B]``, 1 or 0; default all 1): the box terms of a 0 sample are zeroed, and
        its ``iou`` (against a box that is not its target) means nothing."""
        for key in ("pred_boxes", "score_map"):
            if key not in outputs:
                raise KeyError(f"network outputs lack {key!r}; have {sorted(outputs)}")
        pred = cxcywh_to_xyxy(outputs["pred_boxes"].float().reshape(-1, 4))
        gt = xywh_to_xyxy(search_box_xywh.float().reshape(-1, 4)).clamp(0.0, 1.0)
        giou, iou = giou_loss_per_sample(pred, gt)
        l1 = l1_loss_per_sample(pred, gt)
        focal = focal_loss_per_sample(outputs["score_map"], heatmap)
        if positive is not None:
            positive = torch.as_tensor(positive, dtype=giou.dtype, device=giou.device).reshape(-1)
            if positive.shape != giou.shape:
                raise ValueError(f"{positive.numel()} positive flags for a batch of {giou.numel()}")
            giou, l1 = giou * positive, l1 * positive
        total = self.w.giou * giou + self.w.l1 * l1 + self.w.focal * focal
        terms = {"giou": giou, "l1": l1, "focal": focal, "iou": iou.detach()}
        if "presence_map" in outputs:
            terms["presence"] = focal_loss_per_sample(outputs["presence_map"], heatmap)
            total = total + self.w.presence * terms["presence"]
        return {"total": total, **terms}

    def __call__(self, outputs: dict, search_box_xywh: torch.Tensor, heatmap: torch.Tensor, sample_weights=None,
                 positive=None):
        """``(loss, terms)``: the batch mean of ``sample_weights * total`` and the per-sample terms."""
        terms = self.per_sample(outputs, search_box_xywh, heatmap, positive)
        total = terms["total"]
        if sample_weights is not None:
            sample_weights = torch.as_tensor(sample_weights, dtype=total.dtype, device=total.device).reshape(-1)
            if sample_weights.shape != total.shape:
                raise ValueError(f"{sample_weights.numel()} sample weights for a batch of {total.numel()}")
            total = sample_weights * total
        return total.mean(), terms
