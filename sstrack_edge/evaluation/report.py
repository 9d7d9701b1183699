"""The results table printed by ``sstrack-edge eval`` and the ``summary.json`` written next to it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .evaluate import ModeResult


def results_table(results: list[ModeResult]) -> str:
    """One row per tracker: offline AUC / P@20 / NP@0.2 / FPS, streaming AUC / P@20 / frames processed."""
    by_tracker: dict[str, dict[str, ModeResult]] = {}
    for r in results:
        by_tracker.setdefault(r.tracker, {})[r.mode] = r
    width = max([28] + [len(name) for name in by_tracker])
    header = f"{'tracker':<{width}} {'AUC':>6} {'P@20':>6} {'NP@.2':>6} {'FPS':>7} | {'sAUC':>6} {'sP@20':>6} {'proc%':>6}"
    lines = ["offline: every frame; streaming (s): real time at the source frame rate, proc% = frames processed",
             header, "-" * len(header)]
    batched = False
    for name, modes in by_tracker.items():
        off, st = modes.get("offline"), modes.get("streaming")
        mark = "*" if off and off.timing != "latency" else " "
        batched |= mark == "*"
        left = (f"{100 * off.summary.auc:6.1f} {100 * off.summary.precision20:6.1f} "
                f"{100 * off.summary.norm_precision:6.1f} {off.fps:6.1f}{mark}") if off else f"{'-':>6} {'-':>6} {'-':>6} {'-':>7}"
        right = (f"{100 * st.summary.auc:6.1f} {100 * st.summary.precision20:6.1f} {100 * st.processed_fraction:6.1f}"
                 if st else f"{'-':>6} {'-':>6} {'-':>6}")
        lines.append(f"{name:<{width}} {left} | {right}")
    n = results[0].summary.sequences if results else 0
    lines.append(f"{n} sequences; AUC/P@20/NP in %, mean over sequences")
    if batched:
        lines.append("* FPS of batched runs (--batch): throughput of several sequences per network call, "
                     "not single-target latency")
    for r in results:
        if r.computed:
            how = f"batch {r.batch} (sequences per network call)" if r.batch > 1 else "one sequence at a time"
            lines.append(f"{r.tracker} {r.mode}: tracked {len(r.computed)} sequences in {r.wall_s:.1f} s wall, {how}")
    return "\n".join(lines)


def summary_dict(results: list[ModeResult], conventions: dict) -> dict:
    out: dict = {"conventions": conventions, "trackers": {}}
    for r in results:
        s = r.summary
        out["trackers"].setdefault(r.tracker, {"label": r.label})[r.mode] = {
            "auc": s.auc, "precision20": s.precision20, "norm_precision20": s.norm_precision,
            "op50": s.op50, "op75": s.op75, "ao": s.ao, "sr50": s.sr50, "sr75": s.sr75,
            "fps": r.fps, "fps_timing": r.timing, "processed_fraction": r.processed_fraction, "sequences": s.sequences,
            "tracked_now": {"sequences": len(r.computed), "batch": r.batch, "wall_s": r.wall_s},
            "success_curve": s.success_curve.tolist(), "precision_curve": s.precision_curve.tolist(),
            "per_sequence": {
                k: {"auc": v.auc, "precision20": v.precision20, "norm_precision20": v.norm_precision,
                    "frames_scored": v.frames_scored}
                for k, v in r.scores.items()
            },
        }
    return out


def write_summary(path: str | os.PathLike, results: list[ModeResult], conventions: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(summary_dict(results, conventions), indent=1) + "\n")
    os.replace(tmp, path)
    return path
