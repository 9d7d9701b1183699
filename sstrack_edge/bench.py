"""``sstrack-edge bench``: end-to-end ``update()`` speed of every variant vs torch eager and OpenCV peers.

One process, one thread count, the same pre-decoded real frames for every row. Rows:

* each variant of the model card whose backend is installed (ORT / OpenVINO x fp32 / int8);
* the same network in torch eager FP32 (only when the training package is installed: its
  ``sstrack_edge.reference_networks`` entry point builds it from the card's ``architecture`` with
  random weights, plugged into the same ``Tracker`` so crop and
  decode are identical; speed does not depend on weight values);
* OpenCV ``TrackerNano`` and ``TrackerVit`` (their ONNX files, when found) and ``TrackerCSRT``.

Rows are measured in interleaved rounds (row A chunk, row B chunk, ..., repeat) so that load from
other processes on a shared machine hits all rows alike. Reported: median and p90 latency, median
FPS, the split of ``update`` into preprocessing / inference / decode, FPS ratio vs torch eager and
achieved MAC/s (network MACs counted from the ONNX graph).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .paths import shared_root

DEFAULT_SEQUENCE = "S1301"  # UAVDT drone clip, 800x450, in ../shared/data/sot/eval


# ---------------------------------------------------------------------------------- frames
def load_bench_frames(n: int, sequence: str | None = None) -> tuple[list[np.ndarray], tuple, str]:
    """``n + 1`` pre-decoded frames, the init box and a description. Real eval frames when
    ../shared is present (cycled if the sequence is shorter), else the synthetic demo clip."""
    import cv2

    from .evaluation.annotations import read_boxes

    seq_dir = shared_root() / "data" / "sot" / "eval" / (sequence or DEFAULT_SEQUENCE)
    if (seq_dir / "groundtruth.txt").is_file():
        files = sorted((seq_dir / "img").glob("*.jpg"))[: n + 1]
        frames = [cv2.imread(str(f)) for f in files]
        box = tuple(float(v) for v in read_boxes(seq_dir / "groundtruth.txt")[0])
        h, w = frames[0].shape[:2]
        return frames, box, f"{seq_dir} ({len(frames)} frames, {w}x{h})"
    if sequence is not None:
        raise ValueError(f"sequence {sequence!r} not found under {seq_dir.parent}")
    from .synthetic import make_clip

    frames, truth = make_clip(n_frames=max(n + 1, 2))
    h, w = frames[0].shape[:2]
    return frames, tuple(truth[0]), f"synthetic demo clip ({len(frames)} frames, {w}x{h}; ../shared absent)"


# ------------------------------------------------------------------------------------ MACs
MAC_OPS = ("MatMul", "MatMulInteger", "Gemm", "Conv", "ConvInteger")


def count_onnx_macs(path: str | Path) -> int | None:
    """Multiply-accumulates of MatMul / Gemm / Conv nodes for one target (batch N = 1), from the
    shapes of their operands (None if the ``onnx`` package is not installed). Elementwise ops,
    softmax, norms are ignored. The export side's ``count_macs`` (recorded as ``architecture.macs``
    in the card) computes the same quantity from the config; the two are cross-checked in the tests.

    Shapes come from ONNX shape inference with the batch fixed to 1; where it cannot resolve them
    (token counts computed in the graph, e.g. candidate elimination's TopK behind a dynamic batch),
    one ONNX Runtime run on zero inputs reads them off the tensors themselves."""
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None
    model = onnx.load(str(path))
    for vi in list(model.graph.input) + list(model.graph.output):  # per target: the batch dim N is 1
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    model = shape_inference.infer_shapes(model, data_prop=True)
    g = model.graph
    shapes: dict[str, list[int]] = {init.name: list(init.dims) for init in g.initializer}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim]
        if dims and all(dims):
            shapes[vi.name] = dims
    nodes = [n for n in g.node if n.op_type in MAC_OPS]
    unknown = {t for n in nodes for t in (n.output[0], n.input[0], n.input[1]) if t and t not in shapes}
    if unknown:
        shapes.update(_run_shapes(model, sorted(unknown)))
    macs = 0
    for node in nodes:
        out, a, w = (shapes.get(t) for t in (node.output[0], node.input[0], node.input[1]))
        if not out or not a or not w:
            continue
        if node.op_type in ("Conv", "ConvInteger"):
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        else:
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            macs += int(np.prod(out)) * int(a[-2] if trans_a else a[-1])
    return macs


def _run_shapes(model, names: list[str]) -> dict[str, list[int]]:
    """Shapes of the tensors ``names`` in one ONNX Runtime run of ``model`` on zeros (static inputs)."""
    import onnx
    import onnxruntime as ort

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph_outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in graph_outputs)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros([d.dim_value for d in i.type.tensor_type.shape.dim], np.float32)
             for i in model.graph.input if i.name not in {init.name for init in model.graph.initializer}}
    values = session.run(names, feeds)
    return {n: list(v.shape) for n, v in zip(names, values)}


# ------------------------------------------------------------------------------- workloads
@dataclass
class Row:
    name: str
    kind: str  # "sstrack" | "torch" | "opencv"
    backend: str
    precision: str
    kept: bool | None
    init: Callable[[np.ndarray, tuple], None]
    step: Callable[[np.ndarray], dict | None]  # returns timings_ms for sstrack rows
    latencies_ms: list[float] = field(default_factory=list)
    split_ms: dict[str, list[float]] = field(default_factory=lambda: {"preprocess": [], "inference": [], "decode": []})
    note: str = ""
    frame_index: int = 1


def _tracker_row(name, tracker, kind="sstrack", note="") -> Row:
    def step(frame):
        tracker.update(frame)
        return tracker.result.timings_ms

    return Row(
        name=name,
        kind=kind,
        backend=tracker.model.backend,
        precision=tracker.model.precision,
        kept=tracker.model.variant.kept,
        init=tracker.init,
        step=step,
        note=note,
    )


REFERENCE_GROUP = "sstrack_edge.reference_networks"  # entry points: name -> f(card, threads) -> (net, run)


def _torch_row(card, threads: int) -> Row | None:
    """The card's network in torch eager FP32, inside the same Tracker (same crop and decode).

    Provided by the training package through the ``sstrack_edge.reference_networks`` entry point
    (``training.bench_torch``), so the runtime itself never imports ``training`` or torch."""
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group=REFERENCE_GROUP) if ep.name == "torch-eager"]
    try:
        if not eps:
            raise LookupError(f"no '{REFERENCE_GROUP}' entry point (pip install the [train] extra)")
        net, run = eps[0].load()(card, threads)
    except Exception as e:  # torch or training missing: skip the row
        print(f"bench: torch eager row skipped ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    from .backends import LoadedModel
    from .model_card import Variant
    from .tracker import Tracker

    v = Variant(name="torch-eager-fp32", backend="torch", precision="fp32", files={}, sha256={}, kept=True)
    loaded = LoadedModel(card=card, variant=v, threads=threads, spin_wait=False, compiled=net,
                         runner_factory=lambda _loaded: run)
    return _tracker_row("torch-eager-fp32", Tracker(loaded), kind="torch", note="random weights (speed only)")


def _opencv_rows(threads: int) -> list[Row]:
    """OpenCV's NanoTrack v2 and VitTrack (their ONNX files from ../shared/peers, when found) and CSRT,
    built as ``sstrack-edge eval`` builds them."""
    import cv2

    from .evaluation.trackers import TrackerSpecError, make_opencv_tracker

    cv2.setNumThreads(threads)
    rows = []
    for kind, name in (("nano", "opencv-nanotrack-v2"), ("vit", "opencv-vittrack"), ("csrt", "opencv-csrt")):
        try:
            tracker = make_opencv_tracker(kind)
        except TrackerSpecError as e:
            print(f"bench: {name} row skipped ({e})", file=sys.stderr)
            continue
        backend = "opencv" if kind == "csrt" else "opencv-dnn"
        rows.append(Row(name, "opencv", backend, "fp32", None, tracker.init, lambda f, t=tracker: t.update(f) and None))
    return rows


# ------------------------------------------------------------------------------ measuring
def run_bench(
    model=None,
    threads: int = 2,
    frames: int = 100,
    rounds: int = 5,
    warmup: int = 5,
    sequence: str | None = None,
    torch_row: bool = True,
    peers: bool = True,
    variants: list[str] | None = None,
    spin_wait: bool = False,
    bf16: bool = True,
) -> dict:
    from .backends import BACKENDS, load_card, openvino_available
    from .errors import BackendUnavailableError, UntrainedModelWarning
    from .tracker import Tracker

    card = load_card(model)
    clip, init_box, clip_desc = load_bench_frames(frames, sequence)
    load_before = _loadavg()
    rows: list[Row] = []
    have_ov = openvino_available()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        for v in card.variants:
            if variants is not None and v.name not in variants:
                continue
            if v.backend not in BACKENDS or (v.backend == "openvino" and not have_ov):
                print(f"bench: variant {v.name} skipped (backend {v.backend} not installed)", file=sys.stderr)
                continue
            tracker = Tracker(card, variant=v.name, threads=threads, spin_wait=spin_wait)
            rows.append(_tracker_row(v.name, tracker))
        if bf16 and have_ov and (variants is None or "openvino-fp32@bf16" in variants):
            try:
                tracker = Tracker(card, backend="openvino", precision="bf16", threads=threads)
            except (BackendUnavailableError, ValueError) as e:
                print(f"bench: bf16 row skipped ({e})", file=sys.stderr)
            else:
                row = _tracker_row("openvino-fp32@bf16", tracker, note="OpenVINO bf16 hint: opt-in, accuracy not gated")
                row.kept = None
                rows.append(row)
        if torch_row:
            r = _torch_row(card, threads)
            if r is not None:
                rows.append(r)
    if peers:
        rows.extend(_opencv_rows(threads))

    n_track = len(clip) - 1
    chunk = max(1, frames // rounds)

    def advance(row: Row, count: int, record: bool) -> None:
        for _ in range(count):
            if row.frame_index > n_track:  # wrap around: re-init on the first frame
                row.init(clip[0], init_box)
                row.frame_index = 1
            frame = clip[row.frame_index]
            t0 = time.perf_counter()
            split = row.step(frame)
            dt = (time.perf_counter() - t0) * 1e3
            row.frame_index += 1
            if record:
                row.latencies_ms.append(dt)
                if split:
                    for k, v in split.items():
                        row.split_ms[k].append(v)

    for row in rows:
        row.init(clip[0], init_box)
        advance(row, warmup, record=False)
    for _ in range(rounds):
        for row in rows:
            advance(row, chunk, record=True)

    fp32_files = [v for v in card.variants if v.backend == "onnxruntime" and v.precision == "fp32"]
    macs = count_onnx_macs(card.file_path(fp32_files[0].files["model"])) if fp32_files else None
    if macs is None:
        macs = card.architecture.get("macs")

    results = []
    torch_fps = None
    for row in rows:
        lat = np.asarray(row.latencies_ms)
        med = float(np.median(lat))
        entry = {
            "name": row.name,
            "kind": row.kind,
            "backend": row.backend,
            "precision": row.precision,
            "kept": row.kept,
            "updates": int(lat.size),
            "median_ms": round(med, 3),
            "p90_ms": round(float(np.percentile(lat, 90)), 3),
            "median_fps": round(1e3 / med, 2),
            "note": row.note,
        }
        if row.split_ms["inference"]:
            split = {k: float(np.median(v)) for k, v in row.split_ms.items()}
            entry.update({f"{k}_ms": round(v, 3) for k, v in split.items()})
            entry["pre_decode_share"] = round((split["preprocess"] + split["decode"]) / med, 4)
            if macs:
                entry["gmac_per_s"] = round(macs / 1e9 / (split["inference"] / 1e3), 2)
        if row.kind == "torch":
            torch_fps = entry["median_fps"]
        results.append(entry)
    for e in results:
        e["fps_vs_torch_eager"] = round(e["median_fps"] / torch_fps, 2) if torch_fps else None
    return {
        "model": card.name,
        "trained": card.trained,
        "macs": macs,
        "threads": threads,
        "frames": clip_desc,
        "updates_per_row": rounds * chunk,
        "rounds": rounds,
        "warmup": warmup,
        "spin_wait": spin_wait,
        "machine": machine_info(),
        "loadavg_1min_before_after": [load_before, _loadavg()],
        "rows": results,
    }


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def cpu_model() -> str:
    """The CPU model: ``model name`` of /proc/cpuinfo, else the processor name ``platform`` gives
    ('' when neither says)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_name() -> str:
    """The CPU model with the architecture, e.g. ``AMD EPYC 7B13 (x86_64)``: the key the FPS gate's
    expected ratios are recorded under (benchmarks/gate/baseline.json) and the CPU a card's peers
    table names."""
    return f"{cpu_model() or 'unknown CPU'} ({platform.machine()})"


def machine_info() -> dict:
    info = {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "cpu": cpu_model(), "logical_cpus": os.cpu_count()}
    versions = {}
    for mod in ("onnxruntime", "openvino", "cv2", "numpy", "torch"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            pass
    info["versions"] = versions
    return info


def format_table(report: dict) -> str:
    head = f"{'row':<22}{'median ms':>10}{'p90 ms':>9}{'FPS':>8}{'pre ms':>8}{'inf ms':>8}{'dec ms':>8}{'pre+dec':>8}{'xTorch':>8}{'GMAC/s':>8}"
    lines = [
        f"model {report['model']} (trained={report['trained']}), {report['threads']} thread(s), "
        f"{report['updates_per_row']} updates/row in {report['rounds']} interleaved rounds",
        f"frames: {report['frames']}",
        f"cpu: {report['machine'].get('cpu')}; load average (1 min) before/after: "
        f"{report['loadavg_1min_before_after']}; ORT spin_wait={report['spin_wait']}; network MACs: "
        + (f"{report['macs'] / 1e9:.3f} G" if report["macs"] else "n/a"),
        head,
        "-" * len(head),
    ]

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    for r in report["rows"]:
        share = r.get("pre_decode_share")
        lines.append(
            f"{r['name'] + ('' if r['kept'] in (None, True) else '*'):<22}{r['median_ms']:>10.2f}{r['p90_ms']:>9.2f}"
            f"{r['median_fps']:>8.1f}{f(r.get('preprocess_ms'), '8.2f'):>8}{f(r.get('inference_ms'), '8.2f'):>8}"
            f"{f(r.get('decode_ms'), '8.2f'):>8}{(f'{share * 100:.1f}%' if share is not None else '-'):>8}"
            f"{f(r.get('fps_vs_torch_eager'), '8.2f'):>8}{f(r.get('gmac_per_s'), '8.1f'):>8}"
        )
    if any(r["kept"] is False for r in report["rows"]):
        lines.append("* variant marked kept=false in the card (failed the export accuracy gate)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- CLI
def add_parser(sub, add_model_args) -> None:
    p = sub.add_parser("bench", help="time Tracker.update() per backend/precision vs torch eager and OpenCV trackers")
    p.add_argument("--model", help="model directory or model_card.json (default: the installed default model)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=100, help="timed updates per row")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds the frames are split into")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--sequence", help=f"eval sequence under ../shared/data/sot/eval (default {DEFAULT_SEQUENCE})")
    p.add_argument("--variants", help="comma-separated variant names to time (default: all)")
    p.add_argument("--no-torch", action="store_true", help="skip the torch eager row")
    p.add_argument("--no-peers", action="store_true", help="skip the OpenCV tracker rows")
    p.add_argument("--spin-wait", action="store_true", help="let ORT worker threads spin (default off, as in Tracker)")
    p.add_argument("--no-bf16", action="store_true", help="skip the OpenVINO bf16-hint row (only on CPUs with bf16)")
    p.add_argument("--json", help="also write the full report as JSON here")
    p.set_defaults(func=cmd_bench)
    del add_model_args  # bench times every variant; backend/precision flags do not apply


def cmd_bench(args) -> int:
    if args.threads < 1 or args.frames < 1 or args.rounds < 1:
        raise ValueError("--threads, --frames and --rounds must be >= 1")
    report = run_bench(
        args.model,
        threads=args.threads,
        frames=args.frames,
        rounds=args.rounds,
        warmup=args.warmup,
        sequence=args.sequence,
        torch_row=not args.no_torch,
        peers=not args.no_peers,
        variants=args.variants.split(",") if args.variants else None,
        spin_wait=args.spin_wait,
        bf16=not args.no_bf16,
    )
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0
