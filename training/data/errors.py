"""Exceptions raised by the training data code."""

from __future__ import annotations


class DatasetFormatError(ValueError):
    """A dataset is missing a required file, or a required annotation file cannot be parsed.

    The message always names the offending file or folder.
    """


class FrameReadError(OSError):
    """A frame could not be read or decoded (missing file, corrupt JPEG, video seek failure)."""
