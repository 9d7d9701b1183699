"""Choose a trained model's ``inference.lost_threshold`` on training sequences (never on eval).

The score-map maximum of a trained network is its confidence; where to call the target lost
depends on the network, so the threshold travels in the model card. This tool tracks every
sequence of a sot-layout folder with the runtime ``Tracker`` while never declaring the target
lost (threshold 0), records each frame's score and IoU with the ground truth, and treats "lost"
as a detector of failures: a frame is a failure when the target is absent or the box overlaps it
by less than ``FAILURE_IOU`` (0.1). The chosen threshold maximizes Youden's index

    Y(t) = P(score < t | failure) - P(score < t | not a failure)

(ties: the lower threshold). The table also shows what a threshold costs in the offline score:
``J(t)`` = mean over sequences of mean IoU over visible frames, frames below ``t`` counted 0 (the
evaluation toolkit scores ``ok=False`` frames as failures). Recovery while lost (wider search) is
not simulated. ``--update-card`` writes the threshold and the table into the card.

    python -m training.export.calibrate_lost MODEL_DIR [--data ../shared/data/sot/train] [--update-card]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.geometry import iou_xywh
from sstrack_edge.model_card import ModelCard

GRID = tuple(round(x, 2) for x in np.arange(0.05, 0.61, 0.05))
FAILURE_IOU = 0.1


def record(model_dir: str | Path, data_root: str | Path, threads: int = 1) -> list[dict[str, np.ndarray]]:
    """Per sequence: ``score``, ``iou`` (NaN where the target is absent) of frames 1..N-1."""
    from sstrack_edge.tracker import Tracker

    tracker = Tracker(model=model_dir, backend="onnxruntime", precision="fp32", threads=threads, lost_threshold=0.0)
    out = []
    for seq in load_dataset(Path(data_root), "sot"):
        present = seq.present()
        tracker.init(seq.read_frame(0), seq.init_box)
        scores, ious = [], []
        for i in range(1, len(seq)):
            tracker.update(seq.read_frame(i))
            scores.append(tracker.result.score)
            ious.append(float(iou_xywh(tracker.result.bbox, seq.ground_truth[i])) if present[i] else np.nan)
        out.append({"name": seq.name, "score": np.asarray(scores), "iou": np.asarray(ious)})
    return out


def objective(records: list[dict[str, np.ndarray]], t: float) -> dict[str, float]:
    per_seq = []
    score = np.concatenate([r["score"] for r in records])
    iou = np.concatenate([r["iou"] for r in records])
    failure = np.isnan(iou) | (np.nan_to_num(iou, nan=0.0) < FAILURE_IOU)
    flagged = score < t
    for r in records:
        vis = ~np.isnan(r["iou"])
        per_seq.append(float(np.mean(np.where(r["score"][vis] >= t, r["iou"][vis], 0.0))) if vis.any() else np.nan)
    tpr = float(flagged[failure].mean()) if failure.any() else 0.0
    fpr = float(flagged[~failure].mean()) if (~failure).any() else 0.0
    return {"threshold": t, "youden": tpr - fpr, "failures_flagged": tpr, "good_flagged": fpr,
            "J": float(np.nanmean(per_seq)), "failures": int(failure.sum()), "frames": int(len(score))}


def choose(records: list[dict[str, np.ndarray]], grid=GRID) -> tuple[float, list[dict[str, float]]]:
    table = [objective(records, t) for t in grid]
    best = max(table, key=lambda row: (round(row["youden"], 6), -row["threshold"]))  # ties: the lower one
    return best["threshold"], table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export.calibrate_lost",
                                description="choose inference.lost_threshold on training sequences")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--data", default="../shared/data/sot/train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--update-card", action="store_true")
    args = p.parse_args(argv)
    records = record(args.model_dir, args.data, args.threads)
    t, table = choose(records)
    print(f"{table[0]['frames']} frames, {table[0]['failures']} failures (absent or IoU < {FAILURE_IOU})")
    print("| threshold | Youden | failures called lost | other frames called lost | J (mean IoU, lost = 0) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for row in table:
        mark = " **chosen**" if row["threshold"] == t else ""
        print(f"| {row['threshold']:.2f}{mark} | {row['youden']:.3f} | {row['failures_flagged']:.3f} | "
              f"{row['good_flagged']:.3f} | {row['J']:.4f} |")
    if args.update_card:
        card = ModelCard.load(args.model_dir)
        card.inference["lost_threshold"] = t
        card.metrics["lost_threshold_calibration"] = {
            "data": str(args.data), "frames": int(sum(len(r["score"]) for r in records)),
            "rule": f"argmax of Youden's index for failures (absent or IoU < {FAILURE_IOU}) "
                    "(training.export.calibrate_lost)",
            "table": [{k: round(v, 4) for k, v in row.items()} for row in table],
        }
        card.save(card.root)
        print(f"card updated: lost_threshold = {t}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
