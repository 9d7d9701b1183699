"""Compare two ``track_frames.py`` runs (x86-64 reference vs emulated aarch64) against tolerances.

Each runtime is compared with itself across architectures (ORT fp32 vs ORT fp32, ORT int8 vs ORT
int8, OpenVINO vs OpenVINO), never runtimes with each other. The tolerances, and why, are in
docs/arm.md ("What the check compares"); they are stated here once and used by tests/arm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

MAPS = ("score_map", "size_map", "offset_map")


@dataclass(frozen=True)
class Tolerance:
    net: float  # max |diff| of any network output map on identical input bytes
    box_px: float  # max |diff| of any box coordinate (x, y, w, h), pixels, after tracking
    score: float  # max |diff| of the tracker's score


# Float kernels: README of shared/tools/arm64-emu measured ~2e-6 on a full ViT-Tiny (ORT and
# OpenVINO); 1e-4 leaves 50x margin. Boxes/scores additionally see crops that may differ by one
# uint8 step (OpenCV NEON vs AVX2 interpolation rounding).
FLOAT = Tolerance(net=1e-4, box_px=0.5, score=1e-3)
# ORT int8: integer GEMMs are exact on both ISAs, but the float parts between them (dequantize,
# LayerNorm, softmax, GELU) differ in the last bits, and a dynamic activation scale or a value on a
# rounding boundary can then move by one quantization step downstream.
ORT_INT8 = Tolerance(net=2e-2, box_px=2.0, score=2e-2)
# OpenVINO int8 on ARM runs the quantized graph in float ("simulation mode"); on x86 it runs int8
# kernels: the same one-quantization-step argument as ORT int8.
OV_INT8 = Tolerance(net=2e-2, box_px=2.0, score=2e-2)


def tolerance_for(backend: str, precision: str) -> Tolerance:
    if precision == "fp32":
        return FLOAT
    return ORT_INT8 if backend == "onnxruntime" else OV_INT8


def meta_of(run) -> dict:
    return json.loads(str(run["meta"]))


def _maxabs(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def diffs(ref, other) -> dict:
    """Per-variant and input-level differences between run ``ref`` and run ``other``."""
    m_ref, m_oth = meta_of(ref), meta_of(other)
    out = {
        "frames_identical": bool(np.array_equal(ref["frame_sha256"], other["frame_sha256"])),
        "crop_template_max_step": int(_maxabs(ref["crop_template"], other["crop_template"])),
        "crop_search_max_step": int(_maxabs(ref["crop_search"], other["crop_search"])),
        "variants": {},
    }
    for name, v in m_ref["variants"].items():
        if name not in m_oth["variants"]:
            out["variants"][name] = {"missing": True}
            continue
        tol = tolerance_for(v["backend"], v["precision"])
        d = {
            "backend": v["backend"],
            "precision": v["precision"],
            "net": max(_maxabs(ref[f"{name}__{k}"], other[f"{name}__{k}"]) for k in MAPS),
            "box_px": _maxabs(ref[f"{name}__boxes"], other[f"{name}__boxes"]),
            "score": _maxabs(ref[f"{name}__scores"], other[f"{name}__scores"]),
            "ok_equal": bool(np.array_equal(ref[f"{name}__ok"], other[f"{name}__ok"])),
            "tolerance": tol,
        }
        out["variants"][name] = d
    return out


def violations(d: dict) -> list[str]:
    """Human-readable list of every tolerance violation in ``diffs(...)`` output (empty = pass)."""
    bad = []
    if d["crop_template_max_step"] > 1 or d["crop_search_max_step"] > 1:
        bad.append(
            f"crops differ by more than one uint8 step (template {d['crop_template_max_step']}, "
            f"search {d['crop_search_max_step']})"
        )
    for name, v in d["variants"].items():
        if v.get("missing"):
            bad.append(f"{name}: not run on this machine")
            continue
        tol = v["tolerance"]
        for key in ("net", "box_px", "score"):
            if not v[key] <= getattr(tol, key):  # also catches nan/inf
                bad.append(f"{name} ({v['backend']}/{v['precision']}): {key} diff {v[key]:.3g} > {getattr(tol, key):g}")
        if not v["ok_equal"]:
            bad.append(f"{name}: ok/lost flags differ")
    return bad


def table_rows(cpu: str, d: dict) -> list[str]:
    """Markdown table rows: cpu | variant | backend/precision | net | box | score | tolerance."""
    rows = []
    for name, v in d["variants"].items():
        if v.get("missing"):
            rows.append(f"| {cpu} | {name} | missing | | | | |")
            continue
        t = v["tolerance"]
        rows.append(
            f"| {cpu} | {name} | {v['backend']}/{v['precision']} | {v['net']:.3g} | {v['box_px']:.3g} | "
            f"{v['score']:.3g} | {t.net:g} / {t.box_px:g} px / {t.score:g} |"
        )
    return rows
