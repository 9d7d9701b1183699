"""sstrack_edge: SSTrack single-object tracking on CPUs (ONNX Runtime / OpenVINO, no torch).

    import cv2, sstrack_edge
    tracker = sstrack_edge.Tracker("path/to/model_dir")     # or Tracker() for the installed default
    tracker.init(frame, (x, y, w, h))
    ok, (x, y, w, h) = tracker.update(next_frame)             # tracker.result has score, state, timings
"""

from .backends import LoadedModel, load_model, select_variant
from .errors import (
    BackendUnavailableError,
    ModelFileError,
    NoDefaultModelError,
    TrackerNotInitializedError,
    UntrainedModelWarning,
)
from .model_card import ModelCard
from .multi_tracker import MultiTracker
from .tracker import Tracker, TrackResult

__version__ = "0.1.0"

__all__ = [
    "Tracker",
    "TrackResult",
    "MultiTracker",
    "LoadedModel",
    "load_model",
    "select_variant",
    "ModelCard",
    "ModelFileError",
    "NoDefaultModelError",
    "TrackerNotInitializedError",
    "BackendUnavailableError",
    "UntrainedModelWarning",
]
