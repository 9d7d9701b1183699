"""Shared fixtures: where ../shared lives, and small exported models for runtime tests.

Real-data tests read ../shared (sibling of the repository, also present in CI) and skip cleanly
when it is absent. Set SSTRACK_SHARED to point elsewhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
# from this file, not from the installed package: the plain-install run tests a wheel in site-packages
SHARED = Path(os.environ.get("SSTRACK_SHARED", REPO.parent / "shared"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def train_videos() -> Path:
    """The training clips (``<name>.mp4`` + ``<name>.txt``); read them through the video loaders,
    which decode into the frame cache (``$SSTRACK_FRAME_CACHE``, never inside ../shared)."""
    return _need(SHARED / "data" / "sot" / "train_videos")


SOT_FOLDER_CLIPS = ["DTB70_MountainBike6", "OTB_Bird2", "UAV123_10fps_group2"]  # 81, 99, 289 frames (5 absent)


@pytest.fixture(scope="session")
def sot_folder(train_videos, tmp_path_factory) -> Path:
    """A ``sot``-layout folder (``<name>/img/000001.jpg...`` + ``groundtruth.txt`` + ``sequences.json``)
    of three real training clips, for the tests of the folder readers: every frame is a link to the
    clip's decoded frame in the frame cache, the ground truth and the sequences.json entries are
    the clip's own."""
    import json
    import shutil

    from sstrack_edge.evaluation.datasets import load_dataset

    root = tmp_path_factory.mktemp("sot_folder")
    info = json.loads((train_videos / "sequences.json").read_text())
    for seq in load_dataset(train_videos, "videos", SOT_FOLDER_CLIPS):
        img = root / seq.name / "img"
        img.mkdir(parents=True)
        for i, frame in enumerate(seq.frames, start=1):
            (img / f"{i:06d}.jpg").symlink_to(frame)
        shutil.copyfile(train_videos / f"{seq.name}.txt", root / seq.name / "groundtruth.txt")
    (root / "sequences.json").write_text(json.dumps({n: info[n] for n in SOT_FOLDER_CLIPS}, indent=1))
    return root


@pytest.fixture(scope="session")
def vittrack_dir() -> Path:
    return _need(SHARED / "peers" / "vittrack")


@pytest.fixture(scope="session")
def sot_eval() -> Path:
    return _need(SHARED / "data" / "sot" / "eval")


@pytest.fixture(scope="session")
def stills_dir() -> Path:
    return _need(SHARED / "data" / "stills")


@pytest.fixture(scope="session")
def nanotrack_dir() -> Path:
    return _need(SHARED / "peers" / "nanotrack_v2")


TINY_ARCH = dict(depth=2, embed_dim=32, num_heads=2, head_channels=16)  # tests/data/make_tiny_model.py
TINY_MODEL = REPO / "tests" / "data" / "tiny_model"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A small randomly initialised network (real input sizes 128/256, depth 2, width 32), ONNX +
    OpenVINO IR with its model card, committed under tests/data (no torch needed; regenerate with
    tests/data/make_tiny_model.py). Untrained: for runtime plumbing tests only. A fresh copy per
    session, so a test may add files to it."""
    out = tmp_path_factory.mktemp("tiny_model") / "tiny_model"
    shutil.copytree(TINY_MODEL, out)
    return out
