"""The SSTrack trainer: one process per rank (``torchrun`` or a single plain process).

Per epoch: the sampler gets the schedule's ``q`` (q_R in epoch 1), every batch's per-sample loss
(2 GIoU + 5 L1 + 1 focal) is multiplied by ``Gamma`` of its bin and averaged, the IoUs are
recorded, and at the end the schedule all-reduces its statistics and computes the next ``q``.
With a ``validation`` config section, rank 0 then tracks the held-out sequences and a new best
score also becomes ``best.pt``. Then the trainer logs (``training.run_log``: JSONL, TensorBoard,
console) and writes an atomic checkpoint (``training.checkpoint``).

Distributed: the launcher owns the processes (``torchrun --nproc_per_node=N``); this reads
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` and uses NCCL on CUDA and gloo on CPU. Reproducibility:
the model is initialized from ``seed`` on every rank (DDP also broadcasts rank 0's weights), the
training RNGs (drop path) are seeded per rank, the data is a pure function of
``(seed, epoch, index, q)``, and the DataLoader's worker seeds come from a dedicated generator, so a
run resumed from a checkpoint continues exactly as the uninterrupted run.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from sstrack_edge.evaluation.datasets import load_dataset
from training.build_data import TrainData, build_train_data
from training.checkpoint import (
    FORMAT,
    VERSION,
    load_run_checkpoint,
    rng_state,
    save_run_checkpoint,
    set_rng_state,
    strip_module_prefix,
)
from training.losses import LossWeights, TrackingLoss
from training.models.ostrack import ModelConfig, build_model
from training.run_log import EpochSums, Progress, RunLog, epoch_record
from training.sstrack import SSTrackSchedule
from training.train_config import TrainConfig

log = logging.getLogger("training")


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_from_env() -> DistInfo:
    """Read the launcher's environment (torchrun); initialize the process group if world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if info.distributed and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def numpy_sum_all_reduce(device: torch.device):
    """The schedule's all-reduce hook: elementwise float64 sum over ranks."""

    def reduce(x: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.asarray(x, dtype=np.float64), device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().numpy()

    return reduce


def param_groups(model: torch.nn.Module, lr: float, backbone_scale: float, backbone_keys: list) -> list:
    """AdamW groups: parameters whose name contains any of ``backbone_keys`` get ``lr * scale``.

    An empty ``backbone_keys`` means one group at ``lr`` (e.g. a fully frozen stem); keys that match
    no trainable parameter are an error (a typo would otherwise train the backbone at full lr)."""
    bb, rest = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (bb if any(k in name for k in backbone_keys) else rest).append(p)
    if not backbone_keys:
        return [{"params": rest, "lr": lr, "name": "head"}]
    if not bb:
        raise ValueError(f"no parameter name contains any of optim.backbone_keys={backbone_keys}")
    return [{"params": rest, "lr": lr, "name": "head"}, {"params": bb, "lr": lr * backbone_scale, "name": "backbone"}]


def freeze_except(model: torch.nn.Module, trainable_keys: list) -> list[torch.nn.Module]:
    """Train only the parameters whose name contains one of ``trainable_keys`` (empty: train all).

    Returns the modules with parameters none of which train (outermost only): the trainer puts them
    in eval mode each epoch, so BatchNorm keeps its statistics and drop path is off there. Keys
    that match no parameter are an error."""
    if not trainable_keys:
        return []
    names = {n for n, _ in model.named_parameters() if any(k in n for k in trainable_keys)}
    if not names:
        raise ValueError(f"optim.trainable_keys={trainable_keys} match no parameter of the model")
    for name, p in model.named_parameters():
        p.requires_grad_(name in names)
    frozen, inside = [], set()
    for name, m in model.named_modules():
        params = list(m.parameters())
        if name and params and not any(p.requires_grad for p in params) and not any(
                name.startswith(f + ".") for f in inside):
            frozen.append(m)
            inside.add(name)
    log.info("training %d parameter tensors (%s); %d modules frozen", len(names), trainable_keys, len(frozen))
    return frozen


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: TrainConfig, out_dir: str | os.PathLike, dist_info: DistInfo | None = None,
                 device: str | torch.device | None = None):
        self.cfg = cfg
        self.out = Path(out_dir)
        self.dist = dist_info or DistInfo()
        if device is None:
            device = f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.amp = cfg.optim.amp if self.device.type == "cuda" else "none"
        self.amp_dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        if cfg.optim.amp != "none" and self.device.type != "cuda":
            log.warning("optim.amp=%s needs CUDA; training in fp32 on %s", cfg.optim.amp, self.device)

        try:
            self.model_config = ModelConfig.from_dict(dict(cfg.model))
        except (TypeError, ValueError) as e:
            raise ValueError(f"bad config section 'model': {e}") from e
        seed_everything(cfg.seed)  # identical initialization on every rank
        model = build_model(self.model_config)
        if cfg.pretrained is not None:
            from training.models.checkpoints import load_pretrained  # network engineer's loader

            load_pretrained(model, cfg.pretrained.path, kind=cfg.pretrained.kind,
                            min_loaded_fraction=cfg.pretrained.min_loaded_fraction)
        self.model = model.to(self.device)
        self.frozen = freeze_except(self.model, cfg.optim.trainable_keys)
        self.net = self.model
        if self.dist.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        o = cfg.optim
        self.optimizer = torch.optim.AdamW(
            param_groups(self.model, o.lr, o.backbone_lr_scale, o.backbone_keys), lr=o.lr, weight_decay=o.weight_decay
        )
        step = max(1, int(round(o.lr_drop_fraction * cfg.epochs)))
        self.lr_scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=step, gamma=o.lr_gamma)
        self.grad_scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None
        self.loss_fn = TrackingLoss(LossWeights(cfg.loss.giou, cfg.loss.l1, cfg.loss.focal, cfg.loss.presence))

        self.data: TrainData = build_train_data(cfg, self.model_config, self.dist.rank, self.dist.world_size)
        # elementwise float64 sum over ranks (None: one process), for the schedule and the epoch sums
        self._all_reduce = (numpy_sum_all_reduce(self.device if self.device.type == "cuda" else torch.device("cpu"))
                            if self.dist.distributed else None)
        self.schedule = SSTrackSchedule(
            self.data.bins.num_bins, self.data.q_random, cfg.schedule, total_epochs=cfg.epochs,
            all_reduce=self._all_reduce, available=self.data.available,
        )
        self.loader_generator = torch.Generator().manual_seed(cfg.seed)
        self.loader = DataLoader(
            self.data.dataset, batch_size=o.batch_size, sampler=self.data.sampler, num_workers=cfg.data.num_workers,
            drop_last=False, pin_memory=self.device.type == "cuda", generator=self.loader_generator,
            persistent_workers=cfg.data.num_workers > 0,
        )
        self.epoch = 0  # epochs completed
        self.val_seqs = None
        if cfg.validation is not None and self.dist.is_main:  # only rank 0 tracks the validation set
            self.val_seqs = load_dataset(cfg.validation.root, cfg.validation.format, cfg.validation.sequences)
            from training.torch_runner import torch_tracker

            torch_tracker(self.model, self._val_inference())  # a bad validation.inference fails now, not after an epoch
        self.best: dict | None = None  # {"epoch", "val_auc"} of the checkpoint behind best.pt
        # training RNG (drop path) differs per rank; set after the shared initialization
        seed_everything(cfg.seed * 1000 + 1 + self.dist.rank)
        self.run_log = RunLog(self.out, cfg.epochs, cfg.log.tensorboard, enabled=self.dist.is_main)

    # ---------------------------------------------------------------- checkpoints
    def state(self, metrics: dict) -> dict:
        """The checkpoint dict (training/checkpoint.py has the format). Collective: gathers every rank's RNG state."""
        rngs = [rng_state()]
        if self.dist.distributed:
            gathered = [None] * self.dist.world_size
            dist.all_gather_object(gathered, rngs[0])
            rngs = gathered
        return {
            "format": FORMAT,
            "version": VERSION,
            "epoch": self.epoch,
            "config": self.cfg.to_dict(),
            "model_config": self.model_config.to_dict(),
            "model": strip_module_prefix(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "grad_scaler": self.grad_scaler.state_dict() if self.grad_scaler else None,
            "schedule": self.schedule.state_dict(),
            "sampler": {"bin_probs": self.data.dataset.bin_probs, "epoch": self.data.dataset.epoch},
            "rng": rngs,
            "loader_generator": self.loader_generator.get_state(),
            "world_size": self.dist.world_size,
            "q_random": self.data.q_random.tolist(),
            "best": self.best,
            "metrics": metrics,
        }

    def save_checkpoint(self, metrics: dict, best: bool = False) -> Path | None:
        """``epoch_N.pt`` and ``last.pt``; also ``best.pt`` when ``best`` (the best validation AUC)."""
        state = self.state(metrics)  # collective (RNG gather): every rank calls it
        if not self.dist.is_main:
            return None
        return save_run_checkpoint(self.out, self.epoch, state, best=best, keep=self.cfg.log.keep_checkpoints)

    def resume(self, path: str | os.PathLike) -> None:
        """Continue from a checkpoint file or a run folder (its ``last.pt``), exactly where it stopped."""
        p, ckpt = load_run_checkpoint(path, self.model_config.to_dict())
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.lr_scheduler.load_state_dict(ckpt["lr_scheduler"])
        if self.grad_scaler is not None and ckpt.get("grad_scaler"):
            self.grad_scaler.load_state_dict(ckpt["grad_scaler"])
        self.schedule.load_state_dict(ckpt["schedule"])
        if self.data.interval and ckpt["sampler"]["bin_probs"] is not None:
            self.data.dataset.set_bin_probs(ckpt["sampler"]["bin_probs"])
        self.epoch = int(ckpt["epoch"])
        self.best = ckpt.get("best")
        self.loader_generator.set_state(ckpt["loader_generator"])
        rngs = ckpt["rng"]
        if len(rngs) == self.dist.world_size:
            set_rng_state(rngs[self.dist.rank])
        else:
            log.warning("checkpoint has RNG states for %d ranks, this run has %d: re-seeding per rank "
                        "(training continues, but not bit-identically)", len(rngs), self.dist.world_size)
            seed_everything(self.cfg.seed * 1000 + 1 + self.dist.rank + 7919 * self.epoch)
        self.run_log.truncate(self.epoch)
        if self.dist.is_main:
            log.info("resumed from %s at epoch %d", p, self.epoch)

    # ---------------------------------------------------------------- training
    def _step(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """One optimizer step: forward, the loss with the schedule's per-sample weights, the success
        statistics, backward, clip, step. Returns the loss, its terms and the positive pairs' IoUs."""
        bins = batch["bin"]
        template = batch["template"].to(self.device, non_blocking=True).float()
        search = batch["search"].to(self.device, non_blocking=True).float()
        box = batch["search_box"].to(self.device)
        heat = batch["heatmap"].to(self.device)
        is_pos = batch["positive"] > 0
        # negative pairs: weight 1 (Gamma belongs to the bin's positives), not in the success statistics
        weights = torch.where(is_pos, self.schedule.loss_weights(bins), 1.0).to(self.device)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp != "none"):
            out = self.net(template, search)
        loss, terms = self.loss_fn(out, box, heat, weights, batch["positive"].to(self.device))
        iou_pos = terms["iou"].cpu()[is_pos]
        self.schedule.record(bins[is_pos], iou_pos)
        self._optimize(loss)
        return loss, terms, iou_pos

    def _optimize(self, loss: torch.Tensor) -> None:
        """Backward, grad-norm clip, optimizer step (through the GradScaler with fp16 AMP)."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.grad_scaler is not None:
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()

    def train_epoch(self) -> dict:
        """One epoch: the sampler gets the schedule's q, every batch is a ``_step``, the schedule ends
        the epoch (next q and Gamma), and the all-reduced sums become the log record."""
        epoch = self.epoch + 1
        t_start = time.perf_counter()
        q_used, gamma_used = self.schedule.q.copy(), self.schedule.gamma.copy()
        if self.data.interval:
            self.data.dataset.set_bin_probs(q_used)
        sched_seconds = time.perf_counter() - t_start
        self.data.dataset.set_epoch(epoch)
        self.net.train()
        for module in self.frozen:  # frozen parts compute exactly what was loaded (BatchNorm statistics)
            module.eval()
        sums = EpochSums(self.data.bins.num_bins)
        bar = Progress(self.dist.is_main and self.cfg.log.progress, len(self.loader),
                       f"epoch {epoch}/{self.cfg.epochs}")
        t0 = time.perf_counter()
        for batch in self.loader:
            loss, terms, iou_pos = self._step(batch)
            sums.add(batch, loss, terms)
            bar.update(loss, iou_pos)
        bar.close()
        train_seconds = time.perf_counter() - t0
        stats = self.schedule.end_epoch(epoch)
        sched_seconds += stats.seconds
        epoch_seconds = time.perf_counter() - t_start
        lr = self.optimizer.param_groups[0]["lr"]
        self.lr_scheduler.step()
        self.epoch = epoch
        rec = epoch_record(
            epoch=epoch, lr=lr, totals=sums.total(self._all_reduce), num_bins=self.data.bins.num_bins, stats=stats,
            q_used=q_used, gamma_used=gamma_used, q_random=self.schedule.q_random, schedule_cfg=self.cfg.schedule,
            load_skipped=self.data.load_skipped, world_size=self.dist.world_size,
            epoch_seconds=epoch_seconds, train_seconds=train_seconds, sched_seconds=sched_seconds,
        )
        if not math.isfinite(rec["loss"]):
            raise FloatingPointError(f"epoch {epoch}: the training loss is {rec['loss']} (diverged)")
        return rec

    def validate(self) -> dict:
        """Track the validation sequences with the current weights through the runtime ``Tracker``
        (rank 0 only; torch, batch 1; training.torch_runner)."""
        from training.evaluate import evaluate_tracker
        from training.torch_runner import torch_tracker

        was_training = self.model.training
        try:
            v = self.cfg.validation
            res = evaluate_tracker(torch_tracker(self.model, self._val_inference()), self.val_seqs, starts=v.starts)
        finally:
            self.model.train(was_training)
        log.info("epoch %d validation on %d sequences: AUC %.2f  P@20 %.2f  (%.0f s)", self.epoch,
                 res["sequences"], res["auc"], res["precision20"], res["seconds"])
        return {"val_auc": res["auc"], "val_precision20": res["precision20"], "val_seconds": res["seconds"],
                "val_per_sequence": {k: round(v["auc"], 2) for k, v in res["per_sequence"].items()}}

    def _val_inference(self) -> dict:
        v = self.cfg.validation
        return {"size_update_rate": v.size_update_rate, **v.inference}

    def _validate_epoch(self, rec: dict) -> bool:
        """Validate when due; add the scores to ``rec``; True when this epoch is the new best
        (decided on rank 0 and broadcast, so every rank writes the same checkpoints)."""
        v = self.cfg.validation
        if v is None or not (self.epoch % v.every == 0 or self.epoch == self.cfg.epochs):
            return False
        scores = [self.validate() if self.dist.is_main else None]
        if self.dist.distributed:
            dist.broadcast_object_list(scores, src=0)
        rec.update(scores[0])
        is_best = self.best is None or scores[0]["val_auc"] > self.best["val_auc"]
        if is_best:
            self.best = {"epoch": self.epoch, "val_auc": scores[0]["val_auc"]}
        rec["best_epoch"] = self.best["epoch"]
        return is_best

    def fit(self, stop_after_epoch: int | None = None) -> list[dict]:
        """Train until ``cfg.epochs`` (or stop after ``stop_after_epoch`` completed epochs)."""
        self.run_log.write_config(self.cfg.to_dict())
        if self.dist.is_main:
            log.info("q_R (estimated from %d random-sampler draws in %.2fs): %s", self.cfg.data.q_random_samples,
                     self.data.q_random_seconds, np.round(self.data.q_random, 4).tolist())
        records = []
        last = self.cfg.epochs if stop_after_epoch is None else min(self.cfg.epochs, stop_after_epoch)
        while self.epoch < last:
            rec = self.train_epoch()
            is_best = self._validate_epoch(rec)
            self.run_log.write(rec)  # before the checkpoint: a resume drops lines past its epoch
            every = max(1, self.cfg.log.checkpoint_every)
            if is_best or self.epoch % every == 0 or self.epoch == self.cfg.epochs or self.epoch == last:
                self.save_checkpoint(rec, best=is_best)
            records.append(rec)
        self.run_log.close()
        return records
