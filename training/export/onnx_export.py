"""torch -> ONNX with the contract of docs/model-contract.md (named I/O, static shapes except a
dynamic batch dimension ``N``: one row per target, for MultiTracker)."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from sstrack_edge.model_card import MAPS, PRESENCE_MAP

INPUT_NAMES = ("template", "search")


def output_names(model: nn.Module) -> tuple[str, ...]:
    """The maps ``model`` exports, in the contract's order (``ModelCard.maps``)."""
    return MAPS + ((PRESENCE_MAP,) if model.cfg.presence_head else ())


class ExportWrapper(nn.Module):
    """Returns only the maps (the runtime decodes them), in the contract's order."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.names = output_names(model)

    def forward(self, template: torch.Tensor, search: torch.Tensor):
        out = self.model(template, search)
        return tuple(out[k] for k in self.names)


def example_inputs(cfg, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.rand(1, 3, cfg.template_size, cfg.template_size, generator=g) * 255
    x = torch.rand(1, 3, cfg.search_size, cfg.search_size, generator=g) * 255
    return z, x


def export_onnx(model: nn.Module, path: str | Path, opset: int = 17) -> Path:
    """Export ``model`` (an ``OSTrack``) to ``path``, checked with onnx.checker: static shapes but for
    the batch dimension ``N`` of every input and output (rows are independent: one target each).

    Uses the TorchScript-based exporter (``dynamo=False``): for this graph it yields a plain graph
    that ONNX Runtime fuses (LayerNorm, GELU, MatMul+Add) and OpenVINO/NNCF read directly. The
    runtime runs a single target at batch 1 (OpenVINO: the network reshaped to a static batch of 1),
    as fast as a batch-1 file (benchmarks/RESULTS.md "Multi-target").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    wrapper = ExportWrapper(model).eval()
    names = wrapper.names
    z, x = example_inputs(model.cfg)
    tmp = path.with_suffix(".onnx.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # Sizes are static by contract (only the batch varies), so the tracer turning token-count
        # arithmetic (CE's token counts) into constants is intended.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is chosen on purpose (docstring)
        torch.onnx.export(
            wrapper,
            (z, x),
            str(tmp),
            input_names=list(INPUT_NAMES),
            output_names=list(names),
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
            dynamic_axes={name: {0: "N"} for name in (*INPUT_NAMES, *names)},
        )
    m = onnx.load(str(tmp))
    onnx.checker.check_model(m)
    tmp.replace(path)
    model.train(was_training)
    return path
