"""Copy-paste distractors: another object pasted next to the target in the search crop.

The shipped model's worst eval failure is a distractor: on Crossing the walking person passes in
front of a parked car and the box jumps to the car (benchmarks/RESULTS.md, "Where it fails").
Negative pairs (:mod:`training.data.negatives`) show the network a wrong object *alone*; here the
wrong object sits *beside or behind the right one* in the same search crop, and the label stays on
the target, so the score map must prefer the template's object over a nearby, often larger one.
This is the copy-paste augmentation of instance segmentation (Ghiasi et al., CVPR 2021) and of
tracker training with synthetic distractors, done with box annotations only: the pasted object is
the ellipse inscribed in its box, with a soft edge (``FEATHER`` of its shorter side wide).

Geometry, in search-crop pixels (``ProcessingConfig.distractor_*``):

* size: the pasted object's sqrt(area) is ``U(distractor_scale)`` times the target's, its aspect
  ratio is the source box's;
* place: its centre lies at angle ``U(0, 2 pi)`` and distance ``U(distractor_distance)`` x
  (target size + pasted size) / 2 from the target's centre (1.0 = the two just touch), inside the crop;
* depth: with ``distractor_behind_prob`` the target stays in front (its own inscribed ellipse is
  kept), otherwise the pasted object is in front and may cover at most ``distractor_max_occlusion``
  of the target's box (positions that cover more are drawn again, up to 10 times; then nothing is
  pasted).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from training.data.config import ProcessingConfig

PLACEMENT_TRIES = 10
FEATHER = 0.15  # width of the pasted object's soft edge, as a fraction of its shorter side


def object_patch(img: np.ndarray, box) -> np.ndarray | None:
    """The pixels of box ``(x, y, w, h)`` in ``img`` (clipped to the image); ``None`` if under 2 x 2 px."""
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
    x1, y1 = min(img.shape[1], int(math.ceil(x + w))), min(img.shape[0], int(math.ceil(y + h)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return img[y0:y1, x0:x1]


def ellipse_mask(side: int, cx: float, cy: float, w: float, h: float, feather: float = 1.5) -> np.ndarray:
    """Float32 ``side x side`` alpha of the ellipse inscribed in the box centred at (cx, cy) of size w x h:
    1 inside, 0 outside, a linear ramp about ``feather`` pixels wide at the edge."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    rx, ry = max(w / 2.0, 0.5), max(h / 2.0, 0.5)
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)  # 1 on the ellipse
    edge = feather / max(min(rx, ry), 1.0)  # the ramp's width in units of r
    return np.clip((1.0 - r) / edge + 0.5, 0.0, 1.0).astype(np.float32)


def paste_distractor(search: np.ndarray, target_box, patch: np.ndarray, cfg: ProcessingConfig,
                     rng: np.random.Generator) -> np.ndarray | None:
    """Paste ``patch`` (an object's box pixels, BGR uint8) near the target of the square ``search``
    crop; ``target_box`` is (x, y, w, h) normalized to the crop. Returns the new crop, or ``None``
    when no placement within the occlusion limit was found (the caller keeps the crop as it was)."""
    if not isinstance(search, np.ndarray) or search.dtype != np.uint8 or search.ndim != 3 or search.shape[2] != 3 \
            or search.shape[0] != search.shape[1]:
        raise TypeError(f"search must be a square H x H x 3 uint8 crop, got {getattr(search, 'shape', type(search))}")
    if not isinstance(patch, np.ndarray) or patch.dtype != np.uint8 or patch.ndim != 3 or patch.shape[2] != 3 \
            or min(patch.shape[:2]) < 2:
        raise TypeError(f"patch must be an h x w x 3 uint8 image of at least 2 x 2 px, got {getattr(patch, 'shape', type(patch))}")
    side = search.shape[0]
    tx, ty, tw, th = (float(v) * side for v in target_box)
    if not (tw > 0 and th > 0):
        raise ValueError(f"target_box must have a positive size, got {target_box!r}")
    tcx, tcy, tsize = tx + tw / 2.0, ty + th / 2.0, math.sqrt(tw * th)
    ph, pw = patch.shape[:2]
    scale = rng.uniform(*cfg.distractor_scale) * tsize / math.sqrt(pw * ph)
    rw, rh = max(int(round(pw * scale)), 3), max(int(round(ph * scale)), 3)
    behind = rng.random() < cfg.distractor_behind_prob
    mask = None
    for _ in range(PLACEMENT_TRIES):
        angle = rng.uniform(0.0, 2.0 * math.pi)
        dist = rng.uniform(*cfg.distractor_distance) * (tsize + math.sqrt(rw * rh)) / 2.0
        cx, cy = tcx + dist * math.cos(angle), tcy + dist * math.sin(angle)
        if not (0.0 <= cx < side and 0.0 <= cy < side):
            continue
        m = ellipse_mask(side, cx, cy, rw, rh, feather=max(1.5, FEATHER * min(rw, rh)))
        if behind:
            mask = m
            break
        x0, y0 = max(0, int(tx)), max(0, int(ty))
        x1, y1 = min(side, int(math.ceil(tx + tw))), min(side, int(math.ceil(ty + th)))
        covered = float(m[y0:y1, x0:x1].sum()) / (tw * th)
        if covered <= cfg.distractor_max_occlusion:
            mask = m
            break
    if mask is None:
        return None
    if behind:
        mask = mask * (1.0 - ellipse_mask(side, tcx, tcy, tw, th))
    # the patch resized to its pasted size, then shifted to its place (the warp clips at the crop edge)
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(patch, (rw, rh), interpolation=interp)
    shift = np.array([[1.0, 0.0, cx - rw / 2.0], [0.0, 1.0, cy - rh / 2.0]])
    canvas = cv2.warpAffine(resized, shift, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = mask[..., None]
    out = search.astype(np.float32) * (1.0 - a) + canvas.astype(np.float32) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
