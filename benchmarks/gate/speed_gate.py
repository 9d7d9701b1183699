"""FPS regression gate: the tracker's update time as a ratio to a fixed reference workload.

Absolute timings on shared CI machines swing by 2x between runs (RUNTIME-AND-ECOSYSTEM.md 4.3-4.5);
the ratio of two workloads measured *interleaved in the same process* moves much less, because
both see the same machine state. So the gate measures, in alternating order (ABBA), a fixed
single-threaded ONNX Runtime GEMM workload shaped like a ViT-Tiny block and the tracker's ``update``,
takes the median of each over several rounds, and compares ``median(update) / median(reference)``
with a committed expected ratio (``benchmarks/gate/baseline.json``): the gate fails when the
ratio exceeds ``expected * (1 + tolerance)``. The ratio compares two kinds of code (a conv stem +
attention against plain GEMMs), so it depends on the CPU: the baseline keeps one expected ratio
per CPU model (:func:`sstrack_edge.bench.cpu_name`; 5.58 recorded on AMD EPYC and 6.51 on an Intel
Xeon for the same model), and a CPU without one has no expectation to gate against.

The tracker must run on a fixed thread count (1, OpenCV included) for the ratio to be meaningful.
CI-gate code, not part of the runtime package: imported by tests/perf/test_fps_gate.py and
benchmarks/gate/gate_noise.py (``from speed_gate import ...`` with this folder on ``sys.path``).
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


def reference_graph(shape: ReferenceShape) -> bytes:
    """ONNX bytes of the reference: ``blocks`` x (MatMul qkv, MatMul proj, MatMul fc1, Relu, MatMul fc2).

    Weights are ``ConstantOfShape`` nodes (folded into constants when the session is created), so
    the graph is a few hundred bytes and needs no weight file. Built with the ``onnx`` package
    (dev / train dependency; the runtime never needs it).
    """
    try:
        from onnx import TensorProto, helper
    except ImportError as e:
        raise RuntimeError("the FPS gate builds its reference graph with the onnx package (pip install onnx)") from e
    d, m = shape.dim, shape.mlp
    nodes, inits, x = [], [], "x"

    def weight(name, rows, cols):
        inits.append(helper.make_tensor(name + "_shape", TensorProto.INT64, [2], [rows, cols]))
        value = helper.make_tensor("value", TensorProto.FLOAT, [1], [0.01])
        nodes.append(helper.make_node("ConstantOfShape", [name + "_shape"], [name], value=value))

    for b in range(shape.blocks):
        for name, rows, cols in ((f"qkv{b}", d, 3 * d), (f"proj{b}", 3 * d, d), (f"fc1_{b}", d, m), (f"fc2_{b}", m, d)):
            weight(name, rows, cols)
        nodes += [
            helper.make_node("MatMul", [x, f"qkv{b}"], [f"t{b}_qkv"]),
            helper.make_node("MatMul", [f"t{b}_qkv", f"proj{b}"], [f"t{b}_a"]),
            helper.make_node("MatMul", [f"t{b}_a", f"fc1_{b}"], [f"t{b}_h"]),
            helper.make_node("Relu", [f"t{b}_h"], [f"t{b}_r"]),
            helper.make_node("MatMul", [f"t{b}_r", f"fc2_{b}"], [f"t{b}_y"]),
        ]
        x = f"t{b}_y"
    graph = helper.make_graph(
        nodes, "fps_gate_reference",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [shape.tokens, d])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [shape.tokens, d])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


class ReferenceWorkload:
    """A fixed GEMM workload shaped like a ViT-Tiny block, run by ONNX Runtime on one thread.

    The same engine (MLAS) and thread count as the tracker's network, so machine effects that slow
    one down slow the other down too. (A NumPy/OpenBLAS GEMM was tried first: its CPU time changed
    by ~45% depending on which tests had run before in the same process; see docs/evaluation.md.)
    """

    def __init__(self, shape: ReferenceShape = ReferenceShape(), seed: int = 0):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.shape = shape
        self._session = ort.InferenceSession(reference_graph(shape), opts, providers=["CPUExecutionProvider"])
        self._feed = {"x": np.random.default_rng(seed).standard_normal((shape.tokens, shape.dim), dtype=np.float32)}

    def __call__(self) -> None:
        self._session.run(None, self._feed)


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


def confirmed(verdict: GateVerdict, remeasure, expected: float, tolerance: float) -> tuple[GateVerdict, str]:
    """The gate's rule: a measurement above the limit is measured once more, and the gate fails only
    when that one is above the limit too. A real slowdown slows every measurement; a busy shared host
    rarely slows two in a row (a CI run read 1.40 against 1.21, standalone runs minutes later
    1.19-1.33). Returns the deciding verdict and a message naming both measurements."""
    if verdict.passed:
        return verdict, verdict.message()
    again = check_ratio(remeasure(), expected, tolerance)
    return again, f"{verdict.message()}; measured again: {again.message()}"


@dataclass(frozen=True)
class GateBaseline:
    """The committed expectation (``benchmarks/gate/baseline.json``): what is gated and how, and per
    CPU model (:func:`sstrack_edge.bench.cpu_name`) the expected ratio with how it was measured."""

    tolerance: float  # fail above ratio * (1 + tolerance)
    model: str  # what was gated (e.g. "tiny random network (tests/conftest.py TINY_ARCH)")
    backend: str
    threads: int
    reference: dict
    rounds: int
    calls: int
    machines: dict = field(default_factory=dict)  # bench.cpu_name() -> {"ratio", "repeats", "min", "max", "date", ...}
    precision: str = "fp32"  # Tracker(precision=...) of the gated variant

    def ratio_for(self, cpu: str) -> float | None:
        """Expected ratio on ``cpu`` (a :func:`sstrack_edge.bench.cpu_name`), None when none was recorded for it."""
        entry = self.machines.get(cpu)
        return None if entry is None else float(entry["ratio"])

    def with_machine(self, cpu: str, entry: dict) -> "GateBaseline":
        return GateBaseline(**{**asdict(self), "machines": {**self.machines, cpu: dict(entry)}})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GateBaseline":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            base = cls(**d)
            if not all(isinstance(e, dict) and float(e.get("ratio", 0)) > 0 for e in base.machines.values()):
                raise TypeError("every machines entry needs a positive 'ratio'")
            return base
        except FileNotFoundError as e:
            raise GateBaselineError(f"gate baseline not found: {path} (measure it: see docs/evaluation.md)") from e
        except (json.JSONDecodeError, TypeError, ValueError) as e:
            raise GateBaselineError(f"gate baseline {path} is malformed: {e}") from e

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)
