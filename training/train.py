"""``sstrack-train``: train SSTrack (or the random-sampler baseline) from a YAML config.

Usage::

    sstrack-train CONFIG.yaml [--out DIR] [--resume CHECKPOINT_OR_RUN_DIR] [--set key.sub=value ...]
    torchrun --nproc_per_node=N -m training.train CONFIG.yaml --out DIR
    sstrack-train plot RUN_DIR              # q_i over epochs (and more) as PNGs, see training.plot

``--set`` overrides config values (YAML-parsed), e.g. ``--set schedule.sampler=random
--set epochs=3``. The run directory gets ``config.json``, ``log.jsonl``, ``tb/`` (TensorBoard),
``checkpoints/epoch_XXXX.pt`` and ``last.pt``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from training.extras import require_train_extra


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sstrack-train", description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="training config YAML (e.g. training/configs/cpu_small.yaml)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", default=None, help="checkpoint file or run directory (uses its last.pt)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    missing = require_train_extra("sstrack-train")
    if missing is not None:
        return missing
    from training.train_config import ConfigError, load_config, merge, parse_override

    if argv and argv[0] == "plot":
        from training.plot import main as plot_main

        return plot_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict = {}
    try:
        for item in args.set:
            overrides = merge(overrides, parse_override(item))
        cfg = load_config(args.config, overrides)
    except ConfigError as e:
        print(f"sstrack-train: {e}", file=sys.stderr)
        return 2
    import torch

    from training.trainer import Trainer, dist_from_env

    if args.threads:
        torch.set_num_threads(args.threads)
    from training.checkpoint import CheckpointError

    info = dist_from_env()
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    try:  # set-up errors (bad model key, missing dataset file, bad checkpoint) end with a message
        trainer = Trainer(cfg, out, info)
        if args.resume:
            trainer.resume(args.resume)
    except (ConfigError, CheckpointError, ValueError, TypeError, FileNotFoundError) as e:
        print(f"sstrack-train: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    trainer.fit()
    if info.distributed:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
