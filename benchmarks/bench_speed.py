"""Speed benchmark of the runtime: ``Tracker.update()`` per variant vs torch eager and OpenCV peers.

Runs ``sstrack_edge.bench.run_bench`` ``--repeat`` times (default 2) on the bundled default model
(``models/default``), or on ``--model DIR``, or with ``--vit-tiny-random`` on a full-size random
ViT-Tiny (the paper's network; exported first with export_random_vit_tiny.py when the cache is
empty); prints each table and writes all reports as JSON.

    python benchmarks/bench_speed.py --threads 2 --frames 100 --repeat 2 --json /tmp/speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sstrack_edge import UntrainedModelWarning  # noqa: E402
from sstrack_edge.bench import format_table, run_bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", type=Path, default=None, help="model dir (default: the bundled default model)")
    src.add_argument("--vit-tiny-random", action="store_true",
                     help="the paper-size ViT-Tiny with random weights (cached export), for architecture speed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--int8", action="store_true", help="export INT8 variants too when creating the cached model")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    model = args.model
    if model is None and not args.vit_tiny_random:
        from sstrack_edge.backends import default_model_dir

        model = default_model_dir()
    if model is None:
        from export_random_vit_tiny import DEFAULT_OUT, export_random_vit_tiny  # next to this script

        model = DEFAULT_OUT
        if not (model / "model_card.json").is_file():
            export_random_vit_tiny(model, int8=args.int8)
    reports = []
    for i in range(args.repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UntrainedModelWarning)
            report = run_bench(model, threads=args.threads, frames=args.frames, rounds=args.rounds)
        print(f"=== run {i + 1}/{args.repeat}")
        print(format_table(report), flush=True)
        reports.append(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
