"""From a :class:`~training.train_config.TrainConfig` to the training data pipeline.

Loads the configured datasets with :mod:`training.data.datasets`, builds the sampler the schedule
asks for (``RandomSampler`` for the baseline, ``IntervalSampler`` for SSTrack), estimates ``q_R``
by simulating the random sampler on the same mix (RECIPE 3.1), and wraps everything in the
rank-partitioned, deterministic :class:`~training.data.pairs.PairDataset`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from training.data.bins import BinConfig
from training.data.config import CropSizes, ProcessingConfig
from training.data.datasets import (
    load_coco,
    load_got10k,
    load_lasot,
    load_sequence_folder,
    load_stills,
    load_trackingnet,
    load_video_files,
)
from training.data.negatives import NegativeSource
from training.data.pairs import EpochSampler, PairDataset
from training.data.processing import PairProcessor
from training.data.sampler import IntervalSampler, RandomSampler, estimate_random_bin_probs
from training.train_config import ConfigError, TrainConfig

log = logging.getLogger("training")

LOADERS = {
    "lasot": load_lasot,
    "got10k": load_got10k,
    "trackingnet": load_trackingnet,
    "coco": load_coco,
    "stills": load_stills,
    "folder": load_sequence_folder,
    "video": load_video_files,
}


@dataclass
class TrainData:
    dataset: PairDataset
    sampler: EpochSampler
    bins: BinConfig
    q_random: np.ndarray
    available: np.ndarray  # bins the interval sampler can fill
    interval: bool  # True: IntervalSampler (q settable), False: RandomSampler
    q_random_seconds: float
    load_skipped: dict[str, dict[str, int]]  # dataset -> reason -> count (bad rows, frames without a box, ...)


def load_datasets(cfg: TrainConfig):
    datasets, weights = [], []
    for i, entry in enumerate(cfg.data.datasets):
        loader = LOADERS[entry.kind]
        try:
            ds = loader(entry.root, **entry.options)
        except TypeError as e:
            raise ConfigError(f"data.datasets[{i}] ({entry.kind}): bad options {entry.options}: {e}") from e
        ds.report.log()  # one line per dataset, one warning per skip reason with its first example
        datasets.append(ds)
        weights.append(float(entry.weight))
    return datasets, weights


def load_skipped(datasets) -> dict[str, dict[str, int]]:
    """What the loaders left out, by dataset and reason (also in every ``log.jsonl`` record)."""
    return {ds.report.dataset: dict(ds.report.skipped) for ds in datasets if ds.report.skipped}


def build_train_data(cfg: TrainConfig, model_config, rank: int = 0, world_size: int = 1) -> TrainData:
    """``model_config``: the network's ModelConfig (crop sizes, factors and stride come from it)."""
    datasets, weights = load_datasets(cfg)
    try:
        bins = BinConfig(**cfg.data.bins)
        processing = ProcessingConfig.from_dict(cfg.data.processing)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad data.bins or data.processing: {e}") from e
    t0 = time.perf_counter()
    q_r = estimate_random_bin_probs(datasets, weights, bins, n=cfg.data.q_random_samples, seed=cfg.seed)
    q_seconds = time.perf_counter() - t0
    interval = cfg.schedule.sampler == "interval"
    if interval:
        sampler = IntervalSampler(datasets, weights, bins)
        available = np.asarray(sampler.bins_available, dtype=bool)
        if np.any(q_r[~available] > 0):  # cannot happen with the causal sampler, but stay safe
            log.warning("q_R has mass %s on bins the interval sampler cannot fill; dropped", q_r[~available])
            q_r = np.where(available, q_r, 0.0)
            q_r = q_r / q_r.sum()
        sampler.set_bin_probs(q_r)  # epoch 1 samples with q_R
    else:
        sampler = RandomSampler(datasets, weights, bins)
        available = q_r > 0
    processor = PairProcessor(CropSizes.from_model_config(model_config), processing)
    negatives = None
    if cfg.data.negative_prob > 0 or cfg.data.same_scene_prob > 0:
        negatives = NegativeSource(datasets, weights, search_factor=model_config.search_factor)
    dataset = PairDataset(
        sampler, processor, cfg.data.samples_per_epoch, seed=cfg.seed, decode_cache_mb=cfg.data.decode_cache_mb,
        negative_prob=cfg.data.negative_prob, negatives=negatives, same_scene_prob=cfg.data.same_scene_prob,
        same_clip_prob=cfg.data.same_clip_prob,
    )
    epoch_sampler = EpochSampler(dataset, rank=rank, world_size=world_size)
    return TrainData(dataset, epoch_sampler, bins, q_r, available, interval, q_seconds, load_skipped(datasets))
