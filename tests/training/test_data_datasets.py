"""Dataset loaders: small fixtures written in each true on-disk format, plus the real ../shared data."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from training.data.datasets import (
    load_coco,
    load_got10k,
    load_lasot,
    load_sequence_folder,
    load_stills,
    load_trackingnet,
    load_video_files,
)
from training.data.errors import DatasetFormatError, FrameReadError
from training.data.frames import DecodeCache


def write_jpgs(folder, names, size=(24, 32)):
    folder.mkdir(parents=True, exist_ok=True)
    for k, n in enumerate(names):
        img = np.full((*size, 3), 10 * k % 250, dtype=np.uint8)
        assert cv2.imwrite(str(folder / n), img)


def write_rows(path, rows):
    path.write_text("".join(",".join(str(v) for v in r) + "\n" for r in rows))


# ----------------------------------------------------------------------------- LaSOT
@pytest.fixture
def lasot_root(tmp_path):
    root = tmp_path / "LaSOT"
    for name, n in (("airplane-1", 6), ("bird-3", 4)):
        d = root / name.split("-")[0] / name
        write_jpgs(d / "img", [f"{i:08d}.jpg" for i in range(1, n + 1)])
        rows = [(i, 2, 5, 6) for i in range(n)]
        rows[1] = (1, 2, 0, 6)  # zero width: not visible
        write_rows(d / "groundtruth.txt", rows)
        occ = [0] * n
        occ[2] = 1
        oov = [0] * n
        oov[3] = 1
        (d / "full_occlusion.txt").write_text(",".join(map(str, occ)))
        (d / "out_of_view.txt").write_text(",".join(map(str, oov)) + "\n")
    (tmp_path / "lasot_train_split.txt").write_text("bird-3\n")
    return root


def test_lasot_visibility_and_frames(lasot_root):
    ds = load_lasot(lasot_root)
    assert [s.name for s in ds] == ["airplane-1", "bird-3"]
    s = ds[0]
    assert s.visible.tolist() == [True, False, False, False, True, True]
    assert s.frames.path(0).endswith(os.path.join("airplane-1", "img", "00000001.jpg"))
    assert s.frames.read(5).shape == (24, 32, 3)
    assert ds.lengths.tolist() == [6, 4] and ds.visible_counts.tolist() == [3, 1]
    assert s.boxes.dtype == np.float32 and s.boxes.shape == (6, 4)


def test_lasot_split_file(lasot_root):
    ds = load_lasot(lasot_root, split_file=lasot_root.parent / "lasot_train_split.txt")
    assert [s.name for s in ds] == ["bird-3"]


def test_lasot_missing_occlusion_file_names_it(lasot_root):
    f = lasot_root / "bird" / "bird-3" / "full_occlusion.txt"
    f.unlink()
    with pytest.raises(DatasetFormatError, match="full_occlusion.txt"):
        load_lasot(lasot_root)


def test_lasot_label_count_mismatch_is_an_error(lasot_root):
    f = lasot_root / "bird" / "bird-3" / "out_of_view.txt"
    f.write_text("0,0\n")
    with pytest.raises(DatasetFormatError, match="out_of_view.txt"):
        load_lasot(lasot_root)


# ----------------------------------------------------------------------------- GOT-10k
@pytest.fixture
def got_root(tmp_path):
    root = tmp_path / "got10k" / "train"
    names = ["GOT-10k_Train_000001", "GOT-10k_Train_000002", "GOT-10k_Train_000003"]
    (root).mkdir(parents=True)
    (root / "list.txt").write_text("\n".join(names) + "\n")
    for k, name in enumerate(names):
        d = root / name
        write_jpgs(d, [f"{i:08d}.jpg" for i in range(1, 6)])
        write_rows(d / "groundtruth.txt", [(1, 1, 4, 4)] * 5)
        (d / "absence.label").write_text("0\n1\n0\n0\n0\n")
        (d / "cover.label").write_text("8\n0\n0\n4\n8\n")
        (d / "meta_info.ini").write_text(f"[METAINFO]\nurl: x\nobject_class: cls{k}\nresolution: (32, 24)\n")
    (tmp_path / "got10k_vot_val_split.txt").write_text("2\n0\n")
    return root


def test_got10k_visibility_ratio_meta(got_root):
    ds = load_got10k(got_root)
    assert len(ds) == 3
    s = ds[0]
    assert s.visible.tolist() == [True, False, False, True, True]
    np.testing.assert_allclose(s.visible_ratio, [1.0, 0.0, 0.0, 0.5, 1.0])
    assert s.meta["object_class"] == "cls0" and s.meta["resolution"] == "(32, 24)"
    assert s.frames.path(0).endswith(os.path.join("GOT-10k_Train_000001", "00000001.jpg"))


def test_got10k_split_file_is_zero_based(got_root):
    ds = load_got10k(got_root, split_file=got_root.parent.parent / "got10k_vot_val_split.txt")
    assert [s.name for s in ds] == ["GOT-10k_Train_000003", "GOT-10k_Train_000001"]


def test_got10k_split_index_out_of_range(got_root, tmp_path):
    (tmp_path / "bad_split.txt").write_text("0\n7\n")
    with pytest.raises(DatasetFormatError, match="bad_split.txt"):
        load_got10k(got_root, split_file=tmp_path / "bad_split.txt")


def test_got10k_missing_absence_label_names_it(got_root):
    (got_root / "GOT-10k_Train_000002" / "absence.label").unlink()
    with pytest.raises(DatasetFormatError, match="GOT-10k_Train_000002.absence.label"):
        load_got10k(got_root)


# ----------------------------------------------------------------------------- TrackingNet
def test_trackingnet_chunks_and_zero_based_frames(tmp_path):
    root = tmp_path / "TrackingNet"
    for k, vid in ((0, "a_vid"), (2, "b_vid")):
        c = root / f"TRAIN_{k}"
        write_jpgs(c / "frames" / vid, [f"{i}.jpg" for i in range(12)])
        (c / "anno").mkdir(parents=True)
        write_rows(c / "anno" / f"{vid}.txt", [(0, 0, 3, 3)] * 11 + [(0, 0, 0, 0)])
    ds = load_trackingnet(root)
    assert [s.name for s in ds] == ["TRAIN_0/a_vid", "TRAIN_2/b_vid"]
    s = ds[1]
    assert s.frames.path(10).endswith(os.path.join("TRAIN_2", "frames", "b_vid", "10.jpg"))
    assert s.frames.read(11).shape == (24, 32, 3)
    assert s.visible.sum() == 11 and not s.visible[11]
    assert [s.name for s in load_trackingnet(root, chunks=[2])] == ["TRAIN_2/b_vid"]
    with pytest.raises(DatasetFormatError, match="TRAIN_5"):
        load_trackingnet(root, chunks=[5])


# ----------------------------------------------------------------------------- COCO
def test_coco_every_noncrowd_box_is_a_sequence(tmp_path):
    root = tmp_path / "coco"
    write_jpgs(root / "images" / "train2017", ["000000000009.jpg", "000000000025.jpg"], size=(60, 80))
    anns = [
        {"id": 1, "image_id": 9, "category_id": 1, "bbox": [1, 2, 30, 20], "area": 600, "iscrowd": 0},
        {"id": 2, "image_id": 9, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 1},
        {"id": 3, "image_id": 25, "category_id": 1, "bbox": [10, 10, 0, 5], "area": 0, "iscrowd": 0},
        {"id": 4, "image_id": 25, "category_id": 1, "bbox": [10, 12, 40, 30], "area": 1200, "iscrowd": 0},
    ]
    data = {
        "images": [{"id": 9, "file_name": "000000000009.jpg", "width": 80, "height": 60},
                   {"id": 25, "file_name": "000000000025.jpg", "width": 80, "height": 60}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "thing"}],
    }
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train2017.json").write_text(json.dumps(data))
    ds = load_coco(root)
    assert ds.is_image and len(ds) == 2
    assert ds.report.skipped["crowd box"] == 1
    assert ds.report.skipped["degenerate box (w or h <= 0)"] == 1
    s = ds[1]
    assert s.is_image and len(s) == 1 and s.visible.tolist() == [True]
    np.testing.assert_array_equal(s.boxes[0], [10, 12, 40, 30])
    assert s.frames.path(0).endswith(os.path.join("train2017", "000000000025.jpg"))
    assert len(load_coco(root, min_side=25)) == 1


def test_coco_corrupt_json_names_file(tmp_path):
    root = tmp_path / "coco"
    (root / "images" / "train2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train2017.json").write_text('{"images": [')
    with pytest.raises(DatasetFormatError, match="instances_train2017.json"):
        load_coco(root)


# ----------------------------------------------------------------------------- video files
def test_video_files_decoded_once_into_frame_cache(tmp_path):
    root = tmp_path / "clips"
    root.mkdir()
    path = root / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    assert writer.isOpened()
    for i in range(8):
        writer.write(np.full((48, 64, 3), 20 * i, dtype=np.uint8))
    writer.release()
    write_rows(root / "clip.txt", [(i, 3, 10, 12) for i in range(7)] + [("nan", "nan", "nan", "nan")])
    cache = tmp_path / "cache"
    ds = load_video_files(root, cache_dir=cache)
    s = ds[0]
    assert len(s) == 8 and s.fps == pytest.approx(25.0)
    assert s.visible.tolist() == [True] * 7 + [False]
    means = [float(s.frames.read(i).mean()) for i in range(8)]
    np.testing.assert_allclose(means, [20 * i for i in range(8)], atol=3)
    first = cache / "clips" / "clip" / "00000001.jpg"  # <cache>/<video folder>/<clip>/
    stamp = first.stat().st_mtime_ns
    load_video_files(root, cache_dir=cache)  # cache reused: not rewritten
    assert first.stat().st_mtime_ns == stamp


def test_video_without_groundtruth_names_missing_file(tmp_path):
    root = tmp_path / "clips"
    root.mkdir()
    writer = cv2.VideoWriter(str(root / "solo.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 32))
    writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.release()
    with pytest.raises(DatasetFormatError, match="solo.txt"):
        load_video_files(root, cache_dir=tmp_path / "cache")


# ----------------------------------------------------------------------------- user folders
def test_folder_bad_rows_absent_rows_and_corrupt_frame(tmp_path, caplog):
    d = tmp_path / "mine" / "walk"
    write_jpgs(d / "img", [f"{i:06d}.jpg" for i in range(1, 6)])
    (d / "groundtruth.txt").write_text("1,2,3,4\nnan,nan,nan,nan\n1 2 3 4\nbanana,2,3,4\n1,2,3\n")
    (d / "img" / "000005.jpg").write_bytes(b"not a jpeg")
    ds = load_sequence_folder(tmp_path / "mine")
    s = ds[0]
    assert s.visible.tolist() == [True, False, True, False, False]
    assert ds.report.skipped["bad annotation row"] == 2
    assert "groundtruth.txt:4" in ds.report.examples["bad annotation row"]
    with caplog.at_level("WARNING", logger="training.data"):
        ds.report.log()
    assert "skipped 2 x bad annotation row" in caplog.text
    with pytest.raises(FrameReadError, match="000005.jpg"):
        s.frames.read(4)


def test_folder_missing_groundtruth_names_it(tmp_path):
    write_jpgs(tmp_path / "mine" / "walk" / "img", ["000001.jpg"])
    with pytest.raises(DatasetFormatError, match="walk.groundtruth.txt"):
        load_sequence_folder(tmp_path / "mine")


def test_folder_loader_on_real_frames(sot_folder):
    """The folder layout, made of real training frames (conftest ``sot_folder``)."""
    info = json.loads((sot_folder / "sequences.json").read_text())
    ds = load_sequence_folder(sot_folder)
    assert sorted(s.name for s in ds) == sorted(info)
    for s in ds:
        meta = info[s.name]
        assert len(s) == meta["frames"]
        assert int((~s.visible).sum()) == meta["absent_frames"]
        assert s.fps == meta["fps"]
    assert int((~ds[2].visible).sum()) == 5  # UAV123_10fps_group2: the absent rows are read as absent
    s = ds[0]
    img = s.frames.read(0)
    assert img.dtype == np.uint8 and img.shape[2] == 3
    assert ds.report.skipped == {}


def test_folder_exclude_holds_sequences_out(sot_folder):
    names = sorted(json.loads((sot_folder / "sequences.json").read_text()))
    ds = load_sequence_folder(sot_folder, exclude=names[:2])
    assert sorted(s.name for s in ds) == names[2:]
    with pytest.raises(DatasetFormatError, match="not in .*no_such_clip"):
        load_sequence_folder(sot_folder, exclude=["no_such_clip"])
    with pytest.raises(DatasetFormatError, match="leaves no sequence"):
        load_sequence_folder(sot_folder, exclude=names)


def test_video_loader_on_real_train_videos(train_videos, sot_folder):
    """The training clips through the frame cache: lengths, absent frames and frame rates as
    sequences.json records them, and the same pixels and boxes as the folder made of those frames."""
    info = json.loads((train_videos / "sequences.json").read_text())
    names = ["OTB_Bird2", "UAV123_10fps_group2", "VOT-LT_skiing"]  # VOT-LT_skiing: 228 absent frames
    ds = load_video_files(train_videos, names=names)
    assert [s.name for s in ds] == names and ds.name == "train_videos"
    for s in ds:
        meta = info[s.name]
        assert len(s) == meta["frames"]
        assert int((~s.visible).sum()) == meta["absent_frames"]
        assert s.fps == pytest.approx(meta["fps"], abs=0.01)
        img = s.frames.read(0)
        assert img.dtype == np.uint8 and img.shape == (meta["size"][1], meta["size"][0], 3)
    assert ds.report.skipped == {}
    folder = {s.name: s for s in load_sequence_folder(sot_folder)}
    for s in ds[:2]:
        f = folder[s.name]
        np.testing.assert_array_equal(f.boxes, s.boxes)
        assert np.array_equal(f.visible, s.visible)
        assert np.array_equal(f.frames.read(len(s) - 1), s.frames.read(len(s) - 1))


def test_video_exclude_holds_clips_out(train_videos):
    names = ["OTB_Bird2", "UAV123_10fps_wakeboard7", "DTB70_MountainBike6"]
    ds = load_video_files(train_videos, names=names, exclude=names[:1])
    assert [s.name for s in ds] == names[1:]
    everything = sorted(json.loads((train_videos / "sequences.json").read_text()))
    assert len(everything) == 71
    with pytest.raises(DatasetFormatError, match="exclude lists clips that are not in .*no_such_clip"):
        load_video_files(train_videos, names=names, exclude=["no_such_clip"])
    with pytest.raises(DatasetFormatError, match="names lists clips that are not in .*wakeboard7"):
        load_video_files(train_videos, names=["wakeboard7"])  # the pre-train_videos name
    with pytest.raises(DatasetFormatError, match="no clip left"):
        load_video_files(train_videos, names=names, exclude=names)


def test_stills_loader_on_real_data(stills_dir):
    ds = load_stills(stills_dir)
    total = 0
    for src in sorted(p.parent for p in stills_dir.glob("*/annotations.json")):
        total += len(json.loads((src / "annotations.json").read_text())["annotations"])
    assert len(ds) + sum(ds.report.skipped.values()) == total
    assert ds.is_image and ds.boxes.min() >= 0 and np.all(ds.boxes[:, 2:] >= 8)
    one = load_stills(stills_dir, sources=["raccoon"])
    assert 0 < len(one) < len(ds)
    s = ds[len(ds) // 2]
    img = s.frames.read(0)
    x, y, w, h = s.boxes[0]
    assert x + w <= img.shape[1] + 1 and y + h <= img.shape[0] + 1


def test_decode_cache_is_bounded_lru(tmp_path):
    write_jpgs(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    one = 24 * 32 * 3
    cache = DecodeCache(max_bytes=2 * one)
    for n in ("a", "b", "a", "c", "a"):
        cache.read(str(tmp_path / f"{n}.jpg"))
    assert cache.bytes == 2 * one
    assert (cache.hits, cache.misses) == (2, 3)  # a hit twice; b evicted by c, not a
