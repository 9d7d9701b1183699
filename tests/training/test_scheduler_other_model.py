"""The schedule is a reusable component: drive a different model (a tiny CNN box regressor on
synthetic images) with it, through the documented per-batch / per-epoch interface."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from training.losses import cxcywh_to_xyxy, giou_loss_per_sample
from training.sstrack import ScheduleConfig, SSTrackSchedule

NUM_BINS = 4


def synthetic_batch(rng: np.random.Generator, bins: np.ndarray, size: int = 24):
    """A bright square on noise; higher bins = more noise (harder), like longer intervals."""
    n = len(bins)
    imgs = rng.normal(0, 0.1 + 0.6 * bins[:, None, None] / (NUM_BINS - 1), size=(n, size, size)).astype(np.float32)
    boxes = np.zeros((n, 4), np.float32)
    for k in range(n):
        w, h = rng.integers(5, 12, size=2)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        imgs[k, y:y + h, x:x + w] += 1.0
        boxes[k] = [(x + w / 2) / size, (y + h / 2) / size, w / size, h / size]
    return torch.from_numpy(imgs[:, None]), torch.from_numpy(boxes)


class TinyRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(6), nn.Flatten(),
                                 nn.Linear(8 * 36, 4), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


def test_schedule_drives_another_models_training_loop():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = TinyRegressor()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    q_random = np.array([0.4, 0.3, 0.2, 0.1])
    epochs = 4
    sched = SSTrackSchedule(NUM_BINS, q_random, ScheduleConfig(q_min=0.02), total_epochs=epochs)
    before = [p.detach().clone() for p in model.parameters()]
    seen_weights = []
    for epoch in range(1, epochs + 1):
        for _ in range(6):
            bins = rng.choice(NUM_BINS, size=32, p=sched.q)  # "the sampler" uses the schedule's q
            x, gt = synthetic_batch(rng, bins)
            pred = model(x)
            giou, iou = giou_loss_per_sample(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(gt))
            per_sample = giou + (pred - gt).abs().mean(1)
            w = sched.loss_weights(torch.from_numpy(bins))
            seen_weights.append((bins, w.numpy()))
            loss = (w * per_sample).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.record(bins, iou.detach())
        stats = sched.end_epoch(epoch)
        assert abs(sum(stats.q_next) - 1) < 1e-9 and min(stats.q_next) >= 0.02 - 1e-12
    # the model trained
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    # epoch 1 used q_R with unit weights; later epochs used the scheduled q and Gamma
    assert np.all(seen_weights[0][1] == 1.0)
    h = sched.history
    assert len(h) == epochs and all(e["updated"] for e in h)
    assert not np.allclose(h[0]["q_next"], q_random)
    for bins, w in seen_weights[6:12]:  # epoch 2 weights are Gamma of epoch 1's q_next
        np.testing.assert_allclose(w, np.asarray(h[0]["gamma_next"])[bins], rtol=1e-6)
    # noisier bins are harder: lower success rate measured by the scheduler
    assert h[-1]["p"][0] > h[-1]["p"][-1]
