"""Evaluation toolkit: benchmark readers, OPE metrics, offline and streaming runs, peer trackers.

No torch here. Main entry points::

    from sstrack_edge.evaluation import load_dataset, evaluate, score_sequence
    seqs = load_dataset("../shared/data/sot/eval", "sot")
    results = evaluate(seqs, ["opencv:csrt", "opencv:nano"], "runs/eval")

Command line: ``sstrack-edge eval ROOT --format sot --trackers opencv:csrt,opencv:nano --out DIR``
(or ``python -m sstrack_edge.evaluation ...``). See docs/evaluation.md.
"""

from .annotations import AnnotationError, read_boxes
from .datasets import FORMATS, DatasetFormatError, detect_format, load_dataset
from .evaluate import MODES, ModeResult, evaluate, track_sequences
from .metrics import SequenceScores, Summary, got10k_scores, score_sequence, summarize
from .sequence import FrameReadError, Sequence
from .temporal import segment_starts, temporal_segments
from .trackers import TrackerSpecError, create_tracker, parse_sstrack_spec, tracker_label
from .tracking_runs import TrackingRun, run_offline, run_offline_batched, run_streaming

__all__ = [
    "AnnotationError", "DatasetFormatError", "FORMATS", "FrameReadError", "MODES", "ModeResult", "Sequence",
    "SequenceScores", "Summary", "TrackerSpecError", "TrackingRun", "create_tracker", "detect_format", "evaluate",
    "got10k_scores", "load_dataset", "parse_sstrack_spec", "read_boxes", "run_offline",
    "run_offline_batched", "run_streaming",
    "score_sequence", "segment_starts", "summarize", "temporal_segments", "track_sequences", "tracker_label",
]
