"""A training run's record: the per-epoch log record and where it goes (``log.jsonl``, TensorBoard, console).

``EpochSums`` accumulates one rank's batch statistics, ``epoch_record`` turns the all-reduced sums
and the schedule's end-of-epoch statistics into the ``log.jsonl`` record (the keys ``training.plot``
and the tests read), and ``RunLog`` writes records on rank 0: one JSON line each, TensorBoard scalars
under ``tb/`` and a console line. A resume drops log lines of epochs after its checkpoint
(``RunLog.truncate``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger("training")

LOG_FILE = "log.jsonl"
TB_TRAIN_KEYS = ("loss", "giou", "l1", "focal", "mean_iou", "tau", "d", "samples_per_s", "lr", "scheduler_overhead")


class EpochSums:
    """One rank's sums over an epoch's batches: weighted loss, GIoU, L1, focal, presence focal (0
    without a presence branch), samples, positive samples; redraws per bin; skipped frames."""

    def __init__(self, num_bins: int):
        self.sums = np.zeros(7)  # loss, giou, l1, focal, presence, samples, positive samples
        self.redraws = np.zeros(num_bins)
        self.skipped = 0

    def add(self, batch: dict, loss, terms: dict) -> None:
        bins = batch["bin"]
        n = len(bins)
        self.sums += [loss.detach().item() * n, float(terms["giou"].detach().sum()),
                      float(terms["l1"].detach().sum()), float(terms["focal"].detach().sum()),
                      float(terms["presence"].detach().sum()) if "presence" in terms else 0.0, n,
                      int((batch["positive"] > 0).sum())]
        self.redraws += np.bincount(bins.numpy(), weights=batch["redraws"].numpy(), minlength=len(self.redraws))
        self.skipped += int(batch["skipped_frames"].sum())

    def total(self, all_reduce=None) -> np.ndarray:
        """The sums as one float64 vector, summed over ranks by ``all_reduce`` (None: this process only)."""
        flat = np.asarray(list(self.sums) + list(self.redraws) + [self.skipped], dtype=np.float64)
        return flat if all_reduce is None else all_reduce(flat)


def epoch_record(*, epoch: int, lr: float, totals: np.ndarray, num_bins: int, stats, q_used: np.ndarray,
                 gamma_used: np.ndarray, q_random: np.ndarray, schedule_cfg, load_skipped, world_size: int,
                 epoch_seconds: float, train_seconds: float, sched_seconds: float) -> dict:
    """The ``log.jsonl`` record of ``epoch``.

    ``totals``: ``EpochSums.total()`` (summed over ranks); ``stats``: the schedule's ``end_epoch``
    result; ``q_used``/``gamma_used``: the sampler's q and the loss's Gamma during the epoch."""
    tot = totals
    n, n_pos = max(tot[5], 1.0), max(tot[6], 1.0)
    return {
        "epoch": epoch,
        "lr": lr,
        "loss": tot[0] / n,
        "giou": tot[1] / n_pos,  # box terms: over positive pairs (negatives have none)
        "l1": tot[2] / n_pos,
        "focal": tot[3] / n,
        "presence": tot[4] / n,  # 0 without a presence branch
        "samples": int(tot[5]),
        "negative_samples": int(tot[5] - tot[6]),
        "mean_iou": stats.mean_iou,
        "tau": stats.tau,
        "p": stats.p,
        "d": stats.d,
        "q": q_used.tolist(),
        "gamma": gamma_used.tolist(),
        "q_next": stats.q_next,
        "gamma_next": stats.gamma_next,
        "gamma_clipped_next": stats.gamma_clipped_next,
        "gamma_clip_events": stats.gamma_weighted_clip_events,
        "bin_counts": stats.bin_counts,
        "bin_success": stats.bin_success,
        "redraws": [int(v) for v in tot[7:7 + num_bins]],
        "skipped_frames": int(tot[-1]),
        "load_skipped": load_skipped,
        "q_random": q_random.tolist(),
        "q_min": schedule_cfg.q_min,
        "gamma_max": schedule_cfg.gamma_max,
        "schedule_updated": stats.updated,
        "epoch_seconds": epoch_seconds,
        "train_seconds": train_seconds,
        "samples_per_s": tot[5] / max(train_seconds, 1e-9),
        "scheduler_seconds": sched_seconds,
        "scheduler_overhead": sched_seconds / max(epoch_seconds, 1e-9),
        "world_size": world_size,
    }


class Progress:
    """The tqdm bar of an epoch (rank 0 with ``log.progress``); a no-op otherwise."""

    def __init__(self, enabled: bool, total: int, desc: str):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)

    def update(self, loss, iou_pos) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss.item():.3f}", iou=f"{float(iou_pos.mean()):.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class RunLog:
    """Where a run's records go. Only the main rank writes (``enabled``); elsewhere every call is a no-op."""

    def __init__(self, out: str | os.PathLike, total_epochs: int, tensorboard: bool, enabled: bool = True):
        self.out = Path(out)
        self.total_epochs = total_epochs
        self.tensorboard = tensorboard
        self.enabled = enabled
        self._tb = None

    def write_config(self, config: dict) -> None:
        """``config.json``: the run's resolved configuration."""
        if not self.enabled:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")

    def write(self, rec: dict) -> None:
        """Append ``rec`` to ``log.jsonl``, add its TensorBoard scalars, log the console line."""
        if not self.enabled:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / LOG_FILE, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.tensorboard:
            self._write_tensorboard(rec)
        log.info(
            "epoch %d/%d loss %.4f iou %.3f tau %.3f d %.3f | q %s | %.1f samples/s | sched %.3f%%",
            rec["epoch"], self.total_epochs, rec["loss"], rec["mean_iou"], rec["tau"], rec["d"],
            " ".join(f"{v:.3f}" for v in rec["q"]), rec["samples_per_s"], 100 * rec["scheduler_overhead"],
        )

    def _write_tensorboard(self, rec: dict) -> None:
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.out / "tb"))
        e = rec["epoch"]
        for k in TB_TRAIN_KEYS:
            self._tb.add_scalar(f"train/{k}", rec[k], e)
        if "val_auc" in rec:
            self._tb.add_scalar("val/auc", rec["val_auc"], e)
            self._tb.add_scalar("val/precision20", rec["val_precision20"], e)
        for name in ("q", "p", "gamma"):
            self._tb.add_scalars(f"schedule/{name}", {str(i): v for i, v in enumerate(rec[name])}, e)
        self._tb.flush()

    def truncate(self, epoch: int) -> None:
        """Drop log lines of epochs after ``epoch`` (logged, then killed before their checkpoint)."""
        path = self.out / LOG_FILE
        if not self.enabled or not path.is_file():
            return
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        keep = [ln for ln in lines if json.loads(ln)["epoch"] <= epoch]
        if len(keep) != len(lines):
            tmp = path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(ln + "\n" for ln in keep))
            os.replace(tmp, path)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
