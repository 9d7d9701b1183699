"""Where the project's shared data lives: ``$SSTRACK_SHARED``, else ``../shared`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    env = os.environ.get("SSTRACK_SHARED")
    return Path(env) if env else REPO.parent / "shared"
