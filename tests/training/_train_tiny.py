"""A tiny training config on the real ../shared data (shared by the trainer tests)."""

from __future__ import annotations

from pathlib import Path

from training.train_config import config_from_dict

TINY_MODEL = dict(template_size=32, search_size=64, patch_size=16, embed_dim=32, depth=2, num_heads=2,
                  head_channels=16, drop_path=0.1)


def tiny_config(sot_train: Path, stills_dir: Path, **over) -> "TrainConfig":  # noqa: F821
    d = {
        "name": "tiny",
        "seed": 3,
        "epochs": 3,
        "model": dict(TINY_MODEL),
        "data": {
            "datasets": [
                {"kind": "folder", "root": str(sot_train), "weight": 3},
                {"kind": "stills", "root": str(stills_dir), "weight": 1, "options": {"sources": ["raccoon"]}},
            ],
            "samples_per_epoch": 16,
            "num_workers": 0,
            "q_random_samples": 2000,
        },
        "optim": {"batch_size": 8, "lr": 1e-3},
        "log": {"tensorboard": False, "progress": False},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k] = {**d[k], **v}
        else:
            d[k] = v
    return config_from_dict(d)
