"""Fixtures for the runtime tests: real frames from ../shared and per-test copies of the tiny model."""

from __future__ import annotations

import shutil
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

