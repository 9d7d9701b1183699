"""Does the box head measure the target, or repeat the crop's prior? A size probe for a checkpoint.

The search crop is ``search_factor x`` the tracked box, so a head that has learned "the object fills
about ``1 / search_factor`` of the crop" instead of the object's extent returns the box it was given,
and a tracker whose box grew by drift keeps the grown box (docs/conv-stem.md, the growing boxes on
small or unfamiliar targets). The probe separates the two: the template is cropped from the first
frame's ground truth; on every ``every``-th frame with a visible target, the search crop is centred
on the true centre with the side the tracker would use for a box ``s`` times the true size, for each
``s`` in ``scales``. It reports, per sequence and scale, the median ratio of the predicted to the true
box size (``sqrt(w * h)``). A head that measures gives about 1 at every scale; one that follows the
crop gives about ``s``.

Usage::

    python -m training.probe_size CHECKPOINT --data ../shared/data/sot/train_videos \
        --sequences UAV123_10fps_building5,UAV123_10fps_car10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.geometry import crop_side
from training.checkpoint import CheckpointError
from training.evaluate import TorchTracker, load_tracker

DEFAULT_SCALES = (0.5, 0.7, 1.0, 1.4, 2.0)


def probe_sequence(tracker: TorchTracker, seq, scales=DEFAULT_SCALES, every: int = 6) -> dict[float, float]:
    """Median predicted/true size ratio per scale on one sequence (NaN for a scale with no frame)."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if not scales or any(not np.isfinite(s) or s <= 0 for s in scales):
        raise ValueError(f"scales must be positive numbers, got {list(scales)}")
    gt = np.asarray(seq.ground_truth, dtype=np.float64)
    present = seq.present()
    tracker.init(seq.read_frame(0), seq.init_box)
    ratios: dict[float, list[float]] = {float(s): [] for s in scales}
    for i in range(every, len(seq), every):
        if i >= len(gt) or not present[i]:
            continue
        g = gt[i]
        frame = seq.read_frame(i)
        cx, cy, true_size = g[0] + g[2] / 2, g[1] + g[3] / 2, np.sqrt(g[2] * g[3])
        for s in ratios:
            side = max(crop_side((0, 0, g[2] * s, g[3] * s), tracker.cfg.search_factor), 1)
            box, _, _ = tracker.predict(frame, cx, cy, side)
            ratios[s].append(float(np.sqrt(max(box[2], 0) * max(box[3], 0)) / true_size))
    return {s: float(np.median(v)) if v else float("nan") for s, v in ratios.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.probe_size", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="training checkpoint (.pt)")
    p.add_argument("--data", required=True, help="clips: <seq>.mp4 + <seq>.txt, or <seq>/img + groundtruth.txt")
    p.add_argument("--format", default="auto", choices=["auto", "sot", "videos"],
                   help="layout of --data (default auto: videos when it holds video files, else sot)")
    p.add_argument("--sequences", default=None, help="comma list of sequence names (default: all)")
    p.add_argument("--scales", default=",".join(str(s) for s in DEFAULT_SCALES),
                   help="box scales relative to the true size (default: %(default)s)")
    p.add_argument("--every", type=int, default=6, help="probe every N-th frame (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="write {sequence: {scale: ratio}} here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        scales = [float(v) for v in args.scales.split(",")]
        names = [n.strip() for n in args.sequences.split(",")] if args.sequences else None
        seqs = load_dataset(args.data, args.format, names)
        tracker = load_tracker(args.checkpoint)
        result = {seq.name: probe_sequence(tracker, seq, scales, args.every) for seq in seqs}
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"probe_size: {e}", file=sys.stderr)
        return 2
    print("median predicted / true size at box scale " + "  ".join(f"{s:>5g}" for s in scales))
    for name, row in result.items():
        print(f"{name:16s}" + " " * 26 + "  ".join(f"{row[s]:5.2f}" for s in scales))
    if args.json:
        Path(args.json).write_text(json.dumps({n: {str(s): r for s, r in row.items()} for n, row in result.items()},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
