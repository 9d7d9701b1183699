"""``Tracker``: the OpenCV-style single-object tracker (``init(frame, bbox)``, ``update(frame)``).

Per frame (OSTrack inference, RECIPE 2.7): one square crop around the last good box at the card's
search factor, resized straight into a preallocated buffer by one ``cv2.warpAffine``; one
transpose to the NCHW float32 network input; the network; decoding on the FxF maps in numpy.

Lost logic (docs/runtime.md, "Lost target"): when the score is below ``lost_threshold`` the
tracker reports ``ok=False`` with the last good box. For the first ``lost_patience`` such frames in
a row (card ``inference``, default 0) it still follows the best peak with its normal search (a
brief dip in confidence, e.g. motion blur). After that it re-detects: the search centre returns
to the last good box, the search crop widens by ``search_growth_when_lost`` per further low frame
up to ``max_search_factor`` (still resized to the network's search size), and the Hann window is
not applied, since a target that comes back is not necessarily near the old centre. With
``redetect_tiles`` = K > 0 each re-detection frame also runs K crops at the normal search factor
from a grid of tiles over the whole frame (nearest to the last good box first, the next K on the
next frame, cycling), and the crop whose score peak has the highest presence wins: a target that
moved while hidden is found at its own scale. A re-detection is accepted when that presence
reaches ``reacquire_threshold`` (never below ``lost_threshold``; higher makes a look-alike found by
the scan less likely to be taken); the tracker then takes the new box and returns to the normal
factor.

Size smoothing (card ``inference.size_update_rate``, ``None`` = off as in OSTrack): while tracking,
the new box keeps the detection's centre, but its size moves from the last box's size toward the
detected size by ``size_update_rate x raw score of the chosen cell`` (SiamRPN/NanoTrack); a
re-acquisition from re-detection takes the detected size as is.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import geometry
from .backends import (
    LoadedModel,
    _load,
    check_lost_patience,
    check_lost_relative,
    check_reacquire_threshold,
    check_redetect_tiles,
    check_size_update_rate,
)
from .errors import TrackerNotInitializedError
from .frames import channels_of, check_box, check_frame, clip_to_frame
from .model_card import ModelCard

TRACKING, LOST, INITIALIZED = "tracking", "lost", "initialized"
# Re-detection tiles: neighbours this fraction of a tile's side apart, so a target near a tile's
# border (where the score map is weakest) is well inside the next one.
TILE_STRIDE = 0.7
# lost_relative: the target's usual presence is the median of its last this-many sure frames
RELATIVE_WINDOW = 30


@dataclass(frozen=True)
class TrackResult:
    """Everything the tracker knows about one frame."""

    bbox: tuple[float, float, float, float]  # x, y, w, h in pixels (last good box while lost)
    # presence confidence in [0, 1]: a network with a presence map (card outputs.presence_map): its
    # probability that the target itself is centred in the chosen cell; otherwise the score map's
    # (times that cell's Hann weight while tracking). Lost when below lost_threshold; nan on init
    score: float
    lost: bool
    state: str  # "initialized" | "tracking" | "lost" (MultiTracker also: "failed")
    frame_index: int  # 0 = the init frame
    search_factor: float  # crop factor used for this frame (grows while re-detecting a lost target)
    latency_ms: float = 0.0  # whole update() call
    timings_ms: dict[str, float] = field(default_factory=dict)  # preprocess / inference / decode
    error: str | None = None  # MultiTracker: why this target failed (state "failed"); None otherwise

    @property
    def ok(self) -> bool:
        return not self.lost

    @property
    def bbox_int(self) -> tuple[int, int, int, int]:
        """The box rounded to integer pixels (for drawing / ``cv2.Rect``-style consumers)."""
        x, y, w, h = self.bbox
        x0, y0 = int(round(x)), int(round(y))
        return x0, y0, int(round(x + w)) - x0, int(round(y + h)) - y0


@dataclass(frozen=True)
class _Step:
    """What :meth:`Tracker._prepare` cropped: the crop's centre and side and the frame size."""

    cx: float
    cy: float
    side: float
    factor: float
    width: int
    height: int
    frame: np.ndarray | None = None  # the frame, kept only when re-detection scans tiles over it


class Tracker:
    """SSTrack single-object tracker on ONNX Runtime or OpenVINO (no torch).

    Parameters
    ----------
    model:
        ``None`` (the installed default model), a model directory, a ``model_card.json`` path, a
        :class:`~sstrack_edge.ModelCard`, or a :class:`~sstrack_edge.LoadedModel` from
        :func:`sstrack_edge.load_model` to share one compiled network between trackers.
    backend, precision, threads, spin_wait, variant:
        see :func:`sstrack_edge.load_model` (ignored, and must stay default, when ``model`` is a
        ``LoadedModel``).
    lost_threshold:
        score below which a frame counts as lost; ``None`` = the card's ``inference.lost_threshold``.
    lost_patience:
        low-score frames in a row the tracker still follows before it re-detects; ``None`` = the
        card's ``inference.lost_patience`` (0 if absent). 0 freezes the search on the first lost frame,
        which re-acquires a target after occlusion or out-of-view better (docs/runtime.md).
    reacquire_threshold:
        presence a re-detection needs to be accepted (used as ``max(reacquire_threshold,
        lost_threshold)``); ``None`` = the card's ``inference.reacquire_threshold`` (the lost
        threshold if absent).
    redetect_tiles:
        crops of the frame scan added to each re-detection frame (each one more network call);
        ``None`` = the card's ``inference.redetect_tiles`` (0 if absent), 0 = no scan.
    lost_relative:
        a tracked frame is also lost below this fraction of the target's usual presence (the
        median of its last ``RELATIVE_WINDOW`` sure frames); ``None`` = the card's
        ``inference.lost_relative`` (0 = off if absent).
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
            conflicts = {
                k: v
                for k, v in dict(backend=backend, precision=precision, threads=threads, variant=variant).items()
                if v not in (None, "auto")
            }
            if spin_wait:
                conflicts["spin_wait"] = spin_wait
            if conflicts:
                raise ValueError(
                    f"model is an already loaded model ({model.describe()}); backend/precision/threads/"
                    f"spin_wait/variant are fixed at load_model() time, got {conflicts}"
                )
            self.model = model
        else:
            self.model = _load(model, backend, precision, threads, spin_wait, variant, stacklevel=3)
        card = self.model.card
        inf = card.inference
        self._run = self.model.create_runner()
        self._tz, self._sx, self._fs = card.template.size, card.search.size, card.feature_size
        self._template_factor = float(card.template.factor)
        self._search_factor = float(card.search.factor)
        self._growth = float(inf["search_growth_when_lost"])
        self._max_factor = float(inf["max_search_factor"])
        self._margin = float(inf["clip_margin"])
        self._min_side = max(1, math.ceil(2 * self._margin))  # frames smaller than this are refused
        self._hann = geometry.hann2d(self._fs) if inf["hann_window"] else None
        self._hann_when_lost = bool(inf.get("hann_window_when_lost", False))
        self._patience = check_lost_patience(inf.get("lost_patience", 0) if lost_patience is None else lost_patience)
        # None: take each detection's size as is (OSTrack)
        self._size_rate = check_size_update_rate(inf.get("size_update_rate"))
        self.lost_threshold = float(inf["lost_threshold"]) if lost_threshold is None else lost_threshold
        self._reacquire = check_reacquire_threshold(
            inf.get("reacquire_threshold") if reacquire_threshold is None else reacquire_threshold)
        self._redetect_tiles = check_redetect_tiles(inf.get("redetect_tiles", 0) if redetect_tiles is None else redetect_tiles)
        self._relative = check_lost_relative(inf.get("lost_relative", 0.0) if lost_relative is None else lost_relative)
        self._sure_scores: deque[float] = deque(maxlen=RELATIVE_WINDOW)  # presence of the last sure frames
        self._usual = 0.0  # their median (0 until the first sure frame): updated when one is added
        self._tiles: list[tuple[float, float]] | None = None  # tile centres of the current re-detection
        self._next_tile = 0
        self._tile_search = np.zeros((1, 3, self._sx, self._sx), np.float32) if self._redetect_tiles else None
        # Preallocated per-frame buffers (network inputs and crop buffers per channel count).
        self._template = np.zeros((1, 3, self._tz, self._tz), np.float32)
        self._template_version = 0  # bumped by init(): a TrackerBatch re-copies the template then
        self._search = np.zeros((1, 3, self._sx, self._sx), np.float32)
        self._crop_buffers: dict[tuple[int, int], np.ndarray] = {}
        self._box: tuple[float, float, float, float] | None = None  # search centre and size
        self._good_box: tuple[float, float, float, float] | None = None  # last box scored above threshold
        # last box scored at or above the re-acquire threshold: its size sizes the scan's tiles (the
        # last good box may be the doubtful first frame of a loss, e.g. shrunk at the frame edge)
        self._sure_box: tuple[float, float, float, float] | None = None
        self._frame_hw: tuple[int, int] | None = None
        self._lost_frames = 0
        self._frame_index = 0
        self._result: TrackResult | None = None

    # ----------------------------------------------------------------- properties
    @property
    def lost_threshold(self) -> float:
        return self._lost_threshold

    @lost_threshold.setter
    def lost_threshold(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"lost_threshold must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"lost_threshold must be in [0, 1] (a score-map probability), got {value}")
        self._lost_threshold = float(value)

    @property
    def lost_patience(self) -> int:
        return self._patience

    @property
    def current_lost_threshold(self) -> float:
        """The threshold the next tracked frame must reach: :attr:`lost_threshold`, or with
        ``lost_relative`` that fraction of the target's usual presence when higher."""
        return max(self._lost_threshold, self._relative * self._usual)

    @property
    def reacquire_threshold(self) -> float:
        """Presence a re-detection needs to be accepted: the card's ``reacquire_threshold``, never
        below :attr:`current_lost_threshold` (and equal to it when the card has none)."""
        return self._reacquire_bar(self.current_lost_threshold)

    def _reacquire_bar(self, lost_bar: float) -> float:
        """The re-acquire threshold given the lost bar in force: never below it."""
        return max(self._reacquire or 0.0, lost_bar)

    @property
    def redetect_tiles(self) -> int:
        """Crops of the frame scan added to each re-detection frame (card ``redetect_tiles``; 0 = off)."""
        return self._redetect_tiles

    @property
    def settings(self) -> dict[str, float | int]:
        """The lost-target settings in use, as ``Tracker`` keyword arguments (``Tracker(model, **settings)``
        makes a tracker that behaves the same)."""
        return dict(lost_threshold=self.lost_threshold, lost_patience=self.lost_patience,
                    reacquire_threshold=self._reacquire_bar(self._lost_threshold),
                    redetect_tiles=self.redetect_tiles, lost_relative=self._relative)

    @property
    def card(self) -> ModelCard:
        return self.model.card

    @property
    def initialized(self) -> bool:
        return self._box is not None

    @property
    def result(self) -> TrackResult | None:
        """The last :class:`TrackResult` (``None`` before ``init``)."""
        return self._result

    @property
    def score(self) -> float:
        return float("nan") if self._result is None else self._result.score

    @property
    def lost(self) -> bool:
        return False if self._result is None else self._result.lost

    @property
    def state(self) -> str:
        return "uninitialized" if self._result is None else self._result.state

    @property
    def search_factor(self) -> float:
        """Crop factor the next ``update`` will use (grows while the tracker re-detects a lost target)."""
        if self._lost_frames <= self._patience:
            return self._search_factor
        return min(self._search_factor * self._growth ** (self._lost_frames - self._patience), self._max_factor)

    # ------------------------------------------------------------------- API
    def init(self, frame: np.ndarray, bbox: Sequence[float]) -> None:
        """Start (or restart) tracking the object in ``bbox`` = ``(x, y, w, h)`` pixels of ``frame``.
        The part of ``bbox`` outside the frame is clipped off; :attr:`result` reports the clipped box."""
        frame = check_frame(frame, min_side=self._min_side)
        box = clip_to_frame(check_box(bbox, frame.shape), frame.shape)
        t0 = time.perf_counter()
        cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
        side = geometry.crop_side(box, self._template_factor)
        self._fill_input(frame, cx, cy, side, self._tz, self._template)
        self._template_version += 1
        self._box = self._good_box = self._sure_box = box
        self._frame_hw = (int(frame.shape[0]), int(frame.shape[1]))
        self._lost_frames = 0
        self._tiles = None
        self._sure_scores.clear()
        self._usual = 0.0
        self._frame_index = 0
        self._result = TrackResult(
            bbox=box,
            score=float("nan"),
            lost=False,
            state=INITIALIZED,
            frame_index=0,
            search_factor=self._search_factor,
            latency_ms=(time.perf_counter() - t0) * 1e3,
        )

    def update(self, frame: np.ndarray) -> tuple[bool, tuple[float, float, float, float]]:
        """Track into ``frame``. Returns ``(ok, bbox)``; ``ok`` is False while the target is lost, and
        then ``bbox`` is the last good box. More in :attr:`result`."""
        t0 = time.perf_counter()
        if self._box is None:
            raise TrackerNotInitializedError("update() called before init(frame, bbox)")
        frame = self._check_stream_frame(frame)
        step = self._prepare(frame, self._search)
        t1 = time.perf_counter()
        maps = self._run(self._template, self._search)
        t2 = time.perf_counter()
        result = self._finish(step, maps, (t0, t1, t2))
        return result.ok, result.bbox

    # ------------------------------------------------- one frame, in three steps
    # update() = _prepare (crop into the network input) -> the network -> _finish (decode, lost logic).
    # MultiTracker runs the same two steps per target around one batched network call.
    def _check_stream_frame(self, frame: np.ndarray) -> np.ndarray:
        frame = check_frame(frame, min_side=self._min_side)
        H, W = int(frame.shape[0]), int(frame.shape[1])
        if (H, W) != self._frame_hw:
            raise ValueError(
                f"frame size changed from {self._frame_hw[1]}x{self._frame_hw[0]} to {W}x{H} "
                "during tracking; call init(frame, bbox) again for the new stream"
            )
        return frame

    def _prepare(self, frame: np.ndarray, search: np.ndarray) -> _Step:
        """Crop the search region of ``frame`` (already checked) into ``search`` (1 x 3 x S x S)."""
        factor = self.search_factor
        box = self._box
        cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
        side = geometry.crop_side(box, factor)
        self._fill_input(frame, cx, cy, side, self._sx, search)
        scan = self._redetect_tiles > 0 and self._lost_frames > self._patience
        return _Step(cx, cy, side, factor, int(frame.shape[1]), int(frame.shape[0]), frame if scan else None)

    def _finish(self, step: _Step, maps: tuple[np.ndarray, ...], times: tuple[float, float, float]) -> TrackResult:
        """Decode the maps of the crop made by :meth:`_prepare` (score, size, offset[, presence]: the
        card's ``maps``), update the state, set :attr:`result`. ``times``: ``perf_counter`` at the
        start of the update, after preprocessing, after inference."""
        redetecting = self._lost_frames > self._patience
        scanned, t_scan = step.frame is not None, 0.0
        if scanned:
            t_scan = time.perf_counter()
            step, maps = self._scan(step, maps)
            t_scan = time.perf_counter() - t_scan
        score_map, size_map, offset_map = maps[:3]
        idx, score = self._pick_cell(maps, redetecting)
        peak = float(score_map.flat[idx])
        if not (math.isfinite(score) and math.isfinite(peak)):
            raise FloatingPointError(
                f"the network returned a non-finite score ({peak}, presence {score}); the model file is broken")
        bar = self.current_lost_threshold  # both before this frame's score joins the history
        sure = self._reacquire_bar(bar)  # = reacquire_threshold
        lost = score < (sure if redetecting else bar)
        self._lost_frames = self._lost_frames + 1 if lost else 0
        if not lost:
            self._tiles = None  # the next re-detection scans from its own last good box
        box = self._box
        if not lost or self._lost_frames <= self._patience:  # follow the peak
            iy, ix = divmod(idx, self._fs)
            norm = (
                (ix + float(offset_map[0, iy, ix])) / self._fs,
                (iy + float(offset_map[1, iy, ix])) / self._fs,
                float(size_map[0, iy, ix]),
                float(size_map[1, iy, ix]),
            )
            new_box = geometry.crop_to_image(norm, step.cx, step.cy, step.side)
            if self._size_rate is not None and not redetecting:  # a re-acquisition takes the detection's size
                new_box = geometry.smooth_size(box, new_box, self._size_rate * peak)
            self._box = tuple(float(v) for v in geometry.clip_box(new_box, step.width, step.height, self._margin))
            if not lost:
                self._good_box = self._box
                if score >= sure:
                    self._sure_box = self._box
                    if self._relative:
                        self._sure_scores.append(score)
                        self._usual = statistics.median(self._sure_scores)
        else:  # re-detect around the last good box (neither moved nor grown)
            self._box = self._good_box
        self._frame_index += 1
        t0, t1, t2 = times
        t3 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "decode": (t3 - t2 - t_scan) * 1e3}
        if scanned:
            timings["redetect"] = t_scan * 1e3
        self._result = TrackResult(
            bbox=self._good_box,
            score=score,
            lost=lost,
            state=LOST if lost else TRACKING,
            frame_index=self._frame_index,
            search_factor=step.factor,
            latency_ms=(t3 - t0) * 1e3,
            timings_ms=timings,
        )
        return self._result

    def _scan(self, step: _Step, maps: tuple[np.ndarray, ...]) -> tuple[_Step, tuple[np.ndarray, ...]]:
        """Re-detection over the frame: the next ``redetect_tiles`` tiles (normal search factor, the
        size of the last box scored at or above the re-acquire threshold) besides the crop of
        ``step``; returns the crop, and its maps, whose score peak has the highest presence (the
        crop of ``step`` on a tie)."""
        frame = step.frame
        good = self._good_box
        side = geometry.crop_side(self._sure_box, self._search_factor)
        if self._tiles is None:
            self._tiles = geometry.tile_centres(step.width, step.height, side, good[0] + good[2] / 2.0,
                                                good[1] + good[3] / 2.0, TILE_STRIDE)
            self._next_tile = 0
        # runners may hand out views of their output buffers, overwritten by the next call: copy
        best_score, best = self._pick_cell(maps, True)[1], (step, tuple(np.array(m) for m in maps))
        for _ in range(min(self._redetect_tiles, len(self._tiles))):
            cx, cy = self._tiles[self._next_tile % len(self._tiles)]
            self._next_tile += 1
            self._fill_input(frame, cx, cy, side, self._sx, self._tile_search)
            tile_maps = self._run(self._template, self._tile_search)
            score = self._pick_cell(tile_maps, True)[1]
            if score > best_score:
                tile_step = _Step(cx, cy, side, self._search_factor, step.width, step.height)
                best_score, best = score, (tile_step, tuple(np.array(m) for m in tile_maps))
        return best

    def _pick_cell(self, maps: tuple[np.ndarray, ...], redetecting: bool) -> tuple[int, float]:
        """The cell whose box is taken (flat index) and the presence confidence there: the peak of the
        score map (Hann-windowed while tracking), and the presence map's value at it when the network
        has one, else the (windowed) score."""
        score_map = maps[0]
        use_hann = self._hann is not None and (not redetecting or self._hann_when_lost)
        weighted = score_map * self._hann if use_hann else score_map
        idx = int(np.argmax(weighted))
        return idx, float(maps[3].flat[idx] if len(maps) > 3 else weighted.flat[idx])

    # -------------------------------------------------------------- internals
    def _fill_input(self, frame: np.ndarray, cx: float, cy: float, side: float, size: int, dst: np.ndarray) -> None:
        """Crop ``frame`` around (cx, cy) straight into the NCHW float32 network input ``dst``."""
        channels = channels_of(frame)
        key = (size, channels)
        buf = self._crop_buffers.get(key)
        if buf is None:
            shape = (size, size) if channels == 1 else (size, size, channels)
            buf = self._crop_buffers[key] = np.empty(shape, np.uint8)
        crop = geometry.crop_square(frame, cx, cy, side, size, out=buf)
        if channels == 3:
            np.copyto(dst[0], crop.transpose(2, 0, 1))
        elif channels == 4:  # BGRA: drop alpha on the crop only
            np.copyto(dst[0], crop[:, :, :3].transpose(2, 0, 1))
        else:  # grayscale: replicate the crop into B, G and R
            np.copyto(dst[0], crop.reshape(1, size, size))
