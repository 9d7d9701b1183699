"""FPS regression gate: ``Tracker.update`` time as a ratio to a fixed GEMM workload, same run.

The gate (``test_update_speed_ratio_gate``) fails when ``median(update) / median(reference)``
exceeds the committed ``benchmarks/gate/baseline.json`` ratio of this CPU model by more than its
tolerance in two measurements in a row (``confirmed``); on a CPU model with no recorded ratio it is skipped, and the skip reason says how to
record one.
``test_gate_trips_on_a_20_percent_slowdown_and_not_on_noise`` shows the threshold separates an
injected 20% slowdown from run-to-run noise.

Gated model: the bundled default model (``models/default``, what ``Tracker()`` loads) on the backend
and precision named in the baseline (ONNX Runtime, 1 thread: ORT runs a 1-thread session on the
calling thread, so thread CPU time covers all of ``update``; OpenVINO computes in its own worker
threads, which this clock would not see).

Re-measure this CPU model's expected ratio (5 repeats; writes its entry into benchmarks/gate/baseline.json)::

    SSTRACK_GATE_RECORD=5 PYTHONPATH=. pytest tests/perf -m perf -k ratio_gate -p no:randomly

Keep pytest-benchmark's JSON for trends with ``--benchmark-json=<file>``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sstrack_edge.bench import cpu_name

GATE = Path(__file__).resolve().parents[2] / "benchmarks" / "gate"
sys.path.insert(0, str(GATE))
from speed_gate import (  # noqa: E402  (CI-gate code lives beside its baseline, not in the runtime package)
    GateBaseline, GateBaselineError, InterleavedTimer, ReferenceShape, ReferenceWorkload, SlowedDown, check_ratio,
    confirmed, measure_ratios,
)

pytestmark = pytest.mark.perf

BASELINE = GATE / "baseline.json"
RECORD_ENV = "SSTRACK_GATE_RECORD"


@pytest.fixture(scope="module")
def baseline() -> GateBaseline:
    return GateBaseline.load(BASELINE)


@pytest.fixture(scope="module")
def reference(baseline):
    pytest.importorskip("onnx")
    return ReferenceWorkload(ReferenceShape(**baseline.reference))


@pytest.fixture(scope="module")
def one_opencv_thread(baseline):
    """OpenCV's own pool (warpAffine in the crop) must also run on the calling thread: the gate
    times the caller's CPU time, and other tests may leave cv2 at any thread count."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(baseline.threads)
    yield
    cv2.setNumThreads(previous)


@pytest.fixture(scope="module")
def update(baseline, one_opencv_thread):
    """``tracker.update`` of the default model on one fixed pre-decoded real frame (the first of
    ``sstrack-edge bench``'s clip; no video decode in the timing), its target initialised there: the
    tracker stays on it, so every call does the same work. Thresholds 0 keep it in the tracking
    regime (one network call per update): a lost tracker scans the frame with ``redetect_tiles``
    more calls (timed by benchmarks/redetect_latency.py), and one that follows noise changes its
    crop from call to call."""
    from sstrack_edge.bench import load_bench_frames
    from sstrack_edge.tracker import Tracker

    tracker = Tracker(backend=baseline.backend, precision=baseline.precision, threads=baseline.threads,
                      lost_threshold=0.0, lost_relative=0.0)
    frames, box, _ = load_bench_frames(1)
    frame = frames[0]
    tracker.init(frame, box)
    return lambda: tracker.update(frame)


def _record(baseline: GateBaseline, update, reference, repeats: int) -> GateBaseline:
    ratios = [measure_ratios({"update": update}, reference, rounds=baseline.rounds, calls=baseline.calls)["update"].ratio
              for _ in range(repeats)]
    import onnxruntime

    new = baseline.with_machine(cpu_name(), {
        "ratio": round(statistics.median(ratios), 4), "repeats": [round(r, 4) for r in ratios],
        "min": round(min(ratios), 4), "max": round(max(ratios), 4), "onnxruntime": onnxruntime.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": f"{RECORD_ENV}={repeats} PYTHONPATH=. pytest tests/perf -m perf -k ratio_gate",
        "machine": f"{os.cpu_count()} cpus, {platform.system()} {platform.machine()}, Python {platform.python_version()}",
    })
    new.save(BASELINE)
    return new


def test_update_speed_ratio_gate(benchmark, baseline, update, reference):
    repeats = int(os.environ.get(RECORD_ENV, "0") or 0)
    if repeats > 0:
        baseline = _record(baseline, update, reference, repeats)
    cpu = cpu_name()
    expected = baseline.ratio_for(cpu)
    if expected is None:
        pytest.skip(f"no FPS-gate ratio recorded for this CPU model {cpu!r} (recorded: {sorted(baseline.machines)}); "
                    f"the ratio depends on the CPU: record one here with {RECORD_ENV}=5 (tests/perf/test_fps_gate.py)")
    timer = InterleavedTimer({"reference": reference, "update": update}, calls=baseline.calls)
    timer.warmup()
    # pytest-benchmark drives the interleaved rounds and keeps their wall times for trends
    benchmark.pedantic(timer.round, rounds=baseline.rounds, warmup_rounds=0, iterations=1)
    while len(timer.rounds["update"]) < baseline.rounds:  # --benchmark-disable runs one round only
        timer.round()
    m = timer.ratio("update")
    verdict = check_ratio(m.ratio, expected, baseline.tolerance)
    benchmark.extra_info.update(
        ratio=m.ratio, expected_ratio=expected, cpu=cpu, limit=verdict.limit, update_ms_cpu=1e3 * m.target_s,
        reference_ms_cpu=1e3 * m.reference_s, update_fps_cpu=1.0 / m.target_s, model=baseline.model,
    )
    verdict, message = confirmed(verdict, lambda: _measure(update, reference, baseline), expected, baseline.tolerance)
    benchmark.extra_info.update(confirmed_ratio=verdict.measured)
    assert verdict.passed, message + " - a real slowdown, or re-measure the baseline (see docstring)"


def _measure(update, reference, baseline) -> float:
    return measure_ratios({"update": update}, reference, rounds=baseline.rounds, calls=baseline.calls)["update"].ratio


def test_gate_trips_on_a_20_percent_slowdown_and_not_on_noise(baseline, update, reference):
    """Baseline from one measurement; a later one of the same code passes, a 20% slower one fails."""
    rounds, calls = baseline.rounds, baseline.calls
    first = measure_ratios({"update": update}, reference, rounds=rounds, calls=calls)["update"]
    later = measure_ratios({"update": update, "slowed": SlowedDown(update, 0.20)}, reference, rounds=rounds,
                           calls=calls)
    same = check_ratio(later["update"].ratio, first.ratio, baseline.tolerance)
    slowed = check_ratio(later["slowed"].ratio, first.ratio, baseline.tolerance)
    assert same.passed, "noise tripped the gate: " + same.message()
    assert not slowed.passed, "a 20% slowdown passed the gate: " + slowed.message()
    # the confirmation a failing measurement gets does not let a real slowdown through
    slow = SlowedDown(update, 0.20)
    verdict, message = confirmed(slowed, lambda: _measure(slow, reference, baseline), first.ratio, baseline.tolerance)
    assert not verdict.passed, "a 20% slowdown passed the confirmation: " + message


def test_slowed_down_wrapper_costs_the_requested_fraction(reference):
    m = measure_ratios({"slowed": SlowedDown(reference, 0.5)}, reference, rounds=9, calls=2)["slowed"]
    assert 1.35 < m.ratio < 1.65


def test_malformed_baseline_is_a_clear_error(tmp_path):
    with pytest.raises(GateBaselineError, match="not found"):
        GateBaseline.load(tmp_path / "baseline.json")
    (tmp_path / "baseline.json").write_text('{"ratio": 1.0}')
    with pytest.raises(GateBaselineError, match="malformed"):
        GateBaseline.load(tmp_path / "baseline.json")
    good = json.loads(BASELINE.read_text())
    (tmp_path / "baseline.json").write_text(json.dumps({**good, "machines": {"Some CPU (x86_64)": {"repeats": [1]}}}))
    with pytest.raises(GateBaselineError, match="positive 'ratio'"):
        GateBaseline.load(tmp_path / "baseline.json")


def test_expected_ratio_is_per_cpu_model(baseline):
    assert baseline.machines and all(baseline.ratio_for(cpu) > 0 for cpu in baseline.machines)
    assert baseline.ratio_for("No Such CPU (x86_64)") is None
    added = baseline.with_machine("No Such CPU (x86_64)", {"ratio": 2.5})
    assert added.ratio_for("No Such CPU (x86_64)") == 2.5 and baseline.ratio_for("No Such CPU (x86_64)") is None
    assert cpu_name().endswith(f"({platform.machine()})")
