"""One DDP rank of tests/training/test_ddp.py, started by torchrun (the launcher owns the processes).

argv: OUT_DIR TRAIN_VIDEOS STILLS_DIR. Writes params_<rank>.pt and stats_<rank>.json into OUT_DIR.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _train_tiny
from _train_tiny import tiny_config  # noqa: E402

from training.checkpoint import load_checkpoint  # noqa: E402
from training.trainer import Trainer, dist_from_env  # noqa: E402


def main(out_dir: str, train_videos: str, stills: str) -> None:
    torch.set_num_threads(1)
    info = dist_from_env()  # RANK / WORLD_SIZE / LOCAL_RANK from torchrun; gloo on CPU
    try:
        cfg = tiny_config(Path(train_videos), Path(stills), epochs=2)
        trainer = Trainer(cfg, Path(out_dir) / "run", info, device="cpu")
        recs = trainer.fit()
        flat = torch.cat([p.detach().reshape(-1) for p in trainer.model.parameters()])
        torch.save(flat, Path(out_dir) / f"params_{info.rank}.pt")
        keys = ("tau", "mean_iou", "p", "q_next", "gamma_next", "bin_counts", "num_samples")
        hist = [{k: h[k] for k in keys} for h in trainer.schedule.history]
        (Path(out_dir) / f"stats_{info.rank}.json").write_text(json.dumps({"hist": hist, "recs": recs}))
        dist.barrier()
        if info.rank == 0:
            ck = load_checkpoint(Path(out_dir) / "run" / "last.pt")
            (Path(out_dir) / "ckpt.json").write_text(json.dumps({"rng": len(ck["rng"]), "world": ck["world_size"]}))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
