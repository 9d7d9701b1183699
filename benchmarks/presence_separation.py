"""How well does a model's presence confidence separate "target there" from "target gone"?

Apart from any threshold or patience: each model tracks the validation clips with their real and
injected absences (seed 0) and never reports lost (threshold 0, no relative bar: a card's relative
bar would still report frames lost and start re-detection), so every model of the same box network
follows the same path. Then, over the visible frames it tracks on target (IoU >= 0.5) and
over the absent frames, the script prints, for thresholds that would report 0.5 / 1 / 2 / 5 % of
the on-target frames lost, the share of absent frames they would report lost.

    python benchmarks/presence_separation.py MODEL_DIR [MODEL_DIR ...] [--config CONFIG]
"""

from __future__ import annotations

import argparse

import numpy as np

from sstrack_edge import Tracker
from sstrack_edge.evaluation.absence import inject_absences
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.longterm import run_longterm
from sstrack_edge.geometry import iou_xywh

ON_TARGET_LOST = (0.005, 0.01, 0.02, 0.05)


def confidences(model: str, sequences) -> tuple[np.ndarray, np.ndarray]:
    """(confidence on on-target visible frames, confidence on absent frames); frame 0 excluded."""
    on, absent = [], []
    for seq in sequences:
        tracker = Tracker(model, backend="onnxruntime", precision="fp32", threads=1, lost_threshold=0.0,
                          lost_relative=0.0)
        run = run_longterm(tracker, seq)
        visible, conf = seq.present()[1:], run.confidence[1:]
        iou = iou_xywh(run.boxes[1:], np.nan_to_num(seq.ground_truth[1:]))
        on.append(conf[visible & (iou >= 0.5)])
        absent.append(conf[~visible])
    return np.concatenate(on), np.concatenate(absent)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--config", default="training/configs/vittrack_finetune.yaml",
                   help="training config whose validation section names the clips")
    p.add_argument("--inject-seed", type=int, default=0)
    args = p.parse_args(argv)
    from training.train_config import load_config  # the validation clips are named in the config

    v = load_config(args.config).validation
    sequences = inject_absences(load_dataset(v.root, v.format, v.sequences), "all", args.inject_seed)
    for model in args.models:
        on, absent = confidences(model, sequences)
        print(f"{model}: {len(on)} on-target visible frames, {len(absent)} absent frames")
        for q in ON_TARGET_LOST:
            t = float(np.quantile(on, q))
            print(f"  threshold {t:.3f}: on-target frames lost {q:6.1%}, absent frames lost {(absent < t).mean():6.1%}")


if __name__ == "__main__":
    main()
