"""Real template/search crop pairs for INT8 calibration and FP32-vs-INT8 comparison.

Crops are cut exactly like the runtime does (``sstrack_edge.geometry``): the template around the
first visible frame's box at the template factor/size, the search region around the ground-truth
box of a later frame, with a random shift and scale (OSTrack-style jitter) so calibration also sees
drifted, off-centre targets. Arrays are float32 NCHW BGR 0..255, the ONNX inputs as they are.

Sequences: a folder of annotated clips ``<name>.mp4 + <name>.txt`` (``../shared/data/sot/train_videos``,
decoded once into the frame cache of :mod:`sstrack_edge.evaluation.video_frames`) or of
``<name>/img/*.jpg + groundtruth.txt`` (the user's own footage); the layout is detected
(:func:`sstrack_edge.evaluation.datasets.detect_format`). Calibrate on training data only, never on
the evaluation set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

import cv2

from sstrack_edge.evaluation.annotations import read_boxes
from sstrack_edge.evaluation.datasets import detect_format, list_images
from sstrack_edge.evaluation.video_frames import cached_frames, clip_cache_dir, extract_frames, list_videos
from sstrack_edge.geometry import box_to_crop, crop_side, crop_square


@dataclass
class FolderSequence:
    """``<root>/<name>/img/*`` + ``groundtruth.txt`` (or a clip's cached frames + ``<name>.txt``);
    unlike the evaluation readers, the target may be absent (``nan``) in the first frames: the
    template comes from the first visible one."""

    name: str
    frames: list[Path]
    ground_truth: np.ndarray  # N x 4, NaN rows = absent

    def present(self) -> np.ndarray:
        gt = self.ground_truth
        return np.all(np.isfinite(gt), axis=1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)

    def read_frame(self, i: int) -> np.ndarray:
        img = cv2.imread(str(self.frames[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot decode frame {self.frames[i]}")
        return img


def _select(root: Path, found: dict, sequences: list[str] | None) -> list:
    if sequences is None:
        return [found[n] for n in sorted(found)]
    missing = [n for n in sequences if n not in found]
    if missing:
        raise ValueError(f"calibration sequences not in {root}: {', '.join(missing)}")
    return [found[n] for n in sequences]


def read_folder_sequences(root: Path, sequences: list[str] | None = None) -> list[FolderSequence]:
    """``<name>/img/*.jpg + groundtruth.txt`` folders (all, or only ``sequences``, in that order)."""
    dirs = {p.name: p for p in root.iterdir() if p.is_dir() and (p / "groundtruth.txt").is_file()}
    seqs = []
    for d in _select(root, dirs, sequences):
        gt = read_boxes(d / "groundtruth.txt")
        frames = list_images(d / "img" if (d / "img").is_dir() else d)
        if len(frames) < len(gt):
            raise ValueError(f"sequence {d}: groundtruth.txt has {len(gt)} boxes but there are {len(frames)} images")
        seqs.append(FolderSequence(d.name, frames[: len(gt)], gt))
    return seqs


def read_video_sequences(root: Path, sequences: list[str] | None = None) -> list[FolderSequence]:
    """``<name>.mp4 + <name>.txt`` clips (all, or only ``sequences``), decoded once into the frame cache."""
    clips = {v.stem: v for v in list_videos(root) if v.with_suffix(".txt").is_file()}
    seqs = []
    for v in _select(root, clips, sequences):
        gt = read_boxes(v.with_suffix(".txt"))
        out = clip_cache_dir(v)
        n, _fps = extract_frames(v, out)
        if n < len(gt):
            raise ValueError(f"sequence {v}: {v.with_suffix('.txt').name} has {len(gt)} boxes but the video has "
                             f"{n} frames")
        seqs.append(FolderSequence(v.stem, cached_frames(out, len(gt)), gt))
    return seqs


def read_sequences(root: Path, sequences: list[str] | None = None) -> list[FolderSequence]:
    """The clips under ``root`` in the layout :func:`detect_format` finds there."""
    reader = read_video_sequences if detect_format(root) == "videos" else read_folder_sequences
    return reader(root, sequences)


@dataclass
class CropPair:
    template: np.ndarray  # (1, 3, Tz, Tz) float32 BGR 0..255
    search: np.ndarray  # (1, 3, Sx, Sx)
    sequence: str
    template_frame: int  # 0-based
    search_frame: int
    gt_in_search: np.ndarray  # GT box (cx, cy, w, h) normalized to the search crop

    def inputs(self) -> dict[str, np.ndarray]:
        return {"template": self.template, "search": self.search}


def _nchw(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)


class CalibrationSet:
    """``num_pairs`` real crop pairs, spread round-robin over the sequences under ``root`` (all of
    them, or only ``sequences``), a videos folder or a ``<name>/img`` folder (:func:`read_sequences`).

    ``shift`` is the largest centre jitter in units of ``sqrt(w*h)`` of the GT box (uniform in
    ``[-shift/2, shift/2]`` per axis, OSTrack's ``center_jitter_factor`` form); ``scale_jitter`` is the
    std of the log-normal box-size jitter. Deterministic for a given ``seed``.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        template_size: int,
        template_factor: float,
        search_size: int,
        search_factor: float,
        num_pairs: int = 32,
        seed: int = 0,
        shift: float = 1.0,
        scale_jitter: float = 0.15,
        sequences: list[str] | None = None,
    ):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"calibration root {root} is not a folder of sequences")
        if num_pairs < 1:
            raise ValueError(f"num_pairs must be >= 1, got {num_pairs}")
        seqs = [s for s in read_sequences(root, sequences) if int(s.present().sum()) >= 2]
        if not seqs:
            raise ValueError(
                f"no usable sequence under {root}: need <name>.mp4 + <name>.txt clips or <name>/img/*.jpg + "
                f"groundtruth.txt folders with at least two frames where the target is visible"
            )
        self.root = root
        self.sizes = (template_size, template_factor, search_size, search_factor)
        self.seed, self.shift, self.scale_jitter = seed, shift, scale_jitter
        rng = np.random.default_rng(seed)
        per_seq = [num_pairs // len(seqs) + (i < num_pairs % len(seqs)) for i in range(len(seqs))]
        self.pairs: list[CropPair] = []
        for seq, n in zip(seqs, per_seq):
            if n:
                self.pairs += self._cut(seq, n, rng)

    @classmethod
    def from_config(cls, root: str | Path, cfg: Any, **kw) -> "CalibrationSet":
        """Sizes and factors from a ``ModelConfig`` (or anything with the same attributes)."""
        return cls(root, template_size=cfg.template_size, template_factor=cfg.template_factor,
                   search_size=cfg.search_size, search_factor=cfg.search_factor, **kw)

    @classmethod
    def from_card(cls, root: str | Path, card: Any, **kw) -> "CalibrationSet":
        return cls(root, template_size=card.template.size, template_factor=card.template.factor,
                   search_size=card.search.size, search_factor=card.search.factor, **kw)

    def _cut(self, seq: FolderSequence, n: int, rng: np.random.Generator) -> list[CropPair]:
        tz, fz, sx, fx = self.sizes
        present = np.flatnonzero(seq.present())
        t_idx = int(present[0])
        later = present[1:]
        frames = np.sort(rng.choice(later, size=n, replace=len(later) < n))
        tbox = seq.ground_truth[t_idx]
        timg = seq.read_frame(t_idx)
        template = _nchw(crop_square(timg, tbox[0] + tbox[2] / 2, tbox[1] + tbox[3] / 2, crop_side(tbox, fz), tz))
        out = []
        cache: dict[int, np.ndarray] = {t_idx: timg}
        for f in frames:
            f = int(f)
            img = cache.get(f)
            if img is None:
                img = cache[f] = seq.read_frame(f)
            gt = seq.ground_truth[f]
            w = gt[2] * math.exp(rng.normal() * self.scale_jitter)
            h = gt[3] * math.exp(rng.normal() * self.scale_jitter)
            reach = math.sqrt(w * h) * self.shift
            cx = gt[0] + gt[2] / 2 + reach * (rng.random() - 0.5)
            cy = gt[1] + gt[3] / 2 + reach * (rng.random() - 0.5)
            side = crop_side((0, 0, w, h), fx)
            search = _nchw(crop_square(img, cx, cy, side, sx))
            x, y, bw, bh = box_to_crop(gt, cx, cy, side)
            out.append(CropPair(template, search, seq.name, t_idx, f,
                                np.array([x + bw / 2, y + bh / 2, bw, bh])))
        return out

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[CropPair]:
        return iter(self.pairs)

    def __getitem__(self, i: int) -> CropPair:
        return self.pairs[i]

    def inputs(self) -> Iterator[dict[str, np.ndarray]]:
        """``{"template": ..., "search": ...}`` per pair (the ONNX feed)."""
        return (p.inputs() for p in self.pairs)

    def describe(self) -> dict[str, Any]:
        """Provenance for the model card's ``quantization.calibration``."""
        return {
            "source": str(self.root),
            "pairs": len(self.pairs),
            "sequences": sorted({p.sequence for p in self.pairs}),
            "seed": self.seed,
            "jitter": {"shift": self.shift, "scale": self.scale_jitter},
        }
