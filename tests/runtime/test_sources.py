"""Frame sources, the synthetic clip and the MAC counter."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from sstrack_edge.bench import count_onnx_macs
from sstrack_edge.sources import ImageFolderSource, LatestFrameSource, VideoFileSource, open_source
from sstrack_edge.synthetic import make_clip


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory):
    """A 60-frame MJPG video of the synthetic clip with the frame index drawn as a gray level."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    frames, _ = make_clip(n_frames=60, width=160, height=120)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i, f in enumerate(frames):
        f[:8, :8] = i * 4  # frame id, survives JPEG compression to within a few levels
        w.write(f)
    w.release()
    return path


def test_open_source_dispatch(sot_eval, clip_video, tmp_path):
    with open_source(sot_eval / "Crossing" / "img") as s:
        assert isinstance(s, ImageFolderSource) and s.length == 120 and not s.live
        first = next(iter(s))
        assert first.shape == (240, 360, 3) and first.dtype == np.uint8
    with open_source(clip_video) as s:
        assert isinstance(s, VideoFileSource) and s.fps == pytest.approx(30.0)
        assert sum(1 for _ in s) == 60
    with pytest.raises(ValueError, match="not a video file"):
        open_source(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no"):
        open_source(tmp_path / "empty")
    with pytest.raises(ValueError, match="cannot open live source"):
        open_source("rtsp://127.0.0.1:1/none")


def test_live_source_delivers_the_newest_frame_and_counts_drops(clip_video):
    source = LatestFrameSource(str(clip_video))  # a file read like a camera: the thread outpaces us
    try:
        ids = []
        for frame in source:
            ids.append(int(frame[:8, :8].mean() / 4 + 0.5))
            time.sleep(0.05)
        assert source.dropped > 0
        assert len(ids) + source.dropped == 60
        assert ids == sorted(ids) and len(set(ids)) == len(ids)  # never stale, never repeated
    finally:
        source.close()


def test_live_source_never_drops_the_first_frame(clip_video):
    """The initial box refers to the first frame: it waits until it is read, however late; the
    next read is the newest frame."""
    source = LatestFrameSource(str(clip_video))
    try:
        deadline = time.monotonic() + 20
        while source.dropped < 30 and time.monotonic() < deadline:  # the reader runs ahead of us
            time.sleep(0.01)
        assert source.dropped >= 30
        frame_id = lambda f: int(f[:8, :8].mean() / 4 + 0.5)  # noqa: E731
        assert frame_id(source.read()) == 0
        assert frame_id(source.read()) > 30
    finally:
        source.close()


def test_synthetic_clip_truth_matches_the_drawn_object():
    frames, truth = make_clip(n_frames=50, seed=3)
    assert len(frames) == 50 and truth.shape == (50, 4)
    visible = ~np.isnan(truth[:, 0])
    assert visible[0] and (~visible).any()  # starts visible, hides at some point
    x, y, w, h = truth[0].astype(int)
    inside = frames[0][y : y + h, x : x + w].astype(float)
    ring = inside[h // 2, w // 2 + w // 3 - 1 : w // 2 + w // 3 + 2]
    assert (ring > 200).all()  # the white ring of the object is where the truth says


def test_count_onnx_macs_on_a_known_graph(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w_conv = numpy_helper.from_array(np.zeros((8, 3, 4, 4), np.float32), "wc")
    w_mm = numpy_helper.from_array(np.zeros((8, 5), np.float32), "wm")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "wc"], ["c"], strides=[4, 4]),  # 1x8x4x4 out, 3*4*4 per output
            helper.make_node("Reshape", ["c", "shape"], ["r"]),
            helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),  # 1x16x8
            helper.make_node("MatMul", ["t", "wm"], ["y"]),  # 1x16x5, K=8
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 5])],
        [w_conv, w_mm, numpy_helper.from_array(np.array([1, 8, 16], np.int64), "shape")],
    )
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert count_onnx_macs(path) == 8 * 4 * 4 * 3 * 4 * 4 + 16 * 5 * 8


def test_onnx_mac_count_matches_the_cards_count(tiny_model_dir):
    pytest.importorskip("onnx")
    card = json.loads((tiny_model_dir / "model_card.json").read_text())
    if "macs" not in card["architecture"]:
        pytest.skip("this exporter does not record architecture.macs")
    fp32 = next(v for v in card["variants"] if v["backend"] == "onnxruntime" and v["precision"] == "fp32")
    assert count_onnx_macs(tiny_model_dir / fp32["files"]["model"]) == card["architecture"]["macs"]
