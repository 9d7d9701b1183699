"""Absence events injected into real clips: deterministic, each kind makes what it claims."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sstrack_edge.evaluation import Sequence, load_dataset
from sstrack_edge.evaluation.absence import (
    AFTER_FRAMES, EVENT_FRAMES, KINDS, LEAD_FRAMES, PAN_VISIBLE, REAL, check_seed, enlarged_rect, frame_kinds,
    inject_absences, inject_sequence, pan_offset, parse_kinds,
)

pytestmark = pytest.mark.realdata
CLIPS = ["DTB70_MountainBike6", "OTB_Bird2"]  # 81 and 99 frames, target always visible


@pytest.fixture(scope="module")
def clips(train_videos):
    return load_dataset(train_videos, "videos", CLIPS)


def one_kind(clips, kind, seed=0, clip=0):
    seq, other = clips[clip], clips[1 - clip]
    inj = inject_sequence(seq, [kind], seed, [other])
    assert inj.events and {e.kind for e in inj.events} == {kind}
    return inj


def absent_rows(gt):
    return np.isnan(gt).any(axis=1)


def test_events_are_deterministic_for_a_seed_and_differ_across_seeds(clips):
    a, b = inject_absences(clips, KINDS, 0), inject_absences(clips, KINDS, 0)
    for x, y in zip(a, b):
        assert [e.to_dict() for e in x.events] == [e.to_dict() for e in y.events]
        assert np.array_equal(x.ground_truth, y.ground_truth, equal_nan=True)
        for e in x.events:
            for i in (e.start, e.stop - 1):
                assert np.array_equal(x.read_frame(i), y.read_frame(i)), (e.kind, i)
    plans = {seed: [[e.to_dict() for e in s.events] for s in inject_absences(clips, KINDS, seed)] for seed in range(4)}
    assert len({repr(p) for p in plans.values()}) == 4  # every seed its own events
    for seed in range(4):
        for seq in inject_absences(clips, KINDS, seed):
            n, events = len(seq), seq.events
            assert 1 <= len(events) <= 3 and len({e.kind for e in events}) == len(events)  # distinct kinds (5 asked)
            for e, nxt in zip(events, list(events[1:]) + [None]):
                assert e.start >= LEAD_FRAMES and EVENT_FRAMES[0] <= e.length <= EVENT_FRAMES[1]
                assert (nxt.start if nxt else n) - e.stop >= AFTER_FRAMES  # visible frames after each event
                assert seq.present()[e.stop:e.stop + AFTER_FRAMES].all()


def test_blank_frames_are_black_and_the_target_absent(clips):
    inj = one_kind(clips, "blank")
    for e in inj.events:
        assert absent_rows(inj.ground_truth[e.start:e.stop]).all()
        for i in range(e.start, e.stop):
            assert inj.read_frame(i).shape == inj.base.read_frame(i).shape and not inj.read_frame(i).any()
        assert np.array_equal(inj.read_frame(e.stop), inj.base.read_frame(e.stop))  # the clip again after


def test_noise_frames_are_seeded_uniform_noise(clips):
    inj = one_kind(clips, "noise")
    e = inj.events[0]
    f, g = inj.read_frame(e.start).astype(np.float64), inj.read_frame(e.start + 1).astype(np.float64)
    assert f.mean() == pytest.approx(127.5, abs=1.5) and f.std() == pytest.approx(73.9, abs=1.5)  # uniform 0..255
    horizontal = np.corrcoef(f[:, :-1].ravel(), f[:, 1:].ravel())[0, 1]
    assert abs(horizontal) < 0.02  # no image structure: neighbouring pixels independent
    assert abs(np.corrcoef(f.ravel(), g.ravel())[0, 1]) < 0.02  # a new draw every frame
    assert abs(np.corrcoef(f.ravel(), inj.base.read_frame(e.start).astype(np.float64).ravel())[0, 1]) < 0.02
    assert np.array_equal(inject_sequence(inj.base, ["noise"], 0, [clips[1]]).read_frame(e.start), f.astype(np.uint8))
    assert absent_rows(inj.ground_truth[e.start:e.stop]).all()


def test_scene_frames_come_from_the_other_clip(clips):
    inj = one_kind(clips, "scene")
    other = clips[1]
    h, w = inj.frame_size
    for e in inj.events:
        assert e.detail["source"] == other.name
        for i in (e.start, e.start + 5, e.stop - 1):
            src = other.read_frame((e.detail["offset"] + i - e.start) % len(other))
            assert np.array_equal(inj.read_frame(i), cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA))
        assert absent_rows(inj.ground_truth[e.start:e.stop]).all()
    with pytest.raises(ValueError, match="another clip"):
        inject_absences(clips[:1], ["scene"], 0)


def test_pan_moves_the_ground_truth_with_the_content_and_hides_the_target_outside(clips):
    for clip in (0, 1):
        inj = one_kind(clips, "pan", clip=clip)
        h, w = inj.frame_size
        for e in inj.events:
            visible = []
            for i in range(e.start, e.stop):
                dx, dy = pan_offset(e, i)
                base, frame = inj.base.read_frame(i), inj.read_frame(i)
                assert (dx, dy) != (0, 0) and (dx == 0 or dy == 0)
                ys, xs = slice(max(0, dy), h + min(0, dy)), slice(max(0, dx), w + min(0, dx))
                assert np.array_equal(frame[ys, xs], base[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)])
                assert frame.sum() == frame[ys, xs].sum()  # the revealed border is black
                x, y, bw, bh = inj.base.ground_truth[i] + [dx, dy, 0, 0]
                x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
                inside = max(0, x1 - x0) * max(0, y1 - y0) / (bw * bh)
                gt = inj.ground_truth[i]
                if inside >= PAN_VISIBLE:
                    assert gt == pytest.approx([x0, y0, x1 - x0, y1 - y0])  # moved with the content, clipped
                else:
                    assert np.isnan(gt).all()
                visible.append(inside >= PAN_VISIBLE)
            hold = e.start + e.length // 2
            assert pan_offset(e, hold) == pan_offset(e, e.start + e.detail["ramp"])  # held at full distance
            x, y, bw, bh = inj.base.ground_truth[hold] + [*pan_offset(e, hold), 0, 0]
            assert x + bw <= 0 or y + bh <= 0 or x >= w or y >= h  # entirely outside while held
            assert visible[0] and not all(visible)  # panned out progressively
            assert np.array_equal(inj.read_frame(e.stop), inj.base.read_frame(e.stop))


def test_occluder_pastes_a_patch_from_elsewhere_over_the_enlarged_box(clips):
    for clip in (0, 1):
        inj = one_kind(clips, "occluder", clip=clip)
        h, w = inj.frame_size
        for e in inj.events:
            px, py, pw, ph = e.detail["patch"]
            source = inj.sources[e.detail["source"]].read_frame(e.detail["frame"])
            patch = source[py:py + ph, px:px + pw]
            assert np.array_equal(inj.occluder_patch(e), patch)
            for i in range(e.start, e.stop):
                x0, y0, x1, y1 = enlarged_rect(inj.base.ground_truth[i], w, h)
                bx, by, bw, bh = inj.base.ground_truth[i]
                assert x0 <= bx and y0 <= by and x1 >= min(w, bx + bw) and y1 >= min(h, by + bh)  # covers the box
                if e.detail["source"] == inj.base.name:  # from elsewhere: not the target's own pixels
                    assert px + pw <= x0 or px >= x1 or py + ph <= y0 or py >= y1
                frame, base = inj.read_frame(i), inj.base.read_frame(i)
                expected = cv2.resize(patch, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
                assert np.array_equal(frame[y0:y1, x0:x1], expected)
                frame[y0:y1, x0:x1] = base[y0:y1, x0:x1]
                assert np.array_equal(frame, base)  # nothing else changed
            assert absent_rows(inj.ground_truth[e.start:e.stop]).all()


def test_ground_truth_presence_and_frame_kinds_agree(clips):
    for seed in (0, 1, 2):
        for inj in inject_absences(clips, "all", seed):
            gt, base = inj.ground_truth, inj.base
            in_event = np.zeros(len(inj), dtype=bool)
            for e in inj.events:
                in_event[e.start:e.stop] = True
            assert np.array_equal(inj.present(), ~absent_rows(gt))
            assert np.array_equal(gt[~in_event], base.ground_truth[~in_event])  # untouched outside the events
            assert in_event[absent_rows(gt)].all() and np.isfinite(gt[0]).all()
            assert inj.meta["absence_events"] == [e.to_dict() for e in inj.events] and inj.name != base.name
            kinds = frame_kinds(inj)
            for e in inj.events:
                assert (kinds[e.start:e.stop + AFTER_FRAMES] == e.kind).all()
            assert set(kinds[~in_event & (kinds != "")]) <= {e.kind for e in inj.events}
            for i in np.flatnonzero(~in_event)[:3]:
                assert np.array_equal(inj.read_frame(i), base.read_frame(i))


def test_real_absences_stay_and_are_labelled_real(train_videos):
    (seq,) = load_dataset(train_videos, "videos", ["UAV123_10fps_person9"])  # 12 absent frames, 16-27
    kinds = frame_kinds(seq)
    assert (kinds[16:28 + AFTER_FRAMES] == REAL).all() and (kinds[:16] == "").all()
    other = load_dataset(train_videos, "videos", CLIPS[:1])
    (inj,) = inject_absences([seq, *other], ["blank", "noise"], 0)[:1]
    assert np.isnan(inj.ground_truth[16:28]).all() and all(e.start >= 28 + AFTER_FRAMES or e.stop + AFTER_FRAMES <= 16
                                                            for e in inj.events)
    assert (frame_kinds(inj)[16:28] == REAL).all()


def test_bad_input_is_a_value_error(clips):
    with pytest.raises(ValueError, match="unknown absence kind.*'smoke'"):
        parse_kinds("blank,smoke")
    assert parse_kinds("all") == KINDS and parse_kinds("pan,pan,blank") == ("pan", "blank")
    with pytest.raises(ValueError, match="non-negative"):
        check_seed(-1)
    seq = clips[0]
    short = Sequence("short", seq.frames[:30], seq.ground_truth[:30], fps=seq.fps)
    with pytest.raises(ValueError, match="too short for an absence event"):
        inject_sequence(short, ["blank"], 0)
