"""The results table printed by ``sstrack-edge eval`` and the ``summary.json`` written next to it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .absence import AFTER_FRAMES
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


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _median(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def longterm_tables(rows: dict[str, dict[str, dict]], segments: int) -> str:
    """The ``--long-term`` tables: one row per tracker and mode, then one per tracker, mode and kind
    of absence (``rows``: :func:`.longterm.evaluate_longterm`)."""
    width = max([34] + [len(name) for name in rows])
    header = (f"{'tracker':<{width}} {'mode':9s} {'F':>6s} {'Pr':>6s} {'Re':>6s} {'tau':>5s} {'absent->lost':>12s} "
              f"{'visible->lost':>13s} {'re-acquire (median frames)':>27s}")
    lines = [header, "-" * len(header)]
    for name, modes in rows.items():
        for mode, r in modes.items():
            reacq = "-" if r["reacquire_median"] is None else f"{r['reacquire_median']:.0f} ({r['returns']} returns)"
            lines.append(f"{name:<{width}} {mode:9s} {100 * r['f_score']:6.1f} {100 * r['precision']:6.1f} "
                         f"{100 * r['recall']:6.1f} {r['threshold']:5.2f} {_pct(r['absent_lost']):>12s} "
                         f"{_pct(r['visible_lost']):>13s} {reacq:>27s}")
    lines.append(f"{segments} segments; F / Pr / Re in %, at the threshold (tau) with the best F")
    if any(r["by_kind"] for modes in rows.values() for r in modes.values()):
        header = (f"{'tracker':<{width}} {'mode':9s} {'kind':9s} {'absent':>6s} {'absent->lost':>12s} {'visible':>7s} "
                  f"{'visible->lost':>13s} {'returns':>7s} {'re-acquire':>10s}")
        title = f"by kind of absence (its frames and the {AFTER_FRAMES} after each; real: the clips' own absences)"
        lines += ["", title, header, "-" * len(header)]
        for name, modes in rows.items():
            for mode, r in modes.items():
                for kind, k in r["by_kind"].items():
                    lines.append(f"{name:<{width}} {mode:9s} {kind:9s} {k['absent_frames']:6d} "
                                 f"{_pct(k['absent_lost']):>12s} {k['visible_frames']:7d} "
                                 f"{_pct(k['visible_lost']):>13s} {k['returns']:7d} "
                                 f"{_median(k['reacquire_median']):>10s}")
    return "\n".join(lines)
