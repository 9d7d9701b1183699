"""Measure quantized variants against FP32 on real crops and decide which are ``kept``.

Every variant is loaded through the runtime's own path (``sstrack_edge.load_model``: sha256 check,
the same ORT/OpenVINO session options, OpenVINO with ``INFERENCE_PRECISION_HINT=f32``), and run on
the same real crop pairs as the ORT FP32 reference. Per variant:

* ``score_corr``: Pearson correlation of the raw score maps, mean over pairs (and the minimum);
* ``argmax_agree``: fraction of pairs where the Hann-windowed argmax cell is the same as FP32's;
* ``box_iou``: IoU of the decoded box (OSTrack ``cal_bbox``, Hann window) with FP32's, mean and min;
* ``score_max_abs_diff``: largest |score - score_fp32| (the lost/found threshold acts on the score);
* latency: median ms of the variant and of the FP32 variant of the same backend, measured
  interleaved in one process with fixed threads (``speedup`` = FP32 / variant).

Gate (``kept``) until a trained model exists: faster than the same backend's FP32 **and**
``score_corr >= 0.98``, ``argmax_agree >= 0.9``, ``box_iou >= 0.9`` (:class:`Gate`). With a trained
default model the final rule is: faster, and within 1.0 success-AUC point of FP32 on
``../shared/data/sot/eval`` (see docs/export-and-quantization.md).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from sstrack_edge.geometry import hann2d
from sstrack_edge.model_card import ModelCard

REFERENCE = "fp32"
FP32_OF_BACKEND = {"onnxruntime": "fp32", "openvino": "openvino-fp32"}


@dataclass
class Gate:
    min_score_corr: float = 0.98
    min_argmax_agree: float = 0.9
    min_box_iou: float = 0.9
    min_speedup: float = 1.0  # strictly faster than the same backend's FP32


def decode(score: np.ndarray, size: np.ndarray, offset: np.ndarray, hann: np.ndarray | None) -> tuple[np.ndarray, int]:
    """OSTrack ``cal_bbox`` in numpy: ``(cx, cy, w, h)`` normalized to the crop, and the flat argmax cell."""
    f = score.shape[-1]
    picked = score * hann if hann is not None else score
    idx = int(np.argmax(picked))
    iy, ix = divmod(idx, f)
    cx = (ix + offset[0, iy, ix]) / f
    cy = (iy + offset[1, iy, ix]) / f
    return np.array([cx, cy, size[0, iy, ix], size[1, iy, ix]], dtype=np.float64), idx


def iou_cxcywh(a: np.ndarray, b: np.ndarray) -> float:
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float(np.array_equal(a, b))


def _load(card: ModelCard, name: str, threads: int):
    from sstrack_edge import load_model

    with warnings.catch_warnings():  # untrained / kept=false warnings: expected while measuring
        warnings.simplefilter("ignore")
        return load_model(card, variant=name, threads=threads).create_runner()


def agreement(ref_outputs: list, outputs: list, hann: np.ndarray | None) -> dict[str, float]:
    corr, agree, ious, diff = [], [], [], 0.0
    for (s0, z0, o0, *_), (s1, z1, o1, *_) in zip(ref_outputs, outputs):  # *_: a presence map
        b0, i0 = decode(s0, z0, o0, hann)
        b1, i1 = decode(s1, z1, o1, hann)
        corr.append(_corr(s0, s1))
        agree.append(i0 == i1)
        ious.append(iou_cxcywh(b0, b1))
        diff = max(diff, float(np.abs(s0 - s1).max()))
    return {
        "pairs": len(corr),
        "score_corr": round(float(np.mean(corr)), 5),
        "score_corr_min": round(float(np.min(corr)), 5),
        "argmax_agree": round(float(np.mean(agree)), 4),
        "box_iou": round(float(np.mean(ious)), 4),
        "box_iou_min": round(float(np.min(ious)), 4),
        "score_max_abs_diff": round(diff, 5),
    }


def run_all(runner, pairs) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.array(o, copy=True) for o in runner(p.template, p.search)) for p in pairs]


def interleaved_latency(runners: dict[str, Any], pair, rounds: int = 20, warmup: int = 3) -> dict[str, float]:
    """Median ms per runner; each round runs every runner once (same inputs), so drifts in machine
    load hit all of them alike."""
    for _ in range(warmup):
        for r in runners.values():
            r(pair.template, pair.search)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):
        for k, r in runners.items():
            t0 = time.perf_counter()
            r(pair.template, pair.search)
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: round(float(np.median(v)), 3) for k, v in times.items()}


def compare_variants(
    card: ModelCard,
    pairs: Sequence,
    names: Sequence[str] | None = None,
    threads: int = 1,
    rounds: int = 20,
    gate: Gate | None = None,
    source: str | dict | None = None,
) -> dict[str, dict[str, Any]]:
    """Fill ``metrics`` and ``kept`` of the card's INT8 variants (``names``: default all int8) in place.

    ``pairs``: :class:`training.export.calibration.CropPair` items (``template``, ``search``).
    Returns ``{variant: metrics}``; the caller saves the card.
    """
    gate = gate or Gate()
    pairs = list(pairs)
    if not pairs:
        raise ValueError("compare_variants needs at least one crop pair")
    if names is None:
        names = [v.name for v in card.variants if v.precision == "int8"]
    hann = hann2d(card.feature_size) if card.inference.get("hann_window", True) else None
    ref = _load(card, REFERENCE, threads)
    ref_out = run_all(ref, pairs)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        v = card.variant(name)
        base_name = FP32_OF_BACKEND.get(v.backend, REFERENCE)
        if base_name not in {x.name for x in card.variants}:
            base_name = REFERENCE  # e.g. openvino-int8 exported without the OpenVINO FP32 IR
        runner = _load(card, name, threads)
        m = agreement(ref_out, run_all(runner, pairs), hann)
        base = ref if base_name == REFERENCE else _load(card, base_name, threads)
        lat = interleaved_latency({"fp32": base, name: runner}, pairs[0], rounds=rounds)
        m.update({
            "latency_ms": lat[name], "fp32_latency_ms": lat["fp32"], "fp32_variant": base_name,
            "speedup": round(lat["fp32"] / lat[name], 3), "threads": threads, "rounds": rounds,
            "crops": source or "given pairs", "gate": asdict(gate),
        })
        faster = m["speedup"] > gate.min_speedup
        agrees = (m["score_corr"] >= gate.min_score_corr and m["argmax_agree"] >= gate.min_argmax_agree
                  and m["box_iou"] >= gate.min_box_iou)
        m["faster"], m["agrees"] = bool(faster), bool(agrees)
        m["gate_rule"] = ("provisional: faster than FP32 and agreeing with FP32 on real crops; final rule with a "
                          "trained model: faster and within 1.0 AUC point of FP32 on ../shared/data/sot/eval")
        v.metrics = {**v.metrics, **m}
        v.kept = bool(faster and agrees)
        results[name] = m
    return results


# ------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    """Re-measure an exported model directory: ``python -m training.export.compare DIR [--threads 1 2]``.

    Prints one markdown table per thread count (the card is changed only with ``--update-card``,
    which stores the measurement of the first thread count).
    """
    import argparse
    import os
    import platform

    from .calibration import CalibrationSet

    p = argparse.ArgumentParser(prog="python -m training.export.compare", description=main.__doc__.splitlines()[0])
    p.add_argument("model_dir")
    p.add_argument("--pairs-root", default="../shared/data/sot/train_videos",
                   help="clips to cut crop pairs from (<seq>.mp4 + <seq>.txt or <seq>/img + groundtruth.txt)")
    p.add_argument("--sequences", default=None, help="comma list: only these clips of --pairs-root")
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--seed", type=int, default=1, help="crop seed (export calibrates with --seed 0)")
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--update-card", action="store_true")
    args = p.parse_args(argv)
    card = ModelCard.load(args.model_dir)
    seqs = [n.strip() for n in args.sequences.split(",") if n.strip()] if args.sequences else None
    pairs = CalibrationSet.from_card(args.pairs_root, card, num_pairs=args.pairs, seed=args.seed, sequences=seqs)
    print(f"model {card.name} (trained={card.trained}), {len(pairs)} crop pairs from {args.pairs_root} "
          f"seed {args.seed}, "
          f"{platform.machine()} {os.cpu_count()} cpus, load avg before {os.getloadavg()[0]:.2f}")
    first = None
    for t in args.threads:
        res = compare_variants(card, pairs, threads=t, rounds=args.rounds, source=f"{args.pairs_root} seed {args.seed}")
        first = first or {k: (dict(v), card.variant(k).kept) for k, v in res.items()}
        print(f"\nthreads={t}, rounds={args.rounds} (interleaved with the same backend's FP32, median ms)\n")
        print("| variant | FP32 ms | INT8 ms | speedup | score corr (min) | argmax agree | box IoU (min) "
              "| max abs score diff | kept |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for k, m in res.items():
            print(f"| {k} (vs {m['fp32_variant']}) | {m['fp32_latency_ms']:.1f} | {m['latency_ms']:.1f} | "
                  f"{m['speedup']:.2f} | {m['score_corr']:.4f} ({m['score_corr_min']:.4f}) | {m['argmax_agree']:.3f} | "
                  f"{m['box_iou']:.3f} ({m['box_iou_min']:.3f}) | {m['score_max_abs_diff']:.4f} "
                  f"| {card.variant(k).kept} |")
    print(f"\nload avg after {os.getloadavg()[0]:.2f}")
    if args.update_card and first:
        for k, (m, kept) in first.items():
            v = card.variant(k)
            v.metrics, v.kept = m, kept
        from training.export.package import save_card

        save_card(card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
