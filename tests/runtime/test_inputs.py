"""Bad and unusual frames / boxes: clear errors for the bad ones, identical tracking for accepted variants."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sstrack_edge import TrackerNotInitializedError


@pytest.fixture(scope="module")
def tracker(tiny_model_dir, make_tracker):
    return make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=0.0)


@pytest.fixture
def started(tracker, real_clip):
    frames, gt = real_clip
    tracker.init(frames[0], gt[0])
    return tracker


def test_update_before_init_raises(tiny_model_dir, make_tracker, real_clip):
    fresh = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1)
    with pytest.raises(TrackerNotInitializedError, match="before init"):
        fresh.update(real_clip[0][1])


@pytest.mark.parametrize(
    "frame, exc, message",
    [
        (None, TypeError, "None"),
        ([[0, 0, 0]], TypeError, "numpy array"),
        (np.zeros((240, 360, 3), np.float32), TypeError, "uint8"),
        (np.zeros((240, 360, 3), np.uint16), TypeError, "uint8"),
        (np.zeros((240, 360, 2), np.uint8), ValueError, "2 channels"),
        (np.zeros((240, 360, 5), np.uint8), ValueError, "5 channels"),
        (np.zeros((1, 240, 360, 3), np.uint8), ValueError, "shape"),
        (np.zeros((0, 360, 3), np.uint8), ValueError, "empty"),
    ],
)
def test_bad_frames_raise_clear_errors(started, frame, exc, message):
    with pytest.raises(exc, match=message):
        started.update(frame)
    with pytest.raises(exc, match=message):
        started.init(frame, (10, 10, 20, 20))


@pytest.mark.parametrize(
    "box, exc, message",
    [
        (None, TypeError, "None"),
        ("10,10,20,20", TypeError, "string"),
        ((10, 10, 20), ValueError, "4 values"),
        ((10, 10, 0, 20), ValueError, "positive width"),
        ((10, 10, 20, -5), ValueError, "positive width"),
        ((float("nan"), 10, 20, 20), ValueError, "non-finite"),
        ((10, 10, float("inf"), 20), ValueError, "non-finite"),
        ((400, 10, 20, 20), ValueError, "outside"),
        ((-50, 10, 20, 20), ValueError, "outside"),
        ((10, 250, 20, 20), ValueError, "outside"),
        (("a", 1, 2, 3), TypeError, "4 numbers"),
        (("10", "10", "20", "20"), TypeError, "'10' \\(str\\) is not one"),
        ((True, 10, 20, 20), TypeError, "True \\(bool\\) is not one"),
        (np.array([1, 1, 1, 1], dtype=bool), TypeError, "bool"),
        ((10, 10, None, 20), TypeError, "None"),
    ],
)
def test_bad_boxes_raise_clear_errors(tracker, real_clip, box, exc, message):
    with pytest.raises(exc, match=message):
        tracker.init(real_clip[0][0], box)


def test_box_partly_outside_is_clipped_to_the_frame(tracker, real_clip):
    frames, _ = real_clip
    H, W = frames[0].shape[:2]
    tracker.init(frames[0], (-10, -10, 40, 40))
    assert tracker.result.bbox == (0.0, 0.0, 30.0, 30.0)  # what is tracked is what is reported
    ok, box = tracker.update(frames[1])
    assert ok and all(np.isfinite(box))
    tracker.init(frames[0], (0, 0, 1e9, 1e9))
    assert tracker.result.bbox == (0.0, 0.0, float(W), float(H))
    ok, (x, y, w, h) = tracker.update(frames[1])
    assert 0 <= x and 0 <= y and x + w <= W and y + h <= H


def test_int_and_numpy_boxes_are_accepted(tracker, real_clip):
    frame = real_clip[0][0]
    for box in ((10, 20, 30, 40), [10.0, 20, 30, 40], np.array([10, 20, 30, 40], np.int32),
                (np.float32(10), np.int64(20), 30, 40)):
        tracker.init(frame, box)
        assert tracker.result.bbox == (10.0, 20.0, 30.0, 40.0)


@pytest.mark.parametrize("side", [1, 5, 9, 19])
def test_frames_smaller_than_twice_the_clip_margin_are_refused(tracker, side):
    tiny = np.full((side, side, 3), 128, np.uint8)
    with pytest.raises(ValueError, match=f"{side}x{side} pixels; this model needs at least 20x20"):
        tracker.init(tiny, (0, 0, 1, 1))


def test_smallest_accepted_frame_tracks_inside_it(tracker, real_clip):
    small = cv2.resize(real_clip[0][0], (20, 20))
    tracker.init(small, (5, 5, 10, 10))
    for _ in range(5):
        ok, (x, y, w, h) = tracker.update(small)
        assert 0 <= x and 0 <= y and x + w <= 20 + 1e-9 and y + h <= 20 + 1e-9


def test_float_frames_get_the_conversion_that_fits_their_range(tracker):
    unit = np.full((240, 360, 3), 0.5, np.float32)  # 0..1 data
    with pytest.raises(TypeError, match=r"values are in 0\.\.1.*\* 255"):
        tracker.init(unit, (10, 10, 20, 20))
    wide = np.full((240, 360, 3), 200.0, np.float64)
    with pytest.raises(TypeError, match=r"np\.clip\(frame, 0, 255\)"):
        tracker.init(wide, (10, 10, 20, 20))


def test_frame_size_change_asks_for_reinit(started, real_clip):
    smaller = cv2.resize(real_clip[0][1], (180, 120))
    with pytest.raises(ValueError, match="frame size changed.*init"):
        started.update(smaller)
    started.init(smaller, (50, 30, 20, 30))  # re-init on the new size works
    ok, box = started.update(smaller)
    assert ok and box[0] + box[2] <= 180 and box[1] + box[3] <= 120


def _track(tracker, frames, box):
    tracker.init(frames[0], box)
    return [tracker.update(f)[1] for f in frames[1:]]


def test_grayscale_frames_track_like_their_bgr_conversion(tracker, real_clip):
    frames, gt = real_clip
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames[:6]]
    as_bgr = [cv2.cvtColor(g, cv2.COLOR_GRAY2BGR) for g in gray]
    expected = _track(tracker, as_bgr, gt[0])
    np.testing.assert_allclose(_track(tracker, gray, gt[0]), expected, atol=1e-4)
    np.testing.assert_allclose(_track(tracker, [g[:, :, None] for g in gray], gt[0]), expected, atol=1e-4)


def test_bgra_frames_track_like_bgr(tracker, real_clip):
    frames, gt = real_clip
    bgra = [cv2.cvtColor(f, cv2.COLOR_BGR2BGRA) for f in frames[:6]]
    for f in bgra:
        f[:, :, 3] = 7  # alpha must be ignored
    np.testing.assert_allclose(_track(tracker, bgra, gt[0]), _track(tracker, frames[:6], gt[0]), atol=1e-4)


def test_non_contiguous_frames_are_accepted(tracker, real_clip):
    frames, gt = real_clip
    mirrored = [f[:, ::-1] for f in frames[:6]]  # negative strides, no copy
    assert not mirrored[0].flags.c_contiguous
    x, y, w, h = gt[0]
    box = (360 - x - w, y, w, h)
    expected = _track(tracker, [np.ascontiguousarray(m) for m in mirrored], box)
    np.testing.assert_allclose(_track(tracker, mirrored, box), expected, atol=1e-4)


@pytest.mark.parametrize("value, exc", [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("0.3", TypeError)])
def test_bad_lost_threshold(tiny_model_dir, make_tracker, value, exc):
    with pytest.raises(exc, match="lost_threshold"):
        make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=value)
