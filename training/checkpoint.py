"""Training checkpoints: atomic writes, RNG state capture/restore, and the on-disk format.

A checkpoint is one ``torch.save`` dict (``FORMAT = "sstrack-train-checkpoint"``, ``version 1``)::

    format, version, epoch (epochs completed), config (TrainConfig dict), model_config
    (ModelConfig dict, for export), model (state_dict, no DDP "module." prefix), optimizer,
    lr_scheduler, grad_scaler (or None), schedule (SSTrackSchedule.state_dict), sampler
    ({"bin_probs", "epoch"}), rng (one entry per rank: python, numpy, torch, cuda),
    world_size, q_random, metrics (last epoch's log record)

Writes are atomic: a temp file in the same folder, ``fsync``, then ``os.replace`` (and an fsync
of the folder), so a killed run leaves either the previous or the new checkpoint, never half.
A run keeps ``checkpoints/epoch_NNNN.pt`` (the newest ``log.keep_checkpoints``) and ``last.pt`` /
``best.pt`` hard-linked to one of them (``save_run_checkpoint``); ``load_run_checkpoint`` reads one
back to resume.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "sstrack-train-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or not a training checkpoint of this format."""


def rng_state() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (temp file + fsync + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def epoch_checkpoint_path(run: str | os.PathLike, epoch: int) -> Path:
    """Where a run keeps the checkpoint of ``epoch``: ``RUN/checkpoints/epoch_NNNN.pt``."""
    return Path(run) / "checkpoints" / f"epoch_{int(epoch):04d}.pt"


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # torch raises many types for corrupt files
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an sstrack training checkpoint (format {FORMAT!r})")
    if int(ckpt.get("version", 0)) != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {ckpt.get('version')}, this code reads {VERSION}")
    return ckpt


def strip_module_prefix(state: dict) -> dict:
    """Remove DDP's ``module.`` prefix from state_dict keys."""
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}


# ---------------------------------------------------------------- a run's checkpoint files
LAST = "last.pt"
BEST = "best.pt"


def run_checkpoint(path: str | os.PathLike, name: str = LAST) -> Path:
    """A checkpoint file, or a run folder meaning its ``name`` (``last.pt`` unless told)."""
    p = Path(path)
    return p / name if p.is_dir() else p


def save_run_checkpoint(run: str | os.PathLike, epoch: int, state: dict, best: bool = False, keep: int = 0) -> Path:
    """Write ``RUN/checkpoints/epoch_N.pt`` and point ``last.pt`` (and ``best.pt`` when ``best``) at it;
    keep the newest ``keep`` numbered files (0 keeps all)."""
    run = Path(run)
    path = atomic_save(state, epoch_checkpoint_path(run, epoch))
    for name in [LAST] + ([BEST] if best else []):
        tmp = run / f".{name}.link"
        if tmp.exists():
            tmp.unlink()
        try:  # a hard link to the epoch file, swapped in atomically (survives its pruning)
            os.link(path, tmp)
            os.replace(tmp, run / name)
        except OSError:  # file systems without hard links: a second atomic write
            atomic_save(state, run / name)
    if keep > 0:
        for old in sorted(path.parent.glob("epoch_*.pt"))[:-keep]:
            old.unlink()
    return path


def load_run_checkpoint(path: str | os.PathLike, model_config: dict) -> tuple[Path, dict]:
    """Load a checkpoint to resume from (a file or a run folder's ``last.pt``), refusing one trained
    with a different ``model_config``. Returns the file and its dict."""
    p = run_checkpoint(path)
    ckpt = load_checkpoint(p, map_location="cpu")
    if ckpt["model_config"] != model_config:
        raise ValueError(f"checkpoint {p} was trained with a different model config")
    return p, ckpt
