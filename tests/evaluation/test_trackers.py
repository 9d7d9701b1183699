"""Tracker names -> trackers: OpenCV peers on a short real sequence, sstrack specs, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from sstrack_edge.evaluation import (
    Sequence, TrackerSpecError, create_tracker, load_dataset, parse_sstrack_spec, run_offline, score_sequence,
    tracker_label,
)
from sstrack_edge.evaluation.trackers import SSTrackSpec


@pytest.fixture(scope="module")
def crossing_head(sot_eval) -> Sequence:
    """The first 40 frames of the real OTB 'Crossing' sequence."""
    (seq,) = load_dataset(sot_eval, "sot", ["Crossing"])
    return Sequence("Crossing40", seq.frames[:40], seq.ground_truth[:40], fps=seq.fps)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["opencv:csrt", "opencv:kcf", "opencv:mil", "opencv:nano", "opencv:vit"])
def test_opencv_peers_track_a_real_sequence(name, crossing_head, nanotrack_dir, vittrack_dir):
    tracker = create_tracker(name, threads=1, nanotrack_dir=nanotrack_dir, vittrack_dir=vittrack_dir)
    run = run_offline(tracker, crossing_head)
    lost = np.isnan(run.boxes).all(axis=1)  # frames the tracker reported ok=False
    assert run.boxes.shape == (40, 4) and np.isfinite(run.boxes[~lost]).all()
    assert run.boxes[0].tolist() == crossing_head.init_box.tolist()
    scores = score_sequence(run.boxes, crossing_head.ground_truth)
    if name in ("opencv:csrt", "opencv:nano", "opencv:vit"):  # the strong peers follow the walking pedestrian
        assert scores.auc > 0.5, scores.auc
    # re-initialising the same object starts over: the deterministic trackers repeat their run exactly
    run2 = run_offline(tracker, crossing_head)
    if name != "opencv:mil":  # MIL samples its training patches at random
        assert np.array_equal(run2.boxes, run.boxes, equal_nan=True)


def test_unknown_tracker_names_list_the_known_ones():
    with pytest.raises(TrackerSpecError, match="unknown tracker 'siamrpn'.*opencv:csrt"):
        create_tracker("siamrpn")
    with pytest.raises(TrackerSpecError, match="unknown OpenCV tracker 'boosting'"):
        create_tracker("opencv:boosting")
    with pytest.raises(TrackerSpecError, match="non-empty string"):
        create_tracker("")


def test_peers_without_their_onnx_files_are_a_clear_error(tmp_path):
    with pytest.raises(TrackerSpecError, match="nanotrack_backbone_sim.onnx"):
        create_tracker("opencv:nano", nanotrack_dir=tmp_path)
    with pytest.raises(TrackerSpecError, match="object_tracking_vittrack_2023sep.onnx.*--vittrack-dir"):
        create_tracker("opencv:vit", vittrack_dir=tmp_path)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("sstrack", SSTrackSpec(None, "auto", None)),
        ("sstrack:models/tiny", SSTrackSpec("models/tiny", "auto", None)),
        ("sstrack:models/tiny:openvino", SSTrackSpec("models/tiny", "openvino", None)),
        ("sstrack:models/tiny:onnxruntime:int8", SSTrackSpec("models/tiny", "onnxruntime", "int8")),
        ("sstrack:/abs/dir:fp32", SSTrackSpec("/abs/dir", "auto", "fp32")),
        ("sstrack:openvino:int8", SSTrackSpec(None, "openvino", "int8")),
        ("sstrack:m:onnxruntime:int8-static", SSTrackSpec("m", "onnxruntime", None, "int8-static")),
        ("sstrack:int8-dynamic", SSTrackSpec(None, "auto", None, "int8-dynamic")),
    ],
)
def test_sstrack_specs(spec, expected):
    assert parse_sstrack_spec(spec) == expected


def test_labels_are_folder_safe_and_distinct():
    assert tracker_label("opencv:csrt") == "opencv_csrt"
    assert tracker_label("sstrack:/m/tiny:openvino:int8") == "sstrack_tiny_openvino_int8"
    assert tracker_label("sstrack") == "sstrack"
    assert tracker_label("sstrack:m:int8-dynamic") == "sstrack_m_auto_int8-dynamic"


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(TrackerSpecError, match="model directory not found"):
        create_tracker(f"sstrack:{tmp_path / 'nope'}")


@pytest.mark.realdata
def test_default_sstrack_model_tracks_a_real_sequence(crossing_head):
    tracker = create_tracker("sstrack", threads=1)
    assert tracker.card.trained and tracker.model.card.root.name == "default"
    run = run_offline(tracker, crossing_head)
    assert score_sequence(run.boxes, crossing_head.ground_truth).auc > 0.5


def test_without_a_default_model_sstrack_says_how_to_evaluate_an_exported_one(monkeypatch):
    import sstrack_edge.backends as backends

    monkeypatch.setattr(backends, "installed_models", lambda: [])
    with pytest.raises(TrackerSpecError, match=r"no default model is installed.*sstrack:<model_dir>"):
        create_tracker("sstrack")


@pytest.mark.realdata
def test_exported_model_runs_through_the_same_interface(tiny_model_dir, crossing_head):
    tracker = create_tracker(f"sstrack:{tiny_model_dir}:onnxruntime", threads=1)
    run = run_offline(tracker, crossing_head)
    assert run.boxes.shape == (40, 4) and np.isfinite(run.boxes).all() and (run.times > 0).all()
