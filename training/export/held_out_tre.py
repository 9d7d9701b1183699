"""Score a built model on its held-out training clips with TRE, through the runtime, into its card.

The comparison the bundled model's candidates are judged by (benchmarks/RESULTS.md, "The 128 / 256
lead"): ``Tracker()`` on ``MODEL_DIR`` (its card's backend choice and inference settings) tracks
each clip the card records as held out of training (``metrics.training.validation.sequences``)
from ``starts`` evenly spaced start frames (:mod:`sstrack_edge.evaluation.temporal`); the AUC is
the mean over the segments. Never the eval split: this is the number a new model must beat.

    python -m training.export.held_out_tre MODEL_DIR [--data ../shared/data/sot/train_videos] [--format auto]
        [--starts 10] [--update-card]

``--format auto`` (default) reads ``--data`` as ``videos`` when it holds video files, else as ``sot``
(:func:`sstrack_edge.evaluation.datasets.detect_format`). Cards written before the clips moved to
``train_videos`` name them without their dataset prefix (``wakeboard3`` for
``UAV123_10fps_wakeboard3``): :func:`resolve_clip_names` maps such a name to the one clip of
``--data`` that ends in ``_<name>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from sstrack_edge.evaluation import evaluate, load_dataset, temporal_segments
from sstrack_edge.evaluation.datasets import detect_format
from sstrack_edge.evaluation.video_frames import list_videos
from sstrack_edge.evaluation.temporal import parent_name
from sstrack_edge.model_card import ModelCard

STARTS = 10
DEFAULT_DATA = "../shared/data/sot/train_videos"
FORMAT_CHOICES = ["auto", "sot", "videos"]


def resolve_clip_names(data_root: str | Path, names: list[str], fmt: str = "auto") -> list[str]:
    """``names`` as clips of ``data_root``: a name that is not a clip there but is the suffix
    ``_<name>`` of exactly one clip (the pre-``train_videos`` names of older cards) becomes that clip."""
    root = Path(data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data {root} is not a folder")
    fmt = detect_format(root) if fmt == "auto" else fmt
    if fmt == "videos":
        clips = [v.stem for v in list_videos(root) if v.with_suffix(".txt").is_file()]
    else:
        clips = [d.name for d in root.iterdir() if d.is_dir() and (d / "groundtruth.txt").is_file()]
    out = []
    for n in names:
        if n in clips:
            out.append(n)
            continue
        matches = sorted(c for c in clips if c.endswith(f"_{n}"))
        if len(matches) != 1:
            found = f"several clips end in _{n}: {matches}" if matches else "no clip has that name or ends in _" + n
            raise ValueError(f"sequence {n!r} is not in {root} ({found})")
        out.append(matches[0])
    return out


def held_out_sequences(card: ModelCard, data_root: str | Path | None = None, fmt: str = "auto") -> list[str]:
    """The clips the card records as held out of training (ValueError when it records none), as
    clips of ``data_root`` when given (:func:`resolve_clip_names`)."""
    names = (card.metrics.get("training", {}).get("validation") or {}).get("sequences")
    if not names:
        raise ValueError(f"the card of {card.root} records no held-out validation sequences "
                         "(metrics.training.validation.sequences)")
    return resolve_clip_names(data_root, list(names), fmt) if data_root is not None else list(names)


def score(model_dir: str | Path, data_root: str | Path, starts: int = STARTS, threads: int = 1,
          fmt: str = "auto", sequences: list[str] | None = None) -> dict:
    """TRE of ``Tracker(model_dir)`` on the card's held-out clips (or ``sequences``, e.g. for an
    imported network without a training record): AUC / P@20 (in %), per-clip means."""
    card = ModelCard.load(model_dir)
    names = resolve_clip_names(data_root, sequences, fmt) if sequences else held_out_sequences(card, data_root, fmt)
    segments = temporal_segments(load_dataset(Path(data_root), fmt, names), starts)
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
    p.add_argument("--data", default=DEFAULT_DATA, help=f"training clips (default {DEFAULT_DATA})")
    p.add_argument("--format", default="auto", choices=FORMAT_CHOICES,
                   help="layout of --data (default auto: videos when it holds video files, else sot)")
    p.add_argument("--sequences", default=None, help="comma list of held-out clips (default: the card's record)")
    p.add_argument("--starts", type=int, default=STARTS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--update-card", action="store_true", help="write the result to metrics.held_out_tre")
    args = p.parse_args(argv)
    try:
        names = [n.strip() for n in args.sequences.split(",")] if args.sequences else None
        res = score(args.model_dir, args.data, args.starts, args.threads, args.format, names)
    except (ValueError, FileNotFoundError) as e:
        print(f"held_out_tre: {e}", file=sys.stderr)
        return 2
    clips = ", ".join(f"{k} {v:.1f}" for k, v in res["per_sequence"].items())
    print(f"held-out TRE-{res['starts']} ({res['segments']} segments): AUC {res['auc']:.2f}  "
          f"P@20 {res['precision20']:.2f}  ({clips})")
    if args.update_card:
        card = ModelCard.load(args.model_dir)
        card.metrics["held_out_tre"] = res
        from training.export.package import save_card

        save_card(card)
        print(f"card updated: {card.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
