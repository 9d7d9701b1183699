"""Per-target cost of ``MultiTracker.update`` (one batched network call) against N separate
``Tracker.update`` calls, side by side in one run on real frames (issue 31 item 4).

    python benchmarks/multi_target.py [--model models/default] [--sequence S1301] [--frames 40]
                                      [--targets 1,2,4,8,16] [--threads 1,2] [--json out.json]
    python benchmarks/multi_target.py --network ...   # the network call alone, per batch size

For each backend x precision with a batched variant, thread count and N: N targets in a grid of the
ground-truth box's size over a real eval sequence; per frame the N separate trackers (sharing one
compiled batch-1 network) and the MultiTracker both track the frame, in alternating order (ABBA)
so both see the same machine state. Reported: median per-target milliseconds of each and their
ratio, and the MultiTracker's per-target cost over a single tracker's ``update`` (N = 1 separate,
same run): the issue's goal is <= 0.5 at N = 8. Also the single ``Tracker()`` of a default install
(its auto variant, e.g. ORT INT8 on a plain install) as the reference a user would compare with.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import sstrack_edge
from sstrack_edge import MultiTracker, Tracker
from sstrack_edge.bench import cpu_name
from sstrack_edge.paths import REPO, shared_root


def load_frames(sequence: str, n: int):
    root = shared_root() / "data" / "sot" / "eval" / sequence
    files = sorted((root / "img").glob("*.jpg"))[:n]
    gt = np.loadtxt(root / "groundtruth.txt", delimiter=",", ndmin=2)[0]
    return [cv2.imread(str(f)) for f in files], tuple(float(v) for v in gt)


def grid_boxes(box, frame_shape, n: int) -> list[tuple[float, float, float, float]]:
    """The ground-truth box first, then ``n - 1`` boxes of its size on a grid over the frame."""
    x, y, w, h = box
    H, W = frame_shape[:2]
    cols = max(1, int(W // (1.5 * w)))
    boxes = [box]
    k = 0
    while len(boxes) < n:
        gx, gy = (k % cols) * 1.5 * w, (k // cols) * 1.5 * h
        k += 1
        if gy + h > H:
            gx, gy = (k * 7.3) % (W - w), (k * 5.1) % (H - h)  # more targets than grid cells: scatter
        boxes.append((gx, gy, w, h))
    return boxes


def measure(model: str, backend: str, precision: str, threads: int, n: int, frames, box) -> dict:
    single = sstrack_edge.load_model(model, backend=backend, precision=precision, threads=threads)
    multi = MultiTracker(model, backend=backend, precision=precision, threads=threads)
    boxes = grid_boxes(box, frames[0].shape, n)
    separate = [Tracker(single) for _ in boxes]
    for t, b in zip(separate, boxes):
        t.init(frames[0], b)
        multi.add(frames[0], b)
    for f in frames[1:4]:  # warm-up (OpenVINO compiles the batch-N network on first use)
        multi.update(f)
        for t in separate:
            t.update(f)
    sep_ms, multi_ms = [], []

    def run_separate(f):
        t0 = time.perf_counter()
        for t in separate:
            t.update(f)
        sep_ms.append((time.perf_counter() - t0) * 1e3 / n)

    def run_multi(f):
        t0 = time.perf_counter()
        multi.update(f)
        multi_ms.append((time.perf_counter() - t0) * 1e3 / n)

    for k, f in enumerate(frames[4:]):
        first, second = (run_separate, run_multi) if k % 2 == 0 else (run_multi, run_separate)
        first(f)
        second(f)
    return {
        "backend": backend, "precision": precision, "variant": multi.model.variant.name, "threads": threads, "n": n,
        "separate_ms_per_target": statistics.median(sep_ms), "multi_ms_per_target": statistics.median(multi_ms),
        "frames": len(sep_ms),
    }


def network_rows(model: str, threads: int, sizes: list[int], calls: int = 40) -> list[dict]:
    """The network call alone on random 0..255 inputs, per batch size: ONNX Runtime FP32 (one
    dynamic-batch session), OpenVINO FP32 compiled static per batch size (what MultiTracker runs)
    and OpenVINO compiled once with the dynamic batch (the alternative it does not use)."""
    import openvino as ov

    card = sstrack_edge.ModelCard.load(model)
    ort_model = sstrack_edge.load_model(model, backend="onnxruntime", precision="fp32", threads=threads, batched=True)
    ov_model = sstrack_edge.load_model(model, backend="openvino", precision="fp32", threads=threads, batched=True)
    dyn = ov.Core().compile_model(ov_model.ov_source, "CPU", ov_model.ov_config).create_infer_request()
    runs = {
        "onnxruntime": ort_model.create_batch_runner(),
        "openvino static per N": ov_model.create_batch_runner(),
        "openvino dynamic N": lambda z, x: dyn.infer({"template": z, "search": x}),
    }
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        z = rng.uniform(0, 255, (n, 3, card.template.size, card.template.size)).astype(np.float32)
        x = rng.uniform(0, 255, (n, 3, card.search.size, card.search.size)).astype(np.float32)
        times: dict[str, list[float]] = {k: [] for k in runs}
        for fn in runs.values():
            fn(z, x)  # warm-up / compile
        for k in range(calls):  # interleaved, order rotating
            names = list(runs)[k % len(runs):] + list(runs)[: k % len(runs)]
            for name in names:
                t0 = time.perf_counter()
                runs[name](z, x)
                times[name].append((time.perf_counter() - t0) * 1e3)
        rows += [{"engine": k, "threads": threads, "n": n, "ms_per_call": statistics.median(v),
                  "ms_per_target": statistics.median(v) / n} for k, v in times.items()]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "models" / "default"))
    p.add_argument("--sequence", default="S1301")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--targets", default="1,2,4,8,16")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--network", action="store_true", help="time the network call alone per batch size")
    args = p.parse_args(argv)
    if args.network:
        rows = [r for t in args.threads.split(",") for r in network_rows(args.model, int(t), [int(x) for x in args.targets.split(",")])]
        print(f"{cpu_name()}; network call alone, FP32, median of 40 interleaved calls\n")
        print("| engine | threads | N | ms per call | ms per target |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r['engine']} | {r['threads']} | {r['n']} | {r['ms_per_call']:.3f} | {r['ms_per_target']:.3f} |")
        if args.json:
            args.json.write_text(json.dumps({"cpu": cpu_name(), "rows": rows}, indent=1))
        return 0
    frames, box = load_frames(args.sequence, args.frames + 4)
    card = sstrack_edge.ModelCard.load(args.model)
    pairs = [(v.backend, v.precision) for v in card.variants if v.batched and v.kept]
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        auto = Tracker(args.model, threads=threads)  # what a default install's Tracker() runs
        auto.init(frames[0], box)
        auto_ms = []
        for f in frames[1:]:
            auto.update(f)
            auto_ms.append(auto.result.latency_ms)
        for backend, precision in pairs:
            for n in [int(x) for x in args.targets.split(",")]:
                r = measure(args.model, backend, precision, threads, n, frames, box)
                r["auto_variant"], r["auto_single_ms"] = auto.model.variant.name, statistics.median(auto_ms)
                rows.append(r)
                print(json.dumps(r), file=sys.stderr)
    single = {(r["backend"], r["threads"]): r["separate_ms_per_target"] for r in rows if r["n"] == 1}
    print(f"{cpu_name()}, {platform.machine()}; {args.sequence}, {args.frames} frames; median ms per target\n")
    print("| backend / precision | threads | N | N separate Trackers | MultiTracker | ratio | MultiTracker / one Tracker |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        one = single.get((r["backend"], r["threads"]))
        print(f"| {r['variant']} | {r['threads']} | {r['n']} | {r['separate_ms_per_target']:.3f} | "
              f"{r['multi_ms_per_target']:.3f} | {r['multi_ms_per_target'] / r['separate_ms_per_target']:.2f} | "
              f"{r['multi_ms_per_target'] / one:.2f} |" if one else "")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "sequence": args.sequence, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
