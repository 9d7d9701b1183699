"""Template-search interval bins (RECIPE.md 3.1, paper 3.2 "Interval-based Sampler").

Bin 0 holds still-image samples (interval 0, the paper's extra "[0, 1)" bin for COCO). Video bins
``1..r`` cover ``|t_x - t_z|`` in ``[edges[i-1], edges[i])``; by default ``edges`` are
``0, 30, ..., 180, 200`` (width 30 = the training videos' frame rate, ``M = max_interval = 200``),
so 8 bins in all. Intervals are counted in frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BinConfig:
    """Bin layout. ``edges`` (optional) overrides ``bin_width``/``max_interval``: strictly
    increasing ints starting at 0; the last edge is M."""

    max_interval: int = 200  # M: intervals are in [0, M)
    bin_width: int = 30  # m
    edges: tuple[int, ...] | None = None
    video_edges: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.edges is not None:
            e = tuple(int(v) for v in self.edges)
            if len(e) < 2 or e[0] != 0 or any(b <= a for a, b in zip(e, e[1:])):
                raise ValueError(f"bin edges must be strictly increasing ints starting at 0, got {self.edges}")
        else:
            if self.max_interval < 1 or self.bin_width < 1:
                raise ValueError(
                    f"max_interval and bin_width must be >= 1, got {self.max_interval} and {self.bin_width}"
                )
            r = math.ceil(self.max_interval / self.bin_width)
            e = tuple(min(self.bin_width * i, self.max_interval) for i in range(r + 1))
        object.__setattr__(self, "video_edges", e)
        object.__setattr__(self, "max_interval", e[-1])

    @property
    def num_bins(self) -> int:
        """Total bins including the still-image bin 0."""
        return len(self.video_edges)

    def bounds(self, b: int) -> tuple[int, int]:
        """``[lo, hi)`` interval range of bin ``b`` (bin 0: ``(0, 1)``)."""
        if not 0 <= b < self.num_bins:
            raise ValueError(f"bin {b} out of range 0..{self.num_bins - 1}")
        if b == 0:
            return 0, 1
        return self.video_edges[b - 1], self.video_edges[b]

    def bin_of(self, interval: int, is_image: bool = False) -> int:
        """Bin of a sample. Video intervals >= M (the random sampler's widened gap) go to the last bin."""
        if is_image:
            return 0
        interval = abs(int(interval))
        b = int(np.searchsorted(self.video_edges, interval, side="right"))
        return min(max(b, 1), self.num_bins - 1)

    def labels(self) -> list[str]:
        """Human-readable names, e.g. ``["image", "[0,30)", ..., "[180,200)"]``."""
        return ["image"] + [f"[{lo},{hi})" for lo, hi in zip(self.video_edges, self.video_edges[1:])]
