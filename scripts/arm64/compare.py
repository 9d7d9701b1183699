"""Compare two ``track_frames.py`` runs (x86-64 reference vs emulated aarch64) against tolerances.

Each runtime is compared with itself across architectures (ORT fp32 vs ORT fp32, ORT int8 vs ORT
int8, OpenVINO vs OpenVINO), never runtimes with each other. The tolerances are stated here once
(used by tests/arm) and explained in docs/arm.md ("What is compared, and the tolerances").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

MAPS = ("score_map", "size_map", "offset_map", "presence_map")  # presence_map: only models with one


@dataclass(frozen=True)
class Tolerance:
    net: float  # max |diff| of any network output map on identical input bytes
    box_px: float  # max |diff| of any box coordinate (x, y, w, h), pixels, after tracking
    score: float  # max |diff| of the tracker's score


# Floor for every variant. Float kernels differ between AVX-512 and NEON in summation order and in
# exp/erf/tanh approximations: the shared arm64-emu README measured ~2e-6 on a full ViT-Tiny (ORT
# and OpenVINO), so 1e-4 leaves 50x. Boxes and scores also see the crops (OpenCV NEON vs AVX2
# rounding can differ by one uint8 step) and compound over frames: 0.5 px and 1e-3.
FLOOR = Tolerance(net=1e-4, box_px=0.5, score=1e-3)
# Above the floor, a variant may differ across architectures by NOISE_FACTOR times what the x86
# run itself moves under float-rounding-sized input noise (track_frames.py --noise-runs: max over
# several seeded runs). Last-bit differences are exactly what the two architectures produce, and
# INT8 graphs with static activation scales amplify them (a value on a rounding boundary lands one
# quantization step away), so a fixed INT8 tolerance would be either flaky or meaningless; this
# scales with the model. The factor covers a realization larger than the sampled maximum.
NOISE_FACTOR = 4.0
NOISE_KEYS = {"net": "net_noise", "box_px": "box_noise", "score": "score_noise"}


def tolerance_for(ref, name: str) -> Tolerance:
    """Tolerance for variant ``name`` given the reference run ``ref`` (with or without noise runs)."""
    vals = {}
    for field_, key in NOISE_KEYS.items():
        noise = float(ref[f"{name}__{key}"]) if f"{name}__{key}" in ref else 0.0
        vals[field_] = max(getattr(FLOOR, field_), NOISE_FACTOR * noise)
    return Tolerance(**vals)


def meta_of(run) -> dict:
    return json.loads(str(run["meta"]))


def _maxabs(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _ok_equal(ref, other, name: str, score_tol: float, threshold: float) -> bool:
    """ok (not lost) flags agree on every frame whose reference score is not within the score
    tolerance of the lost threshold (there either answer is within tolerance)."""
    decided = np.abs(ref[f"{name}__scores"] - threshold) > score_tol
    return bool(np.array_equal(ref[f"{name}__ok"][decided], other[f"{name}__ok"][decided]))


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
        tol = tolerance_for(ref, name)
        d = {
            "backend": v["backend"],
            "precision": v["precision"],
            "net": max(_maxabs(ref[f"{name}__{k}"], other[f"{name}__{k}"]) for k in MAPS
                       if f"{name}__{k}" in ref),
            "box_px": _maxabs(ref[f"{name}__boxes"], other[f"{name}__boxes"]),
            "score": _maxabs(ref[f"{name}__scores"], other[f"{name}__scores"]),
            "ok_equal": _ok_equal(ref, other, name, tol.score, m_ref["lost_threshold"]),
            "tolerance": tol,
            "noise": {k: float(ref[f"{name}__{n}"]) for k, n in NOISE_KEYS.items() if f"{name}__{n}" in ref},
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
    """Markdown table rows: cpu | variant | backend/precision | net | box | score | x86 noise | tolerance."""
    rows = []
    for name, v in d["variants"].items():
        if v.get("missing"):
            rows.append(f"| {cpu} | {name} | missing | | | | | |")
            continue
        t, n = v["tolerance"], v["noise"]
        noise = " / ".join(f"{n[k]:.3g}" for k in NOISE_KEYS) if n else "-"
        rows.append(
            f"| {cpu} | {name} | {v['backend']}/{v['precision']} | {v['net']:.3g} | {v['box_px']:.3g} | "
            f"{v['score']:.3g} | {noise} | {t.net:.3g} / {t.box_px:.3g} px / {t.score:.3g} |"
        )
    return rows
