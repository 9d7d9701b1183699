"""Flip test-time augmentation, measured on the held-out validation clips (not adopted).

Runs the shipped model (ORT FP32, the card's tracker settings) on each clip once per fusion mode of
the network's maps on the crops as they are (A) and on the crops mirrored left-right (B; its maps
mirrored back, and the x offset of a mirrored cell is 1 - dx). Prints and writes per-clip success AUC.

    python benchmarks/results/flip_tta/flip_tta.py [--model models/default] [--data ../shared/data/sot/train]
        [--sequences building5,wakeboard3] [--json benchmarks/results/flip_tta/flip_tta.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

import sstrack_edge
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.metrics import score_sequence, summarize


def _mean(a, b):
    return [(x + y) / 2 for x, y in zip(a, b)]


def _score_weighted(k):
    def fuse(a, b):  # score: mean; size / offset: per cell, weighted by each view's score ** k
        wa, wb = a[0] ** k, b[0] ** k
        return [(a[0] + b[0]) / 2] + [(wa * x + wb * y) / (wa + wb) for x, y in zip(a[1:], b[1:])]
    return fuse


MODES = {
    "plain (A)": lambda a, b: a,
    "mirrored only (B)": lambda a, b: b,
    "mean of A and B (all maps)": _mean,
    "score mean, size/offset of A": lambda a, b: [(a[0] + b[0]) / 2, a[1], a[2]],
    "score mean, size/offset weighted by score": _score_weighted(1),
    "score mean, size/offset weighted by score^4": _score_weighted(4),
}


def fused(loaded, fuse):
    def factory(_model):
        base = loaded.create_runner()

        def run(t, s):
            a = [np.array(m) for m in base(t, s)]  # copies: runners may reuse their buffers
            b = [np.array(m)[..., ::-1].copy() for m in base(np.ascontiguousarray(t[..., ::-1]),
                                                              np.ascontiguousarray(s[..., ::-1]))]
            b[2][0] = 1.0 - b[2][0]
            return tuple(fuse(a, b))

        return run

    return dataclasses.replace(loaded, runner_factory=factory)


def track(model, seq) -> np.ndarray:
    tracker = sstrack_edge.Tracker(model)
    pred = np.zeros((len(seq), 4))
    pred[0] = seq.init_box
    tracker.init(seq.read_frame(0), seq.init_box)
    for i in range(1, len(seq)):
        _, pred[i] = tracker.update(seq.read_frame(i))
    return pred


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--data", default="../shared/data/sot/train")
    p.add_argument("--sequences", default="building5,wakeboard3")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    loaded = sstrack_edge.load_model(a.model, backend="onnxruntime", precision="fp32", threads=1)
    seqs = load_dataset(a.data, "sot", a.sequences.split(","))
    out = {}
    for name, fuse in MODES.items():
        scores = [score_sequence(track(fused(loaded, fuse), s), s.ground_truth, s.present()) for s in seqs]
        out[name] = {"auc": round(100 * summarize(scores).auc, 2),
                     "per_sequence": {s.name: round(100 * r.auc, 1) for s, r in zip(seqs, scores)}}
        print(f"{name:45s} {json.dumps(out[name])}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"model": a.model, "data": a.data, "modes": out}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
