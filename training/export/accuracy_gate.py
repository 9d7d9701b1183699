"""The final INT8 keep rule for a *trained* model: tracking accuracy on the validation clips.

:mod:`training.export.compare` can only check that INT8 crops agree with FP32 (all an untrained
network allows). For a trained model the rule is the one users care about (docs/export-and-quantization.md):

    an INT8 variant is kept when it is faster than the same backend's FP32 (``speedup`` from
    :mod:`~training.export.compare`) **and** its mean success AUC on the validation clips is
    within ``max_auc_delta`` (1.0) points of the ONNX Runtime FP32 variant's, either way.

Two-sided: a variant that scores clearly *higher* than FP32 is not better, it behaves differently
from the network that was chosen, and a 1-point "gain" on a few clips is as likely to be a loss
elsewhere. The clips are the ones held out of training (the card's ``metrics.training.validation``
or ``--sequences``), tracked with TRE from ``--starts`` start frames each: never the eval split,
which only reports. Every variant runs through the runtime's ``Tracker``
(:func:`sstrack_edge.evaluation.evaluate.evaluate`), so the gate measures exactly what ships, and
``Tracker(backend="auto")`` picks only variants the gate kept.
With ``--update-card`` the card gets, per variant, ``val_auc`` / ``val_precision20`` /
``auc_delta`` and the new ``kept``, and ``metrics["int8_gate"]`` for the FP32 reference.

Usage::

    python -m training.export.accuracy_gate MODEL_DIR [--data ../shared/data/sot/train_videos]
        [--sequences a,b,...] [--starts 5] [--threads 1] [--out runs/accuracy_gate] [--update-card [--prune]]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import cv2

from sstrack_edge.backends import current_platform
from sstrack_edge.evaluation.datasets import detect_format, load_dataset
from sstrack_edge.evaluation.evaluate import ModeResult, evaluate
from sstrack_edge.evaluation.temporal import temporal_segments
from sstrack_edge.model_card import ModelCard, Variant

MAX_AUC_DELTA = 1.0
STARTS = 5
REFERENCE = "fp32"  # the ONNX Runtime FP32 variant every INT8 variant is held against
DEFAULT_DATA = "../shared/data/sot/train_videos"
RULE = (f"kept = faster than the same backend's FP32 and |success AUC - FP32 AUC| <= {MAX_AUC_DELTA} "
        "on the validation clips, TRE (training.export.accuracy_gate)")


def tracker_name(model_dir: str | os.PathLike, v: Variant) -> str:
    """The evaluation toolkit's name for one variant of ``model_dir``."""
    if v.name == REFERENCE:
        return f"sstrack:{model_dir}:onnxruntime:fp32"
    if v.name == "openvino-fp32":
        return f"sstrack:{model_dir}:openvino:fp32"
    return f"sstrack:{model_dir}:{v.backend}:{v.name}"


def evaluate_variants(
    model_dir: str | os.PathLike,
    data_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    names: list[str] | None = None,
    threads: int = 1,
    progress: bool = False,
    sequences: list[str] | None = None,
    starts: int = STARTS,
) -> dict[str, ModeResult]:
    """TRE of each variant (default: FP32 and every INT8 variant runnable on this machine) on the
    validation clips (``sequences``, default: the ones the card records as held out)."""
    from .held_out_tre import held_out_sequences, resolve_clip_names

    card = ModelCard.load(model_dir)
    if not card.trained:
        raise ValueError(f"model {card.name!r} is untrained (trained: false): its AUC says nothing; "
                         "use training.export.compare for crop agreement instead")
    if names is None:
        here = current_platform()
        names = [REFERENCE] + [v.name for v in card.variants if v.precision == "int8" and here in v.platforms]
    variants = [card.variant(n) for n in names]
    root = Path(data_root)
    clips = resolve_clip_names(root, sequences) if sequences else held_out_sequences(card, root)
    segments = temporal_segments(load_dataset(root, detect_format(root), clips), starts)
    specs = [tracker_name(card.root, v) for v in variants]
    results = evaluate(segments, specs, out_dir, modes=("offline",), threads=threads, progress=progress)
    return {v.name: r for v, r in zip(variants, results)}


def apply_gate(card: ModelCard, results: dict[str, ModeResult], data: dict[str, Any],
               max_auc_delta: float = MAX_AUC_DELTA) -> dict[str, dict[str, Any]]:
    """Set ``kept`` and the validation metrics of every evaluated INT8 variant; returns per-variant
    rows. AUC and precision are in points (percent), like ``max_auc_delta``. ``data``: what was
    tracked (root, clips, starts), recorded with the reference."""
    if REFERENCE not in results:
        raise ValueError(f"the gate needs the {REFERENCE!r} variant's result")
    ref = results[REFERENCE].summary
    rows: dict[str, dict[str, Any]] = {}
    frames = sum(len(r.times) for r in results[REFERENCE].runs.values())
    card.metrics["int8_gate"] = {
        **data, "segments": ref.sequences, "frames": frames, "variant": REFERENCE,
        "auc": round(100 * ref.auc, 2), "precision20": round(100 * ref.precision20, 2), "rule": RULE,
        "scoring": "mean over TRE segments of success AUC (21 IoU thresholds) / precision at 20 px; "
                   "frame 0 and absent-target frames excluded (sstrack_edge.evaluation)",
        "opencv": cv2.__version__,  # its crop rounding moves scores by ~1 point (benchmarks/RESULTS.md)
    }
    for name, res in results.items():
        v = card.variant(name)
        s = res.summary
        delta = 100 * (s.auc - ref.auc)  # AUC points (percent), + = above FP32
        row = {"val_auc": round(100 * s.auc, 2), "val_precision20": round(100 * s.precision20, 2),
               "auc_delta": round(delta, 2), "val_fps_offline": round(res.fps, 1)}
        if v.precision == "int8":
            faster = bool(v.metrics.get("speedup", 0.0) > 1.0)
            close = bool(round(abs(delta), 6) <= max_auc_delta)  # 1.0 exactly passes, float noise aside
            row.update(faster=faster, within_auc=close, gate_rule=RULE)
            v.kept = faster and close
        v.metrics = {**v.metrics, **row}
        rows[name] = {**row, "kept": v.kept}
    return rows


def prune_rejected(card: ModelCard) -> list[str]:
    """Delete the files of INT8 variants that failed the gate; their numbers stay in
    ``card.metrics["rejected_variants"]`` so the decision is on record. Returns the removed names."""
    gone = [v for v in card.variants if v.precision == "int8" and not v.kept]
    keep_files = {f for v in card.variants if v not in gone for f in v.files.values()}
    rejected = card.metrics.setdefault("rejected_variants", {})
    for v in gone:
        rejected[v.name] = {"backend": v.backend, **v.metrics}
        for f in v.files.values():
            if f not in keep_files:
                (card.root / f).unlink(missing_ok=True)
    card.variants = [v for v in card.variants if v not in gone]
    return [v.name for v in gone]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export.accuracy_gate",
                                description="INT8 keep rule of a trained model: within 1.0 AUC of FP32 "
                                            "(either way) on the validation clips, and faster")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--data", default=DEFAULT_DATA, help=f"training clips (default {DEFAULT_DATA})")
    p.add_argument("--sequences", default=None,
                   help="comma list of validation clips (default: the card's metrics.training.validation)")
    p.add_argument("--starts", type=int, default=STARTS, help=f"TRE start frames per clip (default {STARTS})")
    p.add_argument("--out", type=Path, default=Path("runs/accuracy_gate"), help="result files (re-running resumes)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-auc-delta", type=float, default=MAX_AUC_DELTA)
    p.add_argument("--update-card", action="store_true", help="write kept / validation metrics into the model card")
    p.add_argument("--prune", action="store_true",
                   help="with --update-card: delete the files of rejected INT8 variants (numbers stay in the card)")
    args = p.parse_args(argv)
    card = ModelCard.load(args.model_dir)
    from .held_out_tre import held_out_sequences, resolve_clip_names

    try:
        clips = (resolve_clip_names(args.data, [n.strip() for n in args.sequences.split(",")]) if args.sequences
                 else held_out_sequences(card, args.data))
        results = evaluate_variants(args.model_dir, args.data, args.out, threads=args.threads, progress=True,
                                    sequences=clips, starts=args.starts)
    except (ValueError, FileNotFoundError) as e:
        print(f"accuracy_gate: {e}", file=sys.stderr)
        return 2
    rows = apply_gate(card, results, {"data": str(args.data), "sequences": clips, "starts": args.starts},
                      args.max_auc_delta)
    print("| variant | val AUC | P@20 | AUC vs fp32 | speedup vs FP32 | kept |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, r in rows.items():
        speed = card.variant(name).metrics.get("speedup", "")
        print(f"| {name} | {r['val_auc']:.2f} | {r['val_precision20']:.2f} | {r['auc_delta']:+.2f} | {speed} "
              f"| {r['kept']} |")
    if args.update_card:
        if args.prune:
            print(f"removed rejected variants: {prune_rejected(card) or 'none'}")
        from training.export.package import save_card

        save_card(card)
        print(f"card updated: {card.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
