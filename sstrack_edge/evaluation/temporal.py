"""Temporal robustness evaluation (TRE, Wu et al., OTB-2013): one sequence, several start frames.

OPE tracks a sequence once from its first frame, so on a short clip one lost target decides the
whole score. TRE splits each sequence into ``starts`` segments that begin at evenly spaced frames
(``round(j * n / starts)``, ``j = 0 .. starts-1``, each moved forward to the next frame where the
target is present) and run to the sequence's end; every segment is initialised from the ground
truth at its start and scored like a sequence of its own (its start frame excluded). The summary
then weights the segments equally, as OTB's TRE does. ``starts=1`` is OPE.

Segments are ordinary :class:`Sequence` objects named ``NAME@FRAME`` (1-based start frame), so
every evaluator and result store handles them unchanged.
"""

from __future__ import annotations

import numpy as np

from .sequence import Sequence

MIN_SEGMENT_FRAMES = 2  # a start frame plus at least one frame to score


def check_starts(starts) -> int:
    """``starts`` as an int; ValueError unless it is a positive integer."""
    if not isinstance(starts, (int, np.integer)) or isinstance(starts, bool) or starts < 1:
        raise ValueError(f"starts (TRE start frames per sequence) must be a positive integer, got {starts!r}")
    return int(starts)


def segment_starts(seq: Sequence, starts: int) -> list[int]:
    """0-based start frames of ``seq``'s TRE segments (duplicates and too-short tails dropped)."""
    starts = check_starts(starts)
    if not seq.has_full_annotation:
        raise ValueError(f"sequence {seq.name!r}: TRE needs ground truth on every frame")
    n, present = len(seq), seq.present()
    out: list[int] = []
    for j in range(starts):
        i = int(round(j * n / starts))
        while i < n and not present[i]:
            i += 1
        if i <= n - MIN_SEGMENT_FRAMES and i not in out:
            out.append(i)
    return out


def segment(seq: Sequence, start: int) -> Sequence:
    """The part of ``seq`` from frame ``start`` (0-based) to its end, as a sequence of its own."""
    if not 0 <= start < len(seq):
        raise ValueError(f"sequence {seq.name!r}: start frame {start} is outside 0..{len(seq) - 1}")
    if start == 0:
        return seq
    if seq.meta.get("absence_events"):
        raise ValueError(f"sequence {seq.name!r} has injected absence events: it cannot be split into TRE segments")
    return Sequence(
        name=f"{seq.name}@{start + 1}",
        frames=seq.frames[start:],
        ground_truth=seq.ground_truth[start:],
        dataset=seq.dataset,
        fps=seq.fps,
        visible=None if seq.visible is None else seq.visible[start:],
        meta={**seq.meta, "tre_parent": seq.name, "tre_start": start},
    )


def parent_name(seq: Sequence) -> str:
    """The name of the sequence ``seq`` is a TRE segment of (its own name for a whole sequence)."""
    return seq.meta.get("tre_parent", seq.name)


def temporal_segments(sequences: list[Sequence], starts: int) -> list[Sequence]:
    """Every sequence's TRE segments, in order (``starts=1``: the sequences themselves)."""
    if check_starts(starts) == 1:
        return list(sequences)
    return [segment(s, i) for s in sequences for i in segment_starts(s, starts)]
