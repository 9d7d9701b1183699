"""Training data: dataset loaders, OSTrack pair processing/augmentation, interval-based samplers.

Public API (see docs/training-data.md):

* ``Sequence``, ``SequenceDataset``, ``VideoDataset``, ``ImageBoxDataset``, ``LoadReport``
  (:mod:`training.data.sequence`) and the loaders in :mod:`training.data.datasets`.
* ``BinConfig`` (:mod:`training.data.bins`): interval bins (bin 0 = still images).
* ``FramePair``, ``IntervalSampler``, ``RandomSampler``, ``estimate_random_bin_probs``
  (:mod:`training.data.sampler`).
* ``CropSizes``, ``ProcessingConfig``, ``PairProcessor`` (:mod:`training.data.processing`).
* ``PairDataset``, ``EpochSampler``, ``SampleKey`` (:mod:`training.data.pairs`).
"""

from training.data.bins import BinConfig
from training.data.errors import DatasetFormatError, FrameReadError
from training.data.sequence import ImageBoxDataset, LoadReport, Sequence, SequenceDataset, VideoDataset

__all__ = [
    "BinConfig",
    "DatasetFormatError",
    "FrameReadError",
    "ImageBoxDataset",
    "LoadReport",
    "Sequence",
    "SequenceDataset",
    "VideoDataset",
]
