"""DDP on CPU: 2 gloo processes under torchrun, tiny network, real data; statistics and parameters agree.

The ranks run in processes started by ``torchrun`` (as a user would launch training), not inside
the pytest process: a ``torch.multiprocessing.spawn`` from the pytest process crashed the
interpreter when run after the rest of the suite (docs/testing.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "_ddp_worker.py"


def test_two_process_gloo_training_stays_in_sync(tmp_path, train_videos, stills_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(tmp_path), str(train_videos), str(stills_dir)]
    r = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
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
