"""Export a FULL-SIZE, randomly initialised SSTrack ViT-Tiny for speed measurement only.

Depth 12, width 192, 3 heads, 128/256 inputs, head channels 256 (the OSTrack-256 tiny layout;
~2.85 GMACs with the conv head, ~2.2 G in the ViT). The weights are random: the card says
``trained: false`` and the runtime warns when it is loaded; never use it to track. Needs torch and
``training`` (it runs ``sstrack-export --random``); ``--int8`` also writes the INT8 variants
(ORT dynamic / static QDQ, OpenVINO NNCF), calibrated on ../shared/data/sot/train_videos crops.

    python benchmarks/export_random_vit_tiny.py --out ~/.cache/sstrack_edge/vit-tiny-random [--int8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FULL_ARCH = dict(depth=12, embed_dim=192, num_heads=3, head_channels=256)
INT8_VARIANTS = "int8-dynamic,int8-static,openvino-int8"
DEFAULT_OUT = Path.home() / ".cache" / "sstrack_edge" / "vit-tiny-random"


def export_random_vit_tiny(out: Path, int8: bool = False, seed: int = 0, threads: int = 2) -> Path:
    from training.export.cli import main as export_main

    argv = ["--random", "--arch", *(f"{k}={v}" for k, v in FULL_ARCH.items()), "--out", str(out)]
    argv += ["--name", "vit-tiny-random-speed-only", "--seed", str(seed), "--threads", str(threads)]
    if int8:
        argv += ["--quantize", INT8_VARIANTS]
    rc = export_main(argv)
    if rc:
        raise SystemExit(rc)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--int8", action="store_true", help=f"also export INT8 variants ({INT8_VARIANTS})")
    p.add_argument("--threads", type=int, default=2, help="threads for the exporter's INT8-vs-FP32 latency check")
    args = p.parse_args(argv)
    print(export_random_vit_tiny(args.out, int8=args.int8, threads=args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
