"""Trackers under evaluation, built from a name, all with the OpenCV call shape.

Names:

* ``sstrack`` - the installed default SSTrack model (``sstrack_edge.Tracker()``);
  ``sstrack:<model_dir>[:<backend>[:<precision>]]`` - any exported model directory, e.g.
  ``sstrack:models/sstrack-tiny:openvino:int8``. Backends: auto, onnxruntime, openvino; precisions:
  auto, fp32, int8, bf16; or, in place of the precision, a model-card variant name
  (``int8-dynamic``, ``int8-static``, ``openvino-fp32``, ``openvino-int8``).
* ``opencv:csrt``, ``opencv:kcf``, ``opencv:mil`` - OpenCV contrib correlation-filter / MIL trackers;
  ``opencv:nano`` - OpenCV's NanoTrack v2 (``cv2.TrackerNano``) with the two ONNX files from
  ``--nanotrack-dir`` (default ``../shared/peers/nanotrack_v2``, or ``$SSTRACK_NANOTRACK_DIR``);
  ``opencv:vit`` - OpenCV's VitTrack (``cv2.TrackerVit``) with the ONNX file in ``--vittrack-dir``
  (default ``../shared/peers/vittrack``, or ``$SSTRACK_VITTRACK_DIR``).

Every tracker is created through :func:`create_tracker` and offers ``init(frame, box)`` and
``update(frame) -> (ok, box)`` on BGR uint8 frames with ``(x, y, w, h)`` boxes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from sstrack_edge.paths import shared_root


class TrackerSpecError(ValueError):
    """A tracker name cannot be resolved (unknown name, missing model files, missing runtime)."""


SSTRACK_BACKENDS = ("auto", "onnxruntime", "openvino")
SSTRACK_PRECISIONS = ("auto", "fp32", "int8", "bf16")  # Tracker(precision=...)
SSTRACK_VARIANTS = ("int8-dynamic", "int8-static", "openvino-fp32", "openvino-int8")  # Tracker(variant=...)
OPENCV_TRACKERS = ("csrt", "kcf", "mil", "nano", "vit")
NANOTRACK_FILES = ("nanotrack_backbone_sim.onnx", "nanotrack_head_sim.onnx")
VITTRACK_FILE = "object_tracking_vittrack_2023sep.onnx"


def _peer_dir(env: str, name: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    return shared_root() / "peers" / name


def default_nanotrack_dir() -> Path:
    return _peer_dir("SSTRACK_NANOTRACK_DIR", "nanotrack_v2")


def default_vittrack_dir() -> Path:
    return _peer_dir("SSTRACK_VITTRACK_DIR", "vittrack")


class OpenCVTracker:
    """Adapter around an OpenCV ``cv2.Tracker``: float boxes in, float boxes out.

    OpenCV trackers take integer rectangles and cannot be re-initialised reliably, so ``init``
    builds a fresh instance every time.
    """

    def __init__(self, kind: str, factory: Callable[[], Any], files: tuple[Path, ...] = ()):
        self.kind = kind
        self.files = files  # network files, part of what a result was computed with
        self._factory = factory
        self._tracker = None
        self._box = None

    def init(self, frame: np.ndarray, box) -> None:
        x, y, w, h = (float(v) for v in box)
        rect = (int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h))))
        self._tracker = self._factory()
        self._tracker.init(frame, rect)
        self._box = np.array([x, y, w, h], dtype=np.float64)

    def tracking_score(self) -> float | None:
        """NanoTrack's / VitTrack's ``getTrackingScore()`` after the last update; None for trackers
        without a confidence (the long-term evaluation then uses their ok flag)."""
        if self.kind in ("nano", "vit") and self._tracker is not None:
            return float(self._tracker.getTrackingScore())
        return None

    def update(self, frame: np.ndarray) -> tuple[bool, np.ndarray]:
        if self._tracker is None:
            raise RuntimeError("update() called before init()")
        ok, rect = self._tracker.update(frame)
        if ok:
            self._box = np.asarray(rect, dtype=np.float64).reshape(4)
        return bool(ok), self._box.copy()


def _cv_create(name: str):
    """``cv2.TrackerX.create`` in OpenCV >= 4.5.1 (5.0: main namespace), else ``cv2.legacy``."""
    for ns in (cv2, getattr(cv2, "legacy", None)):
        cls = getattr(ns, name, None) if ns is not None else None
        if cls is not None and hasattr(cls, "create"):
            return cls.create
        fn = getattr(ns, name + "_create", None) if ns is not None else None
        if fn is not None:
            return fn
    raise TrackerSpecError(
        f"OpenCV {cv2.__version__} has no {name}; install opencv-contrib-python-headless (it includes the contrib trackers)"
    )


def make_opencv_tracker(kind: str, nanotrack_dir: str | os.PathLike | None = None,
                        vittrack_dir: str | os.PathLike | None = None) -> OpenCVTracker:
    kind = kind.lower()
    if kind == "csrt":
        return OpenCVTracker(kind, _cv_create("TrackerCSRT"))
    if kind == "kcf":
        return OpenCVTracker(kind, _cv_create("TrackerKCF"))
    if kind == "mil":
        return OpenCVTracker(kind, _cv_create("TrackerMIL"))
    if kind == "nano":
        d = Path(nanotrack_dir) if nanotrack_dir is not None else default_nanotrack_dir()
        backbone, head = (d / f for f in NANOTRACK_FILES)
        for f in (backbone, head):
            if not f.is_file():
                raise TrackerSpecError(
                    f"opencv:nano needs the NanoTrack v2 ONNX files {NANOTRACK_FILES} in {d} "
                    f"(missing {f.name}); pass --nanotrack-dir or set SSTRACK_NANOTRACK_DIR"
                )
        create = _cv_create("TrackerNano")

        def factory():
            params = cv2.TrackerNano_Params()
            params.backbone = str(backbone)
            params.neckhead = str(head)
            return create(params)

        factory()  # fail now (bad ONNX) rather than on the first sequence
        return OpenCVTracker(kind, factory, files=(backbone, head))
    if kind == "vit":
        d = Path(vittrack_dir) if vittrack_dir is not None else default_vittrack_dir()
        net = d / VITTRACK_FILE
        if not net.is_file():
            raise TrackerSpecError(f"opencv:vit needs the VitTrack ONNX file {VITTRACK_FILE} in {d}; "
                                   "pass --vittrack-dir or set SSTRACK_VITTRACK_DIR")
        create_vit = _cv_create("TrackerVit")

        def vit_factory():
            params = cv2.TrackerVit_Params()
            params.net = str(net)
            return create_vit(params)

        vit_factory()
        return OpenCVTracker(kind, vit_factory, files=(net,))
    raise TrackerSpecError(f"unknown OpenCV tracker {kind!r}; known: {', '.join('opencv:' + k for k in OPENCV_TRACKERS)}")


@dataclass(frozen=True)
class SSTrackSpec:
    model: str | None  # None = the installed default model
    backend: str = "auto"
    precision: str | None = None
    variant: str | None = None


def parse_sstrack_spec(spec: str) -> SSTrackSpec:
    """``sstrack`` or ``sstrack:<model_dir>[:backend[:precision]]`` -> :class:`SSTrackSpec`."""
    if spec == "sstrack":
        return SSTrackSpec(model=None)
    if not spec.startswith("sstrack:"):
        raise TrackerSpecError(f"not an sstrack tracker name: {spec!r}")
    parts = spec[len("sstrack:"):].split(":")
    backend, precision, variant = "auto", None, None
    if len(parts) > 1 and parts[-1] in SSTRACK_VARIANTS:
        variant = parts.pop()
    elif len(parts) > 1 and parts[-1] in SSTRACK_PRECISIONS:
        precision = parts.pop()
    if len(parts) > 1 and parts[-1] in SSTRACK_BACKENDS:
        backend = parts.pop()
    model = ":".join(parts)
    if not model:
        raise TrackerSpecError(f"{spec!r}: empty model directory (use 'sstrack' for the default model)")
    if model in SSTRACK_BACKENDS:  # sstrack:openvino[:int8] -> default model on that backend
        return SSTrackSpec(model=None, backend=model, precision=precision, variant=variant)
    if model in SSTRACK_PRECISIONS:  # sstrack:int8 -> default model at that precision
        return SSTrackSpec(model=None, backend=backend, precision=model)
    if model in SSTRACK_VARIANTS:
        return SSTrackSpec(model=None, backend=backend, variant=model)
    return SSTrackSpec(model=model, backend=backend, precision=precision, variant=variant)


def make_sstrack_tracker(spec: SSTrackSpec, threads: int | None = None):
    try:
        from sstrack_edge.tracker import Tracker
    except ImportError as e:
        raise TrackerSpecError(f"the sstrack_edge runtime (sstrack_edge.tracker.Tracker) is not available: {e}") from e
    kwargs: dict[str, Any] = {"backend": spec.backend}
    if spec.model is not None:
        if not Path(spec.model).is_dir():
            raise TrackerSpecError(f"sstrack model directory not found: {spec.model}")
        kwargs["model"] = spec.model
    if spec.precision is not None:
        kwargs["precision"] = spec.precision
    if spec.variant is not None:
        kwargs["variant"] = spec.variant
    if threads is not None:
        kwargs["threads"] = threads
    try:
        return Tracker(**kwargs)
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        if spec.model is None:
            raise TrackerSpecError(
                "tracker 'sstrack' uses the default SSTrack model, which could not be loaded "
                f"({type(e).__name__}: {e}). No trained default model may be installed yet: "
                "evaluate an exported model with 'sstrack:<model_dir>[:backend[:precision]]'"
            ) from e
        raise TrackerSpecError(f"cannot load sstrack model {spec.model!r}: {type(e).__name__}: {e}") from e


def run_identity(tracker) -> dict[str, Any]:
    """What a result file was computed with, to key cached results by (not by a folder name): for
    an SSTrack tracker the card (sha256 of its JSON), the variant's files, backend, precision and
    every tracker setting; for an OpenCV tracker its kind, OpenCV version and network files."""
    import hashlib
    import json

    from sstrack_edge.model_card import sha256_file

    if isinstance(tracker, OpenCVTracker):
        ident: dict[str, Any] = {"tracker": f"opencv:{tracker.kind}", "opencv": cv2.__version__}
        files = getattr(tracker, "files", ())
        ident["files_sha256"] = {Path(f).name: sha256_file(f) for f in files}
        return ident
    card = tracker.card
    card_json = json.dumps(card.to_dict(), sort_keys=True, default=str).encode()
    v = tracker.model.variant
    return {
        "tracker": "sstrack", "card_sha256": hashlib.sha256(card_json).hexdigest(), "model": card.name,
        "variant": v.name, "backend": v.backend, "precision": tracker.model.precision,
        "files_sha256": dict(v.sha256),
        "settings": {**card.inference, **tracker.settings},
    }


def create_tracker(name: str, threads: int | None = None, nanotrack_dir: str | os.PathLike | None = None,
                   vittrack_dir: str | os.PathLike | None = None):
    """Build a tracker from its name (see the module docstring)."""
    if not isinstance(name, str) or not name:
        raise TrackerSpecError(f"tracker name must be a non-empty string, got {name!r}")
    if name == "sstrack" or name.startswith("sstrack:"):
        return make_sstrack_tracker(parse_sstrack_spec(name), threads=threads)
    if name.startswith("opencv:"):
        if threads is not None:
            cv2.setNumThreads(int(threads))
        return make_opencv_tracker(name.split(":", 1)[1], nanotrack_dir=nanotrack_dir, vittrack_dir=vittrack_dir)
    raise TrackerSpecError(
        f"unknown tracker {name!r}; use 'sstrack', 'sstrack:<model_dir>[:backend[:precision]]' or one of "
        + ", ".join("opencv:" + k for k in OPENCV_TRACKERS)
    )


def tracker_label(name: str) -> str:
    """A folder-safe label for result files: ``opencv:csrt`` -> ``opencv_csrt``."""
    if name.startswith("sstrack:"):
        spec = parse_sstrack_spec(name)
        parts = ["sstrack", Path(spec.model).name if spec.model else "default", spec.backend]
        parts += [p for p in (spec.precision, spec.variant) if p]
        name = "_".join(parts)
    safe = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)
    return safe.strip("._") or "tracker"
