"""Choose between checkpoints (or settings) by TRE on the validation clips, through the runtime.

Every candidate is tracked by the shipping loop, :class:`sstrack_edge.Tracker` with a torch runner
(:mod:`training.torch_runner`), on the clips a training config holds out (its ``validation``
section: root, format, sequences, starts, inference settings), from ``starts`` evenly spaced start
frames per clip. The first candidate is the reference: for each other one the table gives the
mean AUC difference over clips (paired: same clips, same starts) and a 95 % bootstrap interval
over clips, so a difference is acted on only when the interval excludes zero.

    python -m training.validate CONFIG.yaml CKPT [CKPT ...] [--starts N] [--inference key=value ...]
        [--json OUT.json] [--threads 1]

``CKPT``: a ``sstrack-train`` checkpoint, a run directory (its ``best.pt``) or a VitTrack ONNX file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

BOOTSTRAP = 10000


def paired_interval(ref: dict[str, float], cand: dict[str, float], seed: int = 0) -> tuple[float, float, float]:
    """Mean over clips of ``cand - ref`` and its 95 % bootstrap interval (clips resampled)."""
    names = sorted(ref)
    d = np.array([cand[n] - ref[n] for n in names])
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(BOOTSTRAP, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)


def validate(config: str | Path, checkpoints: list[Path], starts: int | None = None,
             inference: dict[str, Any] | None = None) -> dict[str, Any]:
    from sstrack_edge.evaluation.datasets import load_dataset
    from training.checkpoint import BEST, run_checkpoint
    from training.evaluate import checkpoint_tracker, evaluate_tracker
    from training.train_config import load_config

    cfg = load_config(config)
    v = cfg.validation
    if v is None:
        raise ValueError(f"{config} has no validation section (root, sequences) to choose with")
    seqs = load_dataset(v.root, v.format, v.sequences)
    settings = {"size_update_rate": v.size_update_rate, **v.inference, **(inference or {})}
    starts = starts or v.starts
    rows = []
    for ck in checkpoints:
        tracker, info = checkpoint_tracker(run_checkpoint(ck, BEST), settings)
        res = evaluate_tracker(tracker, seqs, starts=starts)
        rows.append({"checkpoint": str(ck), "epoch": info.get("epoch"), "auc": res["auc"],
                     "precision20": res["precision20"], "segments": res["sequences"],
                     "per_clip": {k: r["auc"] for k, r in res["per_sequence"].items()}})
    ref = rows[0]["per_clip"]
    for r in rows[1:]:
        r["diff_vs_first"] = dict(zip(("mean", "lo95", "hi95"), paired_interval(ref, r["per_clip"])))
    return {"config": str(config), "root": v.root, "sequences": [s.name for s in seqs], "starts": starts,
            "inference": settings, "candidates": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.validate", description=__doc__.split("\n\n")[0])
    p.add_argument("config", type=Path, help="training config whose validation section names the clips")
    p.add_argument("checkpoints", type=Path, nargs="+", help="checkpoints, run dirs (best.pt) or VitTrack ONNX")
    p.add_argument("--starts", type=int, default=None, help="TRE start frames per clip (default: the config's)")
    p.add_argument("--inference", nargs="*", default=[], metavar="KEY=VALUE", help="card inference overrides")
    p.add_argument("--json", type=Path, default=None, help="write the table as JSON here")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    from training.export.cli import parse_inference

    torch.set_num_threads(args.threads)
    try:
        res = validate(args.config, args.checkpoints, args.starts, parse_inference(args.inference))
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # ConfigError, PretrainedLoadError included
        print(f"validate: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(f"{len(res['sequences'])} validation clips x {res['starts']} starts; inference {res['inference']}")
    for r in res["candidates"]:
        d = r.get("diff_vs_first")
        diff = f"  {d['mean']:+5.2f} [{d['lo95']:+5.2f}, {d['hi95']:+5.2f}]" if d else "  (reference)"
        print(f"{r['checkpoint']:60s} epoch {str(r['epoch']):>4s}  AUC {r['auc']:5.2f}  P@20 {r['precision20']:5.2f}{diff}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
