"""Validation during training: held-out sequences tracked after epochs, ``best.pt`` = best AUC."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from _train_tiny import TRAIN_CLIPS, tiny_config
from training.checkpoint import load_checkpoint
from training.train_config import ConfigError
from training.trainer import Trainer

HELD_OUT = ["UAV123_10fps_wakeboard7"]  # the shortest of the TRAIN_CLIPS (67 frames): cheap to track every epoch


def _config(train_videos, stills_dir, **over):
    data = {"datasets": [{"kind": "video", "root": str(train_videos), "weight": 3,
                          "options": {"names": TRAIN_CLIPS, "exclude": HELD_OUT}}],
            "samples_per_epoch": 32}
    validation = {"root": str(train_videos), "format": "videos", "sequences": HELD_OUT, **over.pop("validation", {})}
    return tiny_config(train_videos, stills_dir, data=data, validation=validation, **over)


def test_validation_sequences_must_be_held_out(train_videos, stills_dir):
    assert _config(train_videos, stills_dir).validation.sequences == HELD_OUT
    with pytest.raises(ConfigError, match=r"\['UAV123_10fps_wakeboard7'\] are also training data.*exclude"):
        tiny_config(train_videos, stills_dir, validation={"root": str(train_videos), "sequences": HELD_OUT})
    with pytest.raises(ConfigError, match="name the held-out validation.sequences"):
        tiny_config(train_videos, stills_dir, validation={"root": str(train_videos)})
    with pytest.raises(ConfigError, match="validation.every"):
        tiny_config(train_videos, stills_dir, validation={"root": str(train_videos), "sequences": HELD_OUT, "every": 0})
    with pytest.raises(ConfigError, match="not found"):
        tiny_config(train_videos, stills_dir, validation={"root": str(train_videos / "nope"), "sequences": HELD_OUT})


@pytest.mark.realdata
def test_best_checkpoint_follows_validation_auc_and_survives_resume(tmp_path, train_videos, stills_dir):
    torch.set_num_threads(1)
    cfg = _config(train_videos, stills_dir, epochs=3, log={"keep_checkpoints": 0})
    full = Trainer(cfg, tmp_path / "full")
    recs = full.fit()
    aucs = [r["val_auc"] for r in recs]
    assert all(0.0 <= a <= 100.0 for a in aucs)
    assert all(set(r["val_per_sequence"]) == set(HELD_OUT) for r in recs)
    best_epoch = 1 + max(range(3), key=lambda i: (aucs[i], -i))  # first epoch with the highest AUC
    assert [r["best_epoch"] for r in recs][-1] == best_epoch
    best = load_checkpoint(tmp_path / "full" / "best.pt")
    assert best["epoch"] == best_epoch and best["best"] == {"epoch": best_epoch, "val_auc": aucs[best_epoch - 1]}
    same = load_checkpoint(tmp_path / "full" / "checkpoints" / f"epoch_{best_epoch:04d}.pt")
    assert all(torch.equal(best["model"][k], same["model"][k]) for k in best["model"])
    assert os.path.samefile(tmp_path / "full" / "last.pt", tmp_path / "full" / "checkpoints" / "epoch_0003.pt")

    part = Trainer(cfg, tmp_path / "part")
    part.fit(stop_after_epoch=1)
    resumed = Trainer(cfg, tmp_path / "part")
    resumed.resume(tmp_path / "part")
    resumed.fit()
    lines = [json.loads(x) for x in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert [r["val_auc"] for r in lines] == aucs  # validation does not disturb the training RNG
    assert load_checkpoint(tmp_path / "part" / "best.pt")["best"] == best["best"]


@pytest.mark.realdata
def test_validation_every_n_epochs_and_always_the_last(tmp_path, train_videos, stills_dir):
    torch.set_num_threads(1)
    cfg = _config(train_videos, stills_dir, epochs=3)
    cfg.validation.every = 2
    recs = Trainer(cfg, tmp_path / "run").fit()
    assert ["val_auc" in r for r in recs] == [False, True, True]
    # the training curves get a fourth panel (scores) from the log alone
    import cv2
    from training.plot import plot_run

    curves = plot_run(tmp_path / "run", tmp_path / "png")[1]
    assert cv2.imread(str(curves)).shape[1] == 21 * 110


def test_tre_validation_options_are_checked(train_videos, stills_dir):
    v = _config(train_videos, stills_dir, validation={"starts": 3, "size_update_rate": 0.3}).validation
    assert (v.starts, v.size_update_rate) == (3, 0.3)
    with pytest.raises(ConfigError, match="starts .* must be a positive integer, got 0"):
        _config(train_videos, stills_dir, validation={"starts": 0})
    with pytest.raises(ConfigError, match="size_update_rate must be null or a number in"):
        _config(train_videos, stills_dir, validation={"size_update_rate": 2})


@pytest.mark.realdata
def test_tre_validation_averages_the_segments_of_each_held_out_clip(tmp_path, train_videos, stills_dir):
    from sstrack_edge.evaluation import load_dataset, temporal_segments
    from training.evaluate import evaluate_tracker
    from training.torch_runner import torch_tracker

    torch.set_num_threads(1)
    cfg = _config(train_videos, stills_dir, epochs=1, validation={"starts": 3, "size_update_rate": 0.3})
    trainer = Trainer(cfg, tmp_path / "run")
    rec = trainer.fit()[0]
    assert set(rec["val_per_sequence"]) == set(HELD_OUT)
    # the same numbers as OPE on each segment, averaged with equal weight
    segs = temporal_segments(load_dataset(train_videos, "videos", HELD_OUT), 3)
    assert [s.name for s in segs] == [f"{HELD_OUT[0]}{at}" for at in ("", "@23", "@46")]
    tracker = torch_tracker(trainer.model, {"size_update_rate": 0.3})  # the runtime loop validation runs
    ope = [evaluate_tracker(tracker, [s])["auc"] for s in segs]
    assert rec["val_auc"] == pytest.approx(np.mean(ope))
    tre = evaluate_tracker(tracker, segs[:1], starts=3)
    assert tre["sequences"] == 3 and tre["per_sequence"][HELD_OUT[0]]["segments"] == 3
    assert tre["auc"] == pytest.approx(np.mean(ope))
