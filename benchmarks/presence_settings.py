"""Which lost-target settings? The long-term rates of one model under several card settings.

Each setting is a set of card ``inference`` overrides (``lost_threshold``, ``lost_patience``,
``reacquire_threshold``, ``redetect_tiles``, ...). Every setting tracks the validation clips of a
training config with their real absences and seeded injected ones, for several injection seeds
(more absence events than one seed gives), through the runtime ``Tracker`` (ONNX Runtime FP32, one
thread). Printed per seed and pooled over seeds (absent frames reported lost, visible frames
reported lost, median frames to re-acquire, long-term F); ``--json`` keeps everything.

    python benchmarks/presence_settings.py MODEL_DIR \\
        "lost_threshold=0.1 lost_patience=10" \\
        "lost_threshold=0.15 lost_patience=5 reacquire_threshold=0.4 redetect_tiles=8" \\
        [--seeds 0,1,2] [--config CONFIG] [--json OUT.json]

Choose settings with it on the validation clips only; the eval sequences are for reporting.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from sstrack_edge import ModelCard, Tracker
from sstrack_edge.backends import check_inference
from sstrack_edge.evaluation.absence import frame_kinds, inject_absences
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.longterm import run_longterm, score_longterm, summarize_longterm


def parse_setting(text: str, card: ModelCard) -> dict:
    """``"key=value key=value"`` (YAML values, card inference keys) -> the card's inference with
    those keys replaced."""
    from training.export.cli import parse_inference  # the exporter's --inference parser

    out = {**card.inference, **parse_inference(text.split())}
    check_inference(out, f"setting {text!r}")
    return out


def pooled(runs: list[dict]) -> dict:
    """Rates pooled over seeds: frames summed, the median over all returns, F averaged."""
    absent = sum(r["absent_frames"] for r in runs)
    visible = sum(r["visible_frames"] for r in runs)
    return {
        "absent_lost": sum(r["absent_lost"] * r["absent_frames"] for r in runs) / max(absent, 1),
        "visible_lost": sum(r["visible_lost"] * r["visible_frames"] for r in runs) / max(visible, 1),
        "reacquire_median": float(np.median([f for r in runs for f in r["reacquire"]])),
        "returns": sum(len(r["reacquire"]) for r in runs),
        "f_score": float(np.mean([r["f_score"] for r in runs])),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("settings", nargs="+", help='card inference overrides, e.g. "lost_threshold=0.15 redetect_tiles=8"')
    p.add_argument("--seeds", default="0,1,2", help="absence injection seeds (comma-separated)")
    p.add_argument("--config", default="training/configs/vittrack_finetune.yaml",
                   help="training config whose validation section names the clips")
    p.add_argument("--json", help="write every number here")
    args = p.parse_args(argv)
    from training.train_config import load_config  # the validation clips are named in the config

    v = load_config(args.config).validation
    card = ModelCard.load(args.model)
    settings = [(text, parse_setting(text, card)) for text in args.settings]  # fail before the slow part
    clips = load_dataset(v.root, v.format, v.sequences)
    seeds = [int(s) for s in args.seeds.split(",")]
    report = {"model": args.model, "clips": list(v.sequences), "seeds": seeds, "settings": {}}
    for text, inference in settings:
        tracker = Tracker(replace(card, inference=inference), backend="onnxruntime", precision="fp32", threads=1)
        runs = []
        for seed in seeds:
            seqs = inject_absences(clips, "all", seed)
            scores = [score_longterm(run_longterm(tracker, s), s.ground_truth, s.present(), frame_kinds(s)) for s in seqs]
            summary = summarize_longterm(scores)
            summary["reacquire"] = [f for sc in scores for f in sc.reacquire]
            runs.append({k: val for k, val in summary.items() if k not in ("curves", "by_kind")} | {"by_kind": summary["by_kind"]})
            print(f"{text:70s} seed {seed}: absent lost {summary['absent_lost']:6.1%}  visible lost "
                  f"{summary['visible_lost']:5.1%}  re-acquire {summary['reacquire_median']:4.0f}  "
                  f"F {100 * summary['f_score']:.1f}", flush=True)
        total = pooled(runs)
        print(f"{text:70s} pooled: absent lost {total['absent_lost']:6.1%}  visible lost {total['visible_lost']:5.1%}  "
              f"re-acquire {total['reacquire_median']:4.0f} ({total['returns']} returns)  F {100 * total['f_score']:.1f}",
              flush=True)
        report["settings"][text] = {"inference": inference, "seeds": runs, "pooled": total}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
