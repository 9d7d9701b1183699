"""Ground-truth rows the loaders cannot use are reported by reason, in the console and in every
``log.jsonl`` record, never dropped silently (issue 28, item 10)."""

from __future__ import annotations

import json
import logging
import shutil

from _train_tiny import tiny_config

CLIP = "UAVDT_S0310"


def test_bad_rows_are_logged_by_reason_and_recorded(train_videos, stills_dir, tmp_path, caplog):
    from training.trainer import Trainer

    root = tmp_path / "my_clips"
    root.mkdir()
    shutil.copy(train_videos / f"{CLIP}.mp4", root / f"{CLIP}.mp4")
    rows = (train_videos / f"{CLIP}.txt").read_text().splitlines()
    rows[5] = "12,40,oops,30"  # not a number
    rows[9] = "12,40,30"  # three fields
    (root / f"{CLIP}.txt").write_text("\n".join(rows) + "\n")
    data = {"datasets": [{"kind": "video", "root": str(root), "weight": 1}]}
    cfg = tiny_config(train_videos, stills_dir, epochs=1, data=data)
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(cfg, tmp_path / "run")
    warned = [r.getMessage() for r in caplog.records if "skipped 2 x bad annotation row" in r.getMessage()]
    assert warned and f"{CLIP}.txt:6" in warned[0]  # the first bad row, by file and line
    trainer.fit()
    rec = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[0])
    assert rec["load_skipped"] == {"my_clips": {"bad annotation row": 2}}
