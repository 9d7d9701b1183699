"""``sstrack-edge`` command line: ``track``, ``demo``, ``bench`` (and ``eval`` when installed).

    sstrack-edge track video.mp4 --bbox 120,80,40,60 --model models/x --output out.mp4 --results boxes.txt
    sstrack-edge demo --model models/x --out demo_out/
    sstrack-edge bench --model models/x --threads 2 --frames 100 --json bench.json
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from .errors import BackendUnavailableError, ModelFileError, TrackerNotInitializedError


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and backend")
    g.add_argument("--model", help="model directory or model_card.json (default: the installed default model)")
    g.add_argument("--backend", default="auto", choices=["auto", "onnxruntime", "ort", "openvino", "ov"])
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "int8", "bf16"], help="bf16: OpenVINO opt-in, never chosen by auto")
    g.add_argument("--variant", help="run this variant of the card by name (overrides backend/precision)")
    g.add_argument("--threads", type=int, default=None, help="inference threads (default: all usable cores)")
    g.add_argument("--spin-wait", action="store_true", help="let ORT worker threads spin between ops (burns idle CPU)")
    g.add_argument("--lost-threshold", type=float, default=None, help="score below which the target counts as lost (default: from the card)")
    g.add_argument("--lost-patience", type=int, default=None,
                   help="low-score frames still followed before re-detection (default: from the card; 0 = freeze at once)")


def _make_tracker(args: argparse.Namespace):
    from .tracker import Tracker

    return Tracker(
        args.model,
        backend=args.backend,
        precision=args.precision,
        threads=args.threads,
        spin_wait=args.spin_wait,
        lost_threshold=args.lost_threshold,
        variant=args.variant,
        lost_patience=args.lost_patience,
    )


def write_results(path: str | Path, boxes: list[tuple[float, float, float, float]]) -> None:
    """got10k/pytracking result file: one ``x,y,w,h`` row per frame, first row = the init box."""
    np.savetxt(str(path), np.asarray(boxes, dtype=np.float64).reshape(-1, 4), fmt="%.3f", delimiter=",")


# --------------------------------------------------------------------------- track
def cmd_track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .draw import VideoWriter, draw_result
    from .frames import parse_box_string
    from .sources import open_source

    if args.bbox is None and not args.show:
        raise ValueError(
            "no initial box: pass --bbox x,y,w,h (pixels of the first frame); interactive selection "
            "needs --show and an OpenCV build with GUI support"
        )
    box = parse_box_string(args.bbox) if args.bbox is not None else None
    source = open_source(args.source, fps=args.fps)
    try:
        tracker = _make_tracker(args)
    except BaseException:
        source.close()
        raise
    print(f"model: {tracker.model.describe()}", file=sys.stderr)
    writer = VideoWriter(args.output, source.fps or args.fps or 30.0) if args.output else None
    boxes: list[tuple[float, float, float, float]] = []
    lost_frames = 0
    latencies: list[float] = []
    try:
        bar = tqdm(total=source.length if args.max_frames is None else args.max_frames, unit="frame", disable=args.quiet)
        t_start = time.perf_counter()
        for i, frame in enumerate(source):
            if args.max_frames is not None and i >= args.max_frames:
                break
            if i == 0:
                if box is None:
                    box = _select_roi(frame)
                tracker.init(frame, box)
            else:
                tracker.update(frame)
                latencies.append(tracker.result.latency_ms)
                lost_frames += tracker.result.lost
            res = tracker.result
            boxes.append(res.bbox)
            fps = len(latencies) / max(1e-9, sum(latencies) / 1e3) if latencies else None
            if writer is not None or args.show:
                img = draw_result(frame, res, fps)
                if writer is not None:
                    writer.write(img)
                if args.show:
                    _show(img)
            bar.update(1)
            if fps is not None:
                bar.set_postfix(fps=f"{fps:.1f}", score=f"{res.score:.2f}", state=res.state, refresh=False)
        bar.close()
        wall = time.perf_counter() - t_start
    finally:
        source.close()
        if writer is not None:
            writer.close()
    if not boxes:
        raise ValueError(f"source {args.source!r} delivered no frames")
    if args.results:
        write_results(args.results, boxes)
    n = len(latencies)
    msg = f"{len(boxes)} frames, {lost_frames} lost"
    if n:
        msg += f", update median {np.median(latencies):.1f} ms ({1e3 / np.median(latencies):.1f} FPS), wall {wall:.1f} s"
    if source.live:
        msg += f", {source.dropped} stale frames dropped"
    print(msg, file=sys.stderr)
    return 0


def _select_roi(frame: np.ndarray):
    import cv2

    try:
        x, y, w, h = cv2.selectROI("sstrack-edge: select the target, then ENTER", frame, False)
        cv2.destroyWindow("sstrack-edge: select the target, then ENTER")
    except cv2.error as e:
        raise ValueError(
            "interactive box selection needs an OpenCV build with GUI support (this one is headless); "
            f"pass --bbox x,y,w,h ({e.msg if hasattr(e, 'msg') else e})"
        ) from None
    if w <= 0 or h <= 0:
        raise ValueError("no box selected; pass --bbox x,y,w,h")
    return (x, y, w, h)


def _show(img: np.ndarray) -> None:
    import cv2

    try:
        cv2.imshow("sstrack-edge", img)
        cv2.waitKey(1)
    except cv2.error:
        raise ValueError("--show needs an OpenCV build with GUI support (this one is headless); use --output") from None


# ---------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    summary = run_demo(_make_tracker(args), Path(args.out), n_frames=args.frames, seed=args.seed)
    for k, v in summary.items():
        print(f"{k}: {v}")
    return 0


# ---------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sstrack-edge", description="SSTrack single-object tracking on CPUs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("track", help="track one object through a video, image folder, camera or stream")
    p.add_argument("source", help="video file, image folder, camera index (0) or rtsp/http URL")
    p.add_argument("--bbox", help="initial box x,y,w,h in pixels of the first frame")
    p.add_argument("--output", help="write an annotated video here (.mp4 or .avi)")
    p.add_argument("--results", help="write boxes here: one x,y,w,h row per frame (got10k/pytracking format)")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs GUI OpenCV)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (for --output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_model_args(p)
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("demo", help="track a generated synthetic clip and report IoU against its known truth")
    p.add_argument("--out", default="sstrack_demo", help="output folder (annotated video, boxes, truth)")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    _add_model_args(p)
    p.set_defaults(func=cmd_demo)

    from .bench import add_parser as add_bench_parser

    add_bench_parser(sub, _add_model_args)

    if importlib.util.find_spec("sstrack_edge.evaluation") is not None and importlib.util.find_spec(
        "sstrack_edge.evaluation.cli"
    ) is not None:
        from .evaluation import cli as evaluation_cli

        evaluation_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, ModelFileError, BackendUnavailableError, TrackerNotInitializedError) as e:
        parser.exit(2, f"sstrack-edge {args.command}: error: {e}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
