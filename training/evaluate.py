"""Evaluate a training checkpoint through the runtime loop (no export needed): OPE or TRE on a clip folder.

The checkpoint's network runs inside :class:`sstrack_edge.Tracker` with a torch runner
(:mod:`training.torch_runner`): crops, Hann window, decoding, size smoothing, lost logic and
re-detection are the runtime's, with the card an export would write (``--inference`` overrides its
settings, as ``sstrack-export --inference`` would). A frame the tracker reports lost is scored as a
failure, as in ``sstrack-edge eval``. The trainer's validation runs the same loop
(:func:`evaluate_tracker`).

Scores: :mod:`sstrack_edge.evaluation.metrics` (success AUC over 21 thresholds, precision at
20 px; frame 0 and frames with an absent/NaN target excluded; sequences weighted equally).

Usage::

    python -m training.evaluate CHECKPOINT [--data ../shared/data/sot/eval] [--inference key=value ...]
        [--starts N] [--json OUT.json] [--record]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.metrics import score_sequence, summarize
from sstrack_edge.evaluation.temporal import parent_name, temporal_segments
from sstrack_edge.evaluation.tracking_runs import run_offline
from sstrack_edge.paths import shared_root
from training.checkpoint import run_checkpoint


def evaluate_tracker(tracker, seqs: list, starts: int = 1) -> dict:
    """OPE (``starts=1``) or TRE (``starts`` segments per sequence, equal weight;
    :mod:`sstrack_edge.evaluation.temporal`) of ``tracker`` on ``seqs``: mean AUC / P@20 / OP50 (in %)
    and a per-sequence table (TRE: per sequence, the mean over its segments).

    ``tracker``: the runtime :class:`sstrack_edge.Tracker` (e.g. :func:`training.torch_runner.torch_tracker`);
    a frame it reports lost scores as a failure, as in ``sstrack-edge eval``."""
    per_seq = {}
    scores = []
    frames = 0
    t0 = time.perf_counter()
    for seq in temporal_segments(seqs, starts):
        s = score_sequence(run_offline(tracker, seq).boxes, seq.ground_truth, seq.present())
        scores.append(s)
        frames += len(seq)
        row = per_seq.setdefault(parent_name(seq), {"auc": [], "precision20": [], "frames": 0})
        row["auc"].append(100 * s.auc)
        row["precision20"].append(100 * s.precision20)
        row["frames"] += len(seq)
    for row in per_seq.values():
        row["segments"] = len(row["auc"])
        row["auc"], row["precision20"] = float(np.mean(row["auc"])), float(np.mean(row["precision20"]))
    summary = summarize(scores)
    return {
        "sequences": summary.sequences,  # scored segments (OPE: sequences)
        "starts": starts,
        "auc": 100 * summary.auc,
        "precision20": 100 * summary.precision20,
        "op50": 100 * summary.op50,
        "frames": frames,
        "seconds": time.perf_counter() - t0,
        "per_sequence": per_seq,
    }


def checkpoint_tracker(checkpoint: str | Path, inference: dict[str, Any] | None = None,
                       device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``(runtime Tracker on the checkpoint's torch network, load info)``: any file
    :func:`training.models.checkpoints.load_tracker` reads (``sstrack-train`` checkpoint, official
    OSTrack/SSTrack file with its config stored, VitTrack ONNX); ``inference``: card overrides."""
    from training.models.checkpoints import load_tracker
    from training.torch_runner import torch_tracker

    model, info = load_tracker(checkpoint)
    return torch_tracker(model.to(device), inference), info


def evaluate_checkpoint(checkpoint: str | Path, data_root: str | Path, device: str = "cpu",
                        sequences: list[str] | None = None, inference: dict[str, Any] | None = None,
                        starts: int = 1, fmt: str = "auto") -> dict:
    """OPE (or TRE with ``starts`` > 1) of ``checkpoint`` through the runtime ``Tracker`` on every
    sequence of ``data_root`` (or only ``sequences``); ``inference``: card setting overrides; ``fmt``
    the layout (``auto``: ``videos`` when it holds video files, else ``sot``;
    :func:`sstrack_edge.evaluation.datasets.detect_format`)."""
    seqs = load_dataset(data_root, fmt, sequences)
    tracker, info = checkpoint_tracker(checkpoint, inference, device)
    res = evaluate_tracker(tracker, seqs, starts=starts)
    return {"checkpoint": str(checkpoint), "epoch": info.get("epoch"), "data": str(Path(data_root)),
            "inference": tracker.card.inference, **res}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate",
                                description="OPE / TRE of a training checkpoint through the runtime Tracker")
    p.add_argument("checkpoint", help="training checkpoint (.pt) or run directory (uses last.pt)")
    p.add_argument("--data", default=str(shared_root() / "data" / "sot" / "eval"))
    p.add_argument("--format", default="auto", choices=["auto", "sot", "videos"],
                   help="layout of --data (default auto: videos when it holds video files, else sot)")
    p.add_argument("--json", default=None, help="write the result as JSON here")
    p.add_argument("--sequences", default=None, help="comma list of sequence names (default: all)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--inference", nargs="*", default=[], metavar="KEY=VALUE",
                   help="card inference overrides, e.g. size_update_rate=0.3 lost_threshold=0.15 "
                        "(default: what sstrack-export writes without --inference)")
    p.add_argument("--size-update-rate", type=float, default=None,
                   help="same as --inference size_update_rate=R")
    p.add_argument("--starts", type=int, default=1,
                   help="TRE: track each sequence from this many evenly spaced start frames (default: 1 = OPE)")
    p.add_argument("--record", action="store_true",
                   help="append {epoch, auc, precision20} to the run's eval.jsonl (training curve; training.plot)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ck = run_checkpoint(args.checkpoint)
    try:
        from training.export.cli import parse_inference

        items = args.inference + ([f"size_update_rate={args.size_update_rate}"] if args.size_update_rate is not None else [])
        inference = parse_inference(items)
        names = [n.strip() for n in args.sequences.split(",")] if args.sequences else None
        res = evaluate_checkpoint(ck, args.data, sequences=names, inference=inference, starts=args.starts,
                                  fmt=args.format)
    except (FileNotFoundError, ValueError, RuntimeError) as e:  # CheckpointError, PretrainedLoadError, ModelFileError
        print(f"evaluate: {e}", file=sys.stderr)
        return 2
    for name, s in res["per_sequence"].items():
        seg = f", {s['segments']} segments" if s["segments"] > 1 else ""
        print(f"{name:14s} AUC {s['auc']:5.1f}  P@20 {s['precision20']:5.1f}  ({s['frames']} frames{seg})")
    unit = "segments" if args.starts > 1 else "sequences"
    print(f"mean over {res['sequences']} {unit}: AUC {res['auc']:.2f}  P@20 {res['precision20']:.2f}  "
          f"({res['frames']} frames, {res['seconds']:.1f}s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    if args.record:
        print(f"recorded in {record_in_run(ck, res)}")
    return 0


def record_in_run(checkpoint: Path, res: dict) -> Path:
    """Append the result to ``eval.jsonl`` of the run that wrote ``checkpoint`` (RUN/last.pt or
    RUN/checkpoints/epoch_N.pt), one line per evaluated epoch."""
    run = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    line = {"epoch": int(res["epoch"]), "auc": round(res["auc"], 2), "precision20": round(res["precision20"], 2),
            "sequences": res["sequences"], "data": res["data"], "checkpoint": checkpoint.name}
    path = run / "eval.jsonl"
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
