"""VitTrack's ONNX read into our network (training/models/vittrack_onnx.py, docs/vittrack.md).

Parity with ONNX Runtime on the original file, fed as ``cv2.TrackerVit`` feeds it, on real crops
of a real clip; export through our own path and tracking with the runtime ``Tracker``; loud errors
for files that are not VitTrack-shaped; the conv stem's MAC count against the exported graph.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from sstrack_edge import Tracker
from sstrack_edge.bench import count_onnx_macs
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.geometry import crop_side, crop_square, iou_xywh
from training.models.checkpoints import PretrainedLoadError, load_tracker
from training.models.ostrack import count_macs

VITTRACK = "object_tracking_vittrack_2023sep.onnx"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)


@pytest.fixture(scope="module")
def onnx_file(vittrack_dir):
    return vittrack_dir / VITTRACK


@pytest.fixture(scope="module")
def clip(train_videos):
    return load_dataset(train_videos, "videos", ["VOT2014_ball"])[0]


def _crop(img, box, factor, size):
    x, y, w, h = box
    c = crop_square(img, x + w / 2, y + h / 2, crop_side(box, factor), size)
    return np.ascontiguousarray(c.transpose(2, 0, 1)[None], dtype=np.float32)


def test_imported_network_matches_onnx_runtime_on_real_crops(onnx_file, clip):
    import onnxruntime as ort

    model, info = load_tracker(onnx_file)
    assert info["report"]["loaded"] == info["report"]["expected"] == 138
    cfg = model.cfg
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.head_channels, cfg.stem) == (48, 3, 1, 32, "conv_stride2")
    assert cfg.network_color == "BGR" and cfg.ln_eps == pytest.approx(1e-5)
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    worst, peaks = 0.0, []
    for i in (0, 100, 300, 500):
        box = clip.ground_truth[i]
        z = _crop(clip.read_frame(i), box, 2.0, 128)
        x = _crop(clip.read_frame(i + 5), box, 4.0, 256)
        # cv2.TrackerVit: /255, ImageNet mean/std, BGR as decoded (no swap), outside the graph
        feeds = {"template": (z / 255 - IMAGENET_MEAN) / IMAGENET_STD, "search": (x / 255 - IMAGENET_MEAN) / IMAGENET_STD}
        ref = sess.run(["output1", "output2", "output3"], feeds)
        with torch.no_grad():
            out = model(torch.from_numpy(z), torch.from_numpy(x))
        for a, key in zip(ref, ("score_map", "size_map", "offset_map")):
            worst = max(worst, float(np.abs(a - out[key].numpy()).max()))
        peaks.append(float(ref[0].max()))
    assert worst <= 1e-4, worst
    assert min(peaks) > 0.3, peaks  # real targets: the compared maps are not trivially near zero


def test_network_color_is_a_default_that_can_be_overridden(onnx_file):
    rgb, _ = load_tracker(onnx_file, overrides={"network_color": "RGB"})
    bgr, _ = load_tracker(onnx_file)
    assert rgb.cfg.network_color == "RGB" and bgr.cfg.network_color == "BGR"
    z, x = torch.rand(1, 3, 128, 128) * 255, torch.rand(1, 3, 256, 256) * 255
    with torch.no_grad():
        a = rgb(z, x)["score_map"]
        b = bgr(z.flip(1), x.flip(1))["score_map"]
    assert torch.allclose(a, b, atol=1e-6)


def test_export_and_track_with_the_runtime(onnx_file, clip, tmp_path):
    from training.export.cli import main as export_main

    out = tmp_path / "vittrack"
    assert export_main(["--checkpoint", str(onnx_file), "--out", str(out), "--name", "vittrack-import",
                        "--no-openvino"]) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["normalization"]["color"] == "BGR" and card["input"]["channel_order"] == "BGR"
    assert card["architecture"]["stem"] == "conv_stride2" and card["trained"] is True
    assert card["architecture"]["macs"] == count_onnx_macs(out / "model_fp32.onnx")
    assert card["source_checkpoint"]["path"] == "../shared/peers/vittrack/" + VITTRACK  # no build-machine paths
    assert not re.search(r"[\s'\"(]/\w", json.dumps(card))  # no absolute path, not even inside a string
    tracker = Tracker(str(out), backend="onnxruntime", precision="fp32", threads=1)
    tracker.init(clip.read_frame(0), clip.ground_truth[0])
    ious = []
    for i in range(1, 150):
        ok, box = tracker.update(clip.read_frame(i))
        ious.append(iou_xywh(box, clip.ground_truth[i]) if ok else 0.0)
    assert np.mean(ious) > 0.6, np.mean(ious)  # the pretrained tracker follows the ball


def test_conv_stem_macs_match_the_graph(onnx_file):
    model, _ = load_tracker(onnx_file)
    from sstrack_edge.bench import count_onnx_macs as graph_macs

    assert count_macs(model.cfg) == graph_macs(onnx_file)


def test_files_that_are_not_vittrack_are_refused(tmp_path, nanotrack_dir):
    with pytest.raises(PretrainedLoadError, match="not found"):
        load_tracker(tmp_path / "missing.onnx")
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(PretrainedLoadError, match="cannot be parsed"):
        load_tracker(bad)
    with pytest.raises(PretrainedLoadError, match="not a VitTrack-layout ONNX file: inputs are"):
        load_tracker(nanotrack_dir / "nanotrack_backbone_sim.onnx")
