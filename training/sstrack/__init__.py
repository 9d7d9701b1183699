"""SSTrack's training method as a reusable component (no torch needed, no model assumptions).

* :class:`SSTrackSchedule` / :class:`ScheduleConfig`: success-aware sample scheduler + gradient
  scaling, with per-epoch statistics, state_dict and an optional all-reduce hook.
* :mod:`training.sstrack.success`: expected success ``S``, ``dS/dp``, ``d(e)``, ``q``.
* :mod:`training.sstrack.scaling`: ``Gamma`` from ``q_R`` and ``q_I``.
"""

from training.sstrack.scaling import gradient_scale, scaling_ratio
from training.sstrack.schedule import EpochStats, ScheduleConfig, SSTrackSchedule, config_from_dict
from training.sstrack.success import (
    expected_success,
    expected_success_grad,
    expected_success_terms,
    floor_distribution,
    schedule_d,
    success_aware_distribution,
)

__all__ = [
    "EpochStats",
    "ScheduleConfig",
    "SSTrackSchedule",
    "config_from_dict",
    "expected_success",
    "expected_success_grad",
    "expected_success_terms",
    "floor_distribution",
    "gradient_scale",
    "scaling_ratio",
    "schedule_d",
    "success_aware_distribution",
]
