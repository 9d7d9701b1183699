"""OSTrack pair processing: jitter, crops through sstrack_edge.geometry, GT box, heatmap, augmentation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sstrack_edge.geometry import box_to_crop, crop_side, crop_square
from training.data.augment import flip_box
from training.data.config import CropSizes, ProcessingConfig
from training.data.heatmap import center_heatmap, gaussian_radius
from training.data.processing import PairProcessor, jitter_box

NO_AUG = ProcessingConfig(search_center_jitter=0, search_scale_jitter=0, grayscale_prob=0, joint_flip_prob=0,
                          crop_flip_prob=0, brightness=0)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)


def test_without_jitter_crops_equal_the_runtime_crop(frame):
    box = np.array([100.0, 80.0, 40.0, 30.0])
    out = PairProcessor(CropSizes(), NO_AUG)(frame, box, frame, box, np.random.default_rng(0))
    cx, cy = 120.0, 95.0
    np.testing.assert_array_equal(out.template, crop_square(frame, cx, cy, crop_side(box, 2.0), 128))
    np.testing.assert_array_equal(out.search, crop_square(frame, cx, cy, crop_side(box, 4.0), 256))
    np.testing.assert_allclose(out.search_box, box_to_crop(box, cx, cy, crop_side(box, 4.0)), rtol=1e-6)
    np.testing.assert_allclose(out.search_box_cxcywh[:2], [0.5, 0.5], atol=1e-6)
    assert out.template.dtype == np.uint8 and out.template.shape == (128, 128, 3)
    assert out.heatmap.shape == (16, 16) and out.heatmap.dtype == np.float32


def test_jitter_statistics_follow_ostrack():
    rng = np.random.default_rng(1)
    box = np.array([50.0, 60.0, 40.0, 10.0])
    j = np.array([jitter_box(box, 3.0, 0.25, rng) for _ in range(20000)])
    logw, logh = np.log(j[:, 2] / 40.0), np.log(j[:, 3] / 10.0)
    assert abs(logw.std() - 0.25) < 0.01 and abs(logh.std() - 0.25) < 0.01 and abs(np.corrcoef(logw, logh)[0, 1]) < 0.03
    # centre offset is sqrt(w'h') * 3 * U(-0.5, 0.5): within +-1.5 sqrt(w'h'), uniform
    rel = (j[:, 0] - 70.0) / np.sqrt(j[:, 2] * j[:, 3])
    assert np.abs(rel).max() <= 1.5 and abs(rel.std() - 3.0 / np.sqrt(12)) < 0.02
    np.testing.assert_array_equal(jitter_box(box, 0, 0, rng), [70.0, 65.0, 40.0, 10.0])


def test_gaussian_radius_hand_computed():
    # w = h = 4 cells, min_overlap 0.7: roots 7.63, 14.69, 1.0933 (the third is the minimum)
    assert gaussian_radius(4, 4, 0.7) == pytest.approx((-11.2 + np.sqrt(11.2**2 + 4 * 2.8 * 4.8)) / 2)
    assert gaussian_radius(4, 4, 0.7) == pytest.approx(1.0933, abs=1e-4)


def test_heatmap_peak_at_box_centre():
    h = center_heatmap(np.array([0.3, 0.55, 0.25, 0.25]), 16)  # 4x4 cells, centre (6.8, 10.8) -> (7, 11)
    assert h.max() == 1.0 and np.argwhere(h == 1.0).tolist() == [[11, 7]]
    assert np.count_nonzero(h) == 9  # radius 1
    np.testing.assert_allclose(h, h[::-1, ::-1][::-1, ::-1])
    assert h[11, 6] == pytest.approx(np.exp(-1 / (2 * 0.5**2)))  # sigma = (2r+1)/6 = 0.5
    edge = center_heatmap(np.array([0.9, 0.9, 0.2, 0.2]), 16)  # centre rounds to cell 16: clamped
    assert edge[15, 15] == 1.0
    with pytest.raises(ValueError, match="w, h > 0"):
        center_heatmap(np.array([0.1, 0.1, 0.0, 0.2]), 16)


def test_target_outside_frame_is_rejected(frame):
    proc = PairProcessor(CropSizes(), NO_AUG)
    outside = np.array([2000.0, 2000.0, 10.0, 10.0])  # crop entirely in padding
    inside = np.array([100.0, 80.0, 40.0, 30.0])
    assert proc(frame, inside, frame, outside, np.random.default_rng(0)) is None
    assert proc(frame, outside, frame, inside, np.random.default_rng(0)) is None


def test_rejects_when_centre_jitters_out_of_crop(frame):
    cfg = dataclasses.replace(NO_AUG, search_center_jitter=30.0, search_scale_jitter=0.0)
    proc = PairProcessor(CropSizes(), cfg)
    box = np.array([140.0, 100.0, 40.0, 40.0])
    results = [proc(frame, box, frame, box, np.random.default_rng(s)) for s in range(60)]
    kept = [r for r in results if r is not None]
    assert 0 < len(kept) < len(results)
    for r in kept:
        c = r.search_box_cxcywh[:2]
        assert np.all(c >= 0) and np.all(c < 1)


def test_joint_flip_mirrors_crop_and_box(frame):
    box = np.array([60.0, 80.0, 40.0, 30.0])
    base = PairProcessor(CropSizes(), NO_AUG)(frame, box, frame, box, np.random.default_rng(0))
    flipped = PairProcessor(CropSizes(), dataclasses.replace(NO_AUG, joint_flip_prob=1.0))(
        frame, box, frame, box, np.random.default_rng(0))
    np.testing.assert_array_equal(flipped.search, base.search[:, ::-1])
    np.testing.assert_array_equal(flipped.template, base.template[:, ::-1])
    np.testing.assert_allclose(flipped.search_box, flip_box(base.search_box), atol=1e-6)
    # a mirrored frame cropped around the mirrored box gives the same pixels
    mirrored = np.ascontiguousarray(frame[:, ::-1])
    mbox = np.array([320 - 60 - 40, 80, 40, 30], dtype=np.float64)
    direct = PairProcessor(CropSizes(), NO_AUG)(mirrored, mbox, mirrored, mbox, np.random.default_rng(0))
    np.testing.assert_array_equal(direct.search, flipped.search)


def test_grayscale_and_brightness(frame):
    box = np.array([100.0, 80.0, 40.0, 30.0])
    gray = PairProcessor(CropSizes(), dataclasses.replace(NO_AUG, grayscale_prob=1.0))(
        frame, box, frame, box, np.random.default_rng(0))
    assert np.array_equal(gray.search[..., 0], gray.search[..., 1])
    assert np.array_equal(gray.template[..., 0], gray.template[..., 2])
    base = PairProcessor(CropSizes(), NO_AUG)(frame, box, frame, box, np.random.default_rng(0))
    bright = PairProcessor(CropSizes(), dataclasses.replace(NO_AUG, brightness=0.2))(
        frame, box, frame, box, np.random.default_rng(3))
    ratio = bright.search.astype(float).mean() / base.search.astype(float).mean()
    assert 0.75 < ratio < 1.2 and ratio != pytest.approx(1.0, abs=1e-3)


def test_blur_extras_smooth_the_crop(frame):
    box = np.array([100.0, 80.0, 40.0, 30.0])
    base = PairProcessor(CropSizes(), NO_AUG)(frame, box, frame, box, np.random.default_rng(0))
    for extra in (dict(blur_prob=1.0), dict(motion_blur_prob=1.0, motion_blur_length=(7, 7))):
        proc = PairProcessor(CropSizes(), dataclasses.replace(NO_AUG, **extra))
        out = proc(frame, box, frame, box, np.random.default_rng(0))
        diff = lambda a: np.abs(np.diff(a.astype(np.int16), axis=1)).mean()  # noqa: E731
        assert diff(out.search) < 0.8 * diff(base.search)


def test_small_cpu_sizes():
    sizes = CropSizes(template_size=96, search_size=192)
    assert sizes.feature_size == 12
    img = np.full((100, 100, 3), 128, np.uint8)
    box = np.array([30.0, 30.0, 20.0, 20.0])
    out = PairProcessor(sizes)(img, box, img, box, np.random.default_rng(0))
    assert out.template.shape == (96, 96, 3) and out.search.shape == (192, 192, 3) and out.heatmap.shape == (12, 12)


def test_sizes_from_model_config():
    cfg = dict(template_size=96, search_size=192, template_factor=2.0, search_factor=4.5, patch_size=16)
    assert CropSizes.from_model_config(cfg) == CropSizes(96, 192, 2.0, 4.5, 16)
    with pytest.raises(TypeError, match="patch_size"):
        CropSizes.from_model_config({k: v for k, v in cfg.items() if k != "patch_size"})


def test_bad_config_and_input_raise_clearly(frame):
    with pytest.raises(ValueError, match="multiples of the stride"):
        CropSizes(template_size=100)
    with pytest.raises(ValueError, match="grayscale_prob"):
        ProcessingConfig(grayscale_prob=1.5)
    with pytest.raises(ValueError, match="unknown processing config keys"):
        ProcessingConfig.from_dict({"scale_jiter": 0.3})
    assert ProcessingConfig.from_dict({"blur_sigma": [1, 2]}).blur_sigma == (1, 2)
    proc = PairProcessor()
    with pytest.raises(ValueError, match="search_box"):
        proc(frame, np.array([1, 1, 5, 5.0]), frame, np.array([1, 1, np.nan, 5.0]), np.random.default_rng(0))
    with pytest.raises(TypeError, match="uint8"):
        proc(frame.astype(np.float32), np.array([1, 1, 5, 5.0]), frame, np.array([1, 1, 5, 5.0]), np.random.default_rng(0))


def test_sizes_agree_with_the_network_config():
    pytest.importorskip("torch")
    from training.models.ostrack import ModelConfig

    cfg = ModelConfig(template_size=96, search_size=192)
    sizes = CropSizes.from_model_config(cfg)
    assert (sizes.template_size, sizes.search_size, sizes.feature_size) == (96, 192, cfg.feature_size)
