"""Negative pairs: a search crop that does not contain the template's target.

DaSiamRPN (Zhu et al., ECCV 2018) trains Siamese trackers with "semantic negative pairs" so that
the score map answers "is *this* object here" rather than "is there an object here"; mmtracking's
SiamRPN++ configs sample them with ``pos_prob=0.8``. Our shipped model's worst eval failure is of
that kind (on Crossing the box jumps to a passing car, docs/conv-stem.md).

:class:`NegativeSource` draws the search frame of a negative pair: a visible, annotated frame of
*another* sequence (or another still image), chosen by the datasets' weights. The search crop is
centred on that frame's annotated object, as a positive crop would be, so the network sees a real
object in the middle that is not its target. The label is "absent": a zero heatmap and no box
loss (:class:`training.losses.TrackingLoss` with ``positive``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence as Seq

import numpy as np

from training.data.sampler import _normalized_weights
from training.data.sequence import ImageBoxDataset, SequenceDataset


def check_negative_prob(value) -> float:
    """The fraction of negative pairs as a float, or a ``ValueError`` unless it is a number in [0, 1)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"negative_prob must be a number in [0, 1), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class NegativeFrame:
    dataset: int
    sequence: int
    frame: int


class NegativeSource:
    """Draws ``(dataset, sequence, frame)`` for the search side of a negative pair.

    ``weights``: per-dataset weights (the training mix's); a dataset with weight 0 is never used.
    The template's own sequence is excluded, and for still images every box of the template's
    image file (another object of the same photo could share the crop with the target).
    """

    def __init__(self, datasets: Seq[SequenceDataset], weights: Seq[float] | None = None, max_redraws: int = 1000):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("NegativeSource needs at least one dataset")
        self.weights = _normalized_weights(self.datasets, weights)
        total = sum(len(d) for d, wk in zip(self.datasets, self.weights) if wk > 0)
        if total < 2:
            raise ValueError(
                "negative pairs need at least two sequences or still boxes in the weighted datasets "
                f"(the search side must come from another one); have {total}"
            )
        self.max_redraws = int(max_redraws)

    def _same_source(self, k: int, i: int, template_dataset: int, template_sequence: int) -> bool:
        if k != template_dataset:
            return False
        if i == template_sequence:
            return True
        ds = self.datasets[k]
        return isinstance(ds, ImageBoxDataset) and ds.image_index[i] == ds.image_index[template_sequence]

    def draw(self, rng: np.random.Generator, template_dataset: int, template_sequence: int) -> NegativeFrame:
        for _ in range(self.max_redraws):
            k = int(rng.choice(len(self.datasets), p=self.weights))
            ds = self.datasets[k]
            i = int(rng.integers(len(ds)))
            if self._same_source(k, i, template_dataset, template_sequence):
                continue
            vis = np.flatnonzero(ds[i].visible)
            if len(vis) == 0:
                continue
            return NegativeFrame(k, i, int(vis[rng.integers(len(vis))]))
        raise RuntimeError(
            f"negative pairs: {self.max_redraws} draws in a row found no visible frame outside the "
            "template's sequence/image; add more sequences or set data.negative_prob to 0"
        )
