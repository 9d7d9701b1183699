"""DDP on CPU: 2 gloo processes, tiny network, real data; statistics and parameters agree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from _train_tiny import tiny_config

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _worker(rank: int, world: int, init_file: str, out_dir: str, sot_train: str, stills: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        from training.checkpoint import load_checkpoint
        from training.trainer import DistInfo, Trainer

        cfg = tiny_config(Path(sot_train), Path(stills), epochs=2)
        trainer = Trainer(cfg, Path(out_dir) / "run", DistInfo(rank, world, rank), device="cpu")
        recs = trainer.fit()
        flat = torch.cat([p.detach().reshape(-1) for p in trainer.model.parameters()])
        torch.save(flat, Path(out_dir) / f"params_{rank}.pt")
        hist = [{k: h[k] for k in ("tau", "mean_iou", "p", "q_next", "gamma_next", "bin_counts", "num_samples")}
                for h in trainer.schedule.history]
        (Path(out_dir) / f"stats_{rank}.json").write_text(json.dumps({"hist": hist, "recs": recs}))
        dist.barrier()
        if rank == 0:
            ck = load_checkpoint(Path(out_dir) / "run" / "last.pt")
            (Path(out_dir) / "ckpt.json").write_text(json.dumps({"rng": len(ck["rng"]), "world": ck["world_size"]}))
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_training_stays_in_sync(tmp_path, sot_train, stills_dir):
    world = 2
    mp.spawn(_worker, args=(world, str(tmp_path / "init"), str(tmp_path), str(sot_train), str(stills_dir)),
             nprocs=world, join=True)
    s0 = json.loads((tmp_path / "stats_0.json").read_text())
    s1 = json.loads((tmp_path / "stats_1.json").read_text())
    assert s0["hist"] == s1["hist"]  # all-reduced statistics identical on both ranks
    assert [h["num_samples"] for h in s0["hist"]] == [16, 16]  # the whole epoch, both ranks' halves
    assert s0["recs"][-1]["loss"] == s1["recs"][-1]["loss"]
    p0, p1 = torch.load(tmp_path / "params_0.pt"), torch.load(tmp_path / "params_1.pt")
    assert torch.equal(p0, p1)  # DDP kept the replicas identical
    ck = json.loads((tmp_path / "ckpt.json").read_text())
    assert ck == {"rng": 2, "world": 2}
    assert os.path.isfile(tmp_path / "run" / "log.jsonl")
