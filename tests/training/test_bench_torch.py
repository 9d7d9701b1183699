"""``sstrack-edge bench``'s torch eager row, provided by training through an entry point."""

from __future__ import annotations

import torch

from sstrack_edge.bench import _torch_row
from sstrack_edge.model_card import ModelCard
from training.export.package import export_model
from training.models.ostrack import ModelConfig, build_model


def test_bench_torch_row_comes_from_the_training_entry_point(tmp_path):
    torch.manual_seed(0)
    export_model(build_model(ModelConfig(depth=1, embed_dim=32, num_heads=2, head_channels=16)).eval(), tmp_path,
                 name="bench-torch-test", trained=False, openvino=False)
    row = _torch_row(ModelCard.load(tmp_path), threads=1)
    assert row is not None and row.kind == "torch" and row.name == "torch-eager-fp32"
