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

Same-scene negatives (``data.same_scene_prob``): a still photo with several annotated objects
gives a harder negative. The template is one object of the photo, the search crop is centred on
*another* object of the same photo, and the crop must not contain any part of the template's object
(:class:`training.data.processing.PairProcessor` with ``avoid_box``). The background, lighting and
camera are then the template's own, so only the object itself tells them apart, as when a passing
car crosses a tracked pedestrian. :meth:`NegativeSource.partners` lists the candidates.

Same-clip negatives (``data.same_clip_prob``, :func:`same_clip_negative`): the search crop comes
from the template's own video, without the target: a frame where the target is absent (out of view,
fully occluded), cropped where it was last seen, as a tracker searching for it would; or, in a
frame where it is visible, a crop displaced off the target (beyond the frame edge it is zero
padding, as when the camera pans away) that must not touch it (``avoid_box``). These are the
absences a drone tracker meets: the same scene, the same distractors, no target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence as Seq

import numpy as np

from training.data.sampler import _normalized_weights
from training.data.sequence import ImageBoxDataset, SequenceDataset


def check_negative_prob(value, name: str = "negative_prob") -> float:
    """A probability as a float, or a ``ValueError`` unless it is a number in [0, 1) (all pairs
    negative would leave nothing to track)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def same_scene_partners(image_index: np.ndarray, boxes: np.ndarray, search_factor: float) -> list[np.ndarray]:
    """For each box of a still-image dataset, the other boxes of its photo that can be a same-scene negative.

    A partner ``j`` of box ``i`` lies in the same photo, and box ``i`` does not intersect the square
    of side ``search_factor * sqrt(w_j * h_j)`` centred on box ``j`` (the un-jittered search crop).
    Jitter can still move or grow the crop onto box ``i``; the pair processor rejects those crops
    (``avoid_box``), so this list only keeps the rejections rare.
    """
    image_index = np.asarray(image_index).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = [np.zeros(0, dtype=np.int64) for _ in range(len(boxes))]
    order = np.argsort(image_index, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(image_index[order]) != 0])
    for group in np.split(order, starts[1:]):
        if len(group) < 2:
            continue
        b = boxes[group]
        half = 0.5 * search_factor * np.sqrt(np.maximum(b[:, 2] * b[:, 3], 0.0))  # per candidate j
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        # sep[i, j]: box i lies fully outside the crop square around j
        sep = (
            (b[:, None, 0] + b[:, None, 2] <= (cx - half)[None, :])
            | (b[:, None, 0] >= (cx + half)[None, :])
            | (b[:, None, 1] + b[:, None, 3] <= (cy - half)[None, :])
            | (b[:, None, 1] >= (cy + half)[None, :])
        )
        np.fill_diagonal(sep, False)
        for a, i in enumerate(group):
            out[i] = group[sep[a]].astype(np.int64)
    return out


@dataclass(frozen=True)
class SameClipNegative:
    frame: int  # the search frame, in the template's own sequence
    centre_box: np.ndarray  # xywh the search crop is centred on (the target's size)
    avoid_box: np.ndarray | None  # the target's box in that frame, which no crop may touch (None: absent)
    kind: str  # "absent" (a frame without the target) or "displaced" (a crop beside it)


def same_clip_negative(seq, search_frame: int, rng: np.random.Generator, search_factor: float,
                       absent_share: float = 0.5) -> SameClipNegative | None:
    """A negative search crop from the template's own video ``seq`` (module docstring).

    With probability ``absent_share`` (when the clip has absent frames) a frame without the target,
    centred on its last visible box before that frame (the first visible one after it if none);
    otherwise frame ``search_frame`` (visible), centred on the target's box moved by 1.05-1.6 x
    (half the crop side + half the box's larger side) in a random direction (L-infinity distance,
    so the un-jittered crop never contains the box). ``None`` for still images.
    """
    if seq.is_image:
        return None
    visible = np.flatnonzero(seq.visible)
    absent = np.flatnonzero(~seq.visible)
    if len(visible) == 0:
        return None
    if len(absent) and rng.random() < absent_share:
        f = int(absent[rng.integers(len(absent))])
        before = visible[visible < f]
        last = int(before[-1]) if len(before) else int(visible[visible > f][0])
        return SameClipNegative(f, np.asarray(seq.boxes[last], dtype=np.float64), None, "absent")
    box = np.asarray(seq.boxes[search_frame], dtype=np.float64)
    x, y, w, h = box
    side = search_factor * float(np.sqrt(w * h))
    reach = (side + max(w, h)) / 2.0 * rng.uniform(1.05, 1.6)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    d = np.array([np.cos(angle), np.sin(angle)])
    d = d / np.abs(d).max()  # on the unit square: the L-infinity distance is exactly ``reach``
    centre = np.array([x + w / 2, y + h / 2]) + reach * d
    moved = np.array([centre[0] - w / 2, centre[1] - h / 2, w, h])
    return SameClipNegative(int(search_frame), moved, box, "displaced")


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

    def __init__(self, datasets: Seq[SequenceDataset], weights: Seq[float] | None = None, max_redraws: int = 1000,
                 search_factor: float = 4.0):
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
        self.search_factor = float(search_factor)
        self._partners: dict[int, list[np.ndarray]] = {}

    def partners(self, dataset: int, box: int) -> np.ndarray:
        """Indices of the boxes of ``dataset`` that can be a same-scene negative for box ``box``.

        Empty for video datasets (one annotated object per sequence) and for photos with one object.
        """
        ds = self.datasets[dataset]
        if not isinstance(ds, ImageBoxDataset):
            return np.zeros(0, dtype=np.int64)
        if dataset not in self._partners:
            self._partners[dataset] = same_scene_partners(ds.image_index, ds.boxes, self.search_factor)
        return self._partners[dataset][box]

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
