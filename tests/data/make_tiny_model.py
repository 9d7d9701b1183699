"""Regenerate ``tests/data/tiny_model``: the small UNTRAINED network the runtime tests run on.

Committed so that the runtime and evaluation tests need no torch (a plain ``pip install .``);
regenerate it after a change to the export or the card schema (needs the ``[train]`` extra):

    python tests/data/make_tiny_model.py

Architecture: tests/conftest.py ``TINY_ARCH`` (depth 2, width 64, real input sizes 128 / 256),
seed 0, ONNX FP32 + OpenVINO IR FP32, card ``trained: false``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import TINY_ARCH  # noqa: E402


def main() -> None:
    import torch

    from training.export.package import export_model
    from training.models.ostrack import ModelConfig, build_model

    out = HERE / "tiny_model"
    if out.exists():
        shutil.rmtree(out)
    torch.manual_seed(0)
    model = build_model(ModelConfig(**TINY_ARCH)).eval()
    export_model(model, out, name="tiny-random-test", trained=False, openvino=True)
    print(f"wrote {out}: {sum(p.stat().st_size for p in out.rglob('*') if p.is_file()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
