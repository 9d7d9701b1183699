"""The ``sstrack-edge`` command line (run in-process through ``cli.main``)."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest

from sstrack_edge import UntrainedModelWarning, cli


def run_cli(argv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return cli.main([str(a) for a in argv])


def test_track_image_folder_writes_results_and_video(tiny_model_dir, sot_eval, tmp_path, capsys):
    seq = sot_eval / "Crossing"
    gt0 = open(seq / "groundtruth.txt").readline().strip()
    results, video = tmp_path / "boxes.txt", tmp_path / "out.mp4"
    args = ["track", seq / "img", "--bbox", gt0, "--model", tiny_model_dir, "--backend", "ort", "--threads", "1"]
    args += ["--max-frames", 12, "--results", results, "--output", video, "--quiet", "--lost-threshold", 0.0]
    assert run_cli(args) == 0
    boxes = np.loadtxt(results, delimiter=",")
    assert boxes.shape == (12, 4)
    np.testing.assert_allclose(boxes[0], [float(v) for v in gt0.split(",")])
    assert np.isfinite(boxes).all() and (boxes[:, 2:] >= 10).all()
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12
    assert "12 frames, 0 lost" in capsys.readouterr().err


def test_track_without_bbox_is_a_clear_error(tiny_model_dir, sot_eval, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli(["track", sot_eval / "Crossing" / "img", "--model", tiny_model_dir])
    assert e.value.code == 2
    assert "--bbox x,y,w,h" in capsys.readouterr().err


@pytest.mark.parametrize("bbox, message", [("1,2,3", "4 values"), ("a,b,c,d", "not 4 numbers"), ("1,2,0,5", "positive")])
def test_track_bad_bbox(tiny_model_dir, sot_eval, capsys, bbox, message):
    with pytest.raises(SystemExit):
        run_cli(["track", sot_eval / "Crossing" / "img", "--bbox", bbox, "--model", tiny_model_dir])
    assert message in capsys.readouterr().err


def test_track_missing_source(tiny_model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_cli(["track", tmp_path / "nothing.mp4", "--bbox", "1,2,3,4", "--model", tiny_model_dir])
    assert "not a video file, image folder" in capsys.readouterr().err


def test_demo_writes_video_and_reports_iou(tiny_model_dir, tmp_path, capsys):
    assert run_cli(["demo", "--model", tiny_model_dir, "--out", tmp_path, "--frames", 20, "--backend", "ort", "--threads", 1]) == 0
    out = capsys.readouterr().out
    iou = float(out.split("mean_iou_visible:")[1].split()[0])
    assert 0.0 <= iou <= 1.0
    assert (tmp_path / "demo.mp4").stat().st_size > 0
    assert np.loadtxt(tmp_path / "boxes.txt", delimiter=",").shape == (20, 4)


def test_demo_without_model_needs_a_default(monkeypatch, capsys, tmp_path):
    from sstrack_edge import backends

    monkeypatch.setattr(backends, "installed_models", lambda: [])
    with pytest.raises(SystemExit):
        run_cli(["demo", "--out", tmp_path])
    assert "no default model" in capsys.readouterr().err


def test_bench_reports_every_variant_and_the_split(tiny_model_dir, tmp_path, capsys):
    report_path = tmp_path / "bench.json"
    args = ["bench", "--model", tiny_model_dir, "--threads", 1, "--frames", 4, "--rounds", 2, "--warmup", 1]
    assert run_cli(args + ["--no-torch", "--json", report_path]) == 0
    report = json.loads(report_path.read_text())
    names = {r["name"] for r in report["rows"]}
    card = json.loads((tiny_model_dir / "model_card.json").read_text())
    assert {v["name"] for v in card["variants"] if v["backend"] == "onnxruntime"} <= names
    assert "opencv-csrt" in names
    ours = [r for r in report["rows"] if r["kind"] == "sstrack"]
    for r in ours:
        assert r["updates"] == 4 and r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"]
        assert r["preprocess_ms"] + r["inference_ms"] + r["decode_ms"] <= r["median_ms"] * 1.5
        assert 0 < r["pre_decode_share"] < 1
    assert "median ms" in capsys.readouterr().out
