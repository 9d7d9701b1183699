"""``eval --batch K``: several sequences through one batched network give the sequential results.

Real sequences of ../shared/data/sot/eval (three frame sizes, six TRE segments of 41..196 frames)
with the tiny untrained model: its boxes are meaningless but depend on every pixel of the crop, so a
frame given to the wrong slot, a stale template or a row mix-up changes them.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from sstrack_edge.backends import openvino_available
from sstrack_edge.evaluation import evaluate, load_dataset, read_boxes
from sstrack_edge.evaluation.cli import main
from sstrack_edge.evaluation.evaluate import track_sequences
from sstrack_edge.evaluation.temporal import temporal_segments
from sstrack_edge.multi_tracker import TrackerBatch

pytestmark = [pytest.mark.realdata, pytest.mark.filterwarnings("ignore::sstrack_edge.errors.UntrainedModelWarning")]

SEQS = ["Crossing", "S0601", "bag"]  # 360x240 120 frames, 800x422 82, 480x360 196
# OpenVINO where installed (x86 default), else ONNX Runtime (a plain install); the tiny model has FP32 only
BACKEND = "openvino" if openvino_available() else "onnxruntime"


@pytest.fixture(scope="module")
def segments(sot_eval):
    seqs = load_dataset(sot_eval, "sot", SEQS)
    assert len({s.read_frame(0).shape for s in seqs}) == 3
    out = temporal_segments(seqs, 2)  # 6 segments: more than the batch
    assert len(out) == 6 and len({len(s) for s in out}) == 6
    return out


def full_batch_schedule(lengths: list[int], k: int) -> list[int]:
    """Rows of each batched step when a finished sequence's slot takes the next one at once."""
    pending, slots, rows = list(lengths), [], []  # slots: steps left (frames after the init one)
    while pending or slots:
        while pending and len(slots) < k:
            slots.append(pending.pop(0) - 1)
        rows.append(len(slots))
        slots = [s - 1 for s in slots if s > 1]
    return rows


def test_batched_offline_eval_equals_sequential(segments, tiny_model_dir, tmp_path, monkeypatch):
    spec = f"sstrack:{tiny_model_dir}:{BACKEND}"
    (seq,) = evaluate(segments, [spec], tmp_path / "seq", modes=("offline",), progress=False)

    rows = []
    update = TrackerBatch.update
    monkeypatch.setattr(TrackerBatch, "update", lambda self, t, f: rows.append(len(t)) or update(self, t, f))
    (bat,) = evaluate(segments, [spec], tmp_path / "bat", modes=("offline",), progress=False, batch=4)
    assert rows == full_batch_schedule([len(s) for s in segments], 4) and rows[0] == 4

    names = [s.name for s in segments]
    assert bat.computed == seq.computed == names and list(bat.runs) == names
    for name in names:  # bit-identical boxes (OpenVINO FP32), hence identical scores
        assert np.array_equal(bat.runs[name].boxes, seq.runs[name].boxes, equal_nan=True), name
        assert bat.scores[name].auc == seq.scores[name].auc
        assert read_boxes(tmp_path / "bat" / "offline" / bat.label / f"{name}.txt").tolist() == \
            read_boxes(tmp_path / "seq" / "offline" / seq.label / f"{name}.txt").tolist()
    assert bat.summary.auc == seq.summary.auc and bat.summary.precision20 == seq.summary.precision20
    assert seq.summary.auc > 0  # the comparison is not between two empty results

    # times of a batched run are labelled as such, in the result and in the time file
    assert seq.timing == "latency" and bat.timing == "throughput, batch 4" and bat.batch == 4 and seq.batch == 1
    assert bat.wall_s > 0 and all(r.batch == 4 for r in bat.runs.values())
    times = tmp_path / "bat" / "offline" / bat.label / "times" / f"{names[0]}_time.txt"
    assert times.read_text().startswith("# batch 4: ") and len(np.loadtxt(times)) == len(segments[0])

    # same run identity: a sequential run resumes the batched results (and keeps their timing label)
    (again,) = evaluate(segments, [spec], tmp_path / "bat", modes=("offline",), progress=False)
    assert again.computed == [] and again.summary.auc == seq.summary.auc and again.timing == "throughput, batch 4"

    # the tracking-only path (--submission) batches the same way
    runs = track_sequences(segments[:3], spec, tmp_path / "sub", progress=False, batch=2)
    for name in names[:3]:
        assert np.array_equal(runs[name].boxes, seq.runs[name].boxes, equal_nan=True) and runs[name].batch == 2


def test_cli_batch_on_onnxruntime_with_starts(sot_eval, tiny_model_dir, tmp_path, capsys):
    spec = f"sstrack:{tiny_model_dir}:onnxruntime"
    base = [str(sot_eval), "--sequences", ",".join(SEQS), "--trackers", spec, "--modes", "offline",
            "--starts", "2", "--quiet", "--no-plots"]
    assert main(base + ["--out", str(tmp_path / "seq")]) == 0
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "bat"), "--batch", "3"]) == 0
    table = capsys.readouterr().out
    assert "* FPS of batched runs" in table and "tracked 6 sequences in" in table and "batch 3" in table
    seq, bat = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("seq", "bat"))
    s, b = seq["trackers"][spec]["offline"], bat["trackers"][spec]["offline"]
    assert b["per_sequence"] == s["per_sequence"] and b["auc"] == s["auc"] and len(b["per_sequence"]) == 6
    assert b["fps_timing"] == "throughput, batch 3" and s["fps_timing"] == "latency"
    assert b["tracked_now"]["batch"] == 3 and b["tracked_now"]["sequences"] == 6 and b["tracked_now"]["wall_s"] > 0
    assert bat["conventions"]["batch"] == 3 and seq["conventions"]["batch"] == 1
    label = next((tmp_path / "bat" / "offline").iterdir()).name
    for name in s["per_sequence"]:
        assert (tmp_path / "bat" / "offline" / label / f"{name}.txt").read_text() == \
            (tmp_path / "seq" / "offline" / label / f"{name}.txt").read_text()


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_bad_batch_is_a_clear_error(sot_eval, tmp_path, capsys, bad):
    with pytest.raises(SystemExit):
        main([str(sot_eval), "--trackers", "opencv:kcf", "--out", str(tmp_path), "--batch", bad])
    err = capsys.readouterr().err
    assert "--batch" in err and ("must be a positive integer" in err or "invalid" in err)
    assert not tmp_path.joinpath("offline").exists()


def test_evaluate_refuses_a_bad_batch(segments, tmp_path):
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            evaluate(segments[:2], ["opencv:kcf"], tmp_path, modes=("offline",), progress=False, batch=bad)
        with pytest.raises(ValueError, match="positive integer"):
            track_sequences(segments[:2], "opencv:kcf", tmp_path, progress=False, batch=bad)


def test_peers_single_target_variants_and_streaming_run_one_at_a_time(segments, tiny_model_dir, tmp_path, caplog):
    """--batch with an OpenCV peer, a variant whose card says batch 1, and the streaming mode: each
    is run sequentially, with a one-line note, and gives the sequential results."""
    single = tmp_path / "single_target"
    shutil.copytree(tiny_model_dir, single)
    card = json.loads((single / "model_card.json").read_text())
    for v in card["variants"]:
        v["batch"] = 1
    (single / "model_card.json").write_text(json.dumps(card))
    trackers = ["opencv:kcf", f"sstrack:{single}:{BACKEND}"]
    fixed = lambda i, measured: 0.02  # noqa: E731  a deterministic streaming clock
    kw = dict(modes=("offline", "streaming"), progress=False, latency_fn=fixed)
    seq = evaluate(segments[:3], trackers, tmp_path / "seq", **kw)
    with caplog.at_level(logging.WARNING, logger="sstrack_edge.evaluation.evaluate"):
        bat = evaluate(segments[:3], trackers, tmp_path / "bat", batch=4, **kw)
    notes = [r.getMessage() for r in caplog.records]
    assert any("streaming runs one tracker at a time" in n for n in notes)
    assert any("opencv:kcf (not an sstrack tracker)" in n for n in notes)
    assert any(f"sstrack:{single}:{BACKEND}" in n and "cannot run several targets in one call" in n for n in notes)
    assert len(notes) == 3
    for a, b in zip(seq, bat):
        assert (a.tracker, a.mode) == (b.tracker, b.mode)
        assert b.batch == 1 and b.timing == "latency" and b.computed == [s.name for s in segments[:3]]
        for name in a.runs:
            assert np.array_equal(a.runs[name].boxes, b.runs[name].boxes, equal_nan=True), (b.tracker, b.mode, name)
            assert b.runs[name].batch == 1


def test_tracker_batch_checks_each_frame_against_its_stream(segments, tiny_model_dir):
    import sstrack_edge

    model = sstrack_edge.load_model(tiny_model_dir, backend="onnxruntime", batched=True)
    a, b = sstrack_edge.Tracker(model), sstrack_edge.Tracker(model)
    fa, fb = segments[0].read_frame(0), segments[2].read_frame(0)  # 360x240 and 800x422
    a.init(fa, segments[0].init_box)
    b.init(fb, segments[2].init_box)
    with pytest.raises(ValueError, match="frame size changed"):
        TrackerBatch(model).update([a, b], [fb, fb])
