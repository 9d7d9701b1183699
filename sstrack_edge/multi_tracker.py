"""``MultiTracker``: several targets in one stream, one batched network call per frame.

Each target is a :class:`~sstrack_edge.Tracker` (its own template, search centre, lost state,
patience and re-detection) that shares one compiled network; per frame every target crops its
search region into its row of one batch, the network runs once on the N rows, and each target
decodes its own row with the single tracker's code. A batched variant's results for one row depend
only on that row (card ``batch: "dynamic"``), so each target's boxes and scores equal those of a
separate ``Tracker`` on the same backend and precision (tests/runtime/test_multi_tracker.py).

:class:`TrackerBatch` is that step on its own, for trackers that each follow their own stream (the
evaluation's ``--batch``): ``MultiTracker`` is a ``TrackerBatch`` over one stream's targets.

Targets are added and removed between frames; ids are never reused. A target whose decode fails
(e.g. a non-finite network output) is reported once with ``state="failed"`` and ``error`` set and
is no longer run; the other targets go on.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import numpy as np

from .backends import LoadedModel, _load
from .errors import TrackerNotInitializedError
from .frames import check_frame
from .model_card import ModelCard
from .tracker import TrackResult, Tracker

FAILED = "failed"


class TrackerBatch:
    """One batched network call for several initialised :class:`~sstrack_edge.Tracker` objects that
    share ``model`` (a batched variant), each on its own frame."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self._run = model.create_batch_runner()  # ValueError for a single-target variant
        card = model.card
        self._t, self._s = card.template.size, card.search.size
        self._template = np.zeros((0, 3, self._t, self._t), np.float32)
        self._search = np.zeros((0, 3, self._s, self._s), np.float32)
        self._rows: list[tuple[Tracker | None, int]] = []  # (tracker, template version) held by each template row

    def reserve(self, n: int) -> None:
        """Get the network ready for ``n`` rows now (OpenVINO compiles one network per batch size),
        so the next ``update`` with ``n`` trackers does not pay for it."""
        self._run.reserve(n)

    def update(self, trackers: Sequence[Tracker], frames: Sequence[np.ndarray]) -> list[TrackResult | FloatingPointError]:
        """Track ``trackers[k]`` into ``frames[k]`` (each checked with the tracker's
        ``_check_stream_frame``). Returns each tracker's result, or the ``FloatingPointError`` its
        decode raised (that tracker's state is then undefined; the others are not affected)."""
        t0 = time.perf_counter()
        n = len(trackers)
        if len(frames) != n:
            raise ValueError(f"{n} trackers but {len(frames)} frames")
        if n == 0:
            return []
        if len(self._search) < n:
            cap = max(n, 2 * len(self._search))
            self._template = np.zeros((cap, 3, self._t, self._t), np.float32)
            self._search = np.zeros((cap, 3, self._s, self._s), np.float32)
            self._rows = []
        template, search = self._template[:n], self._search[:n]
        del self._rows[n:]
        self._rows += [(None, -1)] * (n - len(self._rows))
        steps = []
        for k, (tracker, frame) in enumerate(zip(trackers, frames)):
            if tracker.model is not self.model:
                raise ValueError("every tracker of a TrackerBatch must run on the batch's LoadedModel")
            if not tracker.initialized:
                raise TrackerNotInitializedError(f"tracker {k} of the batch is not initialised")
            held, version = self._rows[k]
            if held is not tracker or version != tracker._template_version:  # new in this row, or re-initialised
                np.copyto(template[k], tracker._template[0])
                self._rows[k] = (tracker, tracker._template_version)
            steps.append(tracker._prepare(tracker._check_stream_frame(frame), search[k : k + 1]))
        t1 = time.perf_counter()
        maps = self._run(template, search)
        t2 = time.perf_counter()
        out: list[TrackResult | FloatingPointError] = []
        for k, tracker in enumerate(trackers):
            try:
                out.append(tracker._finish(steps[k], tuple(m[k] for m in maps), (t0, t1, t2)))
            except FloatingPointError as e:
                out.append(e)
        return out


class MultiTracker:
    """Track several targets of one stream with one batched network call per frame.

    Parameters are those of :class:`~sstrack_edge.Tracker`; the variant must be a batched one
    (card ``batch: "dynamic"``): ``precision="auto"`` picks the best kept batched variant, and a
    ``LoadedModel`` must come from ``load_model(..., batched=True)``.
    """

    def __init__(
        self,
        model: str | os.PathLike | ModelCard | LoadedModel | None = None,
        backend: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        spin_wait: bool = False,
        lost_threshold: float | None = None,
        variant: str | None = None,
        lost_patience: int | None = None,
        reacquire_threshold: float | None = None,
        redetect_tiles: int | None = None,
        lost_relative: float | None = None,
    ):
        if isinstance(model, LoadedModel):
            self.model = model
            options = dict(backend=backend, precision=precision, threads=threads, variant=variant, spin_wait=spin_wait)
        else:
            self.model = _load(model, backend, precision, threads, spin_wait, variant, stacklevel=3, batched=True)
            options = {}
        # checks the options once, as Tracker does (a conflicting option, a bad threshold or patience)
        probe = Tracker(self.model, lost_threshold=lost_threshold, lost_patience=lost_patience,
                        reacquire_threshold=reacquire_threshold, redetect_tiles=redetect_tiles,
                        lost_relative=lost_relative, **options)
        self._settings = probe.settings
        self._batch = TrackerBatch(self.model)  # ValueError for a single-target variant
        self._min_side = probe._min_side
        self._targets: dict[int, Tracker] = {}
        self._failed: set[int] = set()
        self._next_id = 0
        self._frame_hw: tuple[int, int] | None = None
        self._results: dict[int, TrackResult] = {}

    # ----------------------------------------------------------------- properties
    @property
    def card(self) -> ModelCard:
        return self.model.card

    @property
    def ids(self) -> list[int]:
        """Ids of the targets being tracked (failed ones included until removed), in the order added."""
        return list(self._targets)

    @property
    def results(self) -> dict[int, TrackResult]:
        """The last result of each target (its init result before its first update)."""
        return dict(self._results)

    def __len__(self) -> int:
        return len(self._targets)

    def __contains__(self, target_id: object) -> bool:
        return target_id in self._targets

    # ------------------------------------------------------------------- API
    def add(self, frame: np.ndarray, bbox: Sequence[float]) -> int:
        """Start tracking the object in ``bbox`` = ``(x, y, w, h)`` pixels of ``frame``; returns its id.
        All targets share the stream: ``frame`` must have the size of the frames tracked so far."""
        frame = check_frame(frame, min_side=self._min_side)
        hw = (int(frame.shape[0]), int(frame.shape[1]))
        if self._frame_hw is not None and hw != self._frame_hw:
            raise ValueError(
                f"frame is {hw[1]}x{hw[0]} but the targets being tracked are in {self._frame_hw[1]}x"
                f"{self._frame_hw[0]} frames; one MultiTracker follows one stream (remove them all first)"
            )
        tracker = Tracker(self.model, **self._settings)
        tracker.init(frame, bbox)  # checks and clips the box exactly as Tracker does
        target_id = self._next_id
        self._next_id += 1
        self._targets[target_id] = tracker
        self._results[target_id] = tracker.result
        self._frame_hw = hw
        self._batch.reserve(self._active_count())  # compile for the new count here, not in update()
        return target_id

    def remove(self, target_id: int) -> None:
        """Stop tracking ``target_id``; KeyError if no such target is being tracked."""
        if target_id not in self._targets:
            known = "never added" if not (isinstance(target_id, int) and 0 <= target_id < self._next_id) else "already removed"
            raise KeyError(f"no target with id {target_id!r} ({known}); tracking ids {self.ids}")
        del self._targets[target_id]
        del self._results[target_id]
        self._failed.discard(target_id)
        self._batch.reserve(self._active_count())
        if not self._targets:
            self._frame_hw = None  # no state left: the next add may start a new stream

    def update(self, frame: np.ndarray) -> dict[int, TrackResult]:
        """Track every target into ``frame``: ``{id: TrackResult}`` (``ok``, ``bbox``, ``score``,
        ``state`` as :class:`~sstrack_edge.Tracker`). One network call for all targets."""
        if self._frame_hw is None:
            if self._next_id == 0:
                raise TrackerNotInitializedError("update() called before add(frame, bbox)")
            check_frame(frame, min_side=self._min_side)
            return {}
        active = [i for i in self._targets if i not in self._failed]
        if not active:  # every target failed: nothing to run, the frame is still checked
            self._targets[next(iter(self._targets))]._check_stream_frame(frame)
        results = self._batch.update([self._targets[i] for i in active], [frame] * len(active))  # checks the frame
        out: dict[int, TrackResult] = {}
        for i, result in zip(active, results):
            out[i] = self._fail(i, self._targets[i], str(result)) if isinstance(result, Exception) else result
        self._results.update(out)
        return dict(self._results)

    # -------------------------------------------------------------- internals
    def _active_count(self) -> int:
        return sum(1 for i in self._targets if i not in self._failed)

    def _fail(self, target_id: int, tracker: Tracker, error: str) -> TrackResult:
        self._failed.add(target_id)
        last = tracker.result
        return TrackResult(
            bbox=last.bbox,
            score=float("nan"),
            lost=True,
            state=FAILED,
            frame_index=last.frame_index + 1,
            search_factor=last.search_factor,
            error=error,
        )
