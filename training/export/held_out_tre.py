"""Score a built model on its held-out training clips with TRE, through the runtime, into its card.

The comparison the bundled model's candidates are judged by (benchmarks/RESULTS.md, "The 128 / 256
lead"): ``Tracker()`` on ``MODEL_DIR`` (its card's backend choice and inference settings) tracks
each clip the card records as held out of training (``metrics.training.validation.sequences``)
from ``starts`` evenly spaced start frames (:mod:`sstrack_edge.evaluation.temporal`); the AUC is
the mean over the segments. Never the eval split: this is the number a new model must beat.

    python -m training.export.held_out_tre MODEL_DIR [--data ../shared/data/sot/train] [--starts 10] [--update-card]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from sstrack_edge.evaluation import evaluate, load_dataset, temporal_segments
from sstrack_edge.evaluation.temporal import parent_name
from sstrack_edge.model_card import ModelCard

STARTS = 10


def held_out_sequences(card: ModelCard) -> list[str]:
    """The clips the card records as held out of training; ValueError when it records none."""
    names = (card.metrics.get("training", {}).get("validation") or {}).get("sequences")
    if not names:
        raise ValueError(f"the card of {card.root} records no held-out validation sequences "
                         "(metrics.training.validation.sequences)")
    return list(names)


def score(model_dir: str | Path, data_root: str | Path, starts: int = STARTS, threads: int = 1) -> dict:
    """TRE of ``Tracker(model_dir)`` on the card's held-out clips: AUC / P@20 (in %), per-clip means."""
    card = ModelCard.load(model_dir)
    names = held_out_sequences(card)
    segments = temporal_segments(load_dataset(Path(data_root), "sot", names), starts)
    with tempfile.TemporaryDirectory() as out:
        res = evaluate(segments, [f"sstrack:{card.root}"], out, modes=("offline",), threads=threads,
                       progress=False)[0]
    per_clip = {n: [res.scores[s.name].auc for s in segments if parent_name(s) == n] for n in names}
    per_clip = {n: round(100 * float(np.mean(aucs)), 2) for n, aucs in per_clip.items()}
    return {"data": str(data_root), "sequences": names, "starts": starts, "segments": len(segments),
            "auc": round(100 * res.summary.auc, 2), "precision20": round(100 * res.summary.precision20, 2),
            "per_sequence": per_clip}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export.held_out_tre",
                                description="TRE of a built model on its held-out training clips (runtime)")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--data", default="../shared/data/sot/train")
    p.add_argument("--starts", type=int, default=STARTS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--update-card", action="store_true", help="write the result to metrics.held_out_tre")
    args = p.parse_args(argv)
    try:
        res = score(args.model_dir, args.data, args.starts, args.threads)
    except (ValueError, FileNotFoundError) as e:
        print(f"held_out_tre: {e}", file=sys.stderr)
        return 2
    clips = ", ".join(f"{k} {v:.1f}" for k, v in res["per_sequence"].items())
    print(f"held-out TRE-{res['starts']} ({res['segments']} segments): AUC {res['auc']:.2f}  "
          f"P@20 {res['precision20']:.2f}  ({clips})")
    if args.update_card:
        card = ModelCard.load(args.model_dir)
        card.metrics["held_out_tre"] = res
        card.save(card.root)
        print(f"card updated: {card.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
