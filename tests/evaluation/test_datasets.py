"""Each benchmark reader on a tiny fixture in the benchmark's true on-disk layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval_layouts import boxes, write_frames, write_rows
from sstrack_edge.evaluation import AnnotationError, DatasetFormatError, load_dataset, read_boxes
from sstrack_edge.evaluation.datasets import uav123_start_frame

NAN = ["nan", "nan", "nan", "nan"]


def names(n, fmt="{:06d}.jpg", start=1):
    return [fmt.format(i) for i in range(start, start + n)]


# ------------------------------------------------------------------------- annotations
def test_read_boxes_accepts_comma_tab_whitespace_and_nan(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("1,2,3,4\n5\t6\t7\t8\n9 10  11 12\nnan,nan,nan,nan\nNaN NaN NaN NaN\n\n")
    b = read_boxes(p)
    assert b.shape == (5, 4)
    assert b[:3].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    assert np.isnan(b[3:]).all()


@pytest.mark.parametrize(
    "text, message",
    [("1,2,3\n", "expected 4"), ("1,2,3,x\n", "not numeric"), ("", "empty"), ("1,2,3,4\n\n1,2,3,4\n", "line 2 is empty")],
)
def test_read_boxes_rejects_corrupt_files(tmp_path, text, message):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(AnnotationError, match=message):
        read_boxes(p)


def test_missing_annotation_file_is_a_clear_error(tmp_path):
    with pytest.raises(AnnotationError, match="not found"):
        read_boxes(tmp_path / "groundtruth.txt")


# ------------------------------------------------------------------------------ formats
def test_sot_layout_with_sequences_json(tmp_path):
    write_frames(tmp_path / "a" / "img", names(5))
    write_rows(tmp_path / "a" / "groundtruth.txt", boxes(3) + [NAN] + boxes(1))
    write_frames(tmp_path / "b" / "img", names(3))
    write_rows(tmp_path / "b" / "groundtruth.txt", boxes(3))
    (tmp_path / "sequences.json").write_text(json.dumps({"a": {"fps": 10, "dataset": "UAV123_10fps"}, "b": {"fps": 30}}))
    seqs = load_dataset(tmp_path, "sot")
    assert [s.name for s in seqs] == ["a", "b"]
    a = seqs[0]
    assert a.fps == 10 and a.dataset == "UAV123_10fps" and len(a) == 5
    assert a.present().tolist() == [True, True, True, False, True]
    assert a.frames[0].name == "000001.jpg" and a.read_frame(4).shape == (32, 48, 3)
    assert [s.name for s in load_dataset(tmp_path, "sot", ["b"])] == ["b"]
    with pytest.raises(ValueError, match="not in"):
        load_dataset(tmp_path, "sot", ["zzz"])


def test_otb_comma_whitespace_multitarget_and_start_offset(tmp_path):
    write_frames(tmp_path / "Car" / "img", names(4, "{:04d}.jpg"))
    write_rows(tmp_path / "Car" / "groundtruth_rect.txt", boxes(4), sep=",")
    write_frames(tmp_path / "Jogging" / "img", names(3, "{:04d}.jpg"))
    write_rows(tmp_path / "Jogging" / "groundtruth_rect.1.txt", boxes(3), sep="\t")
    write_rows(tmp_path / "Jogging" / "groundtruth_rect.2.txt", boxes(3, 5), sep=" ")
    (tmp_path / "Human4").mkdir()
    write_frames(tmp_path / "Human4" / "img", names(2, "{:04d}.jpg"))
    (tmp_path / "Human4" / "groundtruth_rect.1.txt").write_text("")  # empty in the real release
    write_rows(tmp_path / "Human4" / "groundtruth_rect.2.txt", boxes(2))
    write_frames(tmp_path / "David" / "img", names(303, "{:04d}.jpg"))  # annotation starts at frame 300
    write_rows(tmp_path / "David" / "groundtruth_rect.txt", boxes(4))
    seqs = {s.name: s for s in load_dataset(tmp_path, "otb")}
    assert sorted(seqs) == ["Car", "David", "Human4_2", "Jogging_1", "Jogging_2"]
    assert seqs["Jogging_2"].ground_truth[0].tolist() == boxes(1, 5)[0]
    assert [f.name for f in seqs["David"].frames] == ["0300.jpg", "0301.jpg", "0302.jpg", "0303.jpg"]


def test_otb_more_annotation_rows_than_frames_is_an_error(tmp_path):
    write_frames(tmp_path / "Car" / "img", names(2, "{:04d}.jpg"))
    write_rows(tmp_path / "Car" / "groundtruth_rect.txt", boxes(3))
    with pytest.raises(DatasetFormatError, match="covers frames 1..3 but the folder has 2"):
        load_dataset(tmp_path, "otb")


def test_uav123_subsequences_by_frame_range_and_nan_rows(tmp_path):
    # bird1_2 covers frames 775..1477 of data_seq/UAV123/bird1; we write frames 1..780
    write_frames(tmp_path / "data_seq" / "UAV123" / "bird1", names(780), size=(16, 16))
    write_rows(tmp_path / "anno" / "UAV123" / "bird1_1.txt", boxes(3))
    write_rows(tmp_path / "anno" / "UAV123" / "bird1_2.txt", boxes(2) + [NAN] * 2 + boxes(1))
    write_frames(tmp_path / "data_seq" / "UAV123" / "bike1", names(3), size=(16, 16))
    write_rows(tmp_path / "anno" / "UAV123" / "bike1.txt", boxes(3))
    (tmp_path / "anno" / "UAV123" / "att").mkdir()  # attribute folder of the release: ignored
    seqs = {s.name: s for s in load_dataset(tmp_path, "uav123")}
    assert sorted(seqs) == ["bike1", "bird1_1", "bird1_2"]
    b2 = seqs["bird1_2"]
    assert [f.name for f in b2.frames] == [f"{i:06d}.jpg" for i in range(775, 780)]
    assert b2.present().tolist() == [True, True, False, False, True]
    assert seqs["bird1_1"].frames[0].name == "000001.jpg" and seqs["bike1"].fps == 30


def test_uav123_10fps_uses_ranges_divided_by_three(tmp_path):
    assert uav123_start_frame("bird1_2", 30) == ("bird1", 775)
    assert uav123_start_frame("bird1_2", 10) == ("bird1", 259)
    assert uav123_start_frame("car14", 10) == ("car14", 1)
    write_frames(tmp_path / "data_seq" / "UAV123_10fps" / "bird1", names(261), size=(16, 16))
    write_rows(tmp_path / "anno" / "UAV123_10fps" / "bird1_2.txt", boxes(3))
    (seq,) = load_dataset(tmp_path, "uav123_10fps")
    assert seq.fps == 10 and [f.name for f in seq.frames] == ["000259.jpg", "000260.jpg", "000261.jpg"]


def test_uav123_wrong_root_names_the_missing_folder(tmp_path):
    with pytest.raises(DatasetFormatError, match="anno/UAV123"):
        load_dataset(tmp_path, "uav123")


def test_dtb70(tmp_path):
    write_frames(tmp_path / "Animal1" / "img", names(3, "{:05d}.jpg"))
    write_rows(tmp_path / "Animal1" / "groundtruth_rect.txt", boxes(3))
    (seq,) = load_dataset(tmp_path, "dtb70")
    assert seq.name == "Animal1" and seq.dataset == "DTB70" and len(seq) == 3


def test_uavdt(tmp_path):
    write_frames(tmp_path / "UAV-benchmark-S" / "S0101", names(3, "img{:06d}.jpg"))
    write_rows(tmp_path / "anno" / "S0101_gt.txt", boxes(3))
    (tmp_path / "anno" / "S0101_attr.txt").write_text("1,0,0,0,0,0,0,0,0\n")  # ignored
    (seq,) = load_dataset(tmp_path, "uavdt")
    assert seq.name == "S0101" and seq.frames[-1].name == "img000003.jpg"


def test_lasot_visibility_from_occlusion_and_out_of_view(tmp_path):
    d = tmp_path / "airplane" / "airplane-1"
    write_frames(d / "img", names(4, "{:08d}.jpg"))
    write_rows(d / "groundtruth.txt", boxes(4))
    (d / "full_occlusion.txt").write_text("0,1,0,0\n")
    (d / "out_of_view.txt").write_text("0,0,1,0\n")
    d2 = tmp_path / "bird" / "bird-2"
    write_frames(d2 / "img", names(2, "{:08d}.jpg"))
    write_rows(d2 / "groundtruth.txt", boxes(2))
    (d2 / "full_occlusion.txt").write_text("0,0\n")
    (d2 / "out_of_view.txt").write_text("0,0\n")
    (tmp_path / "testing_set.txt").write_text("airplane-1\n")  # the test split list
    (seq,) = load_dataset(tmp_path, "lasot")
    assert seq.name == "airplane-1" and seq.present().tolist() == [True, False, False, True]
    (tmp_path / "testing_set.txt").unlink()
    assert [s.name for s in load_dataset(tmp_path, "lasot")] == ["airplane-1", "bird-2"]
    (d / "out_of_view.txt").write_text("0,0,1\n")
    with pytest.raises(AnnotationError, match="out-of-view"):
        load_dataset(tmp_path, "lasot")


def test_nfs_release_rows_at_240fps_are_subsampled_to_30fps(tmp_path):
    write_frames(tmp_path / "Gymnastics" / "30" / "Gymnastics", names(3, "{:05d}.jpg"))
    rows = [[1, 10 + i, 20, 40 + i, 60, i + 1, 0, 0, 0, '"person"'] for i in range(24)]  # 8 x 3 rows
    write_rows(tmp_path / "Gymnastics" / "30" / "Gymnastics.txt", rows, sep=" ")
    (seq,) = load_dataset(tmp_path, "nfs")
    assert seq.ground_truth.tolist() == [[10, 20, 30, 40], [18, 20, 30, 40], [26, 20, 30, 40]]


def test_nfs_accepts_plain_xywh_rows(tmp_path):
    write_frames(tmp_path / "bee" / "30" / "bee", names(2, "{:05d}.jpg"))
    write_rows(tmp_path / "bee" / "30" / "bee.txt", boxes(2), sep="\t")
    (seq,) = load_dataset(tmp_path, "nfs")
    assert seq.ground_truth.tolist() == boxes(2)


def test_got10k_val_absence_and_cover_and_test_subset(tmp_path):
    d = tmp_path / "GOT-10k_Val_000001"
    write_frames(d, names(4, "{:08d}.jpg"))
    write_rows(d / "groundtruth.txt", boxes(4))
    (d / "absence.label").write_text("0\n0\n1\n0\n")
    (d / "cover.label").write_text("8\n0\n0\n5\n")
    t = tmp_path / "GOT-10k_Test_000001"
    write_frames(t, names(3, "{:08d}.jpg"))
    write_rows(t / "groundtruth.txt", boxes(1))  # test set: first frame only
    (tmp_path / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Test_000001\n")
    val, test = load_dataset(tmp_path, "got10k")
    assert val.present().tolist() == [True, False, False, True] and val.fps == 10
    assert len(test) == 3 and not test.has_full_annotation


def test_trackingnet_frames_are_zero_based_and_not_padded(tmp_path):
    write_frames(tmp_path / "frames" / "vid", [f"{i}.jpg" for i in range(12)], size=(16, 16))
    write_rows(tmp_path / "anno" / "vid.txt", boxes(1))
    (seq,) = load_dataset(tmp_path, "trackingnet")
    assert [f.name for f in seq.frames[:3]] == ["0.jpg", "1.jpg", "2.jpg"] and seq.frames[-1].name == "11.jpg"


def test_unknown_format_and_missing_root_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset format 'vot2018'.*otb"):
        load_dataset(tmp_path, "vot2018")
    with pytest.raises(DatasetFormatError, match="root not found"):
        load_dataset(tmp_path / "nope", "otb")
    with pytest.raises(DatasetFormatError, match="no otb sequences"):
        load_dataset(tmp_path, "otb")


def test_invalid_first_frame_box_is_rejected(tmp_path):
    write_frames(tmp_path / "a" / "img", names(2))
    write_rows(tmp_path / "a" / "groundtruth.txt", [NAN] + boxes(1))
    with pytest.raises(ValueError, match="first-frame box"):
        load_dataset(tmp_path, "sot")


@pytest.mark.realdata
def test_shared_eval_set_reads_with_its_frame_rates_and_absent_frames(sot_eval):
    seqs = {s.name: s for s in load_dataset(sot_eval, "sot")}
    assert len(seqs) == 11
    assert seqs["car14"].fps == 10 and seqs["Crossing"].fps == 30
    assert int((~seqs["car14"].present()).sum()) == 25
    assert all(s.has_full_annotation for s in seqs.values())


def test_detect_format_reads_video_files_as_videos_and_folders_as_sot(tmp_path):
    from sstrack_edge.evaluation import detect_format

    write_frames(tmp_path / "sot" / "a" / "img", names(3))
    write_rows(tmp_path / "sot" / "a" / "groundtruth.txt", boxes(3))
    assert detect_format(tmp_path / "sot") == "sot"
    assert [s.name for s in load_dataset(tmp_path / "sot", "auto")] == ["a"]
    (tmp_path / "sot" / "clip.mp4").write_bytes(b"")  # any video file makes the root a videos folder
    assert detect_format(tmp_path / "sot") == "videos"
    with pytest.raises(DatasetFormatError, match="root not found"):
        detect_format(tmp_path / "nope")
    with pytest.raises(ValueError, match="known formats: auto, sot, videos"):
        load_dataset(tmp_path, "vot2018")


@pytest.mark.realdata
def test_auto_format_on_the_real_folders(train_videos, sot_folder, sot_eval):
    """train_videos is read as ``videos``, the eval set and a folder of real frames as ``sot``; the
    folder made of a clip's cached frames reads as the same sequence as the clip."""
    from sstrack_edge.evaluation import detect_format

    assert (detect_format(train_videos), detect_format(sot_eval), detect_format(sot_folder)) == ("videos", "sot", "sot")
    (clip,) = load_dataset(train_videos, "auto", ["UAV123_10fps_group2"])
    (same,) = load_dataset(sot_folder, "auto", ["UAV123_10fps_group2"])
    assert len(clip) == len(same) == 289 and clip.fps == same.fps == 10
    np.testing.assert_array_equal(clip.ground_truth, same.ground_truth)
    assert int((~clip.present()).sum()) == int((~same.present()).sum()) == 5
    assert [f.resolve() for f in same.frames] == [f.resolve() for f in clip.frames]
