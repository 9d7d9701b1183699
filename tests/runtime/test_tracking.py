"""Tracking on real frames with the tiny exported model, backend agreement, decoding and lost logic.

The tiny model is random, so accuracy is not tested: these tests check geometry, plumbing and the
state machine."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import sstrack_edge
from sstrack_edge import geometry
from sstrack_edge.backends import LoadedModel, default_model_dir
from sstrack_edge.evaluation.absence import shift_frame
from sstrack_edge.tracker import TILE_STRIDE

BACKENDS = ["onnxruntime", "openvino"]


def _need(backend):
    pytest.importorskip(backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tracks_a_real_sequence_with_finite_in_image_boxes(backend, tiny_model_dir, make_tracker, real_clip):
    _need(backend)
    frames, gt = real_clip
    H, W = frames[0].shape[:2]
    tracker = make_tracker(tiny_model_dir, backend=backend, threads=1, lost_threshold=0.0)
    assert tracker.model.backend == backend
    tracker.init(frames[0], gt[0])
    assert tracker.result.state == "initialized" and tracker.result.bbox == tuple(gt[0])
    for i, frame in enumerate(frames[1:], start=1):
        ok, (x, y, w, h) = tracker.update(frame)
        r = tracker.result
        assert ok and r.state == "tracking" and r.frame_index == i
        assert all(math.isfinite(v) for v in (x, y, w, h))
        assert 0 <= x and 0 <= y and x + w <= W + 1e-6 and y + h <= H + 1e-6
        assert w >= 10 and h >= 10  # clip margin from the card
        assert 0.0 < r.score < 1.0
        assert r.latency_ms >= r.timings_ms["inference"] > 0
        bx, by, bw, bh = r.bbox_int
        assert abs(bx - x) <= 0.5 and abs(bw - w) <= 1.0 and isinstance(bw, int)


def test_onnxruntime_and_openvino_agree(tiny_model_dir, make_tracker, real_clip):
    """Each update from the same state (init on the previous frame's true box), so float noise is
    not fed back through the next crop: boxes and scores of the trained default model agree; then
    the raw maps of the tiny model on identical inputs."""
    _need("openvino")
    from sstrack_edge.backends import default_model_dir

    frames, gt = real_clip
    trackers = [make_tracker(default_model_dir(), variant=v, threads=1) for v in ("fp32", "openvino-fp32")]
    for i in range(1, 10):
        (ok_a, box_a), (ok_b, box_b) = ((t.init(frames[i - 1], gt[i - 1]), t.update(frames[i]))[1] for t in trackers)
        assert ok_a == ok_b
        np.testing.assert_allclose(box_b, box_a, atol=0.05)
        assert abs(trackers[0].result.score - trackers[1].result.score) < 1e-3
    # raw maps on identical inputs
    trackers = [make_tracker(tiny_model_dir, backend=b, threads=1) for b in BACKENDS]
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 255, trackers[0]._template.shape).astype(np.float32)
    x = rng.uniform(0, 255, trackers[0]._search.shape).astype(np.float32)
    out_ort = [o.copy() for o in trackers[0].model.create_runner()(z, x)]
    out_ov = [o.copy() for o in trackers[1].model.create_runner()(z, x)]
    for a, b in zip(out_ort, out_ov):
        np.testing.assert_allclose(b, a, atol=2e-4)


# --------------------------------------------------------------------------------- decoding
def _fake_model(card, score, size, offset) -> LoadedModel:
    """A LoadedModel whose network returns fixed maps (to test the decoding arithmetic)."""
    variant = replace(card.variants[0], name="fake", backend="fake")
    return LoadedModel(card, variant, 1, False, None, runner_factory=lambda m: (lambda z, x: (score, size, offset)))


def test_decode_maps_peak_back_to_image_pixels(tiny_model_dir):
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    F, Sf = card.feature_size, card.search.factor
    score = np.full((F, F), 0.01, np.float32)
    score[5, 11] = 0.9  # row (y) 5, column (x) 11
    size = np.full((2, F, F), 0.1, np.float32)
    size[:, 5, 11] = (0.25, 0.125)
    offset = np.full((2, F, F), 0.5, np.float32)
    offset[:, 5, 11] = (0.2, 0.7)
    frame = np.zeros((600, 800, 3), np.uint8)
    box = (300.0, 200.0, 64.0, 64.0)
    tracker = sstrack_edge.Tracker(_fake_model(card, score, size, offset), lost_threshold=0.1)
    tracker.init(frame, box)
    ok, (x, y, w, h) = tracker.update(frame)
    side = math.ceil(64 * Sf)
    x0, y0 = 332 - side / 2, 232 - side / 2
    cx, cy = x0 + (11 + 0.2) / F * side, y0 + (5 + 0.7) / F * side
    assert ok
    np.testing.assert_allclose((x, y, w, h), (cx - 0.125 * side, cy - 0.0625 * side, 0.25 * side, 0.125 * side), atol=1e-6)
    assert tracker.score == pytest.approx(0.9 * geometry.hann2d(F)[5, 11])


def test_hann_window_decides_between_equal_peaks(tiny_model_dir):
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    F = card.feature_size
    score = np.full((F, F), 0.01, np.float32)
    score[1, 1] = 0.9  # border peak
    score[7, 9] = 0.8  # lower, near the centre: wins once windowed
    maps = (score, np.full((2, F, F), 0.2, np.float32), np.zeros((2, F, F), np.float32))
    tracker = sstrack_edge.Tracker(_fake_model(card, *maps), lost_threshold=0.0)
    frame = np.zeros((400, 400, 3), np.uint8)
    tracker.init(frame, (180, 180, 40, 40))
    _, (x, y, w, h) = tracker.update(frame)
    side = math.ceil(40 * card.search.factor)
    assert x + w / 2 == pytest.approx(200 - side / 2 + 9 / F * side)
    assert y + h / 2 == pytest.approx(200 - side / 2 + 7 / F * side)


def test_size_update_rate_smooths_the_size_and_keeps_the_centre(tiny_model_dir):
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    F, Sf = card.feature_size, card.search.factor
    score = np.full((F, F), 0.01, np.float32)
    score[6, 6] = 0.8
    size = np.full((2, F, F), 0.1, np.float32)
    size[:, 6, 6] = (0.5, 0.25)  # the detection is 2x wider and as high as the 64 px box (side 256)
    offset = np.zeros((2, F, F), np.float32)
    card = replace(card, inference={**card.inference, "size_update_rate": 0.5})
    tracker = sstrack_edge.Tracker(_fake_model(card, score, size, offset), lost_threshold=0.1)
    frame = np.zeros((600, 800, 3), np.uint8)
    tracker.init(frame, (300.0, 200.0, 64.0, 64.0))
    _, (x, y, w, h) = tracker.update(frame)
    side = math.ceil(64 * Sf)
    det_w, det_h = 0.5 * side, 0.25 * side
    a = 0.5 * 0.8  # rate x raw score of the chosen cell (not the windowed one)
    assert (w, h) == pytest.approx((64 + a * (det_w - 64), 64 + a * (det_h - 64)))
    cx, cy = 332 - side / 2 + 6 / F * side, 232 - side / 2 + 6 / F * side
    assert (x + w / 2, y + h / 2) == pytest.approx((cx, cy))  # the centre is the detection's


def test_size_update_rate_does_not_slow_a_reacquisition(tiny_model_dir):
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    F = card.feature_size
    score = np.full((F, F), 0.01, np.float32)
    score[6, 6] = 0.8
    size = np.full((2, F, F), 0.5, np.float32)
    card = replace(card, inference={**card.inference, "size_update_rate": 0.1})
    tracker = sstrack_edge.Tracker(_fake_model(card, score, size, np.zeros((2, F, F), np.float32)), lost_threshold=0.9)
    frame = np.zeros((600, 800, 3), np.uint8)
    tracker.init(frame, (300.0, 200.0, 40.0, 40.0))
    assert not tracker.update(frame)[0]  # lost: window off from the next frame, factor grows
    factor = tracker.search_factor
    tracker.lost_threshold = 0.5
    ok, (x, y, w, h) = tracker.update(frame)
    assert ok and (w, h) == pytest.approx((0.5 * math.ceil(40 * factor),) * 2)  # the detection's size as is


# ----------------------------------------------------------------------------------- lost logic
def test_lost_keeps_last_box_widens_search_and_reacquires(tiny_model_dir, make_tracker, real_clip):
    frames, gt = real_clip
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    base, growth, cap = card.search.factor, card.inference["search_growth_when_lost"], card.inference["max_search_factor"]
    tracker = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=1.0)  # nothing passes
    tracker.init(frames[0], gt[0])
    factors = []
    for k, frame in enumerate(frames[1:15], start=1):
        ok, box = tracker.update(frame)
        r = tracker.result
        assert not ok and r.lost and r.state == "lost" and tracker.lost
        assert box == tuple(gt[0])  # last good box: neither moved nor grown
        factors.append(r.search_factor)
        assert tracker.search_factor == pytest.approx(min(base * growth**k, cap))
    assert factors[0] == base and factors[1] == pytest.approx(base * growth)
    assert factors[-1] == pytest.approx(cap) and max(factors) <= cap + 1e-9  # capped
    tracker.lost_threshold = 0.0  # the target "comes back"
    ok, box = tracker.update(frames[15])
    assert ok and tracker.result.state == "tracking" and tracker.result.search_factor == pytest.approx(cap)
    assert tracker.search_factor == base  # back to the normal factor
    tracker.update(frames[16])
    assert tracker.result.search_factor == base


def test_lost_patience_follows_the_peak_then_redetects_around_the_last_good_box(tiny_model_dir):
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    F, base, growth = card.feature_size, card.search.factor, card.inference["search_growth_when_lost"]
    score = np.full((F, F), 0.01, np.float32)
    score[F // 2, F // 2 + 2] = 0.6  # the peak sits 2 cells right of the centre, every frame
    side = math.ceil(40 * base)
    size = np.full((2, F, F), 40 / side, np.float32)  # detections keep the 40 px box size
    card = replace(card, inference={**card.inference, "lost_patience": 3})
    tracker = sstrack_edge.Tracker(_fake_model(card, score, size, np.zeros((2, F, F), np.float32)), lost_threshold=0.9)
    frame = np.zeros((900, 1600, 3), np.uint8)
    init = (400.0, 400.0, 40.0, 40.0)
    step = (F // 2 + 2) / F * side - side / 2  # how far one followed frame moves the centre
    tracker.init(frame, init)
    for _ in range(2):  # within patience: reported lost with the last good box, search keeps following
        ok, box = tracker.update(frame)
        assert not ok and box == init and tracker.result.search_factor == base
    assert tracker.search_factor == base
    tracker.lost_threshold = 0.0  # confident again: the box is where the followed search led
    ok, (x, y, w, h) = tracker.update(frame)
    assert ok and x + w / 2 == pytest.approx(420 + 3 * step) and y + h / 2 == pytest.approx(420)
    good = tracker.result.bbox
    tracker.lost_threshold = 0.9
    for k in range(1, 5):  # the 4th low frame exhausts the patience of 3: back to the last good box
        ok, box = tracker.update(frame)
        assert not ok and box == good
    assert tracker.search_factor == pytest.approx(base * growth)
    tracker.lost_threshold = 0.0
    ok, (x, y, w, h) = tracker.update(frame)
    wide = math.ceil(40 * base * growth)
    assert ok and x + w / 2 == pytest.approx(good[0] + 20 + (F // 2 + 2) / F * wide - wide / 2)


@pytest.mark.parametrize("width, height, side", [(1600, 900, 160), (640, 360, 57), (300, 200, 400)])
def test_tiles_cover_the_frame_nearest_first(width, height, side):
    centres = geometry.tile_centres(width, height, side, 50.0, 60.0, TILE_STRIDE)
    c = np.asarray(centres)
    ys, xs = np.mgrid[0:height:7, 0:width:7]
    covered = np.zeros(xs.shape, bool)
    for cx, cy in centres:
        covered |= (np.abs(xs - cx) <= side / 2) & (np.abs(ys - cy) <= side / 2)
    assert covered.all()
    d = np.hypot(c[:, 0] - 50, c[:, 1] - 60)
    assert (np.diff(d) >= 0).all()
    if side >= max(width, height):
        assert centres == [(width / 2, height / 2)]
    else:  # neighbours at most stride x side apart, so no tile is wasted on an overlap beyond that
        gaps = np.diff(np.unique(c[:, 0]))
        assert gaps.max() <= TILE_STRIDE * side + 1e-9
    with pytest.raises(ValueError, match="stride in"):
        geometry.tile_centres(width, height, side, 0, 0, 1.5)


def _scanned_model(card, net: dict) -> LoadedModel:
    """A network with a presence map that sees the target in any crop with a lit pixel: score and
    presence peak (0.9, ``net["presence"]``) at the centre cell, a ``net["size"]`` px box for a crop
    of the normal side; 0.05 everywhere for a dark crop. ``net`` may change between frames."""
    F = card.feature_size
    card = replace(card, outputs={**card.outputs, "presence_map": "presence_map"})
    offset = np.zeros((2, F, F), np.float32)

    def run(z, x):
        score = np.full((F, F), 0.05, np.float32)
        pres = score.copy()
        if x.max() > 0:
            score[F // 2, F // 2], pres[F // 2, F // 2] = 0.9, net["presence"]
        size = np.full((2, F, F), net["size"] / math.ceil(40 * card.search.factor), np.float32)
        return score, size, offset, pres

    variant = replace(card.variants[0], name="fake", backend="fake")
    return LoadedModel(card, variant, 1, False, None, runner_factory=lambda m: run)


def _scan_setup(tiny_model_dir, tiles: int, presence: float = 0.9, reacquire=None, **kw):
    """A 40 px target at (100, 100) of a dark 1600 x 900 frame; it reappears lit at (1380, 700), far
    beyond the widest local search (8 x 40 px around the last box). Returns the tracker, that frame
    and the fake network's settings."""
    card = sstrack_edge.ModelCard.load(tiny_model_dir)
    inference = {**card.inference, "lost_patience": 0, "redetect_tiles": tiles, "reacquire_threshold": reacquire}
    net = {"presence": presence, "size": 40.0}
    tracker = sstrack_edge.Tracker(_scanned_model(replace(card, inference=inference), net), **kw)
    frame = np.zeros((900, 1600, 3), np.uint8)
    tracker.init(frame, (100.0, 100.0, 40.0, 40.0))
    frame[700:720, 1380:1400] = 255
    return tracker, frame, net


def _overlaps_target(cx, cy, side):
    return abs(cx - 1390) < side / 2 + 10 and abs(cy - 710) < side / 2 + 10


@pytest.mark.parametrize("doubtful_frame", [False, True])
def test_redetection_scans_the_frame_in_tiles_and_finds_a_target_that_moved(tiny_model_dir, doubtful_frame):
    """With ``doubtful_frame`` the loss starts with a frame that passes the lost threshold but not the
    re-acquire one and shrinks the box to 10 px: the tiles keep the size of the last sure box."""
    tracker, frame, net = _scan_setup(tiny_model_dir, tiles=8, reacquire=0.5, lost_threshold=0.2)
    side = geometry.crop_side((0, 0, 40, 40), tracker.card.search.factor)
    order = geometry.tile_centres(1600, 900, side, 120, 120, TILE_STRIDE)
    first = next(i for i, c in enumerate(order) if _overlaps_target(*c, side))
    assert first >= 8  # not in the first frame's tiles: the scan must move on
    if doubtful_frame:
        lit = np.zeros_like(frame)
        lit[110:130, 110:130] = 255
        net.update(presence=0.3, size=10.0)
        ok, (x, y, w, h) = tracker.update(lit)
        assert ok and (w, h) == (10, 10)  # rounded by clip_box's margin: still 10 px
        net.update(presence=0.9, size=40.0)
    ok, _ = tracker.update(frame)  # the first lost frame (patience 0): no scan yet
    assert not ok and "redetect" not in tracker.result.timings_ms
    good = tracker.result.bbox
    for _ in range(first // 8):
        ok, box = tracker.update(frame)
        assert not ok and box == good and tracker.result.timings_ms["redetect"] > 0
    ok, (x, y, w, h) = tracker.update(frame)  # the frame whose tiles reach the target
    assert ok and tracker.result.state == "tracking" and tracker.result.score == pytest.approx(0.9)
    assert (x + w / 2, y + h / 2) == pytest.approx(order[first]) and (w, h) == pytest.approx((40, 40))
    assert tracker.result.search_factor == tracker.card.search.factor
    # without tiles the widening local search never gets there
    tracker, frame, _ = _scan_setup(tiny_model_dir, tiles=0, lost_threshold=0.5)
    for _ in range(len(order)):
        ok, box = tracker.update(frame)
        assert not ok and box == (100.0, 100.0, 40.0, 40.0) and "redetect" not in tracker.result.timings_ms


def test_a_redetection_needs_the_reacquire_threshold(tiny_model_dir):
    """Presence 0.3 keeps a tracking target (threshold 0.2) but does not re-acquire a lost one when
    the card asks 0.4; the effective re-acquire threshold is never below the lost threshold."""
    side = geometry.crop_side((0, 0, 40, 40), 4.0)
    sweep = len(geometry.tile_centres(1600, 900, side, 120, 120, TILE_STRIDE)) // 8 + 2
    tracker, frame, _ = _scan_setup(tiny_model_dir, tiles=8, presence=0.3, reacquire=0.4, lost_threshold=0.2)
    assert tracker.reacquire_threshold == 0.4 and tracker.redetect_tiles == 8
    assert not any(tracker.update(frame)[0] for _ in range(sweep))
    tracker, frame, _ = _scan_setup(tiny_model_dir, tiles=8, presence=0.3, reacquire=None, lost_threshold=0.2)
    assert tracker.reacquire_threshold == 0.2
    assert any(tracker.update(frame)[0] for _ in range(sweep))
    tracker, _, _ = _scan_setup(tiny_model_dir, tiles=8, reacquire=0.4, lost_threshold=0.6)
    assert tracker.reacquire_threshold == 0.6


def test_the_default_model_finds_a_car_that_moved_while_hidden(real_sequence):
    """The bundled model on real drone frames (UAVDT S1301, cars on a road): 8 black frames, then the
    scene shifted so the car is ~170 px from where it was lost, beyond the widest local search. With
    the card's frame scan the car is re-acquired on the first frame and followed; the same card
    without the scan (the control) has not found it after 5 frames (v6 finds it on the 7th once its
    search has widened; v5 not within 20)."""
    frames, gt = real_sequence("S1301", 21)
    dx, dy = -128, -112
    card = sstrack_edge.ModelCard.load(default_model_dir())
    assert card.inference["redetect_tiles"] > 0
    black = np.zeros_like(frames[0])
    for tiles in (card.inference["redetect_tiles"], 0):
        inference = {**card.inference, "redetect_tiles": tiles}
        tracker = sstrack_edge.Tracker(replace(card, inference=inference), backend="onnxruntime", precision="fp32", threads=1)
        tracker.init(frames[0], gt[0])
        assert not any(tracker.update(black)[0] for _ in range(8))
        ious = []
        for k in range(1, 21):
            ok, box = tracker.update(shift_frame(frames[k], dx, dy))
            truth = np.array(gt[k]) + (dx, dy, 0, 0)
            ious.append(float(geometry.iou_xywh(np.array(box), truth)) if ok else 0.0)
        if tiles:
            assert min(ious) >= 0.5, ious
        else:
            assert max(ious[:5]) < 0.5, ious  # the widening local search needs several frames


def test_lost_settings_come_from_the_card_unless_given(tiny_model_dir, make_tracker):
    inf = sstrack_edge.ModelCard.load(tiny_model_dir).inference
    tracker = make_tracker(tiny_model_dir)
    assert tracker.settings == dict(lost_threshold=inf["lost_threshold"], lost_patience=inf.get("lost_patience", 0),
                                    reacquire_threshold=inf["lost_threshold"], redetect_tiles=0, lost_relative=0.0)
    given = dict(lost_threshold=0.2, lost_patience=4, reacquire_threshold=0.5, redetect_tiles=3, lost_relative=0.4)
    tracker = make_tracker(tiny_model_dir, **given)
    assert tracker.settings == given
    assert make_tracker(tiny_model_dir, **tracker.settings).settings == given
    with pytest.raises(ValueError, match="redetect_tiles must be a whole number"):
        make_tracker(tiny_model_dir, redetect_tiles=-1)
    with pytest.raises(ValueError, match="reacquire_threshold must be None/null or a number in"):
        make_tracker(tiny_model_dir, reacquire_threshold=1.5)
    with pytest.raises(ValueError, match="lost_relative must be a number in"):
        make_tracker(tiny_model_dir, lost_relative=1.0)


@pytest.mark.parametrize("relative, lost", [(0.0, False), (0.5, True)])
def test_lost_relative_raises_the_bar_to_the_targets_usual_presence(tiny_model_dir, relative, lost):
    """Presence 0.8 on the first frames, then 0.3: above the lost threshold (0.15), but below half
    the target's usual presence, which ``lost_relative`` 0.5 makes the bar."""
    tracker, _, net = _scan_setup(tiny_model_dir, tiles=0, reacquire=0.4, lost_threshold=0.15, lost_relative=relative)
    lit = np.zeros((900, 1600, 3), np.uint8)
    lit[110:130, 110:130] = 255
    net.update(presence=0.8)
    assert all(tracker.update(lit)[0] for _ in range(5))
    assert tracker.current_lost_threshold == pytest.approx(max(0.15, relative * 0.8))
    net.update(presence=0.3)
    ok, _ = tracker.update(lit)
    assert ok is not lost and tracker.result.score == pytest.approx(0.3)
    tracker.init(lit, (100.0, 100.0, 40.0, 40.0))  # a new target: no usual presence yet
    assert tracker.current_lost_threshold == 0.15


def test_hann_window_is_skipped_while_lost(tiny_model_dir, make_tracker, real_clip):
    frames, gt = real_clip
    tracker = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=1.0)
    tracker.init(frames[0], gt[0])
    run = tracker.model.create_runner()
    hann = geometry.hann2d(tracker.card.feature_size)

    def raw_score_map(frame, factor):
        box = gt[0]
        crop = geometry.crop_square(frame, box[0] + box[2] / 2, box[1] + box[3] / 2, geometry.crop_side(box, factor), tracker.card.search.size)
        x = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        return run(tracker._template, x)[0].copy()

    tracker.update(frames[1])  # first lost frame: it was tracking, window applied
    assert tracker.score == pytest.approx(float((raw_score_map(frames[1], tracker.result.search_factor) * hann).max()), rel=1e-5)
    tracker.update(frames[2])  # already lost: no window
    assert tracker.score == pytest.approx(float(raw_score_map(frames[2], tracker.result.search_factor).max()), rel=1e-5)


def test_black_frames_raise_lost_and_the_box_does_not_run_away(tiny_model_dir, make_tracker, real_clip):
    frames, gt = real_clip
    black = np.zeros_like(frames[0])
    H, W = black.shape[:2]
    probe = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=0.0)
    probe.init(frames[0], gt[0])
    boxes = []
    for _ in range(30):  # threshold 0: the tracker must follow whatever it sees, but stay bounded
        ok, box = probe.update(black)
        boxes.append(box)
    boxes = np.asarray(boxes)
    assert np.isfinite(boxes).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= W + 1e-6).all()
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 1] + boxes[:, 3] <= H + 1e-6).all()
    tracker = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1)
    tracker.init(frames[0], gt[0])
    # A black crop gives the same maps wherever and however large it is taken: a threshold just
    # above their unwindowed maximum must flag every black frame as lost.
    black_maps = tracker.model.create_runner()(tracker._template, np.zeros_like(tracker._search))
    tracker.lost_threshold = min(1.0, float(black_maps[0].max()) + 1e-3)
    for _ in range(10):
        ok, box = tracker.update(black)
        assert not ok and box == tuple(gt[0])
    assert tracker.result.search_factor > tracker.card.search.factor


def test_init_restarts_after_loss(tiny_model_dir, make_tracker, real_clip):
    frames, gt = real_clip
    tracker = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=1.0)
    tracker.init(frames[0], gt[0])
    for f in frames[1:4]:
        tracker.update(f)
    assert tracker.lost and tracker.search_factor > tracker.card.search.factor
    tracker.init(frames[4], gt[4])
    assert not tracker.lost and tracker.state == "initialized" and tracker.search_factor == tracker.card.search.factor
    assert tracker.result.bbox == tuple(gt[4]) and tracker.result.frame_index == 0


@pytest.mark.parametrize("channels", [3, 1, 4])
def test_update_makes_no_full_frame_copies(tiny_model_dir, make_tracker, channels):
    import tracemalloc

    rng = np.random.default_rng(1)
    shape = (1500, 2000) if channels == 1 else (1500, 2000, channels)
    frame = rng.integers(0, 256, size=shape, dtype=np.uint8)  # 3-12 MB
    tracker = make_tracker(tiny_model_dir, backend="onnxruntime", threads=1, lost_threshold=0.0)
    tracker.init(frame, (900, 700, 80, 60))
    tracker.update(frame)  # first call allocates the search crop buffer
    tracemalloc.start()
    try:
        for _ in range(3):
            tracker.update(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < frame.nbytes / 10, f"update() allocated {peak} bytes for a {frame.nbytes}-byte frame"
