"""The torch eager reference row of ``sstrack-edge bench`` (registered as the entry point
``sstrack_edge.reference_networks: torch-eager``, so the runtime never imports ``training``).

:func:`torch_eager_runner` builds the card's network in torch eager FP32 with random weights (speed
does not depend on weight values) and returns ``run(template, search) -> (score, size, offset)``,
the runner contract of ``sstrack_edge.backends.LoadedModel``.
"""

from __future__ import annotations

from dataclasses import fields

import torch

from training.models.ostrack import ModelConfig, build_model

OUTPUTS = ("score_map", "size_map", "offset_map")


def torch_eager_runner(card, threads: int):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    known = {f.name for f in fields(ModelConfig)}  # the card's architecture also records macs/params
    cfg = ModelConfig.from_dict({k: v for k, v in card.architecture.items() if k in known})
    cfg = cfg.for_full_state_dict()  # random weights: no stem init file needed
    net = build_model(cfg).eval()

    def run(template, search):
        with torch.inference_mode():
            out = net(torch.from_numpy(template), torch.from_numpy(search))
        score, size, offset = (out[k].numpy() for k in OUTPUTS)
        return score[0, 0], size[0], offset[0]

    return net, run
