"""``sstrack-edge`` command line: ``track``, ``demo``, ``bench`` (and ``eval`` when installed).

    sstrack-edge track video.mp4 --bbox 120,80,40,60 --model models/x --output out.mp4 --results boxes.txt
    sstrack-edge track video.mp4 --bbox 120,80,40,60 --bbox 300,90,30,50 --results tracks.txt   # several targets
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
    g.add_argument("--reacquire-threshold", type=float, default=None,
                   help="presence a re-detection needs to re-acquire the target (default: from the card)")
    g.add_argument("--lost-relative", type=float, default=None,
                   help="also lost below this fraction of the target's usual presence (default: from the card; 0 = off)")
    g.add_argument("--redetect-tiles", type=int, default=None,
                   help="crops of the frame scan per re-detection frame, each one network call (default: from the card; 0 = off)")


def _make_tracker(args: argparse.Namespace, several: bool = False):
    """A ``Tracker`` (or, with ``several``, a ``MultiTracker``) with the model options of ``args``."""
    from .multi_tracker import MultiTracker
    from .tracker import Tracker

    return (MultiTracker if several else Tracker)(
        args.model,
        backend=args.backend,
        precision=args.precision,
        threads=args.threads,
        spin_wait=args.spin_wait,
        lost_threshold=args.lost_threshold,
        variant=args.variant,
        lost_patience=args.lost_patience,
        reacquire_threshold=args.reacquire_threshold,
        redetect_tiles=args.redetect_tiles,
        lost_relative=args.lost_relative,
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
several targets:
  Multi-target mode runs when --bbox is given more than once, with --bboxes FILE, or with --multi.
  All targets go through one batched network call per frame (the model needs a batched variant).
  Target ids: 0, 1, ... in the order given, or the id column of --bboxes. --results then holds
  one row per target per frame, MOTChallenge style:  frame,id,x,y,w,h,score,lost
  frame is 1-based (1 = the first frame, where the boxes are given; its score is nan), lost is 0/1,
  a lost target's box is its last good box. --output draws each box with its id, state and score
  (solid in the target's colour while tracked, dashed red while lost).

exit codes:
  0    the source ended, or --max-frames was reached
  2    bad arguments or input found before tracking (a box, the --bboxes file, source, model,
       --results/--output path); nothing is written
  3    a camera or stream stalled: no new frame for --stall-timeout seconds
  4    a frame could not be read (e.g. a corrupt image in a folder)
  130  interrupted (Ctrl-C); 143: terminated (SIGTERM)
With 3, 4, 130 and 143 nothing tracked is lost: --results has the rows of every tracked frame (written and
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
    flushed every frame, so any exit keeps the frames tracked so far. Opened at the first row."""

    def __init__(self, path: str | Path):
        self.path, self.rows, self._f = str(path), 0, None

    def _write(self, text: str, rows: int) -> None:
        if self._f is None:
            self._f = open(self.path, "w", encoding="ascii")
        self._f.write(text)
        self._f.flush()
        self.rows += rows

    def write(self, box: tuple[float, float, float, float]) -> None:
        self._write("%.3f,%.3f,%.3f,%.3f\n" % tuple(box), 1)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


MOT_ROW = "%d,%d,%.3f,%.3f,%.3f,%.3f,%.4f,%d\n"


class MotResultsFile(ResultsFile):
    """The multi-target result file: MOTChallenge-style rows ``frame,id,x,y,w,h,score,lost`` (frame
    1-based, one row per target per frame in id order, score ``nan`` on a target's init frame and
    while failed, lost 0/1), the rows of a frame written and flushed together."""

    def write_frame(self, frame_number: int, results: dict) -> None:
        self._write("".join(MOT_ROW % (frame_number, i, *r.bbox, r.score, int(r.lost)) for i, r in results.items()),
                    len(results))


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
def read_boxes_file(path: str) -> list[tuple[str, int | None, tuple[float, float, float, float]]]:
    """The boxes of ``--bboxes FILE``: one ``x,y,w,h`` per line (commas, spaces or tabs), or on every
    line ``id,x,y,w,h`` with a unique integer id >= 0. Returns ``(where, id or None, box)`` per line;
    ``ValueError`` naming the file and line for an unreadable or empty file, a blank or malformed line."""
    from .frames import check_box

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ValueError(f"--bboxes {path!r}: cannot read it ({why})") from None
    lines = text.splitlines()
    if not lines:
        raise ValueError(f"--bboxes {path!r} is empty: give one box x,y,w,h per line")
    boxes, columns, ids = [], None, set()
    for n, line in enumerate(lines, start=1):
        where = f"--bboxes {path!r} line {n}"
        parts = line.replace(",", " ").replace("\t", " ").split()
        if not parts:
            raise ValueError(f"{where} is blank; give one box x,y,w,h (or id,x,y,w,h) per line, no blank lines")
        if len(parts) not in (4, 5):
            raise ValueError(f"{where}: {line.strip()!r} is not x,y,w,h (or id,x,y,w,h): {len(parts)} values")
        if columns is not None and len(parts) != columns:
            raise ValueError(f"{where}: {len(parts)} values where line 1 has {columns}; give an id on every line or on none")
        columns = len(parts)
        target_id = None
        if columns == 5:
            if not parts[0].isdigit():
                raise ValueError(f"{where}: id {parts[0]!r} is not an integer >= 0")
            target_id = int(parts[0])
            if target_id in ids:
                raise ValueError(f"{where}: id {target_id} is given twice")
            ids.add(target_id)
            parts = parts[1:]
        try:
            values = [float(v) for v in parts]
        except ValueError:
            raise ValueError(f"{where}: {line.strip()!r} is not 4 numbers x,y,w,h") from None
        boxes.append((where, target_id, check_box(values, name=f"{where}: box {line.strip()!r}")))
    return boxes


class _OneTarget:
    """``track`` with one box: a :class:`~sstrack_edge.Tracker`, got10k rows (``x,y,w,h``)."""

    def __init__(self, box):
        self.box, self.lost = box, 0

    def load(self, args: argparse.Namespace) -> str:
        self.tracker = _make_tracker(args)
        return self.tracker.model.describe()

    def results_file(self, path: str) -> ResultsFile:
        return ResultsFile(path)

    def select(self, frame: np.ndarray) -> None:
        if self.box is None:
            self.box = _select_roi(frame)

    def start(self, frame: np.ndarray) -> None:
        self.tracker.init(frame, self.box)

    def update(self, frame: np.ndarray) -> float:
        self.tracker.update(frame)
        self.lost += self.tracker.result.lost
        return self.tracker.result.latency_ms

    def write(self, results: ResultsFile, frame_number: int) -> None:
        results.write(self.tracker.result.bbox)

    def draw(self, frame: np.ndarray, fps: float | None) -> np.ndarray:
        from .draw import draw_result

        return draw_result(frame, self.tracker.result, fps)

    def postfix(self) -> dict[str, str]:
        res = self.tracker.result
        return dict(score=f"{res.score:.2f}", state=res.state)

    def summary(self) -> str:
        return f"{self.lost} lost"


class _ManyTargets:
    """``track`` with several boxes: a :class:`~sstrack_edge.MultiTracker` (one batched network call
    per frame), MOTChallenge-style rows ``frame,id,x,y,w,h,score,lost``. Ids are those of the
    ``--bboxes`` file's id column, else the MultiTracker's (0, 1, ... in the order given)."""

    def __init__(self, boxes):
        self.boxes = boxes  # [(where, id or None, box)]
        self.out_id: dict[int, int] = {}
        self.lost: dict[int, int] = {}
        self.current: dict = {}  # this frame's results by output id

    def load(self, args: argparse.Namespace) -> str:
        self.tracker = _make_tracker(args, several=True)
        return f"{self.tracker.model.describe()}, {len(self.boxes)} targets in one batched call per frame"

    def results_file(self, path: str) -> MotResultsFile:
        return MotResultsFile(path)

    def select(self, frame: np.ndarray) -> None:
        pass  # the boxes come from --bbox / --bboxes

    def start(self, frame: np.ndarray) -> None:
        for where, given_id, box in self.boxes:
            try:
                target_id = self.tracker.add(frame, box)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            self.out_id[target_id] = target_id if given_id is None else given_id
        self.lost = {i: 0 for i in self.out_id.values()}
        self._keep(self.tracker.results)

    def _keep(self, results: dict) -> None:
        self.current = {self.out_id[i]: r for i, r in results.items()}

    def update(self, frame: np.ndarray) -> float:
        t0 = time.perf_counter()
        results = self.tracker.update(frame)
        ms = (time.perf_counter() - t0) * 1e3
        self._keep(results)
        for i, r in self.current.items():
            self.lost[i] += r.lost
        return ms

    def write(self, results: MotResultsFile, frame_number: int) -> None:
        results.write_frame(frame_number, self.current)

    def draw(self, frame: np.ndarray, fps: float | None) -> np.ndarray:
        from .draw import draw_targets

        return draw_targets(frame, self.current, fps)

    def postfix(self) -> dict[str, str]:
        return dict(lost=f"{sum(r.lost for r in self.current.values())}/{len(self.out_id)}")

    def summary(self) -> str:
        per_target = ", ".join(f"{i}: {n}" for i, n in self.lost.items())
        return f"{len(self.boxes)} targets, {sum(self.lost.values())} lost ({per_target})"


def _track_job(args: argparse.Namespace) -> _OneTarget | _ManyTargets:
    """The job ``track`` runs, from the box options (checked here, before anything is loaded):
    several targets with ``--bboxes FILE``, with more than one ``--bbox``, or with ``--multi``."""
    from .frames import parse_box_string

    bboxes = args.bbox or []
    if args.bboxes is not None and bboxes:
        raise ValueError("give the boxes either with --bbox or with --bboxes FILE, not both")
    if not (args.multi or args.bboxes is not None or len(bboxes) > 1):
        if not bboxes and not args.show:
            raise ValueError(
                "no initial box: pass --bbox x,y,w,h (pixels of the first frame); interactive selection "
                "needs --show and an OpenCV build with GUI support"
            )
        return _OneTarget(parse_box_string(bboxes[0]) if bboxes else None)
    if args.bboxes is not None:
        return _ManyTargets(read_boxes_file(args.bboxes))
    if not bboxes:
        raise ValueError(
            "--multi needs its boxes from --bbox x,y,w,h (repeated) or --bboxes FILE; interactive "
            "selection (--show without --bbox) picks one target only"
        )
    return _ManyTargets([(f"--bbox #{k} {b!r}", None, parse_box_string(b)) for k, b in enumerate(bboxes, start=1)])


def cmd_track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .draw import VideoWriter
    from .sources import SourceReadError, StreamStalledError, open_source

    job = _track_job(args)
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
    print(f"model: {job.load(args)}", file=sys.stderr)
    source = open_source(args.source, fps=args.fps, stall_timeout_s=args.stall_timeout)
    if source.live:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our stall message says it
    results = job.results_file(args.results) if args.results else None
    writer = VideoWriter(args.output, source.fps or args.fps or 30.0) if args.output else None
    n_frames = 0
    stats = LatencyStats()
    code, reason = EXIT_OK, None
    bar = tqdm(total=source.length if args.max_frames is None else args.max_frames, unit="frame", disable=args.quiet)
    t_start = time.perf_counter()
    with _StopSignals() as signals:
        try:
            for i, frame in enumerate(source):
                if args.max_frames is not None and i >= args.max_frames:
                    break
                if i == 0:
                    job.select(frame)  # --show without --bbox: interactive selection of the box
                signals.critical = True  # from here until the frame's rows and video frame are written
                if i == 0:
                    job.start(frame)
                else:
                    stats.add(job.update(frame))
                if results is not None:
                    job.write(results, i + 1)
                fps = stats.mean_fps
                if writer is not None or args.show:
                    img = job.draw(frame, fps)
                    if writer is not None:
                        writer.write(img)
                    if args.show:
                        _show(img)
                n_frames += 1
                bar.update(1)
                if fps is not None:
                    bar.set_postfix(fps=f"{fps:.1f}", **job.postfix(), refresh=False)
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
    msg = f"{n_frames} frames, {job.summary()}"
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
        help="track one object (or several) through a video, image folder, camera or stream",
        epilog=TRACK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="video file, image folder, camera index (0) or rtsp/http URL")
    p.add_argument("--bbox", action="append", metavar="x,y,w,h",
                   help="initial box in pixels of the first frame; repeat it for several targets")
    p.add_argument("--bboxes", metavar="FILE",
                   help="several targets: a file with one box x,y,w,h per line, or id,x,y,w,h on every line "
                   "(integer ids >= 0, unique); no blank lines")
    p.add_argument("--multi", action="store_true",
                   help="multi-target mode (MultiTracker, MOT rows) even for a single --bbox")
    p.add_argument("--output", help="write an annotated video here (.mp4, .avi or .mkv)")
    p.add_argument("--results", help="write boxes here, flushed as each frame is tracked: one target: one x,y,w,h "
                   "row per frame (got10k/pytracking format); several: rows frame,id,x,y,w,h,score,lost "
                   "(MOTChallenge style, frame 1-based)")
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
