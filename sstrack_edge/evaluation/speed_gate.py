"""FPS regression gate: the tracker's update time as a ratio to a fixed reference workload.

Absolute timings on shared CI machines swing by 2x between runs (RUNTIME-AND-ECOSYSTEM.md 4.3-4.5);
the ratio of two workloads measured *interleaved in the same process* moves much less, because
both see the same machine state. So the gate measures, in alternating order (ABBA), a fixed
single-threaded NumPy GEMM workload shaped like ViT-Tiny blocks and the tracker's ``update``,
takes the median of each over several rounds, and compares ``median(update) / median(reference)``
with a committed expected ratio (``benchmarks/gate/baseline.json``): the gate fails when the
ratio exceeds ``expected * (1 + tolerance)``.

The tracker must run on a fixed thread count (1) for the ratio to be meaningful; the reference is
held to one BLAS thread with ``threadpoolctl``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np


class GateBaselineError(ValueError):
    """The committed gate baseline is missing or malformed."""


@dataclass(frozen=True)
class ReferenceShape:
    """GEMM shapes of the reference: ``blocks`` x (qkv, proj, fc1, fc2) on ``tokens`` tokens."""

    tokens: int = 320  # 64 template + 256 search tokens (OSTrack-256)
    dim: int = 192  # ViT-Tiny width
    mlp: int = 768
    blocks: int = 1


class ReferenceWorkload:
    """A fixed float32 GEMM workload on one BLAS thread (callable; returns nothing)."""

    def __init__(self, shape: ReferenceShape = ReferenceShape(), seed: int = 0):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError as e:  # dev dependency
            raise RuntimeError("the FPS gate needs threadpoolctl (pip install threadpoolctl)") from e
        self._limits = threadpool_limits
        self.shape = shape
        rng = np.random.default_rng(seed)
        d, m = shape.dim, shape.mlp
        self._x = rng.standard_normal((shape.tokens, d), dtype=np.float32)
        self._w = [rng.standard_normal(s, dtype=np.float32) * 0.05 for s in ((d, 3 * d), (d, d), (d, m), (m, d))]

    def __call__(self) -> None:
        with self._limits(limits=1, user_api="blas"):
            x = self._x
            for _ in range(self.shape.blocks):
                qkv = x @ self._w[0]
                a = qkv[:, : self.shape.dim] @ self._w[1]
                h = np.maximum(a @ self._w[2], 0.0)
                x = h @ self._w[3]


@dataclass(frozen=True)
class RatioMeasurement:
    ratio: float  # median(target) / median(reference)
    target_s: float  # median seconds per target call
    reference_s: float  # median seconds per reference call
    target_rounds: list[float] = field(repr=False)
    reference_rounds: list[float] = field(repr=False)


class InterleavedTimer:
    """Times several workloads in turn, forward then backward order (ABBA), ``calls`` calls each per round.

    The default clock is the CPU time of the calling thread (``time.thread_time``): with one
    inference thread and one BLAS thread all the work runs on the caller, and the time the
    scheduler gives to other processes on a shared machine is not counted.
    """

    def __init__(
        self,
        workloads: dict[str, Callable[[], object]],
        calls: int = 5,
        clock: Callable[[], float] = time.thread_time,
    ):
        if calls < 1:
            raise ValueError(f"calls must be >= 1, got {calls}")
        if len(workloads) < 2:
            raise ValueError("need a reference and at least one target workload")
        self.workloads, self.calls, self.clock = dict(workloads), calls, clock
        self.rounds: dict[str, list[float]] = {k: [] for k in self.workloads}
        self._n = 0

    def _time(self, fn) -> float:
        t0 = self.clock()
        for _ in range(self.calls):
            fn()
        return (self.clock() - t0) / self.calls

    def warmup(self, calls: int = 2) -> None:
        for fn in self.workloads.values():
            for _ in range(calls):
                fn()

    def round(self) -> None:
        names = list(self.workloads)
        for name in names if self._n % 2 == 0 else reversed(names):
            self.rounds[name].append(self._time(self.workloads[name]))
        self._n += 1

    def ratio(self, target: str, reference: str = "reference") -> RatioMeasurement:
        if not self.rounds[target]:
            raise ValueError("no rounds measured")
        t, r = statistics.median(self.rounds[target]), statistics.median(self.rounds[reference])
        return RatioMeasurement(t / r, t, r, list(self.rounds[target]), list(self.rounds[reference]))


def measure_ratios(
    targets: dict[str, Callable[[], object]],
    reference: Callable[[], object],
    rounds: int = 31,
    warmup: int = 2,
    calls: int = 5,
    clock: Callable[[], float] = time.thread_time,
) -> dict[str, RatioMeasurement]:
    """Each target's ratio to ``reference``, all measured interleaved in the same rounds."""
    if "reference" in targets:
        raise ValueError("'reference' is reserved for the reference workload")
    timer = InterleavedTimer({"reference": reference, **targets}, calls, clock)
    timer.warmup(warmup)
    for _ in range(rounds):
        timer.round()
    return {name: timer.ratio(name) for name in targets}


def measure_ratio(target: Callable[[], object], reference: Callable[[], object], **kwargs) -> RatioMeasurement:
    return measure_ratios({"target": target}, reference, **kwargs)["target"]


class SlowedDown:
    """Wrap a callable so each call costs ``1 + fraction`` times as much (CPU busy work).

    Used to show that the gate trips on a real slowdown. ``clock`` should be the gate's clock.
    """

    def __init__(self, fn: Callable[[], object], fraction: float, clock: Callable[[], float] = time.thread_time):
        self.fn, self.fraction, self.clock = fn, float(fraction), clock

    def __call__(self):
        t0 = self.clock()
        out = self.fn()
        until = self.clock() + (self.clock() - t0) * self.fraction
        while self.clock() < until:
            pass
        return out


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    measured: float
    expected: float
    limit: float

    def message(self) -> str:
        change = 100.0 * (self.measured / self.expected - 1.0)
        verb = "within" if self.passed else "ABOVE"
        return (f"update/reference ratio {self.measured:.3f} vs expected {self.expected:.3f} "
                f"({change:+.1f}%), {verb} the limit {self.limit:.3f}")


def check_ratio(measured: float, expected: float, tolerance: float) -> GateVerdict:
    if not (expected > 0 and tolerance >= 0):
        raise ValueError(f"expected ratio must be > 0 and tolerance >= 0, got {expected}, {tolerance}")
    limit = expected * (1.0 + tolerance)
    return GateVerdict(bool(measured <= limit), float(measured), float(expected), float(limit))


@dataclass(frozen=True)
class GateBaseline:
    """The committed expectation (``benchmarks/gate/baseline.json``)."""

    ratio: float  # expected median(update) / median(reference)
    tolerance: float  # fail above ratio * (1 + tolerance)
    model: str  # what was gated (e.g. "tiny random network (tests/conftest.py TINY_ARCH)")
    backend: str
    threads: int
    reference: dict
    rounds: int
    calls: int
    measured: dict = field(default_factory=dict)  # repeats, spread, machine, date, command

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GateBaseline":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(**d)
        except FileNotFoundError as e:
            raise GateBaselineError(f"gate baseline not found: {path} (measure it: see docs/evaluation.md)") from e
        except (json.JSONDecodeError, TypeError) as e:
            raise GateBaselineError(f"gate baseline {path} is malformed: {e}") from e

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)
