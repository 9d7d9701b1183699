"""The helpers of the ARM check, without emulation (run everywhere): the comparison
(scripts/arm64/compare.py) on synthetic runs must flag what it claims to flag, and the skip reason
of scripts/arm64/emu_env.py must name what is missing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from arm_scripts import _load, compare, emu_env


def _run(box_shift=0.0, score_shift=0.0, net_shift=0.0, ok=(True, True), crop_shift=0, noise=None, scores=(0.6, 0.5)):
    run = {
        "meta": np.array(json.dumps({"variants": {"v": {"backend": "onnxruntime", "precision": "int8"}},
                                     "lost_threshold": 0.25})),
        "frame_sha256": np.array(["a", "b"]),
        "crop_template": np.full((4, 4, 3), 100 + crop_shift, np.uint8),
        "crop_search": np.full((8, 8, 3), 100, np.uint8),
        "v__boxes": np.array([[10.0, 20.0, 30.0, 40.0], [11.0, 21.0, 30.0, 40.0]]) + box_shift,
        "v__scores": np.array(scores) + score_shift,
        "v__ok": np.array(ok),
    }
    for k in compare.MAPS:
        run[f"v__{k}"] = np.full((2, 2), 0.5, np.float32) + np.float32(net_shift)
    for k, v in (noise or {}).items():
        run[f"v__{k}"] = np.float64(v)
    return run


def test_identical_runs_pass():
    assert compare.violations(compare.diffs(_run(), _run())) == []


@pytest.mark.parametrize(
    "other, what",
    [
        (dict(box_shift=0.6), "box_px"),
        (dict(score_shift=2e-3), "score"),
        (dict(net_shift=2e-4), "net"),
        (dict(box_shift=float("nan")), "box_px"),
        (dict(ok=(True, False)), "ok/lost"),
        (dict(crop_shift=2), "crops"),
    ],
)
def test_each_kind_of_difference_is_flagged(other, what):
    bad = compare.violations(compare.diffs(_run(), _run(**other)))
    assert len(bad) == 1 and what in bad[0], bad


def test_within_floor_passes():
    assert compare.violations(compare.diffs(_run(), _run(box_shift=0.4, score_shift=5e-4, net_shift=5e-5))) == []


def test_tolerance_scales_with_the_reference_self_noise():
    ref = _run(noise={"net_noise": 0.01, "box_noise": 1.0, "score_noise": 0.01})
    tol = compare.tolerance_for(ref, "v")
    assert (tol.net, tol.box_px, tol.score) == pytest.approx((0.04, 4.0, 0.04))
    assert compare.violations(compare.diffs(ref, _run(box_shift=3.9, net_shift=0.03))) == []
    assert compare.violations(compare.diffs(ref, _run(box_shift=4.1)))


def test_tracker_noise_moves_a_few_crop_values_by_one_step():
    """The tracker self-noise (track_frames.py) mimics cross-host crop rounding: about
    CROP_NOISE_FRACTION of the values move, each by exactly one uint8 step, inside 0..255."""
    track_frames = _load("track_frames")
    x = np.random.default_rng(1).integers(0, 256, (1, 3, 192, 192)).astype(np.float32)
    x[0, 0, 0, :50], x[0, 0, 1, :50] = 0.0, 255.0
    y = track_frames._stepped(x, np.random.default_rng(0))
    moved = np.abs(y - x)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 255
    assert set(np.unique(moved)) <= {0.0, 1.0}
    share = (moved > 0).mean()
    assert 0.5 * track_frames.CROP_NOISE_FRACTION < share < 1.5 * track_frames.CROP_NOISE_FRACTION


def test_ok_flag_may_differ_only_next_to_the_lost_threshold():
    # x86 score 0.2505 on frame 2: within the 1e-3 score tolerance of lost_threshold 0.25
    ref = _run(scores=(0.6, 0.2505))
    assert compare.violations(compare.diffs(ref, _run(scores=(0.6, 0.2505), ok=(True, False)))) == []
    assert compare.violations(compare.diffs(ref, _run(scores=(0.6, 0.2505), ok=(False, True))))


def test_host_reason_names_the_missing_piece(monkeypatch):
    monkeypatch.setattr(emu_env.platform, "machine", lambda: "aarch64")
    assert "x86-64 Linux host" in emu_env.host_unsupported_reason()
    monkeypatch.setattr(emu_env.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(emu_env.platform, "system", lambda: "Linux")
    monkeypatch.setattr(emu_env.os, "geteuid", lambda: 1000)
    assert "root" in emu_env.host_unsupported_reason()
    monkeypatch.setattr(emu_env.os, "geteuid", lambda: 0)
    monkeypatch.setattr(emu_env.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(emu_env, "SETUP_SH", emu_env.REPO / "no-such-setup.sh")
    assert "no-such-setup.sh" in emu_env.host_unsupported_reason()
