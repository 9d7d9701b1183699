"""The expected-success measurement of SSTrack's success-aware scheduler (paper section 3.2).

Pure numpy, no state: given per-bin success probabilities ``p`` (one per "general frame", bin 0
first) and the re-detection probability ``d``, compute the expected success ``S`` and its gradient
``dS/dp``, and turn the gradient into the next epoch's sampling distribution ``q``.

Reading of the paper (RECIPE.md 3.2): the success state evolves with the transition matrix
``T_i = [[p_i, 1 - p_i], [d p_i, 1 - d p_i]]`` (state 0 = success, 1 = failure) from
``pi_0 = (1, 0)``; ``E[X_i]`` is the success probability after the transition of bin ``i``::

    a_0 = 1,   a_i = p_i (d + (1 - d) a_{i-1}),   S = (1/r) sum_{i=1..r} a_i

Gradient (closed form, backward recursion)::

    dS/dp_k = (1/r) (d + (1 - d) a_{k-1}) B_k,   B_r = 1,   B_k = 1 + (1 - d) p_{k+1} B_{k+1}

Limits: ``d = 1`` (re-detection always succeeds) gives ``a_i = p_i`` and ``dS/dp_k = 1/r`` for all
``k`` (uniform ``q``); ``d = 0`` (failure absorbing) with ``p_i = c`` gives the paper's closed form
``dS/dp_k = sum_{m=k-1}^{r-1} c^m / r`` (``q`` decreasing with ``k``: short intervals first).
The paper's prose attaches these two limits to the opposite values of ``d``; its matrix, its
"probability of re-detecting" reading and its schedule ``d(e) = (e/E)^(1/p)`` (0 -> 1) agree with
the reading used here.
"""

from __future__ import annotations

import numpy as np


def _check_p_d(p: np.ndarray, d: float) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p must be a non-empty 1-D array of per-bin success rates, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"p must lie in [0, 1], got {p.tolist()}")
    if not (0.0 <= float(d) <= 1.0):
        raise ValueError(f"d must lie in [0, 1], got {d}")
    return p


def expected_success_terms(p: np.ndarray, d: float) -> np.ndarray:
    """``a_1..a_r``: the success probability after each general frame (``a_0 = 1`` excluded)."""
    p = _check_p_d(p, d)
    a = np.empty_like(p)
    prev = 1.0
    for i, pi in enumerate(p):
        prev = pi * (d + (1.0 - d) * prev)
        a[i] = prev
    return a


def expected_success(p: np.ndarray, d: float) -> float:
    """``S = (1/r) sum_i a_i``."""
    return float(expected_success_terms(p, d).mean())


def expected_success_grad(p: np.ndarray, d: float) -> np.ndarray:
    """``dS/dp_k`` for every bin ``k`` (closed-form backward recursion, O(r))."""
    p = _check_p_d(p, d)
    r = p.size
    a = expected_success_terms(p, d)
    a_prev = np.concatenate([[1.0], a[:-1]])  # a_{k-1}
    b = np.empty(r, dtype=np.float64)
    b[-1] = 1.0
    for k in range(r - 2, -1, -1):
        b[k] = 1.0 + (1.0 - d) * p[k + 1] * b[k + 1]
    return (d + (1.0 - d) * a_prev) * b / r


def schedule_d(epochs_done: int, total_epochs: int, order: float) -> float:
    """The schedule function ``d(e) = (e / E) ** (1 / order)`` (0 at the start, 1 at the end)."""
    if total_epochs <= 0:
        raise ValueError(f"total_epochs must be positive, got {total_epochs}")
    if order <= 0:
        raise ValueError(f"schedule order must be positive, got {order}")
    frac = min(max(epochs_done / float(total_epochs), 0.0), 1.0)
    return float(frac ** (1.0 / order))


def floor_distribution(q: np.ndarray, q_min: float) -> np.ndarray:
    """Mix ``q`` with the uniform floor so every entry is at least ``q_min`` and the sum is 1.

    ``q' = q_min + (1 - r q_min) q / sum(q)``: exact floor, exact sum, order of entries kept.
    """
    q = np.asarray(q, dtype=np.float64)
    r = q.size
    if q_min < 0 or r * q_min >= 1.0:
        raise ValueError(f"q_min must be in [0, 1/num_bins) = [0, {1.0 / r:.4g}), got {q_min}")
    total = q.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"cannot normalize a distribution with sum {total}: {q.tolist()}")
    return q_min + (1.0 - r * q_min) * (q / total)


def success_aware_distribution(p: np.ndarray, d: float, q_min: float = 0.0) -> np.ndarray:
    """``q_i = (dS/dp_i) / sum_j dS/dp_j``, floored at ``q_min``."""
    return floor_distribution(expected_success_grad(p, d), q_min)
