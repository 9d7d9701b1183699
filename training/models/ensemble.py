"""Seed ensemble: several trained ``OSTrack`` networks of one architecture as one tracker network.

The members see the same template and search crops; the ensemble's score, size and offset maps are
the means of the members' maps, so it keeps the model contract (docs/model-contract.md) and exports
to one ONNX graph the runtime runs unchanged. Independently trained networks disagree on hard
frames (distractors, small targets); averaging their maps is the standard remedy for that variance
(docs/training.md, "Seed ensembles"). The cost is one network pass per member.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from .ostrack import ModelConfig, OSTrack, decode_boxes

MAPS = ("score_map", "size_map", "offset_map")


class TrackerEnsemble(nn.Module):
    """Mean of the output maps of ``members`` (>= 2 ``OSTrack`` models with identical configs)."""

    def __init__(self, members: Sequence[OSTrack]):
        super().__init__()
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 member networks, got {len(members)}")
        first = members[0].cfg.to_dict()
        for i, m in enumerate(members[1:], start=1):
            other = m.cfg.to_dict()
            diff = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
            if diff:
                raise ValueError(
                    "ensemble members must share one architecture and crop settings; member 0 and member "
                    f"{i} differ in " + ", ".join(f"{k} ({first.get(k)!r} vs {other.get(k)!r})" for k in diff))
        self.cfg: ModelConfig = members[0].cfg
        self.members = nn.ModuleList(members)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = [m(template, search) for m in self.members]
        maps = {k: torch.stack([o[k] for o in outs]).mean(dim=0) for k in MAPS}
        return {**maps, "pred_boxes": decode_boxes(maps["score_map"], maps["size_map"], maps["offset_map"])}


def load_ensemble(
    paths: Sequence[str | os.PathLike],
    config: ModelConfig | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[TrackerEnsemble, list[dict[str, Any]]]:
    """Load every checkpoint in ``paths`` with :func:`training.models.checkpoints.load_tracker` and
    combine them; returns ``(ensemble in eval mode, [info per member])``."""
    from .checkpoints import load_tracker

    loaded = [load_tracker(p, config, overrides) for p in paths]
    return TrackerEnsemble([m for m, _ in loaded]).eval(), [info for _, info in loaded]


def member_count(model: nn.Module) -> int:
    """Networks one forward pass runs: the members of an ensemble, 1 for a plain ``OSTrack``."""
    return len(model.members) if isinstance(model, TrackerEnsemble) else 1
