"""Copy-paste distractors (training.data.distractors): an annotated object pasted beside or behind
the target of a search crop, labels unchanged. Real frames from ../shared."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from _train_tiny import train_clips
from sstrack_edge.geometry import box_to_crop, crop_side, crop_square
from training.data.config import CropSizes, ProcessingConfig
from training.data.datasets import load_stills
from training.data.distractors import ellipse_mask, object_patch, paste_distractor
from training.data.negatives import NegativeSource
from training.data.pairs import PairDataset
from training.data.processing import PairProcessor
from training.data.sampler import IntervalSampler
from training.train_config import ConfigError, load_config, parse_override

SMALL = CropSizes(template_size=64, search_size=128)


@pytest.fixture(scope="module")
def real_sets(train_videos, stills_dir):
    return [train_clips(train_videos), load_stills(stills_dir, sources=["aerial_cars"])]


@pytest.fixture(scope="module")
def search_and_patch(real_sets):
    """A 192 px search crop around a real target, its normalized box, and a real car's pixels."""
    videos, stills = real_sets
    seq = videos[0]
    i = int(np.flatnonzero(seq.visible)[0])
    frame, box = seq.frames.read(i), seq.boxes[i]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    side = crop_side(np.array([cx, cy, box[2], box[3]]), 4.0)
    search = crop_square(frame, cx, cy, side, 192)
    target = np.asarray(box_to_crop(box, cx, cy, side), dtype=np.float64)
    patch = object_patch(stills[0].frames.read(0), stills[0].boxes[0])
    return search, target, patch


def _target_pixels(box, side=192):
    x, y, w, h = (np.asarray(box) * side)
    return slice(int(math.ceil(y)), int(y + h)), slice(int(math.ceil(x)), int(x + w))


@pytest.mark.realdata
def test_paste_changes_pixels_near_the_target_only_and_keeps_it_visible(search_and_patch):
    search, target, patch = search_and_patch
    cfg = ProcessingConfig(distractor_behind_prob=0.0, distractor_max_occlusion=0.3)
    changed_any = 0
    for seed in range(20):
        out = paste_distractor(search, target, patch, cfg, np.random.default_rng(seed))
        if out is None:
            continue
        assert out.shape == search.shape and out.dtype == np.uint8
        diff = np.abs(out.astype(int) - search.astype(int)).max(axis=2) > 0
        changed_any += 1
        ys, xs = np.nonzero(diff)
        # the pasted object's centre lies within distance_max x (mean size) of the target centre
        t = np.asarray(target) * 192
        tsize = math.sqrt(t[2] * t[3])
        centre = np.array([xs.mean(), ys.mean()])
        assert np.hypot(*(centre - (t[:2] + t[2:] / 2))) < 2.5 * 1.8 * tsize
        # in front, at most 30 % of the target's box is covered (a changed pixel counts fully)
        rows, cols = _target_pixels(target)
        assert diff[rows, cols].mean() <= 0.3 + 0.1  # +0.1: the soft edge changes pixels at alpha < 1
        assert diff.mean() < 0.5  # an object, not the crop
    assert changed_any >= 15


@pytest.mark.realdata
def test_behind_keeps_the_targets_own_ellipse(search_and_patch):
    search, target, patch = search_and_patch
    cfg = ProcessingConfig(distractor_behind_prob=1.0, distractor_distance=(0.0, 0.3))
    t = np.asarray(target) * 192
    inner = ellipse_mask(192, t[0] + t[2] / 2, t[1] + t[3] / 2, t[2], t[3]) >= 1.0
    for seed in range(10):
        out = paste_distractor(search, target, patch, cfg, np.random.default_rng(seed))
        assert out is not None  # behind: no occlusion limit, so the first placement inside the crop is taken
        assert np.array_equal(out[inner], search[inner])
        assert not np.array_equal(out, search)


@pytest.mark.realdata
def test_paste_is_deterministic_and_sized_to_the_target(search_and_patch):
    search, target, patch = search_and_patch
    cfg = ProcessingConfig(distractor_scale=(1.0, 1.0), distractor_behind_prob=0.0, distractor_max_occlusion=0.0,
                           distractor_distance=(1.5, 1.5))
    a = paste_distractor(search, target, patch, cfg, np.random.default_rng(3))
    b = paste_distractor(search, target, patch, cfg, np.random.default_rng(3))
    assert a is not None and np.array_equal(a, b)
    changed = (np.abs(a.astype(int) - search.astype(int)).max(axis=2) > 0).sum()
    t = np.asarray(target) * 192
    ellipse = math.pi / 4 * t[2] * t[3]  # same sqrt(area) as the target (scale 1.0)
    assert 0.5 * ellipse < changed < 1.6 * ellipse  # (clipping at the crop edge / identical pixels)


def test_no_placement_returns_none():
    search = np.full((64, 64, 3), 100, np.uint8)
    patch = np.full((20, 20, 3), 200, np.uint8)
    # the target fills the crop: any object in front covers more than 0 % of it
    cfg = ProcessingConfig(distractor_behind_prob=0.0, distractor_max_occlusion=0.0)
    assert paste_distractor(search, (0.0, 0.0, 1.0, 1.0), patch, cfg, np.random.default_rng(0)) is None


def test_bad_inputs_are_named():
    search = np.zeros((64, 64, 3), np.uint8)
    patch = np.zeros((8, 8, 3), np.uint8)
    cfg = ProcessingConfig()
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="search must be a square"):
        paste_distractor(np.zeros((64, 32, 3), np.uint8), (0.4, 0.4, 0.2, 0.2), patch, cfg, rng)
    with pytest.raises(TypeError, match="patch must be"):
        paste_distractor(search, (0.4, 0.4, 0.2, 0.2), np.zeros((1, 8, 3), np.uint8), cfg, rng)
    with pytest.raises(ValueError, match="positive size"):
        paste_distractor(search, (0.4, 0.4, 0.0, 0.2), patch, cfg, rng)
    assert object_patch(search, (10, 10, 1, 5)) is None
    assert object_patch(search, (-5, 60, 20, 20)).shape == (4, 15, 3)  # clipped to the image
    with pytest.raises(ValueError, match="distractor_max_occlusion"):
        ProcessingConfig(distractor_max_occlusion=1.5)
    with pytest.raises(ValueError, match="distractor_scale"):
        ProcessingConfig(distractor_scale=(0.0, 1.0))


@pytest.mark.realdata
def test_pair_dataset_pastes_into_positive_pairs_deterministically(real_sets):
    def make(p, neg=0.0):
        return PairDataset(IntervalSampler(real_sets, [3, 1]), PairProcessor(SMALL), samples_per_epoch=120, seed=2,
                           negatives=NegativeSource(real_sets, [3, 1]), distractor_prob=p, negative_prob=neg)

    items = [make(0.5)[i] for i in range(120)]
    pasted = [x for x in items if "/paste:" in x["sample_id"]]
    assert 0.3 < len(pasted) / len(items) < 0.6  # 0.5, less the crops with no placement
    for x in pasted:  # labels are the target's: a full heatmap peak, positive
        assert x["positive"] == 1 and float(x["heatmap"].max()) == 1.0
    again = make(0.5)
    for i in (0, 7, 119):
        assert again[i]["sample_id"] == items[i]["sample_id"]
        assert torch.equal(again[i]["search"], items[i]["search"])
    # negatives never get a paste; probability 0 draws nothing extra (the plain run reproduces)
    mixed = [make(1.0, neg=0.5)[i] for i in range(60)]
    assert all("/paste:" not in x["sample_id"] for x in mixed if x["positive"] == 0)
    assert any("/paste:" in x["sample_id"] for x in mixed)
    plain = PairDataset(IntervalSampler(real_sets, [3, 1]), PairProcessor(SMALL), samples_per_epoch=120, seed=2)
    zero = make(0.0)
    for i in (0, 50):
        assert torch.equal(plain[i]["search"], zero[i]["search"])


def test_distractor_prob_configuration(train_videos):
    cfg = Path(__file__).resolve().parents[2] / "training" / "configs" / "default_cpu.yaml"
    loaded = load_config(cfg, parse_override("data.distractor_prob=1.0"), resolve_paths=False)
    assert loaded.data.distractor_prob == 1.0
    with pytest.raises(ConfigError, match="distractor_prob"):
        load_config(cfg, parse_override("data.distractor_prob=1.5"), resolve_paths=False)
    with pytest.raises(ValueError, match="NegativeSource"):
        PairDataset(IntervalSampler([train_clips(train_videos)]), PairProcessor(SMALL), 8, distractor_prob=0.2)
