"""Negative pairs (training.data.negatives): the search side comes from elsewhere, the label says
"absent", the loss keeps only the score-map term, and the trainer keeps them out of SSTrack's
success statistics. Real data from ../shared."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from _train_tiny import TRAIN_CLIPS, tiny_config, train_clips
from training.data.config import CropSizes
from training.data.datasets import load_stills
from training.data.negatives import NegativeSource, same_clip_negative, same_scene_partners
from training.data.pairs import PairDataset
from training.data.processing import PairProcessor
from training.data.sampler import IntervalSampler
from training.losses import TrackingLoss
from training.train_config import ConfigError
from training.trainer import Trainer

SMALL = CropSizes(template_size=64, search_size=128)


@pytest.fixture(scope="module")
def real_sets(train_videos, stills_dir):
    return [train_clips(train_videos), load_stills(stills_dir, sources=["aerial_cars"])]


@pytest.mark.realdata
def test_negative_source_never_uses_the_templates_sequence_or_photo(real_sets):
    videos, stills = real_sets
    src = NegativeSource(real_sets, [1, 3])
    rng = np.random.default_rng(0)
    # a box whose photo holds several annotated cars: no other car of that photo may be drawn
    counts = np.bincount(stills.image_index)
    box = int(np.flatnonzero(counts[stills.image_index] >= 3)[0])
    seen = collections.Counter()
    for _ in range(3000):
        for template in ((0, 2), (1, box)):
            neg = src.draw(rng, *template)
            seen[neg.dataset] += 1
            ds = real_sets[neg.dataset]
            assert ds[neg.sequence].visible[neg.frame]
            assert (neg.dataset, neg.sequence) != template
            if template[0] == 1 and neg.dataset == 1:
                assert stills.image_index[neg.sequence] != stills.image_index[box]
    assert 0.7 < seen[1] / sum(seen.values()) < 0.8  # the weights 1 : 3


@pytest.mark.realdata
def test_pair_dataset_mixes_in_negatives_deterministically(real_sets):
    def make(p):
        src = NegativeSource(real_sets, [3, 1]) if p else None
        return PairDataset(IntervalSampler(real_sets, [3, 1]), PairProcessor(SMALL), samples_per_epoch=200,
                           seed=5, negative_prob=p, negatives=src)

    ds = make(0.3)
    items = [ds[i] for i in range(200)]
    neg = [x for x in items if x["positive"] == 0]
    assert 0.2 < len(neg) / len(items) < 0.4
    for x in items:
        assert x["positive"].dtype == torch.float32
        if x["positive"] == 0:
            assert float(x["heatmap"].sum()) == 0.0 and "/neg:" in x["sample_id"]
        else:
            assert float(x["heatmap"].max()) == 1.0 and "/neg:" not in x["sample_id"]
    again = make(0.3)
    for i in (0, 17, 199):
        assert again[i]["sample_id"] == items[i]["sample_id"]
        assert torch.equal(again[i]["search"], items[i]["search"])
    plain = make(0.0)
    assert all(plain[i]["positive"] == 1 for i in range(20))


@pytest.mark.realdata
def test_negative_configuration_errors(real_sets, train_videos, stills_dir):
    sampler = IntervalSampler(real_sets, [3, 1])
    proc = PairProcessor(SMALL)
    with pytest.raises(ValueError, match="negative_prob must be a number in"):
        PairDataset(sampler, proc, 4, negative_prob=1.0, negatives=NegativeSource(real_sets))
    with pytest.raises(ValueError, match="needs a NegativeSource"):
        PairDataset(sampler, proc, 4, negative_prob=0.2)
    with pytest.raises(ValueError, match="sampler's datasets"):
        PairDataset(sampler, proc, 4, negative_prob=0.2, negatives=NegativeSource(real_sets[:1]))
    one = load_stills(stills_dir, sources=["raccoon"])
    one.boxes, one.image_index = one.boxes[:1], one.image_index[:1]
    with pytest.raises(ValueError, match="at least two sequences"):
        NegativeSource([one])
    with pytest.raises(ConfigError, match="negative_prob"):
        tiny_config(train_videos, stills_dir, data={"negative_prob": -0.1})
    with pytest.raises(ConfigError, match="same_scene_prob"):
        tiny_config(train_videos, stills_dir, data={"same_scene_prob": 1})
    with pytest.raises(ValueError, match="needs a NegativeSource"):
        PairDataset(sampler, proc, 4, same_scene_prob=0.3)
    with pytest.raises(ValueError, match="needs negative_prob > 0"):
        PairDataset(sampler, proc, 4, same_clip_prob=0.3, negatives=NegativeSource(real_sets))
    with pytest.raises(ConfigError, match="same_clip_prob"):
        tiny_config(train_videos, stills_dir, data={"same_clip_prob": 0.5})


def test_same_scene_partners_are_other_boxes_of_the_photo_outside_the_crop():
    # photo 0: two cars far apart, one close to the first; photo 1: a single box
    boxes = np.array([[10, 10, 20, 20], [300, 300, 20, 20], [40, 10, 20, 20], [10, 10, 20, 20]], float)
    parts = same_scene_partners(np.array([0, 0, 0, 1]), boxes, search_factor=4.0)
    assert parts[0].tolist() == [1]  # box 2 is inside the 80 px crop around box 0's neighbour
    assert sorted(parts[1].tolist()) == [0, 2]
    assert parts[2].tolist() == [1]
    assert parts[3].tolist() == []  # alone in its photo (the identical box in photo 0 is another photo)
    wide = same_scene_partners(np.array([0, 0, 0, 1]), boxes, search_factor=40.0)
    assert all(len(p) == 0 for p in wide)  # a crop that spans the photo leaves no partner


@pytest.mark.realdata
def test_processor_never_returns_a_search_crop_that_touches_the_avoid_box(stills_dir):
    stills = load_stills(stills_dir, sources=["aerial_cars"])
    src = NegativeSource([stills], search_factor=SMALL.search_factor)
    box = int(np.flatnonzero([len(src.partners(0, i)) > 0 for i in range(len(stills))])[0])
    partner = int(src.partners(0, box)[0])
    img = stills[box].frames.read(0)
    a, b = stills.boxes[box], stills.boxes[partner]
    marked = img.copy()  # paint the template's car pure green: no returned search crop may show it
    x, y, w, h = np.round(a).astype(int)
    marked[y:y + h, x:x + w] = (0, 255, 0)
    proc = PairProcessor(SMALL)
    rng = np.random.default_rng(0)
    got = 0
    for _ in range(200):
        out = proc(img, a, marked, b, rng, avoid_box=a)
        if out is None:
            continue
        got += 1
        green = (out.search[..., 1] > 200) & (out.search[..., 0] < 60) & (out.search[..., 2] < 60)
        assert green.sum() == 0
    assert got > 100
    # a crop always contains its own target, so avoiding it rejects every sample
    assert all(proc(img, b, img, b, rng, avoid_box=b) is None for _ in range(20))


@pytest.mark.realdata
def test_pair_dataset_same_scene_negatives(real_sets):
    def make(p):
        src = NegativeSource(real_sets, [1, 1], search_factor=SMALL.search_factor) if p else None
        return PairDataset(IntervalSampler(real_sets, [1, 1]), PairProcessor(SMALL), samples_per_epoch=300,
                           seed=3, negatives=src, same_scene_prob=p)

    ds = make(0.5)
    items = [ds[i] for i in range(300)]
    ids = [x["sample_id"] for x in items]  # e<epoch>/i<index>/<dataset>/<sequence or photo#box>/...
    same = [i for i in ids if "/same:" in i]
    stills = [i for i in ids if i.split("/")[2] == "stills"]
    assert set(same) <= set(stills)  # videos hold one annotated object each: no same-scene partner
    assert 0.3 < len(same) / len(stills) < 0.6  # half of the still templates (nearly all have a partner)
    for i in same:  # template and search: two different boxes of one photo
        template, search = i.split("/stills/")[1].split("/0-0/")[0], i.split("/same:")[1]  # <photo>#<box>
        assert search.split("#")[0] == template.split("#")[0] and search != template
    for x in items:
        neg = "/same:" in x["sample_id"]
        assert float(x["positive"]) == (0.0 if neg else 1.0)
        assert (float(x["heatmap"].sum()) == 0.0) == neg
    plain, again = make(0.0), make(0.5)
    assert all(plain[i]["positive"] == 1 for i in range(30))
    for i in (0, 11, 299):
        assert again[i]["sample_id"] == items[i]["sample_id"]
        assert torch.equal(again[i]["search"], items[i]["search"])


def test_loss_of_a_negative_is_the_score_map_term_only():
    torch.manual_seed(0)
    boxes = torch.rand(4, 4) * 0.3 + torch.tensor([0.2, 0.2, 0.2, 0.2])
    pred = torch.rand(4, 4, requires_grad=True)
    score = torch.rand(4, 1, 8, 8, requires_grad=True)
    heat = torch.zeros(4, 8, 8)
    heat[:2, 3, 4] = 1.0
    positive = torch.tensor([1.0, 1.0, 0.0, 0.0])
    loss, terms = TrackingLoss()({"pred_boxes": pred, "score_map": score}, boxes, heat, positive=positive)
    assert torch.all(terms["giou"][2:] == 0) and torch.all(terms["l1"][2:] == 0)
    assert torch.all(terms["giou"][:2] > 0) and torch.all(terms["focal"] > 0)
    loss.backward()
    assert torch.all(pred.grad[2:] == 0) and torch.all(pred.grad[:2].abs().sum(1) > 0)
    assert torch.all(score.grad[2:].abs().sum((1, 2, 3)) > 0)  # the negatives push their scores down
    assert torch.all(score.grad[2:] >= 0)
    plain, _ = TrackingLoss()({"pred_boxes": pred, "score_map": score}, boxes, heat)
    ones, _ = TrackingLoss()({"pred_boxes": pred, "score_map": score}, boxes, heat, positive=torch.ones(4))
    assert torch.equal(plain, ones)
    with pytest.raises(ValueError, match="positive flags"):
        TrackingLoss()({"pred_boxes": pred, "score_map": score}, boxes, heat, positive=torch.ones(3))


@pytest.mark.realdata
@pytest.mark.parametrize("kind", ["cross_clip", "same_scene"])
def test_trainer_keeps_negatives_out_of_the_success_statistics(tmp_path, train_videos, stills_dir, kind):
    torch.set_num_threads(1)
    data = {"samples_per_epoch": 64, "negative_prob": 0.25}
    if kind == "same_scene":  # half the templates are multi-car photos, 60 % of those become negatives
        data = {"samples_per_epoch": 64, "same_scene_prob": 0.6, "datasets": [
            {"kind": "video", "root": str(train_videos), "weight": 1, "options": {"names": TRAIN_CLIPS}},
            {"kind": "stills", "root": str(stills_dir), "weight": 1, "options": {"sources": ["aerial_cars"]}},
        ]}
    cfg = tiny_config(train_videos, stills_dir, epochs=2, data=data)
    recs = Trainer(cfg, tmp_path / "run").fit()
    for r in recs:
        assert 5 < r["negative_samples"] < 35
        assert sum(r["bin_counts"]) == r["samples"] - r["negative_samples"]  # success stats: positives only
        assert np.isfinite(r["loss"]) and 0 <= r["mean_iou"] <= 1


def _square_touches(box, centre, side):
    x, y, w, h = box
    half = side / 2
    return x < centre[0] + half and x + w > centre[0] - half and y < centre[1] + half and y + h > centre[1] - half


@pytest.mark.realdata
def test_same_clip_negatives_leave_the_target_out(train_videos):
    """From the template's own clip: a frame where the target is absent, cropped where it was last
    seen, or a visible frame cropped beside the target, never over it (UAV123 group2 has 5 absent frames)."""
    (seq,) = train_clips(train_videos, names=["UAV123_10fps_group2"])
    assert (~seq.visible).sum() > 0
    rng = np.random.default_rng(0)
    kinds = collections.Counter()
    for _ in range(400):
        f = int(rng.choice(np.flatnonzero(seq.visible)))
        neg = same_clip_negative(seq, f, rng, search_factor=4.0)
        kinds[neg.kind] += 1
        if neg.kind == "absent":
            assert not seq.visible[neg.frame] and neg.avoid_box is None
            last = np.flatnonzero(seq.visible[: neg.frame])[-1]
            assert np.allclose(neg.centre_box, seq.boxes[last])
        else:
            assert neg.frame == f and np.allclose(neg.avoid_box, seq.boxes[f])
            w, h = neg.centre_box[2:]
            assert np.allclose((w, h), seq.boxes[f][2:])  # the target's size, elsewhere
            centre = neg.centre_box[:2] + neg.centre_box[2:] / 2
            assert not _square_touches(seq.boxes[f], centre, 4.0 * np.sqrt(w * h))
    assert 150 < kinds["absent"] < 250 and kinds["absent"] + kinds["displaced"] == 400


@pytest.mark.realdata
def test_pair_dataset_same_clip_negatives(train_videos):
    videos = train_clips(train_videos)
    def make(p):
        return PairDataset(IntervalSampler([videos], [1]), PairProcessor(SMALL), samples_per_epoch=200, seed=4,
                           negative_prob=0.4, negatives=NegativeSource([videos], search_factor=SMALL.search_factor),
                           same_clip_prob=p)

    ds = make(0.5)
    items = [ds[i] for i in range(200)]
    ids = [x["sample_id"] for x in items]
    clip = [i for i in ids if "/clip-" in i]
    other = [i for i in ids if "/neg:" in i]
    assert 0.3 < (len(clip) + len(other)) / len(ids) < 0.5  # negative_prob 0.4
    assert 0.3 < len(clip) / (len(clip) + len(other)) < 0.7  # half of them from the template's own clip
    for x in items:
        neg = "/clip-" in x["sample_id"] or "/neg:" in x["sample_id"]
        assert float(x["positive"]) == (0.0 if neg else 1.0)
        assert (float(x["heatmap"].sum()) == 0.0) == neg
    again = make(0.5)
    for i in (0, 7, 199):
        assert again[i]["sample_id"] == items[i]["sample_id"]
        assert torch.equal(again[i]["search"], items[i]["search"])
