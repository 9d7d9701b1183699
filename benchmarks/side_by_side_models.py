"""Put the variants of two exports of the same network into one model folder, so that
``sstrack-edge bench`` times them side by side in one run (interleaved rounds, same frames).

    python benchmarks/side_by_side_models.py NEW_DIR OLD_DIR OUT_DIR [--prefix old-]
    sstrack-edge bench --model OUT_DIR --threads 1 --no-torch

OUT_DIR gets NEW_DIR's card and files plus OLD_DIR's files under ``<prefix>/`` and its variants
renamed ``<prefix><name>``. Used to check that a re-export (e.g. the dynamic batch dimension of
issue 31) did not slow the single-target path (benchmarks/RESULTS.md "Multi-target").
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from sstrack_edge.model_card import ModelCard


def merge(new_dir: Path, old_dir: Path, out: Path, prefix: str) -> ModelCard:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(new_dir, out)
    shutil.copytree(old_dir, out / prefix.rstrip("-"), ignore=shutil.ignore_patterns("model_card.json"))
    card, old = ModelCard.load(out), ModelCard.load(old_dir)
    sub = prefix.rstrip("-")
    for v in old.variants:
        card.variants.append(replace(
            v, name=prefix + v.name,
            files={role: f"{sub}/{rel}" for role, rel in v.files.items()},
            sha256={f"{sub}/{rel}": digest for rel, digest in v.sha256.items()},
        ))
    card.save(out)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("new", type=Path)
    p.add_argument("old", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--prefix", default="old-")
    args = p.parse_args(argv)
    card = merge(args.new, args.old, args.out, args.prefix)
    print(f"{args.out}: variants {[v.name for v in card.variants]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
