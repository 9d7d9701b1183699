"""SSTrack gradient scaling (paper section 3.3, InfoBatch-style).

For bin ``i`` the interval sampler's frequency ``q_I_i`` differs from the random sampler's
``q_R_i`` by the scaling ratio ``s_i = (q_R_i - q_I_i) / q_R_i``. Pruned bins (``s_i >= 0``) get
``Gamma_i = 1 / (1 - s_i) = q_R_i / q_I_i``; enhanced bins (``s_i < 0``) keep ``Gamma_i = 1``.
``Gamma`` multiplies each sample's whole loss. With it, the expected loss over pruned bins under
``q_I`` equals the expected loss under ``q_R`` (eq. 5 with ``c_t = sum_i q_I_i = 1``).

A bin with ``q_R_i = 0`` (the random sampler never draws it) has no original objective to keep:
``Gamma_i = 1``. ``Gamma`` is clipped at ``gamma_max``; the clipped bins are reported.
"""

from __future__ import annotations

import numpy as np


def _as_dist(name: str, q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 1 or q.size == 0 or not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{name} must be a 1-D array of non-negative probabilities, got {q.tolist()}")
    if not np.isclose(q.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{name} must sum to 1, sums to {q.sum():.6g}")
    return q


def scaling_ratio(q_random: np.ndarray, q_interval: np.ndarray) -> np.ndarray:
    """``s_i = (q_R_i - q_I_i) / q_R_i`` (``-inf`` where ``q_R_i = 0`` and ``q_I_i > 0``)."""
    q_r = _as_dist("q_random", q_random)
    q_i = _as_dist("q_interval", q_interval)
    if q_r.shape != q_i.shape:
        raise ValueError(f"q_random has {q_r.size} bins, q_interval has {q_i.size}")
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(q_r > 0, (q_r - q_i) / np.where(q_r > 0, q_r, 1.0), np.where(q_i > 0, -np.inf, 0.0))
    return s


def gradient_scale(
    q_random: np.ndarray, q_interval: np.ndarray, gamma_max: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin ``Gamma_i`` and a boolean mask of the bins where ``gamma_max`` bound.

    ``Gamma_i = q_R_i / q_I_i`` for pruned bins, 1 otherwise; a pruned bin with ``q_I_i = 0``
    (never sampled, so never weighted) gets ``gamma_max``.
    """
    if not gamma_max >= 1.0:
        raise ValueError(f"gamma_max must be >= 1, got {gamma_max}")
    q_r = _as_dist("q_random", q_random)
    q_i = _as_dist("q_interval", q_interval)
    s = scaling_ratio(q_r, q_i)
    pruned = s >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(pruned & (q_i > 0), q_r / np.where(q_i > 0, q_i, 1.0), 1.0)
    raw = np.where(pruned & (q_i <= 0) & (q_r > 0), np.inf, raw)
    clipped = raw > gamma_max
    return np.minimum(raw, gamma_max), clipped
