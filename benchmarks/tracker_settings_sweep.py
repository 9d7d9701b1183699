"""Mean success AUC of the runtime ``Tracker`` on named sequences, for card ``inference`` overrides.

How the bundled card's tracker settings were compared on the held-out train clips
(docs/runtime.md, "Size smoothing" and "Lost target"). ORT FP32, 1 thread; a frame the tracker
reports lost counts as a failure, as in ``sstrack-edge eval``. Frames are decoded once.

    python benchmarks/tracker_settings_sweep.py models/default ../shared/data/sot/train_videos \\
        UAV123_10fps_building5,UAV123_10fps_wakeboard3 \\
        '[{"lost_threshold": 0.15, "lost_patience": 10}, {"lost_threshold": 0.3, "lost_patience": 0}]'

ROOT is read as ``videos`` when it holds video files, else as ``sot`` (``load_dataset(..., "auto")``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np

from sstrack_edge import Tracker, load_model
from sstrack_edge.backends import LoadedModel
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.metrics import score_sequence, summarize


def sweep(model_dir: str, root: str, names: list[str], settings: list[dict]) -> list[dict]:
    base = load_model(model_dir, backend="onnxruntime", precision="fp32", threads=1)
    clips = [(s, [s.read_frame(i) for i in range(len(s))]) for s in load_dataset(root, "auto", names)]
    rows = []
    for overrides in settings:
        card = replace(base.card, inference={**base.card.inference, **overrides})
        model = LoadedModel(card, base.variant, 1, False, None, runner_factory=lambda _m: base.create_runner())
        tracker = Tracker(model)
        scores, per_sequence, lost = [], {}, {}
        for seq, frames in clips:
            pred = np.full((len(frames), 4), np.nan)
            pred[0] = seq.init_box
            tracker.init(frames[0], seq.init_box)
            for i in range(1, len(frames)):
                ok, box = tracker.update(frames[i])
                if ok:
                    pred[i] = box
            s = score_sequence(pred, seq.ground_truth, seq.present())
            scores.append(s)
            per_sequence[seq.name] = round(100 * s.auc, 1)
            lost[seq.name] = int(np.isnan(pred[1:, 0]).sum())
        rows.append({"inference": overrides, "auc": round(100 * summarize(scores).auc, 2),
                     "per_sequence": per_sequence, "lost_frames": lost})
    return rows


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    for row in sweep(sys.argv[1], sys.argv[2], sys.argv[3].split(","), json.loads(sys.argv[4])):
        print(json.dumps(row))
