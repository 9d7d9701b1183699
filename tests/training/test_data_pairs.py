"""The torch pair dataset: output contract, determinism, rank partitions, q reaching workers, real data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from _train_tiny import train_clips
from training.data.config import CropSizes, ProcessingConfig
from training.data.datasets import load_sequence_folder, load_stills
from training.data.pairs import EpochSampler, PairDataset, SampleKey
from training.data.processing import PairProcessor
from training.data.sampler import IntervalSampler, RandomSampler

SMALL = CropSizes(template_size=64, search_size=128)


@pytest.fixture(scope="module")
def real_sets(train_videos, stills_dir):
    return train_clips(train_videos), load_stills(stills_dir, sources=["raccoon"])


@pytest.fixture
def synthetic(tmp_path):
    """Two 40-frame sequences of a moving bright square, and one corrupt frame."""
    root = tmp_path / "seqs"
    for name in ("a", "b"):
        d = root / name / "img"
        d.mkdir(parents=True)
        rows = []
        for i in range(40):
            img = np.full((60, 80, 3), 30, np.uint8)
            x, y = 10 + i % 40, 15
            img[y : y + 20, x : x + 20] = 220
            cv2.imwrite(str(d / f"{i + 1:06d}.jpg"), img)
            rows.append(f"{x},{y},20,20\n")
        (root / name / "groundtruth.txt").write_text("".join(rows))
    (root / "b" / "img" / "000007.jpg").write_bytes(b"\x00corrupt")
    return load_sequence_folder(root)


def test_item_contract(synthetic):
    ds = PairDataset(IntervalSampler([synthetic]), PairProcessor(SMALL), samples_per_epoch=8, seed=3)
    x = ds[0]
    assert x["template"].dtype == torch.uint8 and x["template"].shape == (3, 64, 64)
    assert x["search"].dtype == torch.uint8 and x["search"].shape == (3, 128, 128)
    assert x["search_box"].dtype == torch.float32 and x["search_box"].shape == (4,)
    assert x["heatmap"].dtype == torch.float32 and x["heatmap"].shape == (8, 8)
    for k in ("bin", "interval", "redraws", "skipped_frames", "epoch", "index"):
        assert x[k].dtype == torch.int64 and x[k].shape == ()
    assert x["sample_id"].startswith("e0/i0/seqs/")
    assert x["bin"] == ds.bins.bin_of(int(x["interval"]))
    with pytest.raises(IndexError, match="out of range"):
        ds[8]
    with pytest.raises(TypeError, match="SampleKey"):
        ds["3"]


def test_deterministic_given_seed_epoch_index(synthetic):
    def make(seed):
        return PairDataset(IntervalSampler([synthetic]), PairProcessor(SMALL), samples_per_epoch=6, seed=seed)

    a, b = make(1), make(1)
    order_a = [a[i] for i in range(6)]
    order_b = [b[i] for i in reversed(range(6))][::-1]  # other order: same samples
    for x, y in zip(order_a, order_b):
        assert x["sample_id"] == y["sample_id"]
        assert torch.equal(x["search"], y["search"]) and torch.equal(x["heatmap"], y["heatmap"])
    a.set_epoch(1)
    assert [a[i]["sample_id"] for i in range(6)] != [x["sample_id"] for x in order_a]
    assert [make(2)[i]["sample_id"] for i in range(6)] != [x["sample_id"] for x in order_a]


def test_rank_partitions_are_disjoint(synthetic):
    ds = PairDataset(IntervalSampler([synthetic]), PairProcessor(SMALL), samples_per_epoch=20)
    parts = [[k.index for k in EpochSampler(ds, rank=r, world_size=3)] for r in range(3)]
    assert all(len(p) == 6 for p in parts)
    flat = sorted(i for p in parts for i in p)
    assert len(set(flat)) == 18 and flat == sorted(set(flat))
    with pytest.raises(ValueError, match="rank"):
        EpochSampler(ds, rank=3, world_size=3)


def test_corrupt_frames_skipped_and_counted(synthetic, caplog):
    seq_b = [s for s in synthetic][1]
    ds = PairDataset(IntervalSampler([synthetic]), PairProcessor(SMALL), samples_per_epoch=200)
    skipped = redraws = 0
    with caplog.at_level("WARNING", logger="training.data"):
        for i in range(200):
            x = ds[i]
            skipped, redraws = skipped + int(x["skipped_frames"]), redraws + int(x["redraws"])
            seq, frames = x["sample_id"].split("/")[-2:]
            assert not (seq == "b" and "6" in frames.split("-"))  # never the corrupt frame
    assert skipped == ds.skipped_frames > 0  # each sample reports the unreadable frames it skipped
    assert redraws >= skipped
    assert "000007.jpg" in caplog.text and "skipped unreadable frame" in caplog.text
    assert seq_b.frames.path(6).endswith("000007.jpg")


def test_bin_probs_reach_persistent_workers(synthetic):
    ds = PairDataset(IntervalSampler([synthetic]), PairProcessor(SMALL), samples_per_epoch=8, seed=0)
    loader = DataLoader(ds, batch_size=4, sampler=EpochSampler(ds), num_workers=2, persistent_workers=True)
    ds.set_epoch(1)
    ds.set_bin_probs([0, 1, 0, 0, 0, 0, 0, 0])
    first = [i for b in loader for i in b["sample_id"]]
    assert all(b.startswith("e1/") for b in first)
    ds.set_epoch(2)
    ds.set_bin_probs([0, 0, 1, 0, 0, 0, 0, 0])  # after the workers exist
    bins = torch.cat([b["bin"] for b in loader])
    assert bins.tolist() == [2] * 8
    # the workers produced exactly what the main process produces
    key = SampleKey(2, 5, ds.bin_probs)
    again = [i for b in loader for i in b["sample_id"]]
    assert again[5] == ds[key]["sample_id"]


def test_random_sampler_dataset_has_no_bin_probs(synthetic):
    ds = PairDataset(RandomSampler([synthetic]), PairProcessor(SMALL), samples_per_epoch=4)
    with pytest.raises(TypeError, match="IntervalSampler"):
        ds.set_bin_probs([0, 1, 0, 0, 0, 0, 0, 0])
    x = ds[0]
    assert 1 <= int(x["interval"]) < 40 and x["bin"] == 1


@pytest.mark.realdata
@pytest.mark.parametrize("sampler_kind", ["interval", "random"])
def test_real_samples_heatmap_peak_at_box_centre(real_sets, sampler_kind):
    sot, stills = real_sets
    if sampler_kind == "interval":
        sampler = IntervalSampler([sot, stills], bin_probs=[0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    else:
        sampler = RandomSampler([sot, stills], weights=[3, 1])
    ds = PairDataset(sampler, PairProcessor(CropSizes(), ProcessingConfig()), samples_per_epoch=24, seed=11)
    f = CropSizes().feature_size
    bins = set()
    for i in range(24):
        x = ds[i]
        box = x["search_box"].numpy()
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        assert 0 <= cx < 1 and 0 <= cy < 1  # centre inside the crop
        assert box[0] < 1 and box[1] < 1 and box[0] + box[2] > 0 and box[1] + box[3] > 0
        np.testing.assert_allclose(x["search_box_cxcywh"].numpy(), [cx, cy, box[2], box[3]], atol=1e-6)
        heat = x["heatmap"].numpy()
        iy, ix = np.unravel_index(heat.argmax(), heat.shape)
        assert heat.max() == 1.0
        assert (ix, iy) == (min(round(cx * f), f - 1), min(round(cy * f), f - 1))
        assert int(x["bin"]) == ds.bins.bin_of(int(x["interval"]), is_image="stills/" in x["sample_id"])
        bins.add(int(x["bin"]))
    assert 0 in bins and len(bins) >= 3
