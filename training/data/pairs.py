"""The torch dataset of training pairs: deterministic, epoch-based, rank-partitioned.

Determinism. Sample ``index`` of epoch ``epoch`` is drawn from
``numpy.random.default_rng([seed, epoch, index])``; everything random about it (bin, video, frames,
jitter, augmentation, redraws) comes from that generator. So a sample depends only on
``(seed, epoch, index, q)``: not on the rank, the worker, the number of workers or what was drawn
before, and resuming at any epoch/index reproduces the run exactly.

Partition. :class:`EpochSampler` (a ``torch.utils.data.Sampler``) gives rank ``r`` of ``W`` the
indices ``r, r + W, r + 2W, ...`` (``samples_per_epoch // W`` of them): disjoint across ranks.

Bin probabilities reach the workers inside the index. The sampler yields :class:`SampleKey`
``(epoch, index, bin_probs)`` objects, read from the dataset (``set_epoch``, ``set_bin_probs``)
when the DataLoader iterator is created in the main process; the DataLoader sends those keys to
its workers with each batch request. This works with persistent workers too (OSTrack instead
relies on re-creating workers every epoch, RECIPE.md 1.3). Call ``set_epoch`` and
``set_bin_probs`` BEFORE ``iter(loader)`` for the epoch.

Statistics. Workers hold their own copies of the sampler, so counters kept there never reach the
trainer; instead every sample reports ``bin``, ``redraws`` (rejected draws before it: videos that
could not fill the bin, rejected crops, unreadable frames) and ``skipped_frames`` (unreadable
frames), and the trainer sums them over the batches of an epoch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from training.data.errors import FrameReadError
from training.data.frames import DecodeCache
from training.data.negatives import NegativeSource, check_negative_prob, same_clip_negative
from training.data.processing import PairProcessor
from training.data.sampler import IntervalSampler, RandomSampler

log = logging.getLogger("training.data")


@dataclass(frozen=True)
class SampleKey:
    """What the DataLoader asks the dataset for: sample ``index`` of ``epoch`` under ``bin_probs``."""

    epoch: int
    index: int
    bin_probs: tuple[float, ...] | None = None


class PairDataset(Dataset):
    """Map-style dataset of ``samples_per_epoch`` training pairs per epoch (see module docstring).

    Each item is a dict: ``template`` uint8 ``[3, Hz, Hz]`` (BGR), ``search`` uint8 ``[3, Hx, Hx]``,
    ``search_box`` float32 ``[4]`` (x, y, w, h normalized to the search crop),
    ``search_box_cxcywh`` float32 ``[4]``, ``template_box`` float32 ``[4]``, ``heatmap`` float32
    ``[F, F]``, float32 ``positive`` (1, or 0 for a negative pair), and int64 scalars ``bin``,
    ``interval``, ``redraws``, ``skipped_frames``, ``epoch``, ``index``, plus ``sample_id`` (str:
    epoch/index/dataset/sequence/frames, for debugging).

    Negative pairs (``negative_prob > 0``, :mod:`training.data.negatives`): with that probability
    the pair's search frame is replaced by a frame of another sequence or image, cropped around its
    own object; the heatmap is all zeros and ``positive`` is 0 (``search_box`` then describes that
    other object and must not be used as a target). The sampler's draw (bin, interval, template) is
    unchanged, so per-bin statistics still count it. Same-scene negatives (``same_scene_prob > 0``):
    a pair whose template is a still-photo object with a partner (:meth:`NegativeSource.partners`)
    becomes, with that probability, a negative centred on the partner, and no search crop may touch
    the template's box. Same-clip negatives (``same_clip_prob > 0``, video templates): a negative
    pair takes, with that probability, its search crop from the template's own clip without the
    target (:func:`~training.data.negatives.same_clip_negative`) instead of another clip.
    Probabilities of 0 draw nothing extra from the generator: runs without negatives reproduce exactly.
    """

    def __init__(
        self,
        sampler: IntervalSampler | RandomSampler,
        processor: PairProcessor,
        samples_per_epoch: int,
        seed: int = 0,
        max_retries: int = 100,
        decode_cache_mb: float = 0,
        negative_prob: float = 0.0,
        negatives: NegativeSource | None = None,
        same_scene_prob: float = 0.0,
        same_clip_prob: float = 0.0,
    ):
        if not isinstance(sampler, (IntervalSampler, RandomSampler)):
            raise TypeError(f"sampler must be an IntervalSampler or RandomSampler, got {type(sampler).__name__}")
        if not isinstance(processor, PairProcessor):
            raise TypeError(f"processor must be a PairProcessor, got {type(processor).__name__}")
        if int(samples_per_epoch) < 1:
            raise ValueError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        negative_prob = check_negative_prob(negative_prob)
        same_scene_prob = check_negative_prob(same_scene_prob, "same_scene_prob")
        same_clip_prob = check_negative_prob(same_clip_prob, "same_clip_prob")
        if same_clip_prob > 0 and negative_prob == 0:
            raise ValueError("same_clip_prob picks the kind of a negative pair: it needs negative_prob > 0")
        if (negative_prob > 0 or same_scene_prob > 0) and not isinstance(negatives, NegativeSource):
            raise ValueError("negative_prob or same_scene_prob > 0 needs a NegativeSource (negatives=...)")
        if negatives is not None and (
            len(negatives.datasets) != len(sampler.datasets)
            or any(a is not b for a, b in zip(negatives.datasets, sampler.datasets))
        ):
            raise ValueError("the NegativeSource must be built on the sampler's datasets (same list, same order)")
        self.negative_prob = negative_prob
        self.same_scene_prob = same_scene_prob
        self.same_clip_prob = same_clip_prob
        self.negatives = negatives
        self.sampler = sampler
        self.processor = processor
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.max_retries = int(max_retries)
        self.cache = DecodeCache(int(decode_cache_mb * 1024 * 1024))
        self.epoch = 0
        self.bin_probs: tuple[float, ...] | None = (
            tuple(float(v) for v in sampler.bin_probs) if isinstance(sampler, IntervalSampler) else None
        )
        self.skipped_frames = 0  # in this process

    @property
    def bins(self):
        return self.sampler.bins

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_bin_probs(self, q) -> None:
        """Set ``q`` for the following epochs (validated now, in the main process)."""
        if not isinstance(self.sampler, IntervalSampler):
            raise TypeError("set_bin_probs needs an IntervalSampler; the random sampler has fixed bin frequencies")
        self.bin_probs = tuple(float(v) for v in self.sampler.check_bin_probs(q))

    def __len__(self) -> int:
        return self.samples_per_epoch

    def key(self, index: int) -> SampleKey:
        return SampleKey(self.epoch, int(index), self.bin_probs)

    def __getitem__(self, key: SampleKey | int) -> dict:
        if isinstance(key, (int, np.integer)):
            key = self.key(int(key))
        if not isinstance(key, SampleKey):
            raise TypeError(f"PairDataset index must be an int or SampleKey, got {type(key).__name__}")
        if not 0 <= key.index < self.samples_per_epoch:
            raise IndexError(f"sample index {key.index} out of range for {self.samples_per_epoch} samples per epoch")
        return self.sample(key)

    def _warn_frame(self, err: FrameReadError) -> None:
        self.skipped_frames += 1
        n = self.skipped_frames
        if n <= 10 or n % 100 == 0:
            log.warning("skipped unreadable frame (%d so far in this process): %s", n, err)

    def sample(self, key: SampleKey) -> dict:
        rng = np.random.default_rng([self.seed, key.epoch, key.index])
        q = key.bin_probs
        forced_bin = None
        redraws = 0
        skipped = 0
        negative = self.negative_prob > 0 and bool(rng.random() < self.negative_prob)
        for _ in range(self.max_retries):
            pair = self.sampler.draw(rng, bin_probs=q, bin=forced_bin)
            redraws += pair.redraws
            if isinstance(self.sampler, IntervalSampler):
                forced_bin = pair.bin  # keep q exact: a rejected sample is redrawn in its bin
            ds = self.sampler.datasets[pair.dataset]
            seq = ds[pair.sequence]
            x_seq, x_frame, x_name = seq, pair.search_frame, ""
            is_negative, avoid, x_box = negative, None, None
            same_clip = None
            if negative and self.same_clip_prob > 0 and not ds.is_image and rng.random() < self.same_clip_prob:
                same_clip = same_clip_negative(seq, pair.search_frame, rng, self.negatives.search_factor)
            if same_clip is not None:
                x_frame, x_box, avoid = same_clip.frame, same_clip.centre_box, same_clip.avoid_box
                x_name = f"/clip-{same_clip.kind}:{x_frame}"
            elif negative:
                neg = self.negatives.draw(rng, pair.dataset, pair.sequence)
                x_ds = self.negatives.datasets[neg.dataset]
                x_seq, x_frame = x_ds[neg.sequence], neg.frame
                x_name = f"/neg:{x_ds.name}/{x_seq.name}/{x_frame}"
            elif self.same_scene_prob > 0 and ds.is_image:
                partners = self.negatives.partners(pair.dataset, pair.sequence)
                if len(partners) and rng.random() < self.same_scene_prob:
                    j = int(partners[rng.integers(len(partners))])
                    x_seq, x_frame, is_negative = ds[j], 0, True
                    avoid = seq.boxes[pair.template_frame]
                    x_name = f"/same:{x_seq.name}"
            try:
                z_img = seq.frames.read(pair.template_frame, self.cache)
                same = x_seq is seq and x_frame == pair.template_frame
                x_img = z_img if same else x_seq.frames.read(x_frame, self.cache)
            except FrameReadError as e:
                self._warn_frame(e)
                skipped += 1
                redraws += 1
                continue
            out = self.processor(z_img, seq.boxes[pair.template_frame], x_img,
                                 x_seq.boxes[x_frame] if x_box is None else x_box, rng, avoid_box=avoid)
            if out is None:
                redraws += 1
                continue
            if is_negative:
                out.heatmap[:] = 0.0
            return {
                "template": torch.from_numpy(np.ascontiguousarray(out.template.transpose(2, 0, 1))),
                "search": torch.from_numpy(np.ascontiguousarray(out.search.transpose(2, 0, 1))),
                "search_box": torch.from_numpy(out.search_box),
                "search_box_cxcywh": torch.from_numpy(out.search_box_cxcywh),
                "template_box": torch.from_numpy(out.template_box),
                "heatmap": torch.from_numpy(out.heatmap),
                "positive": torch.tensor(0.0 if is_negative else 1.0, dtype=torch.float32),
                "bin": torch.tensor(pair.bin, dtype=torch.int64),
                "interval": torch.tensor(pair.interval, dtype=torch.int64),
                "redraws": torch.tensor(redraws, dtype=torch.int64),
                "skipped_frames": torch.tensor(skipped, dtype=torch.int64),
                "epoch": torch.tensor(key.epoch, dtype=torch.int64),
                "index": torch.tensor(key.index, dtype=torch.int64),
                "sample_id": f"e{key.epoch}/i{key.index}/{ds.name}/{seq.name}/{pair.template_frame}-{pair.search_frame}{x_name}",
            }
        raise RuntimeError(
            f"sample {key.index} of epoch {key.epoch}: no usable pair after {self.max_retries} tries "
            f"({skipped} unreadable frames); check the dataset (see warnings above)"
        )


class EpochSampler(Sampler):
    """Yields this rank's :class:`SampleKey` s for the dataset's current epoch and ``q``."""

    def __init__(self, dataset: PairDataset, rank: int = 0, world_size: int = 1):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        if len(dataset) < world_size:
            raise ValueError(f"{len(dataset)} samples per epoch cannot be split over {world_size} ranks")
        self.dataset = dataset
        self.rank = int(rank)
        self.world_size = int(world_size)

    def __len__(self) -> int:
        return len(self.dataset) // self.world_size

    def __iter__(self) -> Iterator[SampleKey]:
        epoch, q = self.dataset.epoch, self.dataset.bin_probs
        for j in range(len(self)):
            yield SampleKey(epoch, self.rank + j * self.world_size, q)
