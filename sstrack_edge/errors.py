"""Exceptions and warnings raised by the runtime (all importable from ``sstrack_edge``)."""

from __future__ import annotations

from .model_card import ModelFileError


class NoDefaultModelError(ModelFileError):
    """``Tracker()`` was called without a model and no trained default model is installed."""


class TrackerNotInitializedError(RuntimeError):
    """``update()`` was called before ``init()``."""


class BackendUnavailableError(RuntimeError):
    """The requested backend is not installed, or the model has no usable variant for it."""


class UntrainedModelWarning(UserWarning):
    """The loaded model card says ``trained: false`` (random weights: boxes are meaningless)."""


__all__ = [
    "ModelFileError",
    "NoDefaultModelError",
    "TrackerNotInitializedError",
    "BackendUnavailableError",
    "UntrainedModelWarning",
]
