"""Prototype: held-out TRE-10 of models/default with a second, recent template (decision_rule.txt).

    python benchmarks/results/template_update/prototype_tre.py [--threads 2] [--json OUT]
    python benchmarks/results/template_update/prototype_tre.py --data ../shared/data/sot/eval \
        --sequences all --starts 1 --grid 10,0.5      # the eval split, for the record (OPE)

Runs the shipped runtime and each grid setting on the same segments in one process.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sstrack_edge import Tracker, load_model
from sstrack_edge import geometry
from sstrack_edge.evaluation import load_dataset, temporal_segments
from sstrack_edge.evaluation.metrics import score_sequence
from sstrack_edge.evaluation.temporal import parent_name

GRID = [(10, 0.5), (25, 0.5), (10, 0.3), (25, 0.3)]
MIN_SCORE = 0.5


class TwoTemplateTracker(Tracker):
    """Tracker() plus a dynamic template (the most recent confident box, refreshed every N frames)."""

    def __init__(self, model, interval: int, weight: float):
        super().__init__(model)
        self.interval, self.weight = interval, weight
        run = self._run

        def fused(template, search):
            a = run(template, search)
            b = run(self._dynamic, search)
            return tuple((1 - self.weight) * x + self.weight * y for x, y in zip(a, b))

        self._run = fused

    def init(self, frame, bbox):
        super().init(frame, bbox)
        self._dynamic = self._template.copy()
        self._since = 0

    def update(self, frame):
        ok, box = super().update(frame)
        self._since += 1
        r = self.result
        if ok and r.state == "tracking" and r.score >= MIN_SCORE and self._since >= self.interval:
            x, y, w, h = self._box
            side = geometry.crop_side(self._box, self._template_factor)
            self._fill_input(frame, x + w / 2, y + h / 2, side, self._tz, self._dynamic)
            self._since = 0
        return ok, box


def tre(make, segments):
    per = {}
    t0 = time.perf_counter()
    for seg in segments:
        trk = make()
        trk.init(seg.read_frame(0), seg.init_box)
        pred = [seg.init_box]
        for i in range(1, len(seg)):
            _, b = trk.update(seg.read_frame(i))
            pred.append(np.asarray(b, dtype=np.float64))
        s = score_sequence(np.asarray(pred), seg.ground_truth, seg.present())
        per.setdefault(parent_name(seg), []).append(s.auc)
    aucs = [a for v in per.values() for a in v]
    return {"auc": round(100 * float(np.mean(aucs)), 2),
            "per_sequence": {k: round(100 * float(np.mean(v)), 2) for k, v in per.items()},
            "seconds": round(time.perf_counter() - t0, 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="models/default")
    p.add_argument("--data", default="../shared/data/sot/train")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument("--sequences", default="building5,wakeboard3", help="comma list, or 'all'")
    p.add_argument("--starts", type=int, default=10)
    p.add_argument("--grid", nargs="*", help="N,w pairs (default: the decision rule's four)")
    a = p.parse_args()
    grid = [(int(g.split(",")[0]), float(g.split(",")[1])) for g in a.grid] if a.grid else GRID
    names = None if a.sequences == "all" else a.sequences.split(",")
    model = load_model(a.model, threads=a.threads)
    segments = temporal_segments(load_dataset(Path(a.data), "sot", names), a.starts)
    out = {"model": model.describe(), "data": a.data, "sequences": a.sequences, "starts": a.starts,
           "segments": len(segments), "min_score": MIN_SCORE, "rows": []}
    rows = [("shipped (no update)", lambda: Tracker(model))]
    rows += [(f"N={n} w={w}", (lambda n=n, w=w: TwoTemplateTracker(model, n, w))) for n, w in grid]
    for name, make in rows:
        r = tre(make, segments)
        r["setting"] = name
        out["rows"].append(r)
        print(f"{name:22s} AUC ({a.starts} starts) {r['auc']:6.2f}  {r['per_sequence']}  ({r['seconds']} s)", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
