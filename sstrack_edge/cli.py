"""``sstrack-edge`` command line: ``track``, ``demo``, ``bench`` (and ``eval`` when installed).

    sstrack-edge track video.mp4 --bbox 120,80,40,60 --model models/x --output out.mp4 --results boxes.txt
    sstrack-edge demo --model models/x --out demo_out/
    sstrack-edge bench --model models/x --threads 2 --frames 100 --json bench.json
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import signal
import sys
import threading
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


# ------------------------------------------------------------------- exit codes
EXIT_OK = 0  # the source ended, or --max-frames was reached
EXIT_USAGE = 2  # bad arguments or input found before tracking (argparse uses 2 as well)
EXIT_STALLED = 3  # a camera / stream delivered no new frame for --stall-timeout seconds
EXIT_READ_ERROR = 4  # a frame could not be read (a corrupt image in a folder)
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv")  # --output containers (mp4v in .mp4, MJPG otherwise)

TRACK_EPILOG = """\
exit codes:
  0    the source ended, or --max-frames was reached
  2    bad arguments or input found before tracking (box, source, model, --results/--output path)
  3    a camera or stream stalled: no new frame for --stall-timeout seconds
  4    a frame could not be read (e.g. a corrupt image in a folder)
  130  interrupted (Ctrl-C); 143: terminated (SIGTERM)
With 3, 4, 130 and 143 nothing tracked is lost: --results has one row per tracked frame (written and
flushed as each frame is tracked), the --output video is closed and playable, the summary is printed.
"""


def _check_output_path(path: str, option: str, suffixes: tuple[str, ...] | None = None) -> None:
    """Fail early (before the model is loaded or the source opened) when ``path`` cannot be written."""
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path!r}: the file name must end in {', '.join(suffixes)}")
    if p.is_dir():
        raise ValueError(f"{option} {path!r} is a folder; give a file name")
    parent = p.parent
    if not parent.exists():
        raise ValueError(f"{option} {path!r}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ValueError(f"{option} {path!r}: {str(parent)!r} is not a folder")
    existed = p.exists()
    try:
        with open(p, "ab"):
            pass
    except OSError as e:
        raise ValueError(f"{option} {path!r}: cannot write there ({e.strerror})") from None
    if not existed:
        p.unlink(missing_ok=True)


class ResultsFile:
    """A got10k/pytracking result file written as tracking goes: one ``x,y,w,h`` row per frame,
    flushed every row, so any exit keeps the frames tracked so far. Opened at the first row."""

    def __init__(self, path: str | Path):
        self.path, self.rows, self._f = str(path), 0, None

    def write(self, box: tuple[float, float, float, float]) -> None:
        if self._f is None:
            self._f = open(self.path, "w", encoding="ascii")
        self._f.write("%.3f,%.3f,%.3f,%.3f\n" % tuple(box))
        self._f.flush()
        self.rows += 1

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


class LatencyStats:
    """Count, mean and median of update latencies in constant memory and constant time per sample:
    the median comes from a histogram with 1 %-wide bins on a log scale (1 us .. 1000 s), so it is
    exact to about 0.5 %."""

    _LO_MS, _STEP = 1e-3, math.log(1.01)
    _BINS = int(math.log(1e6 / 1e-3) / math.log(1.01)) + 1

    def __init__(self) -> None:
        self.count, self.total_ms = 0, 0.0
        self._hist = np.zeros(self._BINS, dtype=np.int64)

    def add(self, ms: float) -> None:
        self.count += 1
        self.total_ms += ms
        i = int(math.log(max(ms, self._LO_MS) / self._LO_MS) / self._STEP)
        self._hist[min(i, self._BINS - 1)] += 1

    @property
    def mean_fps(self) -> float | None:
        return self.count / max(1e-9, self.total_ms / 1e3) if self.count else None

    @property
    def median_ms(self) -> float | None:
        if not self.count:
            return None
        i = int(np.searchsorted(np.cumsum(self._hist), (self.count + 1) / 2))
        return self._LO_MS * math.exp((i + 0.5) * self._STEP)


class _Stop(KeyboardInterrupt):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _StopSignals:
    """SIGINT / SIGTERM during a track run: raised at once while waiting for a frame, deferred while
    a frame is tracked and written (so the results row and the video frame stay in step), ignored
    while the outputs are closed (a second Ctrl-C cannot leave a broken video)."""

    def __init__(self) -> None:
        self.critical = False
        self.pending: int | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        self.pending = signum
        if not self.critical:
            raise _Stop(signum)

    def check(self) -> None:
        if self.pending is not None:
            raise _Stop(self.pending)

    def ignore(self) -> None:
        for sig in self._old:
            signal.signal(sig, signal.SIG_IGN)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- track
def cmd_track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .draw import VideoWriter, draw_result
    from .frames import parse_box_string
    from .sources import SourceReadError, StreamStalledError, open_source

    if args.bbox is None and not args.show:
        raise ValueError(
            "no initial box: pass --bbox x,y,w,h (pixels of the first frame); interactive selection "
            "needs --show and an OpenCV build with GUI support"
        )
    box = parse_box_string(args.bbox) if args.bbox is not None else None
    if not args.stall_timeout > 0:
        raise ValueError(f"--stall-timeout must be > 0 seconds, got {args.stall_timeout:g}")
    if args.results:
        _check_output_path(args.results, "--results")
    if args.output:
        _check_output_path(args.output, "--output", VIDEO_SUFFIXES)
        if args.results and Path(args.output).resolve() == Path(args.results).resolve():
            raise ValueError("--output and --results name the same file")
    # The model first, then the source: a live source opened earlier would run on while the model
    # loads, and the first frame (the one --bbox refers to) would be long gone.
    tracker = _make_tracker(args)
    print(f"model: {tracker.model.describe()}", file=sys.stderr)
    source = open_source(args.source, fps=args.fps, stall_timeout_s=args.stall_timeout)
    if source.live:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our stall message says it
    results = ResultsFile(args.results) if args.results else None
    writer = VideoWriter(args.output, source.fps or args.fps or 30.0) if args.output else None
    n_frames = lost_frames = 0
    stats = LatencyStats()
    code, reason = EXIT_OK, None
    bar = tqdm(total=source.length if args.max_frames is None else args.max_frames, unit="frame", disable=args.quiet)
    t_start = time.perf_counter()
    with _StopSignals() as signals:
        try:
            for i, frame in enumerate(source):
                if args.max_frames is not None and i >= args.max_frames:
                    break
                if i == 0 and box is None:
                    box = _select_roi(frame)
                signals.critical = True  # from here until the frame's row and video frame are written
                if i == 0:
                    tracker.init(frame, box)
                else:
                    tracker.update(frame)
                    stats.add(tracker.result.latency_ms)
                    lost_frames += tracker.result.lost
                res = tracker.result
                if results is not None:
                    results.write(res.bbox)
                fps = stats.mean_fps
                if writer is not None or args.show:
                    img = draw_result(frame, res, fps)
                    if writer is not None:
                        writer.write(img)
                    if args.show:
                        _show(img)
                n_frames += 1
                bar.update(1)
                if fps is not None:
                    bar.set_postfix(fps=f"{fps:.1f}", score=f"{res.score:.2f}", state=res.state, refresh=False)
                signals.critical = False
                signals.check()
        except _Stop as e:
            code = EXIT_TERMINATED if e.signum == signal.SIGTERM else EXIT_INTERRUPTED
            reason = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted (Ctrl-C)"
        except StreamStalledError as e:
            code, reason = EXIT_STALLED, str(e)
        except SourceReadError as e:
            code, reason = EXIT_READ_ERROR, str(e)
        finally:
            signals.ignore()
            bar.close()
            source.close()
            if writer is not None:
                writer.close()
            if results is not None:
                results.close()
    wall = time.perf_counter() - t_start
    if n_frames == 0 and code == EXIT_OK:
        raise ValueError(f"source {args.source!r} delivered no frames")
    if reason is not None:
        print(f"sstrack-edge track: stopped: {reason} (exit {code})", file=sys.stderr)
    msg = f"{n_frames} frames, {lost_frames} lost"
    if stats.count:
        med = stats.median_ms
        msg += f", update median {med:.1f} ms ({1e3 / med:.1f} FPS), wall {wall:.1f} s"
    if source.live:
        msg += f", {source.dropped} stale frames dropped"
    kept = []
    if results is not None:
        rows = f"{results.rows} rows in {args.results}"
        kept.append(rows if results.rows else f"nothing in {args.results} (no frame tracked)")
    if writer is not None and n_frames:
        kept.append(f"video {args.output}")
    if kept:
        msg += "; " + ", ".join(kept)
    print(msg, file=sys.stderr)
    return code


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

    p = sub.add_parser(
        "track",
        help="track one object through a video, image folder, camera or stream",
        epilog=TRACK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="video file, image folder, camera index (0) or rtsp/http URL")
    p.add_argument("--bbox", help="initial box x,y,w,h in pixels of the first frame")
    p.add_argument("--output", help="write an annotated video here (.mp4, .avi or .mkv)")
    p.add_argument("--results", help="write boxes here: one x,y,w,h row per frame (got10k/pytracking format), "
                   "flushed as each frame is tracked")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (needs GUI OpenCV)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (for --output)")
    p.add_argument("--stall-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="camera/stream: stop (exit 3) when no new frame arrives for this long (default 10)")
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
