"""Deterministic absence events injected into real clips, for the presence (long-term) evaluation.

:func:`inject_absences` turns real sequences into :class:`InjectedSequence` objects (a
:class:`Sequence` whose frames are generated on the fly, nothing is written to disk) with absence
events placed from a seed, so anyone re-running it gets the same frames and ground truth:

* up to 3 events per clip (1-3 drawn; fewer where the clip has no room), each 10-40 frames (shorter
  where there is no room), none starting before frame 10; the clip's own target is visible from
  ``AFTER_FRAMES`` (15) frames before each event (or from frame 0) to 15 frames after it, so every
  event ends in a return whose re-acquisition is measured. Real absences (VOT-LT NaN rows, UAV123
  absent frames) stay as they are and still count; events never overlap them;
* the event kinds of a clip are a seeded permutation of the requested kinds (cycled if more events);
* the random draws of a clip come from ``numpy.random.default_rng([seed, crc32(name)])``: a clip's
  events do not depend on the other clips or their order (a ``scene`` source does: it is drawn
  from the other clips given).

Kinds (the target is absent, NaN ground truth, on the frames noted):

``blank``     black frames (all frames of the event);
``noise``     uniform random pixels 0-255, seeded per frame (all frames);
``scene``     consecutive frames of another real clip, from a seeded start, resized to the frame size
              (all frames): real images with other objects and distractors;
``pan``       the camera pans the target out of view and back: the content shifts by an integer number
              of pixels towards the frame edge the target leaves by fastest (the direction needing the
              smallest shift), ramping up over the first third of the event, held, ramping back over
              the last third; the revealed border is black (a reflected border could show the target
              mirrored). The ground truth moves with the content, clipped to the frame; the target
              counts as visible while at least ``PAN_VISIBLE`` (50 %) of its in-frame area stays in
              the frame, else absent. In the held part it is entirely outside;
``occluder``  a patch pasted over the target box enlarged by ``OCCLUDER_MARGIN`` (15 % of its size
              + 2 px per side), following the box: a region of the clip's own frame at the event's
              start that touches none of the enlarged boxes of the event (or, if there is no room, of
              another clip's frame), resized to each frame's enlarged box. Fully occluded: absent
              (all frames).

:func:`frame_kinds` labels each frame with the event kind it belongs to (the event's frames and the
``AFTER_FRAMES`` frames after it), or ``real`` for the clip's own absences and the frames after
them, for the per-kind breakdown of :mod:`.longterm`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from sstrack_edge.frames import clip_to_frame

from .sequence import Sequence

KINDS = ("blank", "noise", "scene", "pan", "occluder")
REAL = "real"  # frame_kinds label of the clip's own absences
EVENTS_PER_CLIP = (1, 3)
EVENT_FRAMES = (10, 40)
LEAD_FRAMES = 10  # no event starts before this frame
AFTER_FRAMES = 15  # the target visible before and after each event for at least this many frames
PAN_VISIBLE = 0.5
OCCLUDER_MARGIN = 0.15
_PATCH_TRIES = 200


def parse_kinds(kinds) -> tuple[str, ...]:
    """``"all"``, a comma-separated string or a list -> the kinds in order, duplicates dropped."""
    items = [k.strip() for k in kinds.split(",")] if isinstance(kinds, str) else list(kinds)
    items = [k for k in items if k]
    if items == ["all"]:
        return KINDS
    unknown = [k for k in items if k not in KINDS]
    if unknown or not items:
        raise ValueError(f"unknown absence kind(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"known: {', '.join(KINDS)} or all")
    return tuple(dict.fromkeys(items))


def check_seed(seed) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"the absence seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _rng(*keys) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys])


@dataclass
class AbsenceEvent:
    """``length`` frames from ``start`` (0-based); ``detail`` says how they are made (source clip,
    pan direction and distance, occluder patch)."""

    kind: str
    start: int
    length: int
    detail: dict = field(default_factory=dict)

    @property
    def stop(self) -> int:
        return self.start + self.length

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "length": self.length, **self.detail}


# ------------------------------------------------------------------------------- geometry
def enlarged_rect(box, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` integer pixels of ``box`` grown by the occluder margin, clipped to the frame."""
    x, y, w, h = (float(v) for v in box)
    mx, my = OCCLUDER_MARGIN * w + 2, OCCLUDER_MARGIN * h + 2
    x0, y0 = max(0, int(np.floor(x - mx))), max(0, int(np.floor(y - my)))
    x1, y1 = min(width, int(np.ceil(x + w + mx))), min(height, int(np.ceil(y + h + my)))
    return x0, y0, x1, y1


_PAN_DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def pan_offset(event: AbsenceEvent, index: int) -> tuple[int, int]:
    """``(dx, dy)`` the content of frame ``index`` is shifted by (0, 0 outside the event)."""
    j = index - event.start
    if event.kind != "pan" or not 0 <= j < event.length:
        return 0, 0
    ramp = event.detail["ramp"]
    s = int(round(event.detail["distance"] * min(1.0, (j + 1) / ramp, (event.length - j) / ramp)))
    ux, uy = _PAN_DIRECTIONS[event.detail["direction"]]
    return ux * s, uy * s


def shift_frame(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``out[y, x] = frame[y - dy, x - dx]``, black where nothing comes in."""
    h, w = frame.shape[:2]
    out = np.zeros_like(frame)
    if abs(dx) < w and abs(dy) < h:
        out[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
            frame[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    return out


# ------------------------------------------------------------------------------- planning
def _free_starts(usable: np.ndarray, length: int) -> np.ndarray:
    """Starts ``s >= LEAD_FRAMES`` with ``usable`` on ``[s - AFTER, s + length + AFTER)`` inside the clip."""
    n = len(usable)
    c = np.concatenate([[0], np.cumsum(~usable)])
    s = np.arange(LEAD_FRAMES, n - length - AFTER_FRAMES + 1)
    lo, hi = np.maximum(0, s - AFTER_FRAMES), s + length + AFTER_FRAMES
    return s[c[hi] - c[lo] == 0]


def _pan_detail(boxes: np.ndarray, width: int, height: int, length: int) -> dict:
    x, y, w, h = boxes.T
    needed = {"left": np.max(x + w), "right": np.max(width - x), "up": np.max(y + h), "down": np.max(height - y)}
    direction = min(needed, key=lambda d: (needed[d], d))
    return {"direction": direction, "distance": int(np.ceil(needed[direction])) + 1, "ramp": max(1, length // 3)}


def _occluder_detail(rng, seq: Sequence, event_start: int, length: int, size, others: list[Sequence]) -> dict:
    height, width = size
    rects = [enlarged_rect(b, width, height) for b in seq.ground_truth[event_start:event_start + length]]
    x0, y0, x1, y1 = rects[0]
    pw, ph = x1 - x0, y1 - y0
    for _ in range(_PATCH_TRIES):
        px, py = int(rng.integers(0, width - pw + 1)), int(rng.integers(0, height - ph + 1))
        if all(px + pw <= a0 or px >= a1 or py + ph <= b0 or py >= b1 for a0, b0, a1, b1 in rects):
            return {"source": seq.name, "frame": event_start, "patch": [px, py, pw, ph]}
    if not others:
        raise ValueError(f"sequence {seq.name!r}: no room for an occluder patch that does not overlap the "
                         "target; give another sequence to take it from")
    src = others[int(rng.integers(len(others)))]
    px, py = int(rng.integers(0, width - pw + 1)), int(rng.integers(0, height - ph + 1))
    return {"source": src.name, "frame": int(rng.integers(len(src))), "patch": [px, py, pw, ph]}


def plan_events(seq: Sequence, kinds, seed: int, others: list[Sequence] = (), frame_size=None) -> list[AbsenceEvent]:
    """The absence events of ``seq`` (see the module docstring); ``others``: the clips ``scene`` and
    a crowded ``occluder`` take frames from; ``frame_size`` ``(height, width)`` (read if not given)."""
    kinds, seed = parse_kinds(kinds), check_seed(seed)
    if not seq.has_full_annotation:
        raise ValueError(f"sequence {seq.name!r}: absence events need ground truth on every frame")
    others = sorted((o for o in others if o.name != seq.name), key=lambda o: o.name)
    if "scene" in kinds and not others:
        raise ValueError("scene events need frames of another clip: give at least two sequences")
    height, width = frame_size if frame_size is not None else seq.read_frame(0).shape[:2]
    rng = _rng(seed, seq.name)
    count = int(rng.integers(EVENTS_PER_CLIP[0], EVENTS_PER_CLIP[1] + 1))
    order = [kinds[i] for i in rng.permutation(len(kinds))]
    usable = seq.present().copy()
    events: list[AbsenceEvent] = []
    for j in range(count):
        wanted = int(rng.integers(EVENT_FRAMES[0], EVENT_FRAMES[1] + 1))
        for length in range(wanted, EVENT_FRAMES[0] - 1, -1):  # shorter if the clip has no room
            starts = _free_starts(usable, length)
            if starts.size:
                break
        if not starts.size:
            break
        start, kind = int(rng.choice(starts)), order[j % len(order)]
        usable[start:start + length] = False  # the next events keep AFTER_FRAMES away from it
        detail: dict = {}
        if kind == "scene":
            src = others[int(rng.integers(len(others)))]
            detail = {"source": src.name, "offset": int(rng.integers(len(src)))}
        elif kind == "pan":
            detail = _pan_detail(seq.ground_truth[start:start + length], width, height, length)
        elif kind == "occluder":
            detail = _occluder_detail(rng, seq, start, length, (height, width), others)
        events.append(AbsenceEvent(kind, start, length, detail))
    if not events:
        raise ValueError(
            f"sequence {seq.name!r} ({len(seq)} frames) is too short for an absence event: one needs at least "
            f"{EVENT_FRAMES[0]} frames starting at frame {LEAD_FRAMES} or later, with the clip's target visible "
            f"from {AFTER_FRAMES} frames before them to {AFTER_FRAMES} after")
    return sorted(events, key=lambda e: e.start)


# ------------------------------------------------------------------------------- the sequence
@dataclass
class InjectedSequence(Sequence):
    """A real sequence with absence events: frames made on the fly by :meth:`read_frame`, ground truth
    NaN where the target is absent. ``events`` lists them; ``base`` is the real sequence."""

    base: Sequence | None = None
    events: tuple = ()
    seed: int = 0
    sources: dict = field(default_factory=dict, repr=False)  # name -> Sequence (scene / occluder frames)
    frame_size: tuple = (0, 0)  # (height, width)

    def __post_init__(self):
        super().__post_init__()
        self._event_of = np.full(len(self.frames), -1)
        for k, e in enumerate(self.events):
            self._event_of[e.start:e.stop] = k
        self._patches: dict[int, np.ndarray] = {}

    def event_at(self, index: int) -> AbsenceEvent | None:
        k = self._event_of[index]
        return None if k < 0 else self.events[k]

    def _source_frame(self, name: str, index: int) -> np.ndarray:
        img = self.sources[name].read_frame(index)
        h, w = self.frame_size
        return img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)

    def occluder_patch(self, event: AbsenceEvent) -> np.ndarray:
        """The image pasted over the target during an ``occluder`` event (before resizing)."""
        key = event.start
        if key not in self._patches:
            px, py, pw, ph = event.detail["patch"]
            img = self._source_frame(event.detail["source"], event.detail["frame"])
            self._patches[key] = img[py:py + ph, px:px + pw].copy()
        return self._patches[key]

    def read_frame(self, index: int) -> np.ndarray:
        e = self.event_at(index)
        if e is None:
            return self.base.read_frame(index)
        h, w = self.frame_size
        if e.kind == "blank":
            return np.zeros((h, w, 3), dtype=np.uint8)
        if e.kind == "noise":
            return _rng(self.seed, self.base.name, e.start, index).integers(0, 256, (h, w, 3), dtype=np.uint8)
        if e.kind == "scene":
            src = self.sources[e.detail["source"]]
            return self._source_frame(src.name, (e.detail["offset"] + index - e.start) % len(src))
        frame = self.base.read_frame(index)
        if e.kind == "pan":
            return shift_frame(frame, *pan_offset(e, index))
        x0, y0, x1, y1 = enlarged_rect(self.base.ground_truth[index], w, h)  # occluder
        frame[y0:y1, x0:x1] = cv2.resize(self.occluder_patch(e), (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        return frame


def _injected_ground_truth(seq: Sequence, events: list[AbsenceEvent], size) -> np.ndarray:
    height, width = size
    gt = seq.ground_truth.copy()
    for e in events:
        if e.kind != "pan":
            gt[e.start:e.stop] = np.nan
            continue
        for i in range(e.start, e.stop):
            dx, dy = pan_offset(e, i)
            before = np.array(clip_to_frame(seq.ground_truth[i], (height, width)))
            after = np.array(clip_to_frame(seq.ground_truth[i] + [dx, dy, 0, 0], (height, width)))
            visible = after[2] * after[3] >= PAN_VISIBLE * before[2] * before[3] and after[2] * after[3] > 0
            gt[i] = after if visible else np.nan
    return gt


def inject_sequence(seq: Sequence, kinds, seed: int, others: list[Sequence] = ()) -> InjectedSequence:
    """``seq`` with the absence events of :func:`plan_events`."""
    seed = check_seed(seed)
    size = seq.read_frame(0).shape[:2]
    events = plan_events(seq, kinds, seed, others, size)
    gt = _injected_ground_truth(seq, events, size)
    return InjectedSequence(
        name=f"{seq.name}+inject-s{seed}", frames=seq.frames, ground_truth=gt, dataset=seq.dataset, fps=seq.fps,
        visible=seq.visible,
        meta={**seq.meta, "absence_base": seq.name, "absence_seed": seed,
              "absence_events": [e.to_dict() for e in events]},
        base=seq, events=tuple(events), seed=seed, sources={o.name: o for o in [seq, *others]}, frame_size=size,
    )


def inject_absences(sequences: list[Sequence], kinds, seed: int) -> list[InjectedSequence]:
    """Every sequence with its absence events; the others are the ``scene`` / ``occluder`` sources."""
    kinds, seed = parse_kinds(kinds), check_seed(seed)
    return [inject_sequence(s, kinds, seed, [o for o in sequences if o.name != s.name]) for s in sequences]


def frame_kinds(seq: Sequence) -> np.ndarray:
    """Per frame: the kind of the injected event it belongs to (its frames and the ``AFTER_FRAMES``
    after it), ``real`` for the clip's own absences and the frames after them, else ``""``."""
    n = len(seq)
    kinds = np.full(n, "", dtype=object)
    for e in getattr(seq, "events", ()):
        kinds[e.start:e.stop] = e.kind
        tail = kinds[e.stop:e.stop + AFTER_FRAMES]
        tail[tail == ""] = e.kind
    absent = ~seq.present() & (kinds == "")
    kinds[absent] = REAL
    for t in np.flatnonzero(~absent[1:] & absent[:-1]) + 1:  # the clip's target returns at frame t
        tail = kinds[t:t + AFTER_FRAMES]
        tail[tail == ""] = REAL
    return kinds
