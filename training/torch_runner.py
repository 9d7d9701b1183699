"""The runtime ``Tracker`` on a torch network: the one tracking loop, for training-time choices.

Checkpoints, settings and candidates are chosen by tracking validation clips with exactly what
ships: :class:`sstrack_edge.Tracker` (crops, Hann window, decoding, size smoothing, lost logic and
re-detection, all from the card), with the network call done by torch instead of ONNX Runtime or
OpenVINO. :func:`torch_model` wraps an ``OSTrack`` in a
:class:`sstrack_edge.backends.LoadedModel` whose card is the one an export would write
(:func:`training.export.package.build_card`), so the card's ``inference`` settings apply as they
would in the field; ``inference`` overrides them (e.g. a card's tuned settings).
"""

from __future__ import annotations

from typing import Any

import torch

from sstrack_edge import Tracker
from sstrack_edge.backends import LoadedModel, check_card, first_row, squeeze_maps
from sstrack_edge.model_card import Variant

TORCH_VARIANT = Variant(name="torch-fp32", backend="torch", precision="fp32", files={}, sha256={},
                        platforms=[], kept=True)


def torch_model(model: torch.nn.Module, inference: dict[str, Any] | None = None, name: str = "torch") -> LoadedModel:
    """``model`` (eval mode is set for each call) as a runtime model; ``inference``: card overrides."""
    from training.export.package import build_card

    card = build_card(model, name, inference=inference)
    check_card(card)  # bad inference settings fail here, with the runtime's message

    def factory(_loaded: LoadedModel):
        device = next(model.parameters()).device
        names = card.maps

        def run(template, search):
            was_training = model.training
            model.eval()
            try:
                with torch.inference_mode():
                    out = model(torch.from_numpy(template).to(device), torch.from_numpy(search).to(device))
            finally:
                model.train(was_training)
            return first_row(squeeze_maps(out[k].float().cpu().numpy() for k in names))

        return run

    return LoadedModel(card, TORCH_VARIANT, torch.get_num_threads(), False, None, runner_factory=factory)


def torch_tracker(model: torch.nn.Module, inference: dict[str, Any] | None = None) -> Tracker:
    return Tracker(torch_model(model, inference))
