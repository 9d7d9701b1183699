"""Record a side-by-side ``sstrack-edge eval`` run of a model and its peers in the model's card.

Step 4 of scripts/build_default_model.sh, and the way to refresh the table later (e.g. after an
OpenCV upgrade, which moves every tracker's score: benchmarks/RESULTS.md). Reads the run's
``summary.json`` and writes ``metrics.eval_vs_peers``: per tracker and mode, AUC / P@20 in %, FPS
and the fraction of frames processed, with the machine, CPU model and OpenCV version it ran with.

    python -m training.export.peers_table MODEL_DIR RUN_DIR/summary.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import cv2

from sstrack_edge.bench import cpu_name
from sstrack_edge.model_card import ModelCard, ModelFileError

MODES = ("offline", "streaming")


def _row_name(tracker: str, model_dir: str) -> str:
    """``sstrack:MODEL_DIR[:backend[:precision]]`` -> ``sstrack:<this model>[...]``; others as they are."""
    head = f"sstrack:{model_dir}"
    if tracker == head or tracker.startswith(head + ":"):
        return "sstrack:<this model>" + tracker[len(head):]
    return tracker


def peers_table(summary: dict, model_dir: str) -> dict:
    """``metrics.eval_vs_peers`` from an eval summary; ``model_dir`` (the model's path as the run
    named it) becomes ``<this model>`` in the tracker names."""
    try:
        trackers, conventions = summary["trackers"], summary["conventions"]
        rows = {
            _row_name(name, model_dir): {
                mode: {"auc": round(100 * m["auc"], 1), "precision20": round(100 * m["precision20"], 1),
                       "fps": round(m["fps"], 1), "processed": round(m["processed_fraction"], 3)}
                for mode, m in modes.items() if mode in MODES}
            for name, modes in trackers.items()}
        data, threads = conventions["root"], conventions["threads"]
    except (KeyError, TypeError) as e:
        raise ValueError(f"not an sstrack-edge eval summary.json (missing {e})") from None
    if not any("<this model>" in name for name in rows):
        raise ValueError(f"the run has no tracker on the model {model_dir!r}: {sorted(rows)}")
    return {"data": data, "threads": threads, "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
            "cpu": cpu_name(), "opencv": cv2.__version__,
            "note": "one run of sstrack-edge eval, offline and streaming (simulated real time at the source frame rate)",
            "trackers": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export.peers_table",
                                description="write an eval run of the model and its peers into the card")
    p.add_argument("model_dir", type=Path, help="the model folder, spelled as in the run's --trackers")
    p.add_argument("summary", type=Path, help="summary.json of sstrack-edge eval --trackers sstrack:MODEL_DIR,...")
    args = p.parse_args(argv)
    try:
        card = ModelCard.load(args.model_dir)
        summary = json.loads(args.summary.read_text())
        table = peers_table(summary, str(args.model_dir))
    except (OSError, ValueError, ModelFileError) as e:  # json.JSONDecodeError is a ValueError
        print(f"peers_table: {e}", file=sys.stderr)
        return 2
    card.metrics["eval_vs_peers"] = table
    from training.export.package import save_card

    save_card(card)
    print(json.dumps(table["trackers"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
