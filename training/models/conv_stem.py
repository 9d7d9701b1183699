"""A plain convolutional patch embedding: ``log2(patch_size)`` 3x3 stride-2 convolutions with a
HardSwish after every one but the last (``ModelConfig.stem = "conv_stride2"``).

This is VitTrack's stem (OpenCV model zoo; ``training.models.vittrack_onnx`` imports its weights):
for width 48 and patch 16 the channels are 3-6-12-24-48, each layer halving the channel count of
the next one back from ``embed_dim``. Maps ``(B, 3, H, W)`` to tokens ``(B, (H/16)*(W/16), C)``,
shared by template and search like the 16x16 ``PatchEmbed`` it replaces. No options.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def stem_widths(embed_dim: int, patch_size: int) -> list[int]:
    """Output channels of each convolution: ``embed_dim / 2**(n-1-i)`` for ``n = log2(patch_size)``."""
    n = int(round(math.log2(patch_size)))
    if 2**n != patch_size or n < 1:
        raise ValueError(f"stem 'conv_stride2' needs a power-of-two patch_size, got {patch_size}")
    if embed_dim % 2 ** (n - 1):
        raise ValueError(f"stem 'conv_stride2': embed_dim {embed_dim} must be divisible by {2 ** (n - 1)} "
                         f"(the first of its {n} convolutions has embed_dim / {2 ** (n - 1)} channels)")
    return [embed_dim >> (n - 1 - i) for i in range(n)]


class ConvStride2Stem(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.stem_options:
            raise ValueError(f"stem 'conv_stride2' takes no stem_options, got {sorted(cfg.stem_options)}")
        widths = stem_widths(cfg.embed_dim, cfg.patch_size)
        layers: list[nn.Module] = []
        cin = 3
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(cin, w, 3, stride=2, padding=1))
            if i < len(widths) - 1:
                layers.append(nn.Hardswish())
            cin = w
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(2).transpose(1, 2)  # (B, N, C)

    @staticmethod
    def count_macs(cfg) -> int:
        """Conv multiply-accumulates for the template and the search image (HardSwish free)."""
        widths = stem_widths(cfg.embed_dim, cfg.patch_size)
        total = 0
        for side in (cfg.template_size, cfg.search_size):
            cin = 3
            for w in widths:
                side = (side + 1) // 2
                total += side * side * 9 * cin * w
                cin = w
        return total
