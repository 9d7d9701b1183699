"""``sstrack-edge eval``: one-pass evaluation of several trackers, offline and streaming.

``sstrack_edge.cli`` registers it with :func:`add_parser`; ``python -m sstrack_edge.evaluation``
runs it standalone.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import cv2

from .absence import KINDS, check_seed, inject_absences, parse_kinds
from .datasets import FORMATS, load_dataset
from .evaluate import MODES, evaluate, track_sequences
from .metrics import ABSENT_POLICIES
from .plots import save_plots
from .report import results_table, write_summary
from .submission import SUBMISSION_FORMATS, write_submission
from .temporal import temporal_segments
from .trackers import tracker_label

DESCRIPTION = (
    "One-pass evaluation of several trackers on a benchmark, offline and streaming (real time at the source "
    "frame rate). Prints AUC / P@20 / FPS per tracker, writes per-sequence result files, summary.json and "
    "success/precision plots under --out; re-running resumes. See docs/evaluation.md."
)


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _positive_float(text: str) -> float:
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return v


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def _kinds(text: str) -> tuple[str, ...]:
    try:
        return parse_kinds(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _seed(text: str) -> int:
    try:
        return check_seed(int(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}") from e


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("root", type=Path, help="dataset root folder")
    p.add_argument("--format", default="auto", choices=["auto", *sorted(FORMATS)],
                   help="on-disk layout of ROOT (default: auto = videos when ROOT holds video files, else sot)")
    p.add_argument("--trackers", type=_csv, required=True,
                   help="comma-separated: sstrack, sstrack:<model_dir>[:backend[:precision]], "
                        "opencv:csrt, opencv:kcf, opencv:mil, opencv:nano, opencv:vit")
    p.add_argument("--out", type=Path, required=True, help="results folder (re-running resumes)")
    p.add_argument("--modes", type=_csv, default=None,
                   help="offline,streaming (default: both; with --long-term: offline)")
    p.add_argument("--sequences", type=_csv, default=None, help="only these sequences (comma-separated)")
    p.add_argument("--fps", type=_positive_float, default=None,
                   help="streaming source frame rate (default: per sequence, from sequences.json / the format)")
    p.add_argument("--threads", type=int, default=None, help="inference threads per tracker")
    p.add_argument("--nanotrack-dir", type=Path, default=None, help="folder with the NanoTrack v2 ONNX files")
    p.add_argument("--vittrack-dir", type=Path, default=None, help="folder with the VitTrack ONNX file (opencv:vit)")
    p.add_argument("--starts", type=_positive_int, default=1,
                   help="TRE: track each sequence from this many evenly spaced start frames, scoring the "
                        "segments equally (default: 1 = OPE; docs/evaluation.md)")
    p.add_argument("--batch", type=_positive_int, default=1,
                   help="offline: track this many sequences at a time through one batched network (sstrack "
                        "variants with batch: dynamic; same boxes; FPS becomes throughput). Streaming, OpenCV "
                        "peers and single-target variants run one at a time (default: 1; docs/evaluation.md)")
    p.add_argument("--include-first-frame", action="store_true", help="score frame 0 too (default: excluded)")
    p.add_argument("--absent", choices=ABSENT_POLICIES, default="exclude",
                   help="frames without a visible target: excluded (default) or counted as failures")
    p.add_argument("--submission", choices=SUBMISSION_FORMATS, default=None,
                   help="only track (no scoring) and write a GOT-10k / TrackingNet submission zip per tracker")
    p.add_argument("--long-term", action="store_true",
                   help="presence evaluation instead (VOT-LT tracking precision / recall / F over confidence "
                        "thresholds, absent frames reported lost, re-acquisition); writes longterm.json")
    p.add_argument("--inject", type=_kinds, default=None, metavar="KINDS",
                   help="with --long-term: insert seeded absence events into every sequence, of these kinds "
                        f"(comma-separated: {','.join(KINDS)}, or all); scored also per kind (docs/evaluation.md)")
    p.add_argument("--inject-seed", type=_seed, default=0, metavar="N",
                   help="seed of the --inject events (default 0; the same seed gives the same frames)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_eval)
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``eval`` subcommand on an ``argparse`` subparsers object."""
    p = subparsers.add_parser("eval", help="evaluate trackers on a benchmark (OPE, offline and streaming)",
                              description=DESCRIPTION)
    return configure_parser(p)


def _quiet_opencv_logs() -> None:
    """cv2.TrackerNano logs a DNN-target warning per instance; keep the table readable."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def run_eval(args: argparse.Namespace) -> int:
    if args.quiet:
        _quiet_opencv_logs()
    modes = args.modes or (["offline"] if args.long_term else list(MODES))
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mode {m!r}; known: {', '.join(MODES)}")
    if args.inject and not args.long_term:
        raise ValueError("--inject adds absence events for the presence evaluation: use it with --long-term")
    sequences = load_dataset(args.root, args.format, args.sequences)
    if args.long_term:
        return _run_longterm(args, sequences, modes)
    if args.submission:
        if args.starts != 1:
            raise ValueError("--submission writes one-pass results: it cannot be combined with --starts")
        for name in args.trackers:
            runs = track_sequences(sequences, name, args.out, threads=args.threads,
                                   nanotrack_dir=args.nanotrack_dir, vittrack_dir=args.vittrack_dir,
                                   progress=not args.quiet, batch=args.batch)
            path = write_submission(args.submission, args.out / "submission" / tracker_label(name), runs)
            print(f"{name}: {args.submission} submission written to {path}")
        return 0
    results = evaluate(
        temporal_segments(sequences, args.starts), args.trackers, args.out, modes=tuple(modes),
        stream_fps=args.fps, threads=args.threads,
        nanotrack_dir=args.nanotrack_dir, vittrack_dir=args.vittrack_dir, exclude_first_frame=not args.include_first_frame, absent=args.absent,
        progress=not args.quiet, batch=args.batch,
    )
    conventions = {"format": args.format, "root": str(args.root), "exclude_first_frame": not args.include_first_frame,
                   "absent": args.absent, "success_thresholds": 21, "precision_px": 20, "stream_fps": args.fps,
                   "threads": args.threads, "starts": args.starts, "batch": args.batch}
    write_summary(args.out / "summary.json", results, conventions)
    print(results_table(results))
    print(f"results: {args.out}")
    if not args.no_plots:
        if importlib.util.find_spec("matplotlib") is None:
            print("plots skipped: matplotlib is not installed (pip install 'sstrack-edge[eval]')", file=sys.stderr)
        else:
            save_plots(results, args.out / "plots")
    return 0


def _run_longterm(args, sequences, modes) -> int:
    """``--long-term``: per tracker and mode one pass over every segment, every box and confidence
    kept; with ``--inject`` on the sequences with absence events."""
    import json

    from .longterm import evaluate_longterm
    from .report import longterm_tables

    injection = None
    if args.inject:
        if args.starts != 1:
            raise ValueError("--inject places events on whole sequences: it cannot be combined with --starts")
        sequences = inject_absences(sequences, args.inject, args.inject_seed)
        injection = {"kinds": list(args.inject), "seed": args.inject_seed,
                     "events": {s.name: s.meta["absence_events"] for s in sequences}}
    segments = temporal_segments(sequences, args.starts)
    if args.batch > 1:
        print("note: --batch does not apply to --long-term: each segment is tracked alone", file=sys.stderr)
    rows = evaluate_longterm(segments, args.trackers, modes=tuple(modes), stream_fps=args.fps, threads=args.threads,
                             nanotrack_dir=args.nanotrack_dir, vittrack_dir=args.vittrack_dir,
                             progress=not args.quiet)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "longterm.json").write_text(json.dumps(
        {"segments": len(segments), "modes": list(modes), "stream_fps": args.fps, "injection": injection,
         "trackers": rows}, indent=1))
    print(longterm_tables(rows, len(segments)))
    print(f"results: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = configure_parser(argparse.ArgumentParser(prog="python -m sstrack_edge.evaluation", description=DESCRIPTION))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:  # bad input: a clear message, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
