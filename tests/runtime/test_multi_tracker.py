"""MultiTracker: N targets of one stream through one batched network call, each exactly as a separate
Tracker would track it (the bundled trained model on real frames), and its errors at the boundary."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import sstrack_edge
from sstrack_edge import BackendUnavailableError, ModelFileError, MultiTracker, Tracker, TrackerNotInitializedError
from sstrack_edge.backends import default_model_dir, openvino_available
from sstrack_edge.model_card import sha256_file

DEFAULT = default_model_dir()  # the installed default model (also in a plain, non-editable install)
BOX_TOL_PX, SCORE_TOL = 1e-3, 1e-5  # float noise; observed 0.0 on x86-64 ORT and OpenVINO FP32
BACKENDS = ["onnxruntime", pytest.param("openvino", marks=pytest.mark.skipif(
    not openvino_available(), reason="openvino is not installed (plain install)"))]


@pytest.fixture(scope="module")
def street(real_sequence):
    """60 real frames of UAVDT S1301 (a drone over a road: many cars) and the ground truth."""
    return real_sequence("S1301", 60)


def _other_boxes(gt0, frame, n):
    """``n`` boxes of the target's size beside it (other cars, road, verge): real content to follow."""
    x, y, w, h = gt0
    H, W = frame.shape[:2]
    boxes = []
    for dx, dy in [(2, 0), (-2, 0), (0, 2), (0, -2), (3, 3)][:n]:
        bx = min(max(x + dx * w, 0), W - w)
        by = min(max(y + dy * h, 0), H - h)
        boxes.append((bx, by, w, h))
    return boxes


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_target_is_tracked_exactly_as_a_separate_tracker(street, backend):
    """Targets added at the start and mid-stream, one removed mid-stream; a high lost threshold
    makes the targets beside the real one go lost and re-detect (with the card's frame scan), so the
    whole state machine runs."""
    frames, gt = street
    settings = dict(backend=backend, precision="fp32", threads=1, lost_threshold=0.5)
    multi = MultiTracker(DEFAULT, **settings)
    assert multi.model.variant.batched
    single_model = sstrack_edge.load_model(DEFAULT, backend=backend, precision="fp32", threads=1)
    singles: dict[int, Tracker] = {}

    def add(frame, box):
        i = multi.add(frame, box)
        singles[i] = Tracker(single_model, lost_threshold=0.5)
        singles[i].init(frame, box)
        return i

    for box in [tuple(gt[0])] + _other_boxes(gt[0], frames[0], 3):
        add(frames[0], box)
    worst_box = worst_score = 0.0
    states: set[str] = set()
    scanned = False
    for k in range(1, len(frames)):
        if k == 20:
            late = add(frames[k], tuple(gt[k]))  # a target added between frames
            assert late == 4
            continue
        if k == 30:
            multi.remove(2)
            del singles[2]
        out = multi.update(frames[k])
        assert sorted(out) == sorted(singles) == multi.ids
        for i, tracker in singles.items():
            ok, box = tracker.update(frames[k])
            r = out[i]
            assert (r.ok, r.state, r.frame_index) == (ok, tracker.state, tracker.result.frame_index)
            worst_box = max(worst_box, float(np.max(np.abs(np.subtract(r.bbox, box)))))
            worst_score = max(worst_score, abs(r.score - tracker.score))
            assert r.search_factor == tracker.result.search_factor
            states.add(r.state)
            scanned = scanned or "redetect" in r.timings_ms
    assert worst_box <= BOX_TOL_PX and worst_score <= SCORE_TOL, (worst_box, worst_score)
    assert {"tracking", "lost"} <= states  # both branches of the lost logic ran
    assert scanned  # the card's frame scan ran while a target was re-detected
    assert singles[0].result.lost is False  # the real target (a car) is still followed


def test_a_failing_target_does_not_disturb_the_others(street):
    frames, gt = street
    multi = MultiTracker(DEFAULT, backend="onnxruntime", precision="fp32", threads=1)
    boxes = [tuple(gt[0])] + _other_boxes(gt[0], frames[0], 2)
    ids = [multi.add(frames[0], b) for b in boxes]
    separate = [Tracker(DEFAULT, backend="onnxruntime", precision="fp32", threads=1) for _ in boxes]
    for t, b in zip(separate, boxes):
        t.init(frames[0], b)
    run, batch_sizes = multi._batch._run, []

    class BrokenRow1:  # the network returns NaN for target 1 on frame 3
        reserve = run.reserve

        def __call__(self, template, search):
            batch_sizes.append(len(search))
            scores, *rest = run(template, search)  # rest: sizes, offsets[, presences]
            if len(batch_sizes) == 3:
                scores = scores.copy()
                scores[1] = np.nan
            return (scores, *rest)

    multi._batch._run = BrokenRow1()
    for k in range(1, 8):
        out = multi.update(frames[k])
        for i in (0, 2):
            ok, box = separate[i].update(frames[k])
            assert out[ids[i]].bbox == box and out[ids[i]].ok == ok
        if k < 3:
            separate[1].update(frames[k])
        else:
            r = out[ids[1]]
            assert r.state == "failed" and not r.ok and math.isnan(r.score)
            assert "non-finite" in r.error
            assert r.bbox == separate[1].result.bbox  # its last good box
    assert batch_sizes == [3, 3, 3, 2, 2, 2, 2]  # the failed target is no longer run
    multi.remove(ids[1])
    assert multi.ids == [ids[0], ids[2]]


# ----------------------------------------------------------------------- bad input
@pytest.fixture
def tiny(tiny_model_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sstrack_edge.UntrainedModelWarning)
        return MultiTracker(tiny_model_dir, backend="onnxruntime", threads=1)


def test_update_before_any_add(tiny, real_clip):
    with pytest.raises(TrackerNotInitializedError, match="before add"):
        tiny.update(real_clip[0][0])


def test_ids_are_never_reused_and_removal_errors_name_the_id(tiny, real_clip):
    frames, gt = real_clip
    a, b = tiny.add(frames[0], gt[0]), tiny.add(frames[0], gt[0])
    assert (a, b) == (0, 1) and len(tiny) == 2 and a in tiny
    tiny.remove(a)
    with pytest.raises(KeyError, match="already removed"):
        tiny.remove(a)
    with pytest.raises(KeyError, match="never added"):
        tiny.remove(7)
    assert tiny.add(frames[1], gt[1]) == 2
    assert sorted(tiny.update(frames[2])) == [1, 2]


def test_one_stream_one_frame_size(tiny, real_clip):
    frames, gt = real_clip
    tiny.add(frames[0], gt[0])
    small = np.ascontiguousarray(frames[1][:200, :300])
    with pytest.raises(ValueError, match="one MultiTracker follows one stream"):
        tiny.add(small, (10, 10, 20, 20))
    with pytest.raises(ValueError, match="frame size changed from 360x240 to 300x200"):
        tiny.update(small)
    tiny.remove(0)
    assert tiny.update(small) == {}  # no targets left: nothing to track, the frame is still checked
    assert tiny.add(small, (10, 10, 20, 20)) == 1  # a new stream may start


def test_boxes_and_frames_are_checked_as_by_tracker(tiny, real_clip):
    frames, _ = real_clip
    with pytest.raises(ValueError, match="outside"):
        tiny.add(frames[0], (1000, 1000, 10, 10))
    with pytest.raises(TypeError):
        tiny.add("frame.jpg", (1, 1, 10, 10))
    assert len(tiny) == 0


def test_a_single_target_variant_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="one activation scale per call"):
        MultiTracker(DEFAULT, variant="int8-dynamic")
    with pytest.raises(BackendUnavailableError, match="no kept batched variant"):
        MultiTracker(DEFAULT, backend="onnxruntime", precision="int8")
    loaded = sstrack_edge.load_model(DEFAULT, variant="int8-dynamic", threads=1)
    with pytest.raises(ValueError, match="cannot run several targets in one call"):
        MultiTracker(loaded)
    Tracker(loaded)  # still a fine single-target model


def test_auto_picks_a_batched_variant_even_where_tracker_picks_int8():
    auto_single = sstrack_edge.load_model(DEFAULT, backend="onnxruntime", threads=1)
    multi = MultiTracker(DEFAULT, backend="onnxruntime", threads=1)
    assert auto_single.variant.name == "int8-dynamic"  # Tracker's choice on a plain install
    assert multi.model.variant.name == "fp32"


@pytest.mark.filterwarnings("ignore::sstrack_edge.UntrainedModelWarning")
def test_card_batch_must_match_the_file(model_copy):
    card_path = model_copy / "model_card.json"
    card = json.loads(card_path.read_text())
    card["variants"][0]["batch"] = 4
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="has batch 4"):
        sstrack_edge.load_model(model_copy, backend="onnxruntime")
    # a file with a static batch of 1 that the card calls dynamic
    onnx = pytest.importorskip("onnx")
    m = onnx.load(str(model_copy / "model_fp32.onnx"))
    for vi in [*m.graph.input, *m.graph.output]:
        vi.type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(m, str(model_copy / "model_fp32.onnx"))
    card["variants"][0]["batch"] = "dynamic"
    card["variants"][0]["sha256"]["model_fp32.onnx"] = sha256_file(model_copy / "model_fp32.onnx")
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match=r"has shape \[1, 3, 128, 128\].*card says \['N', 3, 128, 128\]"):
        sstrack_edge.load_model(model_copy, backend="onnxruntime")
    card["variants"][0]["batch"] = 1  # as a single-target file it is fine
    card_path.write_text(json.dumps(card))
    sstrack_edge.load_model(model_copy, backend="onnxruntime")


@pytest.mark.skipif(not openvino_available(), reason="openvino is not installed (plain install)")
def test_openvino_runs_static_networks_one_per_batch_size(street):
    frames, gt = street
    loaded = sstrack_edge.load_model(DEFAULT, backend="openvino", precision="fp32", threads=1, batched=True)
    assert [list(p.get_partial_shape().to_shape()) for p in loaded.compiled.inputs] == [
        [1, 3, 128, 128], [1, 3, 256, 256]]  # a single Tracker keeps a static batch-1 network
    a, b = MultiTracker(loaded), MultiTracker(loaded)
    for box in [tuple(gt[0])] + _other_boxes(gt[0], frames[0], 2):
        a.add(frames[0], box)
    assert sorted(loaded._by_batch) == [2, 3]  # compiled by add(), before any update() needs them
    a.update(frames[1])
    a.remove(2)
    a.update(frames[2])
    assert sorted(loaded._by_batch) == [2, 3]
    compiled_2 = loaded._by_batch[2]
    b.add(frames[0], gt[0]), b.add(frames[0], gt[0])
    b.update(frames[1])
    assert loaded._by_batch[2] is compiled_2  # shared by every MultiTracker on the model
