"""A tiny training config on the real ../shared data (shared by the trainer tests)."""

from __future__ import annotations

from pathlib import Path

from training.train_config import config_from_dict

# The ten clips that made up the old training set (before the move to train_videos), under their new names and in
# that folder's (sorted) order, so the tests sample the same scenes as before the move to videos.
TRAIN_CLIPS = ["OTB_Bird2", "DTB70_MountainBike6", "UAVDT_S0310", "UAV123_10fps_building4", "UAV123_10fps_building5",
               "UAV123_10fps_car10", "UAV123_10fps_group2", "UAV123_10fps_wakeboard3", "UAV123_10fps_wakeboard4",
               "UAV123_10fps_wakeboard7"]


def train_clips(train_videos: Path, **options):
    """The :data:`TRAIN_CLIPS` of ``train_videos`` through the training video loader (frame cache)."""
    from training.data.datasets import load_video_files

    return load_video_files(train_videos, names=options.pop("names", TRAIN_CLIPS), **options)


TINY_MODEL = dict(template_size=32, search_size=64, patch_size=16, embed_dim=32, depth=2, num_heads=2,
                  head_channels=16, drop_path=0.1)


def tiny_config(train_videos: Path, stills_dir: Path, **over) -> "TrainConfig":  # noqa: F821
    d = {
        "name": "tiny",
        "seed": 3,
        "epochs": 3,
        "model": dict(TINY_MODEL),
        "data": {
            "datasets": [
                {"kind": "video", "root": str(train_videos), "weight": 3, "options": {"names": TRAIN_CLIPS}},
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
