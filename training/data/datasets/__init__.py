"""Dataset loaders, one module per on-disk format. Each returns a
:class:`~training.data.sequence.SequenceDataset` and fills its ``report`` (skips with counts).

* :func:`load_lasot` (``lasot.py``), :func:`load_got10k` (``got10k.py``),
  :func:`load_trackingnet` (``trackingnet.py``), :func:`load_coco` (``coco.py``)
* :func:`load_sequence_folder` (``folder.py``): ``<name>/img/*.jpg + groundtruth.txt`` folders
* :func:`load_video_files` (``video.py``): ``clip.mp4 + clip.txt`` pairs
* :func:`load_stills` (``stills.py``): ``<src>/images/*.jpg + annotations.json`` (COCO format)
"""
