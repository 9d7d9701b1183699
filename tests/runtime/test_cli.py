"""The ``sstrack-edge`` command line (run in-process through ``cli.main``)."""

from __future__ import annotations

import json
import signal
import warnings

import cv2
import numpy as np
import pytest

from sstrack_edge import UntrainedModelWarning, cli


def run_cli(argv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return cli.main([str(a) for a in argv])


def test_track_image_folder_writes_results_and_video(tiny_model_dir, sot_eval, tmp_path, capsys):
    seq = sot_eval / "Crossing"
    gt0 = open(seq / "groundtruth.txt").readline().strip()
    results, video = tmp_path / "boxes.txt", tmp_path / "out.mp4"
    args = ["track", seq / "img", "--bbox", gt0, "--model", tiny_model_dir, "--backend", "ort", "--threads", "1"]
    args += ["--max-frames", 12, "--results", results, "--output", video, "--quiet", "--lost-threshold", 0.0]
    assert run_cli(args) == 0
    boxes = np.loadtxt(results, delimiter=",")
    assert boxes.shape == (12, 4)
    np.testing.assert_allclose(boxes[0], [float(v) for v in gt0.split(",")])
    assert np.isfinite(boxes).all() and (boxes[:, 2:] >= 10).all()
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12
    assert "12 frames, 0 lost" in capsys.readouterr().err


def test_track_without_bbox_is_a_clear_error(tiny_model_dir, sot_eval, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli(["track", sot_eval / "Crossing" / "img", "--model", tiny_model_dir])
    assert e.value.code == 2
    assert "--bbox x,y,w,h" in capsys.readouterr().err


@pytest.mark.parametrize("bbox, message", [("1,2,3", "4 values"), ("a,b,c,d", "not 4 numbers"), ("1,2,0,5", "positive")])
def test_track_bad_bbox(tiny_model_dir, sot_eval, capsys, bbox, message):
    with pytest.raises(SystemExit):
        run_cli(["track", sot_eval / "Crossing" / "img", "--bbox", bbox, "--model", tiny_model_dir])
    assert message in capsys.readouterr().err


def test_track_missing_source(tiny_model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_cli(["track", tmp_path / "nothing.mp4", "--bbox", "1,2,3,4", "--model", tiny_model_dir])
    assert "not a video file, image folder" in capsys.readouterr().err


def test_demo_writes_video_and_reports_iou(tiny_model_dir, tmp_path, capsys):
    assert run_cli(["demo", "--model", tiny_model_dir, "--out", tmp_path, "--frames", 20, "--backend", "ort", "--threads", 1]) == 0
    out = capsys.readouterr().out
    iou = float(out.split("mean_iou_visible:")[1].split()[0])
    assert 0.0 <= iou <= 1.0
    assert (tmp_path / "demo.mp4").stat().st_size > 0
    assert np.loadtxt(tmp_path / "boxes.txt", delimiter=",").shape == (20, 4)


def test_demo_without_model_needs_a_default(monkeypatch, capsys, tmp_path):
    from sstrack_edge import backends

    monkeypatch.setattr(backends, "installed_models", lambda: [])
    with pytest.raises(SystemExit):
        run_cli(["demo", "--out", tmp_path])
    assert "no default model" in capsys.readouterr().err


def test_bench_reports_every_variant_and_the_split(tiny_model_dir, tmp_path, capsys):
    report_path = tmp_path / "bench.json"
    args = ["bench", "--model", tiny_model_dir, "--threads", 1, "--frames", 4, "--rounds", 2, "--warmup", 1]
    assert run_cli(args + ["--no-torch", "--json", report_path]) == 0
    report = json.loads(report_path.read_text())
    names = {r["name"] for r in report["rows"]}
    card = json.loads((tiny_model_dir / "model_card.json").read_text())
    assert {v["name"] for v in card["variants"] if v["backend"] == "onnxruntime"} <= names
    assert "opencv-csrt" in names
    ours = [r for r in report["rows"] if r["kind"] == "sstrack"]
    for r in ours:
        assert r["updates"] == 4 and r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"]
        assert r["preprocess_ms"] + r["inference_ms"] + r["decode_ms"] <= r["median_ms"] * 1.5
        assert 0 < r["pre_decode_share"] < 1
    assert "median ms" in capsys.readouterr().out


# ------------------------------------------------- nothing tracked is lost on any exit path
def crossing_args(sot_eval, model, tmp_path, *extra):
    seq = sot_eval / "Crossing"
    gt0 = open(seq / "groundtruth.txt").readline().strip()
    args = ["track", seq / "img", "--bbox", gt0, "--model", model, "--backend", "ort", "--threads", "1", "--quiet"]
    return args + ["--results", tmp_path / "boxes.txt", "--output", tmp_path / "out.mp4", *extra]


def count_video_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--results", "missing_dir/boxes.txt", "does not exist"),
        ("--results", ".", "is a folder"),
        ("--results", "file.txt/boxes.txt", "is not a folder"),
        ("--output", "missing_dir/out.mp4", "does not exist"),
        ("--output", "out.txt", "must end in .mp4, .avi, .mkv"),
    ],
)
def test_track_checks_output_paths_before_loading_or_opening(
    sot_eval, tiny_model_dir, tmp_path, monkeypatch, capsys, option, value, message
):
    from sstrack_edge import sources

    def fail(*a, **k):
        raise AssertionError("the source was opened / the model loaded before the output paths were checked")

    monkeypatch.setattr(sources, "open_source", fail)
    monkeypatch.setattr(cli, "_make_tracker", fail)
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    seq = sot_eval / "Crossing"
    with pytest.raises(SystemExit) as e:
        run_cli(["track", seq / "img", "--bbox", "1,2,3,4", "--model", tiny_model_dir, option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and value in err and "Traceback" not in err


def test_track_corrupt_image_keeps_what_was_tracked(sot_eval, tiny_model_dir, tmp_path, capsys):
    folder = tmp_path / "img"
    folder.mkdir()
    for f in sorted((sot_eval / "Crossing" / "img").glob("*.jpg"))[:10]:
        (folder / f.name).write_bytes(f.read_bytes())
    bad = sorted(folder.glob("*.jpg"))[6]
    data = bytearray(bad.read_bytes())
    data[:4] = b"\0\0\0\0"  # the JPEG start-of-image marker is gone: not decodable
    bad.write_bytes(bytes(data))
    args = crossing_args(sot_eval, tiny_model_dir, tmp_path)
    args[1] = folder
    assert run_cli(args) == cli.EXIT_READ_ERROR == 4
    err = capsys.readouterr().err
    assert f"cannot read image {bad}" in err and "(frame 7 of 10)" in err
    assert "6 frames" in err and "6 rows in" in err
    assert np.loadtxt(tmp_path / "boxes.txt", delimiter=",").shape == (6, 4)
    assert count_video_frames(tmp_path / "out.mp4") == 6


class _SignalSent(Exception):
    pass


def _signal_after_8_frames(monkeypatch, sig, when: str) -> None:
    """Patch the CLI's source and tracker factory so that ``sig`` arrives after 8 frames: while the
    source waits for the 9th frame, or while the 8th (0-based 7) is tracked.

    The signal is delivered by calling the process's handler for it, as the interpreter does: a real
    ``os.kill`` here can crash the shared test process once OpenVINO compiled models have come and
    gone in it (test_live_rtsp.py sends real signals to a separate CLI process)."""
    from sstrack_edge import sources

    def deliver(sig):
        handler = signal.getsignal(sig)
        assert callable(handler), f"no Python handler for {sig!r}"
        handler(sig, None)

    real_open, real_make = sources.open_source, cli._make_tracker

    class SignallingSource(sources.FrameSource):
        def __init__(self, inner):
            self.inner, self.fps, self.length = inner, inner.fps, inner.length

        def __iter__(self):
            for i, frame in enumerate(self.inner):
                if when == "waiting for a frame" and i == 8:
                    deliver(sig)
                yield frame

        def close(self):
            self.inner.close()

    def make_tracker(args, several=False):
        tracker = real_make(args, several)
        update, calls = tracker.update, []

        def signalling_update(frame):
            calls.append(frame)
            if len(calls) == 7:  # this update tracks frame 7 (0-based), the 8th
                deliver(sig)
            return update(frame)

        if when == "tracking a frame":
            tracker.update = signalling_update
        return tracker

    monkeypatch.setattr(sources, "open_source", lambda *a, **k: SignallingSource(real_open(*a, **k)))
    monkeypatch.setattr(cli, "_make_tracker", make_tracker)


def _run_until_signal(args, sig, code, capsys) -> str:
    """Run ``track`` until the signal of :func:`_signal_after_8_frames` stops it with exit ``code``;
    check that the CLI's signal handlers are gone again and that it said why it stopped; return
    its stderr."""

    def unhandled(signum, frame):  # the test's stand-in for SIGTERM's default action (ending the process)
        raise _SignalSent(signum)

    old = signal.signal(signal.SIGTERM, unhandled)
    int_handler = signal.getsignal(signal.SIGINT)
    try:
        assert run_cli(args) == code
        assert signal.getsignal(signal.SIGINT) is int_handler  # the CLI's handlers are gone again
        assert signal.getsignal(signal.SIGTERM) is unhandled
    finally:
        signal.signal(signal.SIGTERM, old)
    err = capsys.readouterr().err
    assert ("interrupted (Ctrl-C)" if sig == signal.SIGINT else "terminated (SIGTERM)") in err
    return err


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("when", ["waiting for a frame", "tracking a frame"])
def test_track_stop_signal_keeps_results_video_and_summary(
    sot_eval, tiny_model_dir, tmp_path, monkeypatch, capsys, sig, code, when
):
    """Ctrl-C (SIGINT) or SIGTERM after 8 frames: the 8 rows are in the results file, the video is
    finalized with the same 8 frames, the summary is printed. A signal that arrives while a frame
    is tracked lets that frame finish first (how the signal is sent: :func:`_signal_after_8_frames`)."""
    _signal_after_8_frames(monkeypatch, sig, when)
    err = _run_until_signal(crossing_args(sot_eval, tiny_model_dir, tmp_path), sig, code, capsys)
    assert "8 frames" in err and "8 rows in" in err
    boxes = np.loadtxt(tmp_path / "boxes.txt", delimiter=",")
    assert boxes.shape == (8, 4) and np.isfinite(boxes).all()
    assert count_video_frames(tmp_path / "out.mp4") == 8


def test_track_runs_in_constant_memory_and_time_per_frame(sot_eval, tmp_path, monkeypatch, capsys):
    """An endless source must not grow memory or per-frame cost: 30,000 frames through the CLI loop
    (a stub tracker, real frame), heap and per-frame time compared early vs late in the run."""
    import time
    import tracemalloc

    from sstrack_edge import sources
    from sstrack_edge.tracker import TrackResult

    frame = cv2.imread(str(sot_eval / "Crossing" / "img" / "000001.jpg"))
    n, early, late = 30_000, range(2_000, 4_000), range(28_000, 30_000)
    mem, stamps = {}, np.zeros(n + 1)

    class Endless(sources.FrameSource):
        def __iter__(self):
            for i in range(n):
                stamps[i] = time.perf_counter()
                if i in (early.stop, late.stop - 1):
                    mem[i] = tracemalloc.get_traced_memory()[0]
                yield frame

    class StubTracker:
        class model:
            describe = staticmethod(lambda: "stub")

        def init(self, frame, box):
            self.result = TrackResult(tuple(box), float("nan"), False, "initialized", 0, 2.0)

        def update(self, frame):
            i = self.result.frame_index + 1
            x = float(i % 97)
            self.result = TrackResult((x, x, 30.0, 40.0), 0.5, i % 3 == 0, "tracking", i, 4.0, latency_ms=4.0 + i % 5)

    monkeypatch.setattr(sources, "open_source", lambda *a, **k: Endless())
    monkeypatch.setattr(cli, "_make_tracker", lambda args, several=False: StubTracker())
    tracemalloc.start()
    try:
        code = run_cli(["track", "endless", "--bbox", "10,10,30,40", "--results", tmp_path / "boxes.txt", "--quiet"])
    finally:
        tracemalloc.stop()
    assert code == 0
    assert "30000 frames, 9999 lost, update median 6.0 ms" in capsys.readouterr().err
    growth = mem[late.stop - 1] - mem[early.stop]
    assert growth < 64 * 1024, f"heap grew {growth / 1024:.0f} KiB over {late.stop - early.stop} frames"
    per_frame = np.diff(stamps[:n])
    t_early, t_late = np.median(per_frame[early.start : early.stop]), np.median(per_frame[late.start : late.stop - 1])
    assert t_late < 1.5 * t_early, f"per-frame time {t_early * 1e6:.0f} us early, {t_late * 1e6:.0f} us late"
    assert sum(1 for _ in open(tmp_path / "boxes.txt")) == n


def test_latency_stats_median_matches_numpy():
    rng = np.random.default_rng(0)
    values = rng.lognormal(np.log(8.0), 0.6, 5001)
    stats = cli.LatencyStats()
    for v in values:
        stats.add(float(v))
    assert stats.count == 5001
    assert stats.median_ms == pytest.approx(np.median(values), rel=0.01)
    assert stats.mean_fps == pytest.approx(5001 / (values.sum() / 1e3))


def test_lost_frames_are_marked_in_the_video(sot_eval):
    """--output draws a solid green box while tracking and a dashed red box plus LOST while lost."""
    from sstrack_edge.draw import GREEN, RED, draw_result
    from sstrack_edge.tracker import TrackResult

    frame = cv2.imread(str(sot_eval / "Crossing" / "img" / "000001.jpg"))
    box = (150.0, 100.0, 40.0, 60.0)

    def colour_pixels(img, colour):
        return int((img == np.array(colour, np.uint8)).all(axis=2).sum())

    tracking = draw_result(frame, TrackResult(box, 0.8, False, "tracking", 5, 4.0))
    lost = draw_result(frame, TrackResult(box, 0.05, True, "lost", 6, 4.0))
    assert colour_pixels(tracking, GREEN) > 300 and colour_pixels(tracking, RED) == 0
    assert colour_pixels(lost, GREEN) == 0 and colour_pixels(lost, RED) > 100
    edge = lost[100, 150:191]  # the top edge of the box: dashes, not a solid line
    is_red = (edge == np.array(RED, np.uint8)).all(axis=1)
    assert 0.2 < is_red.mean() < 0.9


# ---------------------------------------------------------------- several targets (MultiTracker)
MOT_COLUMNS = 8  # frame,id,x,y,w,h,score,lost


def bird2_boxes(train_videos):
    """Three real boxes of the OTB_Bird2 clip (640x356): its ground truth on frames 1, 50 and 99."""
    gt = np.loadtxt(train_videos / "OTB_Bird2.txt", delimiter=",")
    return [tuple(float(v) for v in gt[k]) for k in (0, 49, 98)]


def box_arg(box) -> str:
    return ",".join(f"{v:g}" for v in box)


def read_video_frames(path, n):
    cap = cv2.VideoCapture(str(path))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    assert all(f is not None for f in frames)
    return frames


def test_track_several_targets_rows_equal_multitracker_and_separate_trackers(
    tiny_model_dir, train_videos, tmp_path, capsys, load, make_tracker
):
    """Three --bbox boxes on a real clip: one MOT row per target per frame (frame 1-based, ids 0..2),
    each id's rows equal to those of a MultiTracker and of a separate Tracker on the same frames."""
    import sstrack_edge

    clip, n, boxes = train_videos / "OTB_Bird2.mp4", 10, bird2_boxes(train_videos)
    results, video = tmp_path / "tracks.txt", tmp_path / "out.mp4"
    settings = ["--model", tiny_model_dir, "--backend", "ort", "--threads", 1, "--lost-threshold", 0.6, "--lost-patience", 2,
                "--reacquire-threshold", 0.7, "--redetect-tiles", 2]
    args = ["track", clip, *[a for b in boxes for a in ("--bbox", box_arg(b))], *settings]
    assert run_cli(args + ["--max-frames", n, "--results", results, "--output", video, "--quiet"]) == 0
    err = capsys.readouterr().err

    rows = np.loadtxt(results, delimiter=",", ndmin=2)
    assert rows.shape == (n * 3, MOT_COLUMNS)
    np.testing.assert_array_equal(rows[:, 0], np.repeat(np.arange(1, n + 1), 3))
    np.testing.assert_array_equal(rows[:, 1], np.tile([0, 1, 2], n))
    np.testing.assert_allclose(rows[:3, 2:6], np.round(boxes, 3))  # frame 1: the boxes given (inside the frame)
    assert np.isnan(rows[:3, 6]).all() and np.isfinite(rows[3:, 6]).all()
    assert set(np.unique(rows[:, 7])) == {0.0, 1.0}  # this untrained model's scores straddle 0.6
    assert (rows[:3, 7] == 0).all()
    per_id = {i: int(rows[rows[:, 1] == i, 7].sum()) for i in range(3)}
    assert f"{n} frames, 3 targets, {sum(per_id.values())} lost (0: {per_id[0]}, 1: {per_id[1]}, 2: {per_id[2]})" in err

    frames = read_video_frames(clip, n)
    lost = dict(lost_threshold=0.6, lost_patience=2, reacquire_threshold=0.7, redetect_tiles=2)
    opts = dict(backend="ort", threads=1, **lost)
    multi = sstrack_edge.MultiTracker(load(tiny_model_dir, backend="ort", threads=1, batched=True), **lost)
    singles = [make_tracker(tiny_model_dir, **opts) for _ in boxes]
    for b, t in zip(boxes, singles):
        multi.add(frames[0], b)
        t.init(frames[0], b)
    expect_multi, expect_single = [], []
    scanned = False
    for k, frame in enumerate(frames, start=1):
        if k > 1:
            multi.update(frame)
            for t in singles:
                t.update(frame)
                scanned = scanned or "redetect" in t.result.timings_ms
        expect_multi += [cli.MOT_ROW % (k, i, *r.bbox, r.score, r.lost) for i, r in multi.results.items()]
        expect_single += [cli.MOT_ROW % (k, i, *t.result.bbox, t.result.score, t.result.lost) for i, t in enumerate(singles)]
    written = results.read_text().splitlines(keepends=True)
    assert written == expect_multi
    assert written == expect_single
    assert scanned  # the re-detection settings given on the command line were in play
    assert count_video_frames(video) == n


def test_track_bboxes_file_with_ids_and_multi_flag(tiny_model_dir, sot_eval, tmp_path, capsys):
    """--bboxes with an id column writes those ids; the same boxes by --bbox give the same rows with
    ids 0, 1; --multi with one --bbox writes MOT rows where a single --bbox writes x,y,w,h rows."""
    seq = sot_eval / "Crossing" / "img"
    gt0 = open(sot_eval / "Crossing" / "groundtruth.txt").readline().strip()
    other = "150,60,30,50"
    common = ["--model", tiny_model_dir, "--backend", "ort", "--threads", 1, "--max-frames", 5, "--quiet"]
    (tmp_path / "boxes.txt").write_text(f"7 {gt0.replace(',', ' ')}\n3,{other}\n")
    assert run_cli(["track", seq, "--bboxes", tmp_path / "boxes.txt", "--results", tmp_path / "a.txt", *common]) == 0
    assert run_cli(["track", seq, "--bbox", gt0, "--bbox", other, "--results", tmp_path / "b.txt", *common]) == 0
    a = np.loadtxt(tmp_path / "a.txt", delimiter=",")
    b = np.loadtxt(tmp_path / "b.txt", delimiter=",")
    assert a.shape == b.shape == (10, MOT_COLUMNS)
    np.testing.assert_array_equal(a[:, 1], np.tile([7, 3], 5))
    np.testing.assert_array_equal(b[:, 1], np.tile([0, 1], 5))
    np.testing.assert_array_equal(np.delete(a, 1, axis=1), np.delete(b, 1, axis=1))
    assert "(7: 0, 3: 0)" in capsys.readouterr().err

    assert run_cli(["track", seq, "--bbox", gt0, "--multi", "--results", tmp_path / "c.txt", *common]) == 0
    assert run_cli(["track", seq, "--bbox", gt0, "--results", tmp_path / "d.txt", *common]) == 0
    c = np.loadtxt(tmp_path / "c.txt", delimiter=",")
    d = np.loadtxt(tmp_path / "d.txt", delimiter=",")
    assert c.shape == (5, MOT_COLUMNS) and d.shape == (5, 4)
    np.testing.assert_allclose(c[:, 2:6], d)  # one target: the same boxes either way


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read it"),
        ("", "is empty"),
        ("1,2,30,40\n\n", "line 2 is blank"),
        ("1,2,30,40\n1,2,30\n", "line 2: '1,2,30' is not x,y,w,h"),
        ("1,2,30,40\na,2,30,40\n", "line 2: 'a,2,30,40' is not 4 numbers"),
        ("1,2,30,40\n5,6,0,40\n", "line 2: box '5,6,0,40' must have positive width"),
        ("0,1,2,30,40\n5,6,30,40\n", "line 2: 4 values where line 1 has 5"),
        ("0,1,2,30,40\n0,5,6,30,40\n", "line 2: id 0 is given twice"),
        ("-1,1,2,30,40\n", "line 1: id '-1' is not an integer"),
    ],
)
def test_track_bad_bboxes_file_fails_before_loading(
    tiny_model_dir, sot_eval, tmp_path, monkeypatch, capsys, content, message
):
    from sstrack_edge import sources

    def fail(*a, **k):
        raise AssertionError("the source was opened / the model loaded before the boxes were checked")

    monkeypatch.setattr(sources, "open_source", fail)
    monkeypatch.setattr(cli, "_make_tracker", fail)
    path = tmp_path / "boxes.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as e:
        run_cli(["track", sot_eval / "Crossing" / "img", "--bboxes", path, "--model", tiny_model_dir,
                 "--results", tmp_path / "out.txt"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err
    assert not (tmp_path / "out.txt").exists()


def test_track_several_targets_bad_input(tiny_model_dir, model_copy, sot_eval, tmp_path, capsys):
    """Errors (exit 2) that name the problem, with nothing written: both box options, --multi without
    a box, a box outside the first frame, a model without a batched variant."""
    seq = sot_eval / "Crossing" / "img"  # 360x240
    out = ["--results", tmp_path / "r.txt", "--output", tmp_path / "v.mp4", "--backend", "ort", "--threads", 1]
    (tmp_path / "boxes.txt").write_text("10,10,30,40\n")
    card_path = model_copy / "model_card.json"
    card = json.loads(card_path.read_text())
    for v in card["variants"]:
        v.pop("batch", None)
    card_path.write_text(json.dumps(card))
    cases = [
        (["--bbox", "1,2,30,40", "--bboxes", tmp_path / "boxes.txt"], tiny_model_dir, "either with --bbox or with --bboxes"),
        (["--multi", "--show"], tiny_model_dir, "--multi needs its boxes"),
        (["--bbox", "10,10,30,40", "--bbox", "400,10,30,40"], tiny_model_dir,
         "--bbox #2 '400,10,30,40': bbox (400.0, 10.0, 30.0, 40.0) lies entirely outside the 360x240 frame"),
        (["--bbox", "10,10,30,40", "--bbox", "100,10,30,40"], model_copy, "no kept batched variant"),
    ]
    for extra, model, message in cases:
        with pytest.raises(SystemExit) as e:
            run_cli(["track", seq, *extra, "--model", model, *out])
        err = capsys.readouterr().err
        assert e.value.code == 2, err
        assert message in err and "Traceback" not in err
        assert not (tmp_path / "r.txt").exists() and not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("when", ["waiting for a frame", "tracking a frame"])
def test_track_several_targets_stop_signal_keeps_rows_and_video(
    sot_eval, tiny_model_dir, tmp_path, monkeypatch, capsys, sig, code, when
):
    """As test_track_stop_signal_keeps_results_video_and_summary, with two targets: a signal after 8
    frames leaves 8 x 2 MOT rows, an 8-frame video and the summary."""
    _signal_after_8_frames(monkeypatch, sig, when)
    args = crossing_args(sot_eval, tiny_model_dir, tmp_path, "--bbox", "150,60,30,50")
    err = _run_until_signal(args, sig, code, capsys)
    assert "8 frames, 2 targets" in err and "16 rows in" in err
    rows = np.loadtxt(tmp_path / "boxes.txt", delimiter=",")
    assert rows.shape == (16, MOT_COLUMNS)
    np.testing.assert_array_equal(rows[:, 0], np.repeat(np.arange(1, 9), 2))
    assert count_video_frames(tmp_path / "out.mp4") == 8


def test_several_targets_are_drawn_with_id_colour_and_state(sot_eval):
    """draw_targets: tracked boxes solid in their id's colour, a lost box dashed red, labels above."""
    from sstrack_edge.draw import RED, draw_targets, target_colour
    from sstrack_edge.tracker import TrackResult

    frame = cv2.imread(str(sot_eval / "Crossing" / "img" / "000001.jpg"))
    boxes = {0: (40.0, 100.0, 40.0, 60.0), 1: (150.0, 100.0, 40.0, 60.0), 2: (260.0, 100.0, 40.0, 60.0)}
    results = {
        0: TrackResult(boxes[0], 0.8, False, "tracking", 5, 4.0),
        1: TrackResult(boxes[1], 0.7, False, "tracking", 5, 4.0),
        2: TrackResult(boxes[2], 0.05, True, "lost", 5, 4.0),
    }
    img = draw_targets(frame, results, fps=50.0)
    assert target_colour(0) != target_colour(1) and RED not in (target_colour(0), target_colour(1))

    def colour_pixels(region, colour):
        return int((region == np.array(colour, np.uint8)).all(axis=2).sum())

    for i, (x, y, w, h) in boxes.items():
        x, y, w, h = int(x), int(y), int(w), int(h)
        box = img[y - 1 : y + h + 2, x - 1 : x + w + 2]
        label = img[y - 18 : y - 1, x : x + 100]
        if i < 2:
            assert colour_pixels(box, target_colour(i)) > 300
            assert colour_pixels(box, target_colour(1 - i)) == 0 and colour_pixels(box, RED) == 0
            assert colour_pixels(label, target_colour(i)) > 20  # "<id> tracking <score>"
        else:
            assert colour_pixels(box, RED) > 100 and colour_pixels(box, target_colour(0)) == 0
            edge = (img[y, x : x + w + 1] == np.array(RED, np.uint8)).all(axis=1)
            assert 0.2 < edge.mean() < 0.9  # dashed
            assert colour_pixels(label, RED) > 20  # "2 LOST 0.05"
