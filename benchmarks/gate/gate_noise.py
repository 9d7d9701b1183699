"""Observe the FPS gate's noise: repeat the gate measurement and the injected 20% slowdown.

    PYTHONPATH=. python benchmarks/gate/gate_noise.py --repeats 5            # exports the tiny test network
    PYTHONPATH=. python benchmarks/gate/gate_noise.py --model DIR --repeats 5

Each repeat measures, interleaved in one run, the reference, ``Tracker.update`` and the same
update slowed down by 20%, exactly as tests/perf/test_fps_gate.py does, and prints both ratios
and the verdicts against benchmarks/gate/baseline.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from speed_gate import (  # noqa: E402  (this folder: the script's own directory is on sys.path)
    GateBaseline, ReferenceShape, ReferenceWorkload, SlowedDown, check_ratio, measure_ratios,
)

from sstrack_edge.bench import cpu_name  # noqa: E402

TINY_ARCH = dict(depth=2, embed_dim=64, num_heads=2, head_channels=32)  # = tests/conftest.py


def export_tiny(out: Path) -> Path:
    import torch

    from training.export.package import export_model
    from training.models.ostrack import ModelConfig, build_model

    torch.manual_seed(0)
    export_model(build_model(ModelConfig(**TINY_ARCH)).eval(), out, name="tiny-random-test", trained=False,
                 openvino=False)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="model dir (default: export the tiny test network)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--slowdown", type=float, default=0.20)
    args = ap.parse_args()
    gate = GateBaseline.load(REPO / "benchmarks" / "gate" / "baseline.json")
    expected = gate.ratio_for(cpu_name())
    if expected is None:
        print(f"no gate ratio recorded for {cpu_name()!r} (recorded: {sorted(gate.machines)})", file=sys.stderr)
        return 2
    model = args.model or export_tiny(Path(tempfile.mkdtemp(prefix="gate_tiny_")))

    from sstrack_edge.tracker import Tracker

    cv2.setNumThreads(gate.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracker = Tracker(model=model, backend=gate.backend, precision="fp32", threads=gate.threads)
    frame = np.random.default_rng(0).integers(0, 256, size=(360, 640, 3), dtype=np.uint8)
    tracker.init(frame, (300.0, 150.0, 40.0, 60.0))
    update = lambda: tracker.update(frame)  # noqa: E731
    reference = ReferenceWorkload(ReferenceShape(**gate.reference))

    print(f"baseline ratio {expected}, tolerance {gate.tolerance:.0%}, limit "
          f"{expected * (1 + gate.tolerance):.4f}")
    print("repeat  ratio  vs-baseline  gate   slowed-ratio  vs-baseline  gate   update-ms  reference-ms")
    ratios = []
    for i in range(args.repeats):
        m = measure_ratios({"update": update, "slowed": SlowedDown(update, args.slowdown)}, reference,
                           rounds=gate.rounds, calls=gate.calls)
        u, s = m["update"], m["slowed"]
        vu = check_ratio(u.ratio, expected, gate.tolerance)
        vs = check_ratio(s.ratio, expected, gate.tolerance)
        ratios.append(u.ratio)
        print(f"{i + 1:>6}  {u.ratio:.4f}  {100 * (u.ratio / expected - 1):+10.1f}%  "
              f"{'pass' if vu.passed else 'FAIL'}   {s.ratio:.4f}  {100 * (s.ratio / expected - 1):+17.1f}%  "
              f"{'pass' if vs.passed else 'FAIL'}   {1e3 * u.target_s:9.2f}  {1e3 * u.reference_s:12.2f}")
    print(f"ratio min {min(ratios):.4f} max {max(ratios):.4f} median {statistics.median(ratios):.4f} "
          f"spread {100 * (max(ratios) / min(ratios) - 1):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
