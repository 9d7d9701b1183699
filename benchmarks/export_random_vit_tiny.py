"""Export a FULL-SIZE, randomly initialised SSTrack ViT-Tiny for speed measurement only.

Depth 12, width 192, 3 heads, 128/256 inputs, head channels 256 (the OSTrack-256 tiny layout,
~1.9 GMACs). The weights are random: the card says ``trained: false`` and the runtime warns when
it is loaded; never use it to track. Needs torch and ``training`` (the export package).

    python benchmarks/export_random_vit_tiny.py --out ~/.cache/sstrack_edge/vit-tiny-random [--int8]
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FULL_ARCH = dict(depth=12, embed_dim=192, num_heads=3, head_channels=256)


def export_random_vit_tiny(out: Path, int8: bool = False, seed: int = 0) -> Path:
    import torch

    from training.export.package import export_model
    from training.models.ostrack import ModelConfig, build_model

    torch.manual_seed(seed)
    model = build_model(ModelConfig(**FULL_ARCH)).eval()
    kwargs = dict(name="vit-tiny-random-speed-only", trained=False, openvino=True)
    params = inspect.signature(export_model).parameters
    if int8:
        if "int8" not in params:
            raise SystemExit("training.export.package.export_model has no int8 option in this checkout")
        kwargs["int8"] = True
    export_model(model, out, **kwargs)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path.home() / ".cache" / "sstrack_edge" / "vit-tiny-random")
    p.add_argument("--int8", action="store_true", help="also export INT8 variants (if the exporter supports it)")
    args = p.parse_args(argv)
    print(export_random_vit_tiny(args.out, int8=args.int8))
    return 0


if __name__ == "__main__":
    sys.exit(main())
