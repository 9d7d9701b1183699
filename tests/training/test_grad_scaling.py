"""Gradient scaling (RECIPE 3.3) and the eq. 5 identity."""

from __future__ import annotations

import numpy as np
import pytest

from training.sstrack import gradient_scale, scaling_ratio

Q_R = np.array([0.25, 0.3, 0.2, 0.1, 0.06, 0.05, 0.03, 0.01])
Q_I = np.array([0.30, 0.2, 0.1, 0.1, 0.10, 0.1, 0.05, 0.05])


def test_gamma_values():
    g, clipped = gradient_scale(Q_R, Q_I)
    s = scaling_ratio(Q_R, Q_I)
    for i in range(8):
        if s[i] >= 0:  # pruned
            assert g[i] == pytest.approx(1 / (1 - s[i])) and g[i] == pytest.approx(Q_R[i] / Q_I[i])
        else:
            assert g[i] == 1.0
    assert not clipped.any()


def test_gamma_clip_binds_and_is_reported():
    q_i = np.array([0.01, 0.29, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1])
    g, clipped = gradient_scale(Q_R, q_i, gamma_max=5.0)
    assert g[0] == 5.0 and clipped.tolist() == [True] + [False] * 7


def test_zero_q_random_bin_is_not_scaled():
    q_r = np.array([0.5, 0.5, 0.0])
    q_i = np.array([0.4, 0.4, 0.2])
    g, _ = gradient_scale(q_r, q_i)
    assert g.tolist() == [1.25, 1.25, 1.0]


def test_eq5_identity_pruned_bins_keep_random_objective():
    """E_{q_I}[Gamma L] over pruned bins == E_{q_R}[L] over them / c_t (c_t = sum q_I = 1),
    with a per-sample loss table (several samples per bin, uniform within the bin)."""
    rng = np.random.default_rng(0)
    losses = [rng.uniform(0, 3, size=rng.integers(2, 9)) for _ in range(8)]
    g, _ = gradient_scale(Q_R, Q_I)
    pruned = scaling_ratio(Q_R, Q_I) >= 0
    # per-sample distributions: rho(v) = q_bin / n_bin
    e_scaled = sum(Q_I[i] * np.mean(g[i] * losses[i]) for i in range(8) if pruned[i])
    e_random = sum(Q_R[i] * np.mean(losses[i]) for i in range(8) if pruned[i])
    c_t = sum((1 - scaling_ratio(Q_R, Q_I)[i]) * Q_R[i] for i in range(8))
    assert c_t == pytest.approx(1.0)
    assert e_scaled == pytest.approx(e_random / c_t, rel=1e-12)
    # enhanced bins: original objective plus a non-negative enhancement objective
    for i in np.flatnonzero(~pruned):
        assert Q_I[i] * np.mean(g[i] * losses[i]) >= Q_R[i] * np.mean(losses[i])


def test_monte_carlo_weighted_batch_mean_matches_random_objective_on_pruned_bins():
    rng = np.random.default_rng(1)
    table = rng.uniform(0, 2, size=8)
    g, _ = gradient_scale(Q_R, Q_I)
    pruned = scaling_ratio(Q_R, Q_I) >= 0
    bins = rng.choice(8, size=400_000, p=Q_I)
    est = np.mean(np.where(pruned[bins], g[bins] * table[bins], 0.0))
    assert est == pytest.approx(float(np.sum(Q_R[pruned] * table[pruned])), rel=0.01)


def test_bad_distributions_raise():
    with pytest.raises(ValueError, match="sum to 1"):
        gradient_scale(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="gamma_max"):
        gradient_scale(Q_R, Q_I, gamma_max=0.5)
