"""Shared fixtures: where ../shared lives, and small exported models for runtime tests.

Real-data tests read ../shared (sibling of the repository, also present in CI) and skip cleanly
when it is absent. Set SSTRACK_SHARED to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSTRACK_SHARED", REPO.parent / "shared"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def sot_train() -> Path:
    return _need(SHARED / "data" / "sot" / "train")


@pytest.fixture(scope="session")
def train_videos() -> Path:
    """The training clips (``<name>.mp4`` + ``<name>.txt``); read them through the video loaders,
    which decode into the frame cache (``$SSTRACK_FRAME_CACHE``, never inside ../shared)."""
    return _need(SHARED / "data" / "sot" / "train_videos")


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


TINY_ARCH = dict(depth=2, embed_dim=64, num_heads=2, head_channels=32)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A small randomly initialised network (real input sizes 128/256, depth 2, width 64),
    exported to ONNX + OpenVINO IR with its model card. Untrained: for runtime plumbing tests only."""
    torch = pytest.importorskip("torch")
    from training.export.package import export_model
    from training.models.ostrack import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(**TINY_ARCH)).eval()
    out = tmp_path_factory.mktemp("tiny_model")
    export_model(model, out, name="tiny-random-test", trained=False, openvino=True)
    return out
