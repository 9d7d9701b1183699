"""The helper modules of scripts/arm64/ (not a package), loaded by path for tests/arm."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "arm64"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"arm64_{name}", SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


emu_env = _load("emu_env")
compare = _load("compare")

CPUS = tuple(emu_env.CPU_MODELS)  # emulated CPU models every check runs on
