"""training.average_checkpoints: the mean of a run's epoch checkpoints, usable by evaluate/export."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from _train_tiny import tiny_config
from training.average_checkpoints import average_checkpoints, main
from training.checkpoint import atomic_save, load_checkpoint
from training.evaluate import load_tracker as load_torch_tracker, track_sequence
from training.trainer import Trainer

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def run(tmp_path_factory, train_videos, stills_dir):
    """A tiny real run that keeps all three epoch checkpoints."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("avg") / "run"
    cfg = tiny_config(train_videos, stills_dir, log={"keep_checkpoints": 0})
    Trainer(cfg, out).fit()
    return out


def test_average_is_the_elementwise_mean(run):
    paths = [run / "checkpoints" / f"epoch_{e:04d}.pt" for e in (1, 2, 3)]
    ckpts = [load_checkpoint(p) for p in paths]
    avg = average_checkpoints(paths)
    assert avg["epoch"] == 3 and [a["epoch"] for a in avg["averaged_from"]] == [1, 2, 3]
    moved = 0
    for k, v in avg["model"].items():
        assert v.dtype == ckpts[2]["model"][k].dtype
        if v.is_floating_point():
            mean = sum(c["model"][k].double() for c in ckpts) / 3
            assert torch.allclose(v.double(), mean, atol=1e-6), k
            moved += int(not torch.equal(ckpts[0]["model"][k], ckpts[2]["model"][k]))
        else:
            assert torch.equal(v, ckpts[2]["model"][k])
    assert moved > 10  # the epochs really differ, so the test can fail


def test_cli_output_tracks_exports_and_refuses_resume(run, tmp_path, train_videos, stills_dir, capsys):
    out = tmp_path / "avg.pt"
    assert main([str(run), "--epochs", "2-3", "--out", str(out)]) == 0
    assert "epochs [2, 3]" in capsys.readouterr().out
    ck = load_checkpoint(out)
    assert [a["epoch"] for a in ck["averaged_from"]] == [2, 3]

    # training.evaluate's torch tracker runs it on a real sequence
    from sstrack_edge.evaluation.datasets import load_dataset

    full = load_dataset(train_videos, "videos", ["UAV123_10fps_car10"])[0]
    seq = dataclasses.replace(full, frames=full.frames[:5], ground_truth=full.ground_truth[:5])
    pred = track_sequence(load_torch_tracker(out), seq)
    assert pred.shape == (5, 4) and torch.isfinite(torch.from_numpy(pred)).all()

    # sstrack-export's loader rebuilds the whole network from it
    from training.models.checkpoints import load_tracker

    model, info = load_tracker(out)
    assert info["epoch"] == 3 and not info["report"]["missing"]

    trainer = Trainer(tiny_config(train_videos, stills_dir), tmp_path / "again")
    with pytest.raises(ValueError, match="average of checkpoints"):
        trainer.resume(out)


def test_bad_inputs_exit_2_with_a_message(run, tmp_path, capsys):
    one = run / "checkpoints" / "epoch_0001.pt"
    assert main([str(one), "--out", str(tmp_path / "a.pt")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main([str(run), "--epochs", "2-7", "--out", str(tmp_path / "a.pt")]) == 2
    assert "epoch_0004.pt" in capsys.readouterr().err
    assert main([str(one), str(tmp_path / "nope.pt"), "--out", str(tmp_path / "a.pt")]) == 2
    assert "not found" in capsys.readouterr().err

    other = load_checkpoint(one)
    other["model_config"] = {**other["model_config"], "depth": 5}
    atomic_save(other, tmp_path / "other.pt")
    assert main([str(one), str(tmp_path / "other.pt"), "--out", str(tmp_path / "a.pt")]) == 2
    assert "different model config" in capsys.readouterr().err
    assert not (tmp_path / "a.pt").exists()
