"""Frame-pair samplers: which (sequence, template frame, search frame) makes a training sample.

* :class:`IntervalSampler`: the paper's interval-based sampler (SSTrack 3.2, RECIPE.md 3.1). Draw
  bin ``i`` with probability ``q_i`` (``set_bin_probs``, set each epoch by the scheduler); bin 0
  draws a still image (interval 0) from the image datasets; a video bin ``[lo, hi)`` draws a video
  (dataset by weight, video uniformly), then ``t_z`` uniformly over visible frames that have at
  least one visible partner ``t_x`` with ``lo <= |t_x - t_z| < hi``, then ``t_x`` uniformly over
  those partners: the search frame may lie before or after the template. A video too short for
  the bin (``len <= lo``) or without a visible pair in range is redrawn; redraws are counted per
  bin in :attr:`IntervalSampler.stats`.
* :class:`RandomSampler`: OSTrack's causal sampler (RECIPE.md 1.1), the baseline. Every pair it
  returns still carries its bin, so per-bin statistics work for it too.
* :func:`estimate_random_bin_probs`: ``q_R``, the random sampler's bin distribution, estimated by
  simulating it on the actual training mix (frame draws only, no decoding).

Samplers only use ``numpy.random.Generator`` passed in by the caller, so a draw is a pure function
of the generator state (determinism and exact resume live in :mod:`training.data.pairs`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence as Seq

import numpy as np

from training.data.bins import BinConfig
from training.data.sequence import SequenceDataset


@dataclass(frozen=True)
class FramePair:
    """One drawn sample: frames ``template_frame`` and ``search_frame`` of
    ``datasets[dataset][sequence]``. ``interval = |search - template|`` (0 for still images)."""

    dataset: int
    sequence: int
    template_frame: int
    search_frame: int
    interval: int
    bin: int
    redraws: int = 0  # videos/sequences rejected before this pair was found


@dataclass
class SamplerStats:
    """Per-bin counters: ``samples[b]`` pairs returned, ``redraws[b]`` rejected draws charged to
    bin ``b``; ``reasons`` counts rejections by cause (all bins, including ones without a bin)."""

    num_bins: int
    samples: np.ndarray = field(init=False)
    redraws: np.ndarray = field(init=False)
    reasons: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.samples = np.zeros(self.num_bins, dtype=np.int64)
        self.redraws = np.zeros(self.num_bins, dtype=np.int64)

    def reset(self) -> None:
        self.samples[:] = 0
        self.redraws[:] = 0
        self.reasons.clear()

    def as_dict(self) -> dict:
        return {"samples": self.samples.tolist(), "redraws": self.redraws.tolist(), "reasons": dict(self.reasons)}


def _normalized_weights(datasets: Seq[SequenceDataset], weights: Seq[float] | None) -> np.ndarray:
    if weights is None:
        w = np.ones(len(datasets), dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(w) != len(datasets):
            raise ValueError(f"got {len(w)} dataset weights for {len(datasets)} datasets")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"dataset weights must be finite, >= 0 and not all 0, got {list(w)}")
    return w / w.sum()


def _check_datasets(datasets: Seq[SequenceDataset]) -> list[SequenceDataset]:
    datasets = list(datasets)
    if not datasets:
        raise ValueError("a sampler needs at least one dataset")
    for d in datasets:
        if not isinstance(d, SequenceDataset):
            raise TypeError(f"expected SequenceDataset instances, got {type(d).__name__}")
        if len(d) == 0:
            raise ValueError(f"dataset {d.name!r} is empty")
    return datasets


def partner_counts(visible: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """For each frame ``t``: number of visible frames ``t_x`` with ``lo <= |t_x - t| < hi``
    (``t_x = t`` counted once when ``lo == 0``)."""
    v = np.asarray(visible, dtype=bool)
    n = len(v)
    p = np.concatenate([[0], np.cumsum(v, dtype=np.int64)])
    t = np.arange(n)
    fwd = p[np.minimum(t + hi, n)] - p[np.minimum(t + lo, n)]
    bwd = p[np.clip(t - lo + 1, 0, n)] - p[np.clip(t - hi + 1, 0, n)]
    both = fwd + bwd
    if lo == 0:
        both = both - v  # t itself is in both directions
    return both


class IntervalSampler:
    """The paper's interval-based sampler. See the module docstring.

    ``weights``: per-dataset weights; image datasets compete among themselves for bin 0, video
    datasets among themselves for bins 1..r. ``bin_probs``: initial ``q`` (default uniform over
    the bins this training set can fill, :attr:`bins_available`).
    """

    def __init__(
        self,
        datasets: Seq[SequenceDataset],
        weights: Seq[float] | None = None,
        bins: BinConfig | None = None,
        bin_probs: Seq[float] | None = None,
        max_redraws: int = 10_000,
    ):
        self.datasets = _check_datasets(datasets)
        self.bins = bins or BinConfig()
        self.max_redraws = int(max_redraws)
        w = _normalized_weights(self.datasets, weights)
        self.image_ids = np.array([k for k, d in enumerate(self.datasets) if d.is_image], dtype=np.int64)
        self.video_ids = np.array([k for k, d in enumerate(self.datasets) if not d.is_image], dtype=np.int64)
        self._image_w = w[self.image_ids] / w[self.image_ids].sum() if w[self.image_ids].sum() > 0 else None
        self._video_w = w[self.video_ids] / w[self.video_ids].sum() if w[self.video_ids].sum() > 0 else None
        self.stats = SamplerStats(self.bins.num_bins)
        self.bins_available = self._find_available_bins()
        if bin_probs is None:
            bin_probs = self.bins_available / self.bins_available.sum()
        self.set_bin_probs(bin_probs)

    # ------------------------------------------------------------------ setup
    def _find_available_bins(self) -> np.ndarray:
        avail = np.zeros(self.bins.num_bins, dtype=bool)
        avail[0] = self._image_w is not None
        if self._video_w is None:
            if not avail.any():
                raise ValueError("no dataset has a non-zero weight")
            return avail
        seqs = []  # (length, dataset, sequence) of every video with a non-zero weight, longest first
        for k, wk in zip(self.video_ids, self._video_w):
            if wk > 0:
                lengths = self.datasets[k].lengths
                seqs.extend((int(n), int(k), i) for i, n in enumerate(lengths))
        seqs.sort(key=lambda s: -s[0])
        for b in range(1, self.bins.num_bins):
            lo, hi = self.bins.bounds(b)
            for n, k, i in seqs:
                if n <= lo:
                    break
                if partner_counts(self.datasets[k][i].visible, lo, hi)[self.datasets[k][i].visible].any():
                    avail[b] = True
                    break
        return avail

    def set_bin_probs(self, q: Seq[float]) -> None:
        """Set ``q`` (length ``bins.num_bins``, >= 0, sums to 1). Mass on a bin this training set
        cannot fill (see :attr:`bins_available`) is an error, not silently moved elsewhere."""
        self.bin_probs = self.check_bin_probs(q)

    def check_bin_probs(self, q: Seq[float]) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        if len(q) != self.bins.num_bins:
            raise ValueError(f"bin_probs has {len(q)} entries, the bin layout has {self.bins.num_bins}")
        if not np.all(np.isfinite(q)) or np.any(q < 0):
            raise ValueError(f"bin_probs must be finite and >= 0, got {q.tolist()}")
        if abs(q.sum() - 1.0) > 1e-6:
            raise ValueError(f"bin_probs must sum to 1, got sum {q.sum():.8f}")
        bad = np.flatnonzero((q > 0) & ~self.bins_available)
        if len(bad):
            labels = [self.bins.labels()[b] for b in bad]
            raise ValueError(
                f"bin_probs put mass on bins {bad.tolist()} {labels} that no dataset can fill "
                f"(no still-image dataset for bin 0, or no video long enough); available: "
                f"{self.bins_available.tolist()}"
            )
        return q / q.sum()

    # ------------------------------------------------------------------ drawing
    def draw(self, rng: np.random.Generator, bin_probs: Seq[float] | None = None, bin: int | None = None) -> FramePair:
        """Draw one pair. ``bin`` forces the bin (used to redraw a rejected sample in the same bin);
        ``bin_probs`` overrides the current ``q`` for this draw (already validated by the caller)."""
        if bin is None:
            q = self.bin_probs if bin_probs is None else np.asarray(bin_probs, dtype=np.float64)
            bin = int(rng.choice(len(q), p=q))
        elif not self.bins_available[bin]:
            raise ValueError(f"bin {bin} cannot be filled by this training set")
        if bin == 0:
            k = int(self.image_ids[rng.choice(len(self.image_ids), p=self._image_w)])
            i = int(rng.integers(len(self.datasets[k])))
            self.stats.samples[0] += 1
            return FramePair(k, i, 0, 0, 0, 0, 0)
        lo, hi = self.bins.bounds(bin)
        redraws = 0
        while True:
            k = int(self.video_ids[rng.choice(len(self.video_ids), p=self._video_w)])
            ds = self.datasets[k]
            i = int(rng.integers(len(ds)))
            n = int(ds.lengths[i])
            if n <= lo:
                reason = "too_short"
            else:
                vis = ds[i].visible
                cand = np.flatnonzero(vis & (partner_counts(vis, lo, hi) > 0))
                if len(cand):
                    tz = int(cand[rng.integers(len(cand))])
                    after = np.arange(tz + lo, min(tz + hi, n))
                    before = np.arange(max(tz - hi + 1, 0), max(tz - lo + 1, 0))
                    idx = np.unique(np.concatenate([after, before]))  # lo == 0: t_z is in both
                    idx = idx[vis[idx]]
                    tx = int(idx[rng.integers(len(idx))])
                    self.stats.samples[bin] += 1
                    return FramePair(k, i, tz, tx, abs(tx - tz), bin, redraws)
                reason = "no_visible_pair"
            redraws += 1
            self.stats.redraws[bin] += 1
            self.stats.reasons[reason] += 1
            if redraws >= self.max_redraws:
                raise RuntimeError(
                    f"interval sampler: {redraws} videos in a row could not fill bin {bin} "
                    f"{self.bins.labels()[bin]}; lower its probability or add longer videos"
                )


class RandomSampler:
    """OSTrack's causal sampler (RECIPE.md 1.1): dataset by weight, sequence uniformly (videos
    redrawn unless ``visible.sum() > min_visible`` and ``len >= min_length``), template uniform
    over visible frames in ``[0, len-2]``, search uniform over visible frames in
    ``[t_z + 1, t_z + max_gap + gap_increase)`` (clipped to the video), ``gap_increase`` growing by
    ``gap_step`` when empty. Still images give interval 0 (bin 0)."""

    def __init__(
        self,
        datasets: Seq[SequenceDataset],
        weights: Seq[float] | None = None,
        bins: BinConfig | None = None,
        max_gap: int | None = None,
        gap_step: int = 5,
        min_length: int = 20,
        min_visible: int = 4,
        max_redraws: int = 10_000,
    ):
        self.datasets = _check_datasets(datasets)
        self.weights = _normalized_weights(self.datasets, weights)
        self.bins = bins or BinConfig()
        self.max_gap = int(max_gap if max_gap is not None else self.bins.max_interval)
        self.gap_step = int(gap_step)
        self.min_length = int(min_length)
        self.min_visible = int(min_visible)
        self.max_redraws = int(max_redraws)
        self.stats = SamplerStats(self.bins.num_bins)
        if self.max_gap < 1 or self.gap_step < 1:
            raise ValueError(f"max_gap and gap_step must be >= 1, got {self.max_gap} and {self.gap_step}")

    def draw(self, rng: np.random.Generator, bin_probs: Seq[float] | None = None, bin: int | None = None) -> FramePair:
        """Draw one pair (``bin_probs`` and ``bin`` are ignored: the random sampler has no bins)."""
        redraws = 0
        while True:
            k = int(rng.choice(len(self.datasets), p=self.weights))
            ds = self.datasets[k]
            i = int(rng.integers(len(ds)))
            if ds.is_image:
                self.stats.samples[0] += 1
                return FramePair(k, i, 0, 0, 0, 0, redraws)
            n = int(ds.lengths[i])
            reason = "sequence_rejected"  # too short or too few visible frames
            if n >= self.min_length and int(ds.visible_counts[i]) > self.min_visible:
                reason = "no_visible_search_frame"
                vis = ds[i].visible
                base = np.flatnonzero(vis[: n - 1])
                if len(base):
                    tz = int(base[rng.integers(len(base))])
                    gap_increase = 0
                    while True:
                        end = min(tz + self.max_gap + gap_increase, n)
                        after = np.flatnonzero(vis[tz + 1 : end])
                        if len(after) or end == n:
                            break
                        gap_increase += self.gap_step
                    if len(after):
                        tx = tz + 1 + int(after[rng.integers(len(after))])
                        b = self.bins.bin_of(tx - tz)
                        self.stats.samples[b] += 1
                        return FramePair(k, i, tz, tx, tx - tz, b, redraws)
                    # no visible frame after the template at all (OSTrack would loop forever
                    # here): redraw the sequence, counted below
            redraws += 1
            self.stats.reasons[reason] += 1
            if redraws >= self.max_redraws:
                raise RuntimeError(
                    f"random sampler: {redraws} sequences in a row were too short (< {self.min_length} "
                    f"frames), had <= {self.min_visible} visible frames or no visible frame after the template"
                )


def estimate_random_bin_probs(
    datasets: Seq[SequenceDataset],
    weights: Seq[float] | None = None,
    bins: BinConfig | None = None,
    n: int = 50_000,
    seed: int = 0,
    **random_sampler_kwargs,
) -> np.ndarray:
    """``q_R``: fraction of :class:`RandomSampler` draws per bin, over ``n`` simulated draws on this
    training mix (frame indices only; nothing is decoded). The standard error of each entry is
    ``sqrt(q (1 - q) / n)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    sampler = RandomSampler(datasets, weights, bins, **random_sampler_kwargs)
    rng = np.random.default_rng(seed)
    counts = np.zeros(sampler.bins.num_bins, dtype=np.int64)
    for _ in range(n):
        counts[sampler.draw(rng).bin] += 1
    return counts / n
