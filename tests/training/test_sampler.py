"""Interval bins, the interval-based sampler, OSTrack's random sampler and the q_R estimate."""

from __future__ import annotations

import numpy as np
import pytest

from _train_tiny import train_clips
from training.data.bins import BinConfig
from training.data.datasets import load_stills
from training.data.frames import FileListFrames, NumberedFrames
from training.data.sampler import IntervalSampler, RandomSampler, estimate_random_bin_probs, partner_counts
from training.data.sequence import ImageBoxDataset, Sequence, VideoDataset


def video(name, n, visible=None):
    vis = np.ones(n, bool) if visible is None else np.asarray(visible, bool)
    return Sequence(name, NumberedFrames("/nowhere", "%08d.jpg", 1, n), np.tile([1.0, 1.0, 8.0, 8.0], (n, 1)), vis)


def videos(lengths, name="v"):
    return VideoDataset(name, [video(f"{name}{i}", n) for i, n in enumerate(lengths)])


def images(n, name="img"):
    return ImageBoxDataset(name, [f"/nowhere/{i}.jpg" for i in range(n)], np.arange(n), np.tile([1, 1, 5, 5], (n, 1)))


def test_bin_layout_and_bin_of():
    b = BinConfig()
    assert b.num_bins == 8
    assert b.labels() == ["image", "[0,30)", "[30,60)", "[60,90)", "[90,120)", "[120,150)", "[150,180)", "[180,200)"]
    assert [b.bin_of(i) for i in (0, 1, 29, 30, 59, 60, 179, 180, 199)] == [1, 1, 1, 2, 2, 3, 6, 7, 7]
    assert b.bin_of(-45) == 2  # search before template: same bin as after
    assert b.bin_of(0, is_image=True) == 0
    assert b.bin_of(230) == 7  # widened random-sampler gaps land in the last bin
    assert BinConfig(max_interval=100, bin_width=40).video_edges == (0, 40, 80, 100)
    assert BinConfig(edges=(0, 10, 50)).num_bins == 3
    with pytest.raises(ValueError, match="strictly increasing"):
        BinConfig(edges=(0, 30, 30))


def test_partner_counts_matches_brute_force():
    rng = np.random.default_rng(3)
    vis = rng.random(70) < 0.6
    for lo, hi in ((0, 30), (30, 60), (60, 90)):
        brute = [sum(1 for x in range(70) if vis[x] and lo <= abs(x - t) < hi) for t in range(70)]
        assert partner_counts(vis, lo, hi).tolist() == brute


def test_interval_sampler_bins_correct_in_both_directions():
    ds = videos([250, 40, 120])
    s = IntervalSampler([ds])
    rng = np.random.default_rng(0)
    for b in range(1, 8):
        lo, hi = s.bins.bounds(b)
        pairs = [s.draw(rng, bin=b) for _ in range(400)]
        signed = np.array([p.search_frame - p.template_frame for p in pairs])
        assert all(p.bin == b and p.interval == abs(p.search_frame - p.template_frame) for p in pairs)
        assert np.all(np.abs(signed) >= lo) and np.all(np.abs(signed) < hi)
        assert 0.35 < np.mean(signed < 0) < 0.65  # search before and after the template
        assert all(0 <= p.search_frame < ds.lengths[p.sequence] for p in pairs)


def test_interval_sampler_uses_only_visible_frames():
    vis = np.zeros(200, bool)
    vis[[5, 6, 50, 120, 121, 199]] = True
    ds = VideoDataset("v", [video("sparse", 200, vis)])
    s = IntervalSampler([ds])
    rng = np.random.default_rng(1)
    for b in (1, 2, 3, 4):
        for _ in range(50):
            p = s.draw(rng, bin=b)
            assert vis[p.template_frame] and vis[p.search_frame]


def test_interval_sampler_respects_q():
    s = IntervalSampler([videos([300, 220, 90]), images(10)])
    q = np.array([0.3, 0.25, 0.1, 0.1, 0.05, 0.05, 0.05, 0.1])
    s.set_bin_probs(q)
    rng = np.random.default_rng(7)
    n = 20000
    counts = np.bincount([s.draw(rng).bin for _ in range(n)], minlength=8)
    np.testing.assert_allclose(counts / n, q, atol=4 * np.sqrt(q * (1 - q) / n).max())
    assert s.stats.samples.tolist() == counts.tolist()


def test_bin_zero_draws_still_images_only():
    vids, imgs = videos([100]), images(5)
    s = IntervalSampler([vids, imgs], bin_probs=[1, 0, 0, 0, 0, 0, 0, 0])
    rng = np.random.default_rng(2)
    pairs = [s.draw(rng) for _ in range(50)]
    assert all(p.dataset == 1 and p.interval == 0 and p.bin == 0 for p in pairs)
    assert {p.sequence for p in pairs} == set(range(5))


def test_redraws_are_counted_per_bin_and_by_reason():
    vis = np.zeros(150, bool)
    vis[:5] = True  # long enough for [60, 90) but no visible pair there
    ds = VideoDataset("v", [video("short", 20), video("long", 200), video("blind", 150, vis)])
    s = IntervalSampler([ds])
    rng = np.random.default_rng(4)
    pairs = [s.draw(rng, bin=3) for _ in range(300)]
    assert all(p.sequence == 1 for p in pairs)
    assert s.stats.redraws[3] == sum(p.redraws for p in pairs) > 0
    assert s.stats.reasons["too_short"] > 0 and s.stats.reasons["no_visible_pair"] > 0
    assert s.stats.reasons["too_short"] + s.stats.reasons["no_visible_pair"] == s.stats.redraws[3]
    assert s.stats.redraws[[0, 1, 2, 4, 5, 6, 7]].sum() == 0
    # about 2 rejected videos per accepted one (each video equally likely)
    assert 1.5 < s.stats.redraws[3] / 300 < 2.5


def test_unavailable_bins_are_refused_not_silently_moved():
    s = IntervalSampler([videos([100, 50])])  # no still images; nothing reaches 120
    assert s.bins_available.tolist() == [False, True, True, True, True, False, False, False]
    np.testing.assert_allclose(s.bin_probs, [0, 0.25, 0.25, 0.25, 0.25, 0, 0, 0])
    with pytest.raises(ValueError, match=r"bins \[0, 5\]"):
        s.set_bin_probs([0.1, 0.2, 0.2, 0.2, 0.2, 0.1, 0, 0])
    with pytest.raises(ValueError, match="8 bins|has 3 entries"):
        s.set_bin_probs([0.5, 0.5, 0])
    with pytest.raises(ValueError, match="sum to 1"):
        s.set_bin_probs([0, 0.5, 0.5, 0.5, 0, 0, 0, 0])
    with pytest.raises(ValueError, match=">= 0"):
        s.set_bin_probs([0, 1.5, -0.5, 0, 0, 0, 0, 0])


def test_dataset_weights_validated():
    with pytest.raises(ValueError, match="2 datasets"):
        IntervalSampler([videos([50]), images(3)], weights=[1])
    with pytest.raises(TypeError, match="SequenceDataset"):
        RandomSampler([[video("x", 30)]])


def test_random_sampler_is_causal_and_bounded():
    ds = VideoDataset("v", [video("tiny", 10), video("a", 400), video("b", 60)])
    s = RandomSampler([ds])
    rng = np.random.default_rng(5)
    pairs = [s.draw(rng) for _ in range(2000)]
    iv = np.array([p.search_frame - p.template_frame for p in pairs])
    assert iv.min() >= 1 and iv.max() <= 199
    assert all(p.sequence != 0 for p in pairs)  # < 20 frames: never used
    assert s.stats.reasons["sequence_rejected"] == sum(p.redraws for p in pairs) > 0
    assert all(p.bin == s.bins.bin_of(p.interval) for p in pairs)
    assert all(p.template_frame <= ds.lengths[p.sequence] - 2 for p in pairs)


def test_random_sampler_widens_gap_when_no_visible_frame():
    vis = np.zeros(600, bool)
    vis[[0, 1, 2, 3, 4, 450]] = True
    s = RandomSampler([VideoDataset("v", [video("gappy", 600, vis)])])
    rng = np.random.default_rng(6)
    pairs = [s.draw(rng) for _ in range(200)]
    long = [p for p in pairs if p.search_frame == 450]
    assert long and all(p.interval >= 446 and p.bin == 7 for p in long)


def test_random_sampler_dataset_weights():
    s = RandomSampler([videos([100]), images(4)], weights=[3, 1])
    rng = np.random.default_rng(8)
    frac = np.mean([s.draw(rng).bin == 0 for _ in range(8000)])
    assert abs(frac - 0.25) < 0.02


def test_q_random_estimate_on_real_training_set(train_videos, stills_dir):
    sot, stills = train_clips(train_videos), load_stills(stills_dir)
    q = estimate_random_bin_probs([sot, stills], weights=[3, 1], n=20000, seed=0)
    assert q.shape == (8,) and q.sum() == pytest.approx(1.0)
    assert abs(q[0] - 0.25) < 0.015  # still images: their dataset weight
    assert np.all(q[1:] > 0)  # the real set reaches every video bin
    assert np.all(np.diff(q[1:]) < 0)  # the causal sampler favours short intervals
    # the estimate agrees with an independent simulation (different seed) within sampling error
    q2 = estimate_random_bin_probs([sot, stills], weights=[3, 1], n=20000, seed=1)
    np.testing.assert_allclose(q, q2, atol=4 * np.sqrt(0.25 * 0.75 / 20000) * np.sqrt(2))
    # every video bin can be filled by the interval sampler on this set as well
    assert IntervalSampler([sot, stills]).bins_available.all()


def test_image_sequence_must_have_one_frame():
    with pytest.raises(ValueError, match="exactly 1 frame"):
        Sequence("img", FileListFrames(["a.jpg", "b.jpg"]), np.ones((2, 4)), np.ones(2, bool), is_image=True)


def test_dataset_cannot_mix_images_and_videos():
    img = Sequence("still", FileListFrames(["a.jpg"]), np.ones((1, 4)), np.ones(1, bool), is_image=True)
    with pytest.raises(ValueError, match="mixes still images and videos"):
        VideoDataset("mixed", [img, video("v", 30)])
    assert VideoDataset("imgs", [img]).is_image
