"""Choose a trained model's ``inference.lost_threshold`` on training-split sequences (never on eval).

The score-map maximum of a trained network is its confidence; where to call the target lost
depends on the network, so the threshold travels in the model card. Two score samples are
collected with the runtime ``Tracker`` (ORT FP32, never declaring the target lost):

* **present**: ordinary one-pass tracking of every sequence; frames whose box overlaps the ground
  truth by IoU >= 0.5 are frames where the target is found.
* **absent**: the tracker is initialised on one sequence and run on the first ``absent_frames``
  frames of the next one (resized to the first one's frame size), so the template's target is
  nowhere in the frame. Every such frame
  should be called lost.

A network trained on these very sequences finds its target in almost every frame (so ordinary
tracking yields few failures to learn from), and its scores there are optimistic. The rule is
therefore a false-alarm bound: the chosen threshold is the largest on the grid that calls at most
``max_false_lost`` (1 %) of the *present* frames lost; the table shows how many *absent* frames it
catches. ``--update-card`` writes the threshold and the table into the card.

``--held-out`` calibrates on the sequences the card records as held out of training
(``metrics.training.validation.sequences``, from the checkpoint): scores on unseen video are lower
than on the training clips, so a threshold chosen on the training clips calls brief dips on new
video "lost" (v3: 0.3 from all train clips; wakeboard3 alone, held out, had 3.6 % of its found
frames below 0.3).

    python -m training.export.calibrate_lost MODEL_DIR [--data ../shared/data/sot/train_videos] [--format auto]
        [--sequences A,B] [--held-out] [--update-card]

``--format auto`` (default): ``videos`` when ``--data`` holds video files, else ``sot``.
Without ``--held-out`` or ``--sequences`` every clip of ``--data`` is tracked (71 clips, 32k frames
in ``train_videos``: slow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.geometry import iou_xywh
from sstrack_edge.model_card import ModelCard
from training.export.held_out_tre import DEFAULT_DATA, FORMAT_CHOICES, held_out_sequences

GRID = tuple(round(x, 2) for x in np.arange(0.05, 0.61, 0.05))
FOUND_IOU = 0.5
MAX_FALSE_LOST = 0.01


def record(model_dir: str | Path, data_root: str | Path, threads: int = 1,
           absent_frames: int = 100, sequences: list[str] | None = None,
           fmt: str = "auto") -> dict[str, np.ndarray]:
    """Scores of ``present`` frames (target found, IoU >= 0.5) and of ``absent`` frames (other sequence)."""
    from sstrack_edge.tracker import Tracker

    tracker = Tracker(model=model_dir, backend="onnxruntime", precision="fp32", threads=threads, lost_threshold=0.0)
    seqs = load_dataset(Path(data_root), fmt, sequences)
    if len(seqs) < 2:
        raise ValueError(f"{data_root}: the absent-target sample needs at least 2 sequences, found {len(seqs)}")
    present, absent = [], []
    for k, seq in enumerate(seqs):
        visible = seq.present()
        tracker.init(seq.read_frame(0), seq.init_box)
        for i in range(1, len(seq)):
            tracker.update(seq.read_frame(i))
            if visible[i] and iou_xywh(tracker.result.bbox, seq.ground_truth[i]) >= FOUND_IOU:
                present.append(tracker.result.score)
        other = seqs[(k + 1) % len(seqs)]
        first = seq.read_frame(0)
        size = (first.shape[1], first.shape[0])
        tracker.init(first, seq.init_box)
        for i in range(1, min(len(other), absent_frames + 1)):
            tracker.update(cv2.resize(other.read_frame(i), size))  # same frame size as the init frame
            absent.append(tracker.result.score)
    return {"present": np.asarray(present), "absent": np.asarray(absent)}


def table(scores: dict[str, np.ndarray], grid=GRID) -> list[dict[str, float]]:
    return [{"threshold": t, "present_called_lost": float(np.mean(scores["present"] < t)),
             "absent_called_lost": float(np.mean(scores["absent"] < t))} for t in grid]


def choose(scores: dict[str, np.ndarray], grid=GRID, max_false_lost: float = MAX_FALSE_LOST) -> float:
    """Largest grid threshold calling at most ``max_false_lost`` of the present frames lost."""
    if len(scores["present"]) == 0:
        raise ValueError("no frame where the target was found: cannot calibrate the lost threshold")
    ok = [row["threshold"] for row in table(scores, grid) if row["present_called_lost"] <= max_false_lost]
    return max(ok) if ok else min(grid)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export.calibrate_lost",
                                description="choose inference.lost_threshold on training sequences")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--data", default=DEFAULT_DATA, help=f"training clips (default {DEFAULT_DATA})")
    p.add_argument("--format", default="auto", choices=FORMAT_CHOICES,
                   help="layout of --data (default auto: videos when it holds video files, else sot)")
    p.add_argument("--sequences", default=None, help="comma list: only these clips of --data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-false-lost", type=float, default=MAX_FALSE_LOST)
    p.add_argument("--held-out", action="store_true",
                   help="only the sequences the card records as held out of training (validation)")
    p.add_argument("--update-card", action="store_true")
    args = p.parse_args(argv)
    sequences = [n.strip() for n in args.sequences.split(",") if n.strip()] if args.sequences else None
    if args.held_out:
        if sequences:
            print("calibrate_lost: give --held-out or --sequences, not both", file=sys.stderr)
            return 2
        try:
            sequences = held_out_sequences(ModelCard.load(args.model_dir), args.data, args.format)
        except (ValueError, FileNotFoundError) as e:
            print(f"calibrate_lost: --held-out: {e}", file=sys.stderr)
            return 2
    try:
        scores = record(args.model_dir, args.data, args.threads, sequences=sequences, fmt=args.format)
        t = choose(scores, max_false_lost=args.max_false_lost)
    except ValueError as e:
        print(f"calibrate_lost: {e}", file=sys.stderr)
        return 2
    rows = table(scores)
    print(f"{len(scores['present'])} present frames (IoU >= {FOUND_IOU}), {len(scores['absent'])} absent-target frames")
    print("| threshold | present frames called lost | absent frames called lost |")
    print("| ---: | ---: | ---: |")
    for row in rows:
        mark = " **chosen**" if row["threshold"] == t else ""
        print(f"| {row['threshold']:.2f}{mark} | {row['present_called_lost']:.3f} | {row['absent_called_lost']:.3f} |")
    if args.update_card:
        card = ModelCard.load(args.model_dir)
        card.inference["lost_threshold"] = t
        card.metrics["lost_threshold_calibration"] = {
            "data": str(args.data), "sequences": sequences or "all",
            "present_frames": len(scores["present"]), "absent_frames": len(scores["absent"]),
            "rule": f"largest threshold calling at most {args.max_false_lost:.0%} of present frames lost "
                    "(training.export.calibrate_lost)",
            "table": [{k: round(v, 4) for k, v in row.items()} for row in rows],
        }
        from training.export.package import save_card

        save_card(card)
        print(f"card updated: lost_threshold = {t}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
