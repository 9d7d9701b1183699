"""What does re-detection cost per frame? ``update()`` while tracking vs while re-detecting.

One process, one thread, the tracker ``Tracker(MODEL)`` picks, real frames (``sstrack-edge bench``'s
eval sequence). Per round, interleaved (ABBA over rounds): ``--updates`` timed updates while
tracking the real clip, and ``--updates`` timed updates while re-detecting (black frames after the
card's patience has run out) for each ``redetect_tiles`` value asked (card value replaced). Prints
the median latency of each and its ratio to tracking, measured side by side.

    python benchmarks/redetect_latency.py [MODEL_DIR] [--tiles 0,8] [--rounds 8] [--updates 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from sstrack_edge import ModelCard, Tracker, load_model
from sstrack_edge.backends import default_model_dir
from sstrack_edge.bench import load_bench_frames


def timed(tracker: Tracker, frames) -> list[float]:
    out = []
    for frame in frames:
        t0 = time.perf_counter()
        tracker.update(frame)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None, help="model directory (default: the bundled model)")
    p.add_argument("--tiles", default="0,8", help="redetect_tiles values to time (comma-separated)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--updates", type=int, default=20)
    args = p.parse_args(argv)
    card = ModelCard.load(args.model or default_model_dir())
    model = load_model(card, threads=1)
    frames, box, desc = load_bench_frames(args.updates)
    black = np.zeros_like(frames[0])
    patience = int(card.inference.get("lost_patience", 0))
    rows = {"tracking": Tracker(model)}
    for k in (int(v) for v in args.tiles.split(",")):
        lost = replace(card, inference={**card.inference, "redetect_tiles": k})
        rows[f"re-detecting, redetect_tiles={k}"] = Tracker(load_model(lost, threads=1))
    times = {name: [] for name in rows}
    for r in range(args.rounds):
        for name in (list(rows) if r % 2 == 0 else list(rows)[::-1]):
            tracker = rows[name]
            tracker.init(frames[0], box)
            if name == "tracking":
                times[name] += timed(tracker, frames[1 : args.updates + 1])
            else:
                for _ in range(patience + 1):
                    tracker.update(black)
                times[name] += timed(tracker, [black] * args.updates)
                assert tracker.result.lost
    print(f"{model.describe()}, 1 thread; frames: {desc}; {args.rounds} interleaved rounds x {args.updates} updates")
    base = statistics.median(times["tracking"])
    for name, ms in times.items():
        med = statistics.median(ms)
        print(f"  {name:34s} median {med:6.2f} ms   x{med / base:5.2f} of tracking")


if __name__ == "__main__":
    main()
