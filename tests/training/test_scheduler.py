"""Success-aware scheduler (RECIPE 3.2): expected success, its gradient, limits, q, state."""

from __future__ import annotations

import numpy as np
import pytest

from training.sstrack import (
    ScheduleConfig,
    SSTrackSchedule,
    config_from_dict,
    expected_success,
    expected_success_grad,
    floor_distribution,
    schedule_d,
    success_aware_distribution,
)


def _markov_expected_success(p, d):
    """Reference: propagate pi through the paper's transition matrices (eq. 1) literally."""
    pi = np.array([1.0, 0.0])
    total = 0.0
    for pi_i in p:
        t = np.array([[pi_i, 1 - pi_i], [d * pi_i, 1 - d * pi_i]])
        pi = pi @ t
        total += pi[0]
    return total / len(p)


@pytest.mark.parametrize("d", [0.0, 0.3, 0.77, 1.0])
def test_expected_success_matches_markov_chain(d):
    p = np.array([0.9, 0.8, 0.6, 0.55, 0.4, 0.3, 0.2, 0.1])
    assert expected_success(p, d) == pytest.approx(_markov_expected_success(p, d), abs=1e-12)


@pytest.mark.parametrize("d", [0.0, 0.25, 0.6, 1.0])
def test_grad_matches_finite_differences(d):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, size=8)
    g = expected_success_grad(p, d)
    h = 1e-6
    fd = np.array([(expected_success(p + h * e, d) - expected_success(p - h * e, d)) / (2 * h) for e in np.eye(8)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_d_one_gives_uniform_q():
    p = np.array([0.9, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    np.testing.assert_allclose(expected_success_grad(p, 1.0), np.full(8, 1 / 8))
    np.testing.assert_allclose(success_aware_distribution(p, 1.0), np.full(8, 1 / 8))


@pytest.mark.parametrize("c", [0.3, 0.7, 0.95])
def test_d_zero_equal_p_gives_paper_closed_form(c):
    r = 8
    g = expected_success_grad(np.full(r, c), 0.0)
    closed = np.array([sum(c**m for m in range(i - 1, r)) / r for i in range(1, r + 1)])
    np.testing.assert_allclose(g, closed, rtol=1e-12)
    assert np.all(np.diff(g) < 0)  # easy (short-interval) bins favoured


def test_q_sums_to_one_and_floor_holds():
    p = np.array([0.99, 0.9, 0.2, 0.05, 0.01, 0.01, 0.01, 0.01])
    q = success_aware_distribution(p, 0.0, q_min=0.02)
    assert q.sum() == pytest.approx(1.0, abs=1e-12)
    assert q.min() >= 0.02 - 1e-15
    assert np.all(np.diff(q) <= 1e-15)  # order kept by the floor


def test_floor_rejects_too_large_q_min():
    with pytest.raises(ValueError, match="q_min"):
        floor_distribution(np.ones(8) / 8, 0.2)


def test_schedule_d_orders():
    assert schedule_d(0, 10, 2) == 0.0 and schedule_d(10, 10, 2) == 1.0
    assert schedule_d(25, 100, 2) == pytest.approx(0.5)
    # larger order: d rises faster (harder samples sooner)
    assert schedule_d(10, 100, 1) < schedule_d(10, 100, 2) < schedule_d(10, 100, 3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="p must lie"):
        expected_success_grad(np.array([0.5, 1.5]), 0.5)
    with pytest.raises(ValueError, match="d must lie"):
        expected_success_grad(np.array([0.5]), 2.0)
    with pytest.raises(ValueError, match="tau"):
        ScheduleConfig(tau="median")
    with pytest.raises(ValueError, match="unknown schedule config key"):
        config_from_dict({"ordr": 2})


Q_R = np.array([0.25, 0.3, 0.2, 0.1, 0.06, 0.05, 0.03, 0.01])


def _feed(sched, rng, n=400, skill=None):
    """Samples whose IoU falls with the bin index (long intervals are harder)."""
    bins = rng.choice(8, size=n, p=sched.q)
    skill = np.linspace(0.9, 0.2, 8) if skill is None else skill
    ious = np.clip(skill[bins] + rng.normal(0, 0.15, n), 0, 1)
    sched.loss_weights(bins)
    sched.record(bins, ious)
    return bins, ious


def test_schedule_epoch_statistics():
    rng = np.random.default_rng(0)
    sched = SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=10)
    np.testing.assert_allclose(sched.q, Q_R)  # epoch 1: random sampler
    np.testing.assert_allclose(sched.gamma, 1.0)
    bins, ious = _feed(sched, rng)
    st = sched.end_epoch(1)
    assert st.tau == pytest.approx(ious.mean())
    for i in range(8):
        m = bins == i
        if m.any():
            assert st.p[i] == pytest.approx(np.clip((ious[m] > ious.mean()).mean(), 1e-3, 1 - 1e-3))
    assert sum(st.q_next) == pytest.approx(1.0)
    assert min(st.q_next) >= 0.01 - 1e-12
    # d(1) = sqrt(0.1) < 1: q decreases with the interval (easy first)
    assert st.q_next[1] > st.q_next[7]
    # pruned bins get Gamma = q_R / q_I, enhanced bins 1
    for i in range(8):
        if st.q_next[i] <= Q_R[i]:
            assert st.gamma_next[i] == pytest.approx(min(Q_R[i] / st.q_next[i], 10.0))
        else:
            assert st.gamma_next[i] == 1.0


def test_empty_bin_keeps_previous_p():
    rng = np.random.default_rng(1)
    sched = SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=10)
    _feed(sched, rng, n=2000)
    p1 = sched.end_epoch(1).p
    sched.record(np.array([0, 0, 1]), np.array([0.9, 0.1, 0.8]))  # bins 2..7 empty
    p2 = sched.end_epoch(2).p
    assert p2[2:] == p1[2:]
    assert p2[0] == pytest.approx(0.5) and p2[1] == pytest.approx(1 - 1e-3)


def test_never_seen_bin_gets_mean_p():
    sched = SSTrackSchedule(4, [0.25] * 4, ScheduleConfig(eps=0.0, q_min=0.0), total_epochs=5)
    sched.record(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.9, 0.1]))  # tau = 0.675
    st = sched.end_epoch(1)
    assert st.p[:2] == [1.0, 0.5]
    assert st.p[2] == st.p[3] == pytest.approx(0.75)


def test_random_mode_keeps_q_random_and_unit_gamma():
    rng = np.random.default_rng(2)
    sched = SSTrackSchedule(8, Q_R, ScheduleConfig(sampler="random"), total_epochs=5)
    for e in range(1, 4):
        _feed(sched, rng)
        st = sched.end_epoch(e)
        np.testing.assert_allclose(st.q_next, Q_R)
        assert st.gamma_next == [1.0] * 8 and not st.updated


def test_no_scaling_mode_changes_q_not_gamma():
    rng = np.random.default_rng(2)
    sched = SSTrackSchedule(8, Q_R, ScheduleConfig(gradient_scaling=False), total_epochs=5)
    _feed(sched, rng)
    st = sched.end_epoch(1)
    assert st.updated and not np.allclose(st.q_next, Q_R)
    assert st.gamma_next == [1.0] * 8


def test_fixed_tau():
    sched = SSTrackSchedule(2, [0.5, 0.5], ScheduleConfig(tau=0.75, eps=0.0, q_min=0.0), total_epochs=4)
    sched.record(np.array([0, 0, 1, 1]), np.array([0.8, 0.7, 0.76, 0.2]))
    st = sched.end_epoch(1)
    assert st.tau == 0.75 and st.p == [0.5, 0.5]


def test_update_only_at_milestones():
    rng = np.random.default_rng(4)
    sched = SSTrackSchedule(8, Q_R, ScheduleConfig(update_at=[0.33, 0.5]), total_epochs=12)
    updated = []
    for e in range(1, 13):
        _feed(sched, rng)
        st = sched.end_epoch(e)
        updated.append(st.updated)
        if e < 4:
            np.testing.assert_allclose(st.q_next, Q_R)
    assert [e for e, u in zip(range(1, 13), updated) if u] == [4, 6]


def test_order_changes_pace():
    """A larger order p moves q towards uniform (more long intervals) sooner."""
    q_last = {}
    for order in (1, 2, 3):
        rng = np.random.default_rng(5)
        sched = SSTrackSchedule(8, Q_R, ScheduleConfig(order=order), total_epochs=20)
        _feed(sched, rng, n=4000)
        q_last[order] = sched.end_epoch(4).q_next[-1]
    assert q_last[1] < q_last[2] < q_last[3]


def test_state_roundtrip_continues_identically():
    a = SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=6)
    rng = np.random.default_rng(7)
    for e in (1, 2):
        _feed(a, rng)
        a.end_epoch(e)
    b = SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=6)
    b.load_state_dict(a.state_dict())
    _feed(a, np.random.default_rng(9))
    _feed(b, np.random.default_rng(9))
    sa, sb = a.end_epoch(3).to_dict(), b.end_epoch(3).to_dict()
    sa.pop("seconds"), sb.pop("seconds")
    assert sa == sb
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]  # noqa: E731
    assert strip(a.history) == strip(b.history)


class _ThreadSumAllReduce:
    """An in-process 'world' of N ranks (threads): sum of all ranks' vectors, like dist.all_reduce."""

    def __init__(self, world: int):
        import threading

        self.barrier = threading.Barrier(world)
        self.slots = [None] * world

    def for_rank(self, rank: int):
        def reduce(x):
            self.slots[rank] = np.array(x, dtype=np.float64)
            self.barrier.wait()
            total = np.sum(self.slots, axis=0)
            self.barrier.wait()
            return total

        return reduce


def test_all_reduce_hook_gives_pooled_statistics_on_every_rank():
    import threading

    rng = np.random.default_rng(8)
    data = [(rng.integers(0, 8, 300), rng.uniform(0, 1, 300)) for _ in range(2)]
    single = SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=5)
    for b, i in data:
        single.record(b, i)
    want = single.end_epoch(1).to_dict()

    world = _ThreadSumAllReduce(2)
    got = [None, None]

    def run(rank):
        s = SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=5, all_reduce=world.for_rank(rank))
        s.record(*data[rank])
        got[rank] = s.end_epoch(1).to_dict()

    threads = [threading.Thread(target=run, args=(r,)) for r in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for g in got:
        for key in ("tau", "mean_iou", "bin_counts", "bin_success", "num_samples"):
            assert g[key] == pytest.approx(want[key])
        np.testing.assert_allclose(g["q_next"], want["q_next"], rtol=1e-12)
        np.testing.assert_allclose(g["gamma_next"], want["gamma_next"], rtol=1e-12)


def test_unavailable_bins_get_no_mass():
    avail = np.array([True, True, True, True, False, False, False, False])
    q_r = np.array([0.25, 0.4, 0.25, 0.1, 0, 0, 0, 0])
    sched = SSTrackSchedule(8, q_r, ScheduleConfig(), total_epochs=4, available=avail)
    rng = np.random.default_rng(0)
    _feed(sched, rng)
    st = sched.end_epoch(1)
    assert st.q_next[4:] == [0.0] * 4
    assert sum(st.q_next) == pytest.approx(1.0) and min(st.q_next[:4]) >= 0.01
    with pytest.raises(ValueError, match="unavailable"):
        SSTrackSchedule(8, Q_R, ScheduleConfig(), total_epochs=4, available=avail)


def test_loss_weights_keep_fractional_gamma_for_torch_bins():
    torch = pytest.importorskip("torch")
    sched = SSTrackSchedule(2, [0.5, 0.5], ScheduleConfig(q_min=0.0), total_epochs=4)
    sched.q = np.array([0.4, 0.6])
    sched.gamma = np.array([1.25, 1.0])
    w = sched.loss_weights(torch.tensor([0, 1, 0]))
    assert w.dtype == torch.float32 and w.tolist() == [1.25, 1.0, 1.25]
    np.testing.assert_allclose(sched.loss_weights(np.array([0, 1])), [1.25, 1.0])


def test_clip_events_count_this_epochs_clipped_samples():
    sched = SSTrackSchedule(2, [0.5, 0.5], ScheduleConfig(q_min=0.0, gamma_max=2.0), total_epochs=4)
    sched.q = np.array([0.1, 0.9])
    sched.gamma, sched.gamma_clipped = np.array([2.0, 1.0]), np.array([True, False])
    sched.record(np.array([0, 0, 1, 0]), np.array([0.5, 0.6, 0.7, 0.1]))
    assert sched.end_epoch(1).gamma_weighted_clip_events == 3
