"""``SSTrackSchedule``: the success-aware sample scheduler + gradient scaling as one small component.

It knows nothing about the network, the data loader or torch.distributed, so any tracker's
training loop can use it (paper Table 5)::

    sched = SSTrackSchedule(num_bins, q_random, ScheduleConfig(...), total_epochs=E,
                            all_reduce=my_sum_all_reduce)      # optional, for DDP
    for epoch in range(1, E + 1):
        sampler.set_bin_probs(sched.q)                          # q_R in epoch 1
        for batch in loader:
            w = sched.loss_weights(batch_bins)                  # Gamma per sample
            loss = (w * per_sample_loss).mean()
            sched.record(batch_bins, per_sample_iou)            # detached IoUs
        stats = sched.end_epoch(epoch)                          # new q for epoch + 1

``available`` (optional) marks the bins the training set can fill (e.g. videos too short for the
longest intervals): the others keep ``q_i = 0`` and are left out of the expected-success chain.

``all_reduce(x)`` receives a float64 numpy vector and must return its elementwise SUM over all
ranks (every rank calls it at the same point, in ``end_epoch``). Without it the statistics are
the local ones (single process).

Modes (``ScheduleConfig``): ``sampler: random`` is the baseline (q stays q_R, Gamma = 1, the
statistics are still computed and logged); ``sampler: interval`` is SSTrack. ``gradient_scaling``
toggles Gamma; ``order`` is p of ``d(e) = (e/E)^(1/p)``; ``tau`` is ``"mean_iou"`` or a fixed
float; ``update_at`` is ``None`` (every epoch) or fractions of training (e.g. ``[0.33, 0.5]``,
TCTrack++ style: q_R until the first, then q recomputed only at those epochs).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from training.sstrack.scaling import gradient_scale
from training.sstrack.success import schedule_d, success_aware_distribution

AllReduce = Callable[[np.ndarray], np.ndarray]


@dataclass
class ScheduleConfig:
    sampler: str = "interval"  # "interval" (SSTrack) or "random" (baseline: q = q_R, Gamma = 1)
    gradient_scaling: bool = True
    order: float = 2.0  # p in d(e) = (e/E)^(1/p)
    tau: Any = "mean_iou"  # "mean_iou" or a fixed float threshold in (0, 1)
    update_at: Optional[list] = None  # None: every epoch; else fractions of total epochs
    eps: float = 1e-3  # p_i clamped into [eps, 1 - eps]
    q_min: float = 0.01  # floor of every q_i (no bin starves)
    gamma_max: float = 10.0  # clip of Gamma_i

    def __post_init__(self) -> None:
        if self.sampler not in ("interval", "random"):
            raise ValueError(f"schedule.sampler must be 'interval' or 'random', got {self.sampler!r}")
        if isinstance(self.tau, str):
            if self.tau != "mean_iou":
                raise ValueError(f"schedule.tau must be 'mean_iou' or a number in (0, 1), got {self.tau!r}")
        elif not (isinstance(self.tau, (int, float)) and 0.0 < float(self.tau) < 1.0):
            raise ValueError(f"schedule.tau must be 'mean_iou' or a number in (0, 1), got {self.tau!r}")
        if not self.order > 0:
            raise ValueError(f"schedule.order must be positive, got {self.order}")
        if not 0.0 <= self.eps < 0.5:
            raise ValueError(f"schedule.eps must be in [0, 0.5), got {self.eps}")
        if not self.gamma_max >= 1.0:
            raise ValueError(f"schedule.gamma_max must be >= 1, got {self.gamma_max}")
        if self.q_min < 0:
            raise ValueError(f"schedule.q_min must be >= 0, got {self.q_min}")
        if self.update_at is not None:
            fr = list(self.update_at)
            if not fr or any(not (0.0 < float(f) <= 1.0) for f in fr):
                raise ValueError(f"schedule.update_at must be null or fractions in (0, 1], got {self.update_at!r}")
            self.update_at = sorted(float(f) for f in fr)


@dataclass
class EpochStats:
    """What ``end_epoch`` measured and decided (all lists are per bin)."""

    epoch: int
    num_samples: int
    mean_iou: float
    tau: float
    bin_counts: list
    bin_success: list
    p: list  # success rate used (after fill-in of empty bins and clamping)
    d: float
    updated: bool  # whether q was recomputed at this epoch
    q_next: list  # sampling distribution for the next epoch
    gamma_next: list
    gamma_clipped_next: list  # bins where gamma_max binds for the next epoch
    gamma_weighted_clip_events: int  # samples of THIS epoch whose Gamma was clipped
    seconds: float  # scheduler wall clock this epoch (record + loss_weights + end_epoch)

    def to_dict(self) -> dict:
        return asdict(self)


class SSTrackSchedule:
    def __init__(
        self,
        num_bins: int,
        q_random: Sequence[float],
        cfg: ScheduleConfig | None = None,
        total_epochs: int = 1,
        all_reduce: AllReduce | None = None,
        available: Sequence[bool] | None = None,
    ):
        self.cfg = cfg or ScheduleConfig()
        if int(num_bins) < 1:
            raise ValueError(f"num_bins must be >= 1, got {num_bins}")
        self.num_bins = int(num_bins)
        q_r = np.asarray(q_random, dtype=np.float64)
        if q_r.shape != (self.num_bins,):
            raise ValueError(f"q_random must have {self.num_bins} entries, got shape {q_r.shape}")
        if not np.all(np.isfinite(q_r)) or np.any(q_r < 0) or q_r.sum() <= 0:
            raise ValueError(f"q_random must be non-negative with a positive sum, got {q_r.tolist()}")
        self.q_random = q_r / q_r.sum()
        # bins the training set can fill: the others always get q = 0 and are left out of the
        # "general video" (the interval sampler refuses mass on them)
        avail = np.ones(self.num_bins, dtype=bool) if available is None else np.asarray(available, dtype=bool)
        if avail.shape != (self.num_bins,) or not avail.any():
            raise ValueError(f"available must be {self.num_bins} booleans with at least one True, got {available}")
        if np.any(self.q_random[~avail] > 0):
            raise ValueError(f"q_random puts mass on unavailable bins {np.flatnonzero(~avail & (self.q_random > 0)).tolist()}")
        self.available = avail
        if int(avail.sum()) * self.cfg.q_min >= 1.0:
            raise ValueError(f"schedule.q_min={self.cfg.q_min} too large for {self.num_bins} bins")
        if int(total_epochs) < 1:
            raise ValueError(f"total_epochs must be >= 1, got {total_epochs}")
        self.total_epochs = int(total_epochs)
        self.all_reduce = all_reduce
        self.q = self.q_random.copy()
        self.gamma = np.ones(self.num_bins)
        self.gamma_clipped = np.zeros(self.num_bins, dtype=bool)
        self.p = np.full(self.num_bins, np.nan)  # last known success rate per bin
        self.history: list[dict] = []
        self._reset_epoch()

    # ------------------------------------------------------------ per batch
    def _reset_epoch(self) -> None:
        self._bins: list[np.ndarray] = []
        self._ious: list[np.ndarray] = []
        self._seconds = 0.0

    @staticmethod
    def _to_numpy(x) -> np.ndarray:
        if hasattr(x, "detach"):  # torch tensor, without importing torch here
            x = x.detach().cpu().numpy()
        return np.asarray(x)

    def _check_bins(self, bins: np.ndarray) -> np.ndarray:
        bins = bins.astype(np.int64, copy=False).reshape(-1)
        if bins.size and (bins.min() < 0 or bins.max() >= self.num_bins):
            raise ValueError(f"bin index out of range [0, {self.num_bins}): {bins.tolist()}")
        return bins

    def loss_weights(self, bins):
        """Gamma of each sample's bin (ones without gradient scaling). Same type/device as ``bins``
        for torch tensors (float32), a float64 numpy array otherwise."""
        t0 = time.perf_counter()
        b = self._check_bins(self._to_numpy(bins))
        w = self.gamma[b]
        if hasattr(bins, "new_tensor"):  # a torch tensor: torch is importable
            import torch

            out = torch.as_tensor(w, dtype=torch.float32, device=bins.device)
        else:
            out = w
        self._seconds += time.perf_counter() - t0
        return out

    def record(self, bins, ious) -> None:
        """Store the bins and (detached) IoUs of this rank's samples for the epoch statistics."""
        t0 = time.perf_counter()
        b = self._check_bins(self._to_numpy(bins))
        iou = self._to_numpy(ious).astype(np.float64, copy=False).reshape(-1)
        if iou.shape != b.shape:
            raise ValueError(f"record: {b.size} bins but {iou.size} IoUs")
        self._bins.append(b.copy())
        self._ious.append(np.nan_to_num(iou, nan=0.0).copy())
        self._seconds += time.perf_counter() - t0

    # ------------------------------------------------------------ per epoch
    def _reduce(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.asarray(self.all_reduce(x), dtype=np.float64) if self.all_reduce else x

    def _is_update_epoch(self, epoch: int) -> bool:
        if self.cfg.update_at is None:
            return True
        marks = {max(1, int(round(f * self.total_epochs))) for f in self.cfg.update_at}
        return epoch in marks

    def end_epoch(self, epoch: int) -> EpochStats:
        """Close epoch ``epoch`` (1-based): all-reduce the statistics, compute tau, p, d and the
        next epoch's ``q`` and ``Gamma``. Every rank must call it (collective)."""
        t0 = time.perf_counter()
        r = self.num_bins
        bins = np.concatenate(self._bins) if self._bins else np.zeros(0, np.int64)
        ious = np.concatenate(self._ious) if self._ious else np.zeros(0)
        tot = self._reduce(np.array([ious.sum(), float(ious.size)]))
        n = int(round(tot[1]))
        mean_iou = float(tot[0] / n) if n > 0 else 0.0
        tau = mean_iou if self.cfg.tau == "mean_iou" else float(self.cfg.tau)
        counts = np.bincount(bins, minlength=r).astype(np.float64)
        succ = np.bincount(bins, weights=(ious > tau).astype(np.float64), minlength=r)
        # samples of this epoch whose Gamma was clipped (Gamma is fixed during an epoch)
        clipped = float(self.gamma_clipped[bins].sum()) if bins.size else 0.0
        red = self._reduce(np.concatenate([counts, succ, [clipped]]))
        counts, succ, clip_events = red[:r], red[r:2 * r], int(round(red[2 * r]))
        have = counts > 0
        p = self.p.copy()
        p[have] = succ[have] / counts[have]
        if np.all(np.isnan(p)):
            p[:] = 0.5
        p = np.where(np.isnan(p), np.nanmean(p), p)  # bins never seen: mean p
        p = np.clip(p, self.cfg.eps, 1.0 - self.cfg.eps)
        self.p = p
        d = schedule_d(epoch, self.total_epochs, self.cfg.order)
        updated = False
        if self.cfg.sampler == "interval" and self._is_update_epoch(epoch):
            q = np.zeros(r)
            q[self.available] = success_aware_distribution(p[self.available], d, self.cfg.q_min)
            self.q = q
            updated = True
        if self.cfg.sampler == "interval" and self.cfg.gradient_scaling:
            self.gamma, self.gamma_clipped = gradient_scale(self.q_random, self.q, self.cfg.gamma_max)
        else:
            self.gamma, self.gamma_clipped = np.ones(r), np.zeros(r, dtype=bool)
        seconds = self._seconds + (time.perf_counter() - t0)
        stats = EpochStats(
            epoch=int(epoch),
            num_samples=n,
            mean_iou=mean_iou,
            tau=float(tau),
            bin_counts=[int(c) for c in counts],
            bin_success=[int(s) for s in succ],
            p=p.tolist(),
            d=d,
            updated=updated,
            q_next=self.q.tolist(),
            gamma_next=self.gamma.tolist(),
            gamma_clipped_next=self.gamma_clipped.tolist(),
            gamma_weighted_clip_events=clip_events,
            seconds=seconds,
        )
        self.history.append(stats.to_dict())
        self._reset_epoch()
        return stats

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything needed to continue exactly (call between epochs)."""
        return {
            "num_bins": self.num_bins,
            "available": self.available.tolist(),
            "config": asdict(self.cfg),
            "total_epochs": self.total_epochs,
            "q_random": self.q_random.tolist(),
            "q": self.q.tolist(),
            "gamma": self.gamma.tolist(),
            "gamma_clipped": self.gamma_clipped.tolist(),
            "p": [None if np.isnan(v) else float(v) for v in self.p],
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict) -> None:
        if int(state["num_bins"]) != self.num_bins:
            raise ValueError(f"schedule state has {state['num_bins']} bins, this schedule has {self.num_bins}")
        self.q_random = np.asarray(state["q_random"], dtype=np.float64)
        self.available = np.asarray(state["available"], dtype=bool)
        self.q = np.asarray(state["q"], dtype=np.float64)
        self.gamma = np.asarray(state["gamma"], dtype=np.float64)
        self.gamma_clipped = np.asarray(state["gamma_clipped"], dtype=bool)
        self.p = np.array([np.nan if v is None else v for v in state["p"]], dtype=np.float64)
        self.history = list(state["history"])
        self._reset_epoch()


def config_from_dict(d: dict | None) -> ScheduleConfig:
    """Build a ``ScheduleConfig`` from a mapping, naming unknown keys."""
    d = dict(d or {})
    known = set(ScheduleConfig.__dataclass_fields__)
    bad = sorted(set(d) - known)
    if bad:
        raise ValueError(f"unknown schedule config key(s) {bad}; known: {sorted(known)}")
    return ScheduleConfig(**d)


__all__ = ["ScheduleConfig", "SSTrackSchedule", "EpochStats", "config_from_dict"]
