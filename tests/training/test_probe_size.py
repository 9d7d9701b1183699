"""training.probe_size: the size probe's geometry, checked with a head of known behaviour on real frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _train_tiny import TINY_MODEL
from sstrack_edge.evaluation.datasets import load_dataset
from training.evaluate import TorchTracker
from training.models.ostrack import ModelConfig
from training.probe_size import probe_sequence


class ConstantSizeHead(torch.nn.Module):
    """Peak in the centre cell, no offset, and always the same box size relative to the crop."""

    def __init__(self, feature_size: int, size: float):
        super().__init__()
        self.f, self.size = feature_size, size
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, x):
        f = self.f
        score = torch.zeros(1, 1, f, f)
        score[0, 0, f // 2, f // 2] = 0.9
        offset = torch.zeros(1, 2, f, f)
        offset[:, :, f // 2, f // 2] = 0.5 * (f % 2)  # an odd map's centre cell needs a half-cell offset
        return {"score_map": score, "size_map": torch.full((1, 2, f, f), self.size), "offset_map": offset}


@pytest.mark.realdata
def test_a_head_that_repeats_the_crop_prior_reads_as_the_scale(train_videos):
    cfg = ModelConfig.from_dict(dict(TINY_MODEL))
    seq = load_dataset(train_videos, "videos", ["OTB_Bird2"])[0]  # a 63 px bird: ceil() of the crop side is < 1 %
    prior = TorchTracker(ConstantSizeHead(cfg.feature_size, 1.0 / cfg.search_factor), cfg)
    ratios = probe_sequence(prior, seq, scales=(0.5, 1.0, 2.0), every=20)
    for s, r in ratios.items():
        assert r == pytest.approx(s, rel=0.02)  # follows the crop: predicted size = s x true size
    half = TorchTracker(ConstantSizeHead(cfg.feature_size, 0.5 / cfg.search_factor), cfg)
    assert probe_sequence(half, seq, scales=(1.0,), every=20)[1.0] == pytest.approx(0.5, rel=0.02)


@pytest.mark.realdata
def test_probe_rejects_bad_arguments(train_videos):
    cfg = ModelConfig.from_dict(dict(TINY_MODEL))
    seq = load_dataset(train_videos, "videos", ["OTB_Bird2"])[0]
    tracker = TorchTracker(ConstantSizeHead(cfg.feature_size, 0.25), cfg)
    with pytest.raises(ValueError, match="every"):
        probe_sequence(tracker, seq, every=0)
    with pytest.raises(ValueError, match="scales"):
        probe_sequence(tracker, seq, scales=(1.0, -2.0))
    assert np.isnan(probe_sequence(tracker, seq, scales=(1.0,), every=10_000)[1.0])  # no probed frame
