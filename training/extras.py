"""The training commands need the ``[train]`` extra; say so plainly in a runtime-only install."""

from __future__ import annotations

import importlib.util
import sys

TRAIN_MODULES = {"torch": "torch", "yaml": "pyyaml", "onnx": "onnx"}
INSTALL_HINT = "pip install torch==2.13.0 'sstrack-edge[train]'"


def missing_train_modules() -> list[str]:
    return [pkg for mod, pkg in TRAIN_MODULES.items() if importlib.util.find_spec(mod) is None]


def require_train_extra(prog: str) -> int | None:
    """None when everything is installed, else print one line naming what is missing and return 2."""
    missing = missing_train_modules()
    if not missing:
        return None
    print(f"{prog}: needs the training extra, not installed here (missing: {', '.join(missing)}); "
          f"install it with: {INSTALL_HINT}", file=sys.stderr)
    return 2
