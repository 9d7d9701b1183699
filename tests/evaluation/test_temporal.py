"""TRE (temporal robustness evaluation): segment start frames, segments, and ``eval --starts``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sstrack_edge.evaluation import Sequence, load_dataset, segment_starts, temporal_segments
from sstrack_edge.evaluation.cli import main
from sstrack_edge.evaluation.temporal import segment


CLIP = "UAV123_10fps_building5"  # 161 frames


@pytest.fixture(scope="module")
def building5(train_videos):
    return load_dataset(train_videos, "videos", [CLIP])[0]


def test_segments_start_evenly_and_are_slices_of_the_sequence(building5):
    n = len(building5)
    starts = segment_starts(building5, 10)
    assert starts == [round(j * n / 10) for j in range(10)]
    segs = temporal_segments([building5], 10)
    assert segs[0] is building5 and [s.name for s in segs[1:3]] == [f"{CLIP}@{starts[1] + 1}", f"{CLIP}@{starts[2] + 1}"]
    for i, s in zip(starts, segs):
        assert len(s) == n - i and s.frames[0] == building5.frames[i]
        np.testing.assert_array_equal(s.ground_truth, building5.ground_truth[i:])
        assert np.array_equal(s.init_box, building5.ground_truth[i])
    assert segs[4].meta["tre_parent"] == CLIP and segs[4].meta["tre_start"] == starts[4]


def test_starts_skip_absent_frames_and_too_short_tails(building5):
    gt = building5.ground_truth.copy()
    gt[16:20] = np.nan  # the second start (frame 16) falls on an absent target
    seq = Sequence("gappy", building5.frames, gt)
    assert segment_starts(seq, 10)[1] == 20
    short = Sequence("short", building5.frames[:3], building5.ground_truth[:3])
    assert segment_starts(short, 10) == [0, 1]  # duplicates merged; frame 2 alone has nothing to score


def test_one_start_is_ope_and_bad_starts_are_named(building5):
    assert temporal_segments([building5], 1) == [building5]
    for bad in (0, -2, 1.5, True, "3"):
        with pytest.raises(ValueError, match="starts .* must be a positive integer"):
            temporal_segments([building5], bad)
    with pytest.raises(ValueError, match="start frame 999 is outside"):
        segment(building5, 999)
    first_only = Sequence("test_set", building5.frames, building5.ground_truth[:1])
    with pytest.raises(ValueError, match="TRE needs ground truth on every frame"):
        temporal_segments([first_only], 4)


@pytest.mark.realdata
def test_eval_cli_scores_every_segment(train_videos, tmp_path, capsys):
    out = tmp_path / "tre"
    argv = [str(train_videos), "--sequences", CLIP, "--trackers", "opencv:csrt", "--modes", "offline",
            "--starts", "4", "--out", str(out), "--quiet", "--no-plots", "--threads", "1"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    per_seq = summary["trackers"]["opencv:csrt"]["offline"]["per_sequence"]
    assert set(per_seq) == {CLIP, f"{CLIP}@41", f"{CLIP}@81", f"{CLIP}@122"}
    assert summary["conventions"]["starts"] == 4
    # the summary weights the segments equally
    mean = np.mean([s["auc"] for s in per_seq.values()])
    assert summary["trackers"]["opencv:csrt"]["offline"]["auc"] == pytest.approx(mean)
    # each segment was tracked from its own start: the result file has the segment's length
    assert len((out / "offline" / "opencv_csrt" / f"{CLIP}@122.txt").read_text().splitlines()) == 161 - 121
    capsys.readouterr()
    assert main(argv[:-6] + ["--submission", "got10k", "--out", str(tmp_path / "sub")]) == 2
    assert "cannot be combined with --starts" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(argv[:-8] + ["--starts", "0", "--out", str(out)])
    assert "--starts: must be a positive integer, got 0" in capsys.readouterr().err
