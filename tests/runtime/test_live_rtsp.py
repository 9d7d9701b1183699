"""Live input for real: ``sstrack-edge track rtsp://...`` against a loopback GStreamer RTSP server
(tests/runtime/rtsp_server.py) streaming a real training clip in real time. The CLI runs as a
separate process, as a user runs it: connect, track, then stop it with Ctrl-C, stall the server,
or let the stream end; then check what it wrote."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

LONG_CLIP = "OTB_David_vot2014"  # 320x240, 770 frames at 30 fps (25.7 s)
SHORT_CLIP = "VOT2015_ball2"  # 640x360, 41 frames at 30 fps


def first_box(train_videos: Path, clip: str) -> str:
    return (train_videos / f"{clip}.txt").read_text().splitlines()[0].strip()


def start_track(url: str, bbox: str, model: Path, tmp_path: Path, *extra) -> subprocess.Popen:
    argv = [sys.executable, "-m", "sstrack_edge.cli", "track", url, "--bbox", bbox, "--model", str(model)]
    argv += ["--backend", "ort", "--threads", "1", "--lost-threshold", "0", "--quiet"]
    argv += ["--results", str(tmp_path / "boxes.txt"), "--output", str(tmp_path / "out.mp4"), *map(str, extra)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def rows_in(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def wait_for_rows(path: Path, n: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while rows_in(path) < n:
        if proc.poll() is not None:
            pytest.fail(f"track exited {proc.returncode} before {n} rows: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"fewer than {n} rows after {timeout_s} s: {proc.communicate()[1][-3000:]}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout_s: float = 40.0) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"track still running {timeout_s} s later: {proc.communicate()[1][-3000:]}")
    return proc.returncode, err


def video_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def clip_index(frame: np.ndarray, clip_frames: list[np.ndarray], box: str) -> int:
    """Which clip frame an annotated output frame shows: nearest by mean absolute difference,
    away from the drawn box (with a margin) and the label at the top."""
    x, y, w, h = (int(float(v)) for v in box.split(","))
    mask = np.ones(frame.shape[:2], bool)
    mask[:30] = False
    mask[max(0, y - 60) : y + h + 60, max(0, x - 60) : x + w + 60] = False
    diffs = [np.abs(frame.astype(np.float32) - c)[mask].mean() for c in clip_frames]
    return int(np.argmin(diffs))


def check_outputs(tmp_path: Path, bbox: str) -> np.ndarray:
    """The results file and the video hold the same frames; boxes finite, first = --bbox."""
    boxes = np.loadtxt(tmp_path / "boxes.txt", delimiter=",", ndmin=2)
    np.testing.assert_allclose(boxes[0], [float(v) for v in bbox.split(",")], atol=1e-3)
    assert np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
    assert len(video_frames(tmp_path / "out.mp4")) == len(boxes)  # finalized: every frame decodes
    return boxes


def read_clip(train_videos: Path, clip: str, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(train_videos / f"{clip}.mp4"))
    frames = [cap.read()[1].astype(np.float32) for _ in range(n)]
    cap.release()
    return frames


def test_venv_opencv_reads_rtsp():
    """Runs without the server: the project's OpenCV must be able to open rtsp:// at all."""
    assert cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG), "the venv's OpenCV has no FFmpeg: no rtsp:// input"


@pytest.mark.parametrize(
    "sig, code, message", [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "terminated (SIGTERM)")]
)
def test_stop_keeps_results_video_and_summary(rtsp_server, train_videos, tiny_model_dir, tmp_path, sig, code, message):
    server = rtsp_server(LONG_CLIP)
    bbox = first_box(train_videos, LONG_CLIP)
    proc = start_track(server.url, bbox, tiny_model_dir, tmp_path, "--stall-timeout", 10)
    wait_for_rows(tmp_path / "boxes.txt", 30, proc)
    proc.send_signal(sig)
    exit_code, err = finish(proc)
    assert exit_code == code, err
    assert "Traceback" not in err
    assert message in err
    boxes = check_outputs(tmp_path, bbox)
    assert len(boxes) >= 30
    assert f"{len(boxes)} frames" in err and f"{len(boxes)} rows in" in err
    # --bbox went on the stream's first frame (the model loads before the stream is opened)
    first = video_frames(tmp_path / "out.mp4")[0]
    assert clip_index(first, read_clip(train_videos, LONG_CLIP, 90), bbox) == 0


def test_stalled_stream_is_a_clean_exit_3(rtsp_server, train_videos, tiny_model_dir, tmp_path):
    server = rtsp_server(LONG_CLIP)
    bbox = first_box(train_videos, LONG_CLIP)
    proc = start_track(server.url, bbox, tiny_model_dir, tmp_path, "--stall-timeout", 2)
    wait_for_rows(tmp_path / "boxes.txt", 20, proc)
    server.stall()  # the server freezes with the connection open, like a hung camera
    t0 = time.monotonic()
    code, err = finish(proc)
    waited = time.monotonic() - t0
    assert code == 3, err
    assert "Traceback" not in err and "stalled: no new frame for" in err
    assert 1.5 < waited < 15, waited
    boxes = check_outputs(tmp_path, bbox)
    assert len(boxes) >= 20 and f"{len(boxes)} rows in" in err


def test_stream_to_its_end_accounts_for_every_frame(rtsp_server, train_videos, tiny_model_dir, tmp_path):
    server = rtsp_server(SHORT_CLIP)
    bbox = first_box(train_videos, SHORT_CLIP)
    proc = start_track(server.url, bbox, tiny_model_dir, tmp_path, "--stall-timeout", 10)
    code, err = finish(proc, timeout_s=90)
    assert code == 0, err
    boxes = check_outputs(tmp_path, bbox)
    summary = err.strip().splitlines()[-1]
    dropped = int(summary.split(" stale frames dropped")[0].rsplit(" ", 1)[1])
    assert len(boxes) + dropped == 41  # every frame of the clip was tracked or counted as dropped
    first = video_frames(tmp_path / "out.mp4")[0]
    assert clip_index(first, read_clip(train_videos, SHORT_CLIP, 41), bbox) == 0
