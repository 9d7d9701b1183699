"""Dataset loaders, one module per on-disk format. Each returns a
:class:`~training.data.sequence.SequenceDataset` and fills its ``report`` (skips with counts).

* :func:`load_lasot` (``lasot.py``), :func:`load_got10k` (``got10k.py``),
  :func:`load_trackingnet` (``trackingnet.py``), :func:`load_coco` (``coco.py``)
* :func:`load_sequence_folder` (``folder.py``): ``<name>/img/*.jpg + groundtruth.txt`` folders
* :func:`load_video_files` (``video.py``): ``clip.mp4 + clip.txt`` pairs
* :func:`load_stills` (``stills.py``): ``<src>/images/*.jpg + annotations.json`` (COCO format)
"""

from training.data.datasets.coco import load_coco, load_coco_boxes
from training.data.datasets.folder import load_sequence_folder
from training.data.datasets.got10k import load_got10k
from training.data.datasets.lasot import load_lasot
from training.data.datasets.stills import load_stills
from training.data.datasets.trackingnet import load_trackingnet
from training.data.datasets.video import load_video_files

__all__ = [
    "load_coco",
    "load_coco_boxes",
    "load_got10k",
    "load_lasot",
    "load_sequence_folder",
    "load_stills",
    "load_trackingnet",
    "load_video_files",
]
