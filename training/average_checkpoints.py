"""Average the weights of several checkpoints of one run (checkpoint averaging, SWA-style, post hoc).

The result is a training checkpoint like the newest input, with ``model`` replaced by the
element-wise mean of the inputs' floating-point tensors (computed in float64, stored in the
original dtype) and ``averaged_from`` listing the inputs. Integer buffers (BatchNorm's
``num_batches_tracked``) are taken from the newest input. ``training.evaluate`` and
``sstrack-export --checkpoint`` read it like any checkpoint; ``--resume`` refuses it, since its
optimizer state belongs to the newest input's weights, not to the average.

BatchNorm running statistics are averaged too. That is exact for this project's stems, whose BN
statistics are frozen (``stem_options.freeze_bn``, the default); with unfrozen BN they are only an
approximation (SWA recomputes them with a pass over training data).

Usage::

    python -m training.average_checkpoints RUN --epochs 9-14 --out avg.pt   # RUN/checkpoints/epoch_*.pt
    python -m training.average_checkpoints a.pt b.pt c.pt --out avg.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from training.checkpoint import CheckpointError, atomic_save, epoch_checkpoint_path, load_checkpoint


def average_checkpoints(paths: list[str | Path]) -> dict:
    """The checkpoint dict described in the module docstring; ValueError if the inputs differ in
    model config, tensor names or shapes, or if fewer than two are given."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ValueError(f"averaging needs at least two checkpoints, got {len(paths)}")
    ckpts = [load_checkpoint(p) for p in paths]
    newest = max(range(len(ckpts)), key=lambda i: int(ckpts[i]["epoch"]))
    base = ckpts[newest]
    for p, ck in zip(paths, ckpts):
        if ck["model_config"] != base["model_config"]:
            raise ValueError(f"{p} has a different model config than {paths[newest]}: they are not one network")
        if ck["model"].keys() != base["model"].keys():
            diff = sorted(set(ck["model"]) ^ set(base["model"]))
            raise ValueError(f"{p} and {paths[newest]} hold different tensors, e.g. {diff[:3]}")
        for k, v in ck["model"].items():
            if v.shape != base["model"][k].shape:
                raise ValueError(f"{p}: tensor {k} has shape {tuple(v.shape)}, "
                                 f"{paths[newest]} has {tuple(base['model'][k].shape)}")
    model = {}
    for k, v in base["model"].items():
        if v.is_floating_point():
            total = sum(ck["model"][k].double() for ck in ckpts)
            model[k] = (total / len(ckpts)).to(v.dtype)
        else:
            model[k] = v.clone()
    return {**base, "model": model,
            "averaged_from": [{"path": str(p), "epoch": int(ck["epoch"])} for p, ck in zip(paths, ckpts)]}


def epoch_checkpoints(run: str | Path, first: int, last: int) -> list[Path]:
    """``RUN/checkpoints/epoch_NNNN.pt`` for epochs ``first..last``; FileNotFoundError names the
    missing ones (``log.keep_checkpoints`` > 0 deletes older epochs)."""
    if first > last:
        raise ValueError(f"epoch range {first}-{last} is empty")
    paths = [epoch_checkpoint_path(run, e) for e in range(first, last + 1)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{paths[0].parent} lacks {', '.join(missing)} (train with --set log.keep_checkpoints=0 "
                                f"to keep every epoch)")
    return paths


def _epoch_range(text: str) -> tuple[int, int]:
    try:
        first, _, last = text.partition("-")
        return int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST-LAST, e.g. 9-14, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.average_checkpoints",
                                description="average the weights of several checkpoints of one run")
    p.add_argument("inputs", nargs="+", help="checkpoint files, or one run directory with --epochs")
    p.add_argument("--epochs", type=_epoch_range, default=None,
                   help="FIRST-LAST: average RUN/checkpoints/epoch_FIRST..LAST.pt")
    p.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    args = p.parse_args(argv)
    try:
        if args.epochs is not None:
            if len(args.inputs) != 1 or not Path(args.inputs[0]).is_dir():
                raise ValueError("--epochs takes exactly one run directory")
            paths = epoch_checkpoints(args.inputs[0], *args.epochs)
        else:
            paths = [Path(x) for x in args.inputs]
        avg = average_checkpoints(paths)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"average_checkpoints: {e}", file=sys.stderr)
        return 2
    out = atomic_save(avg, args.out)
    epochs = [a["epoch"] for a in avg["averaged_from"]]
    print(f"averaged {len(paths)} checkpoints (epochs {epochs}) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
