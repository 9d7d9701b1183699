"""--resume continues exactly: killed after epoch k + resumed == uninterrupted (bitwise)."""

from __future__ import annotations

import json

import pytest
import torch

from _train_tiny import tiny_config
from training.checkpoint import CheckpointError, load_checkpoint
from training.trainer import Trainer

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _params(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.parametrize("sampler", ["interval", "random"])
def test_resume_is_bitwise_identical(tmp_path, train_videos, stills_dir, sampler):
    torch.set_num_threads(1)
    cfg = tiny_config(train_videos, stills_dir, schedule={"sampler": sampler})
    full = Trainer(cfg, tmp_path / "full")
    recs_full = full.fit()

    part = Trainer(cfg, tmp_path / "part")
    part.fit(stop_after_epoch=1)  # "killed" after epoch 1: only the checkpoint survives
    del part
    resumed = Trainer(cfg, tmp_path / "part")
    resumed.resume(tmp_path / "part")
    assert resumed.epoch == 1
    recs_resumed = resumed.fit()

    pa, pb = _params(full), _params(resumed)
    assert pa.keys() == pb.keys()
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k
    for a, b in zip(recs_full[1:], recs_resumed):
        assert a["loss"] == b["loss"] and a["q"] == b["q"] and a["q_next"] == b["q_next"]
    lines = [json.loads(x) for x in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]


def test_checkpoint_contents_and_atomic_files(tmp_path, train_videos, stills_dir):
    cfg = tiny_config(train_videos, stills_dir, epochs=2)
    t = Trainer(cfg, tmp_path / "run")
    t.fit()
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    for key in ("model", "optimizer", "lr_scheduler", "schedule", "sampler", "rng", "model_config", "epoch"):
        assert key in ck
    assert ck["epoch"] == 2 and len(ck["rng"]) == 1
    assert ck["schedule"]["history"][-1]["epoch"] == 2
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["epoch_0001.pt", "epoch_0002.pt"]
    assert not list((tmp_path / "run").rglob("*.tmp"))
    # the export side (sstrack-export --checkpoint) rebuilds the same network from it
    from training.models.checkpoints import load_tracker

    model, info = load_tracker(tmp_path / "run" / "last.pt")
    assert info["config_source"] == "checkpoint"
    for k, v in t.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_resume_errors(tmp_path, train_videos, stills_dir):
    cfg = tiny_config(train_videos, stills_dir, epochs=1)
    t = Trainer(cfg, tmp_path / "run")
    with pytest.raises(CheckpointError, match="not found"):
        t.resume(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        t.resume(tmp_path / "junk.pt")
