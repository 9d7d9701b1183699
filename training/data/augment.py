"""Crop-level augmentation, as OSTrack (RECIPE.md 1.3), on BGR uint8 crops.

OSTrack runs the joint transform (grayscale p=0.05, horizontal flip p=0.5, one draw shared by
template and search) on the full frames before cropping. We apply it to the crops instead: a
horizontal flip of the frame followed by a crop around the mirrored box equals the mirrored crop
exactly (the crop is symmetric about its centre), and grayscale commutes with bilinear resampling
up to rounding, so the result is the same at a fraction of the cost. Then per crop, independently:
brightness factor U(1-b, 1+b) with saturation (OSTrack's ``ToTensorAndJitter(0.2)`` + clamp), and
another horizontal flip p=0.5. Optional extras (off by default): gaussian blur and motion blur.

Boxes are ``(x, y, w, h)`` normalized to their crop; a flip maps ``x`` to ``1 - x - w``.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.data.config import ProcessingConfig


def flip_box(box: np.ndarray) -> np.ndarray:
    out = np.array(box, dtype=np.float64)
    out[0] = 1.0 - out[0] - out[2]
    return out


def to_gray3(img: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return cv2.merge([g, g, g])


def motion_blur(img: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Linear motion blur: average along a line of ``length`` pixels at ``angle_deg``."""
    k = np.zeros((length, length), dtype=np.float32)
    k[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((length - 1) / 2.0, (length - 1) / 2.0), angle_deg, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    s = k.sum()
    if s <= 0:
        return img
    return cv2.filter2D(img, -1, k / s, borderType=cv2.BORDER_REFLECT)


def augment_crop(img: np.ndarray, box: np.ndarray, cfg: ProcessingConfig, rng: np.random.Generator):
    """Per-crop (independent) part: brightness, flip, optional blurs. Returns ``(img, box)``."""
    if cfg.brightness > 0:
        f = rng.uniform(1.0 - cfg.brightness, 1.0 + cfg.brightness)
        img = cv2.convertScaleAbs(img, alpha=f)
    if rng.random() < cfg.crop_flip_prob:
        img = np.ascontiguousarray(img[:, ::-1])
        box = flip_box(box)
    if cfg.blur_prob > 0 and rng.random() < cfg.blur_prob:
        sigma = rng.uniform(*cfg.blur_sigma)
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)
    if cfg.motion_blur_prob > 0 and rng.random() < cfg.motion_blur_prob:
        length = int(rng.integers(cfg.motion_blur_length[0], cfg.motion_blur_length[1] + 1))
        if length >= 2:
            img = motion_blur(img, length, rng.uniform(0.0, 180.0))
    return img, box


def augment_pair(template, template_box, search, search_box, cfg: ProcessingConfig, rng: np.random.Generator):
    """Grayscale + flip (one draw for both crops), then :func:`augment_crop` on each.
    Returns ``(template, template_box, search, search_box)``."""
    if rng.random() < cfg.grayscale_prob:
        template, search = to_gray3(template), to_gray3(search)
    if rng.random() < cfg.joint_flip_prob:
        template, search = np.ascontiguousarray(template[:, ::-1]), np.ascontiguousarray(search[:, ::-1])
        template_box, search_box = flip_box(template_box), flip_box(search_box)
    template, template_box = augment_crop(template, template_box, cfg, rng)
    search, search_box = augment_crop(search, search_box, cfg, rng)
    return template, template_box, search, search_box
