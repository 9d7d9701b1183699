"""``sstrack-edge demo``: track the generated synthetic clip and score it against its known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .draw import VideoWriter, draw_result
from .geometry import iou_xywh
from .synthetic import make_clip
from .tracker import Tracker


def run_demo(tracker: Tracker, out_dir: Path, n_frames: int = 150, seed: int = 0) -> dict:
    """Track the synthetic clip; write ``demo.mp4``, ``boxes.txt`` and ``truth.txt`` to ``out_dir``."""
    frames, truth = make_clip(n_frames=n_frames, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = VideoWriter(str(out_dir / "demo.mp4"), 30.0)
    boxes, lost = [], []
    try:
        for i, frame in enumerate(frames):
            if i == 0:
                tracker.init(frame, truth[0])
            else:
                tracker.update(frame)
            r = tracker.result
            boxes.append(r.bbox)
            lost.append(r.lost)
            writer.write(draw_result(frame, r, truth=truth[i]))
    finally:
        writer.close()
    boxes_a = np.asarray(boxes)
    lost_a = np.asarray(lost)
    np.savetxt(out_dir / "boxes.txt", boxes_a, fmt="%.3f", delimiter=",")
    np.savetxt(out_dir / "truth.txt", truth, fmt="%.3f", delimiter=",")
    visible = ~np.isnan(truth[:, 0])
    visible[0] = False  # the init frame is given, not tracked
    iou = iou_xywh(boxes_a[visible], truth[visible])
    absent = np.isnan(truth[:, 0])
    lat = tracker.result.latency_ms
    return {
        "model": tracker.model.describe(),
        "frames": len(frames),
        "mean_iou_visible": round(float(iou.mean()), 4),
        "success_rate_iou50": round(float((iou > 0.5).mean()), 4),
        "frames_target_absent": int(absent.sum()),
        "lost_when_absent": int((lost_a & absent).sum()),
        "lost_when_visible": int((lost_a & visible).sum()),
        "last_update_ms": round(lat, 2),
        "video": str(out_dir / "demo.mp4"),
        "boxes": str(out_dir / "boxes.txt"),
    }
