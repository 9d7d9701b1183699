"""Fixtures for the runtime tests: real frames from ../shared, per-test copies of the tiny model, and a
loopback RTSP server (tests/runtime/rtsp_server.py on the system python3) streaming a real clip."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import sstrack_edge
from sstrack_edge import UntrainedModelWarning

SEQUENCE = "Crossing"  # OTB, 360x240, 120 frames: small and fast to decode


def load_sequence(root: Path, name: str, n: int):
    seq = root / name
    files = sorted((seq / "img").glob("*.jpg"))[:n]
    frames = [cv2.imread(str(f)) for f in files]
    gt = np.loadtxt(seq / "groundtruth.txt", delimiter=",", ndmin=2)[:n]
    return frames, gt


@pytest.fixture(scope="session")
def real_clip(sot_eval):
    """24 real frames and their ground truth (x, y, w, h)."""
    return load_sequence(sot_eval, SEQUENCE, 24)


@pytest.fixture(scope="session")
def real_sequence(sot_eval):
    """``real_sequence(name, n)``: the first ``n`` frames of an eval sequence and their ground truth."""
    return lambda name, n: load_sequence(sot_eval, name, n)


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path) -> Path:
    """A private copy of the tiny model directory that a test may corrupt."""
    dst = tmp_path / "model"
    shutil.copytree(tiny_model_dir, dst)
    return dst


def _quiet(fn, model, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return fn(model, **kw)


@pytest.fixture(scope="session")
def make_tracker():
    """``make_tracker(model, **kw)``: a Tracker on an untrained test model, its expected warning silenced."""
    return lambda model, **kw: _quiet(sstrack_edge.Tracker, model, **kw)


@pytest.fixture(scope="session")
def load():
    """``load(model, **kw)``: ``sstrack_edge.load_model`` with the untrained-model warning silenced."""
    return lambda model, **kw: _quiet(sstrack_edge.load_model, model, **kw)



# ------------------------------------------------------------------ loopback RTSP server
RTSP_PYTHON = os.environ.get("SSTRACK_RTSP_PYTHON", "/usr/bin/python3")  # Debian's, with python3-gi
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")


def _rtsp_unavailable() -> str | None:
    if not os.access(RTSP_PYTHON, os.X_OK):
        return f"no system python at {RTSP_PYTHON}"
    try:
        r = subprocess.run([RTSP_PYTHON, str(RTSP_SERVER), "--check"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{RTSP_PYTHON} {RTSP_SERVER.name} --check failed: {e}"
    if r.returncode != 0:
        return (r.stdout + r.stderr).strip().splitlines()[-1] if (r.stdout + r.stderr).strip() else f"exit {r.returncode}"
    return None


class RtspServer:
    """``rtsp_server.py`` in a subprocess streaming one clip; ``url``, ``stall()`` (SIGSTOP: the
    server stops sending but keeps its connections, like a hung camera), ``resume()``, ``close()``."""

    def __init__(self, clip: Path):
        self.proc = subprocess.Popen(
            [RTSP_PYTHON, str(RTSP_SERVER), str(clip), "--max-seconds", "300"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 30.0)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"RTSP server did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.url = f"rtsp://127.0.0.1:{int(line.split()[1])}/clip"

    def stall(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def rtsp_available() -> None:
    """Skip (saying why) when the loopback RTSP server cannot run here."""
    reason = _rtsp_unavailable()
    if reason:
        pytest.skip(f"loopback RTSP server unavailable: {reason} (scripts/setup_rtsp_server.sh installs it)")


@pytest.fixture
def rtsp_server(rtsp_available, train_videos):
    """``rtsp_server(clip_name)`` -> a running :class:`RtspServer` streaming ``train_videos/<clip_name>.mp4``;
    stopped at the end of the test."""
    servers: list[RtspServer] = []

    def start(clip_name: str) -> RtspServer:
        servers.append(RtspServer(train_videos / f"{clip_name}.mp4"))
        return servers[-1]

    yield start
    for s in servers:
        s.close()
