"""Model loading: default model, card problems, sha256 checks, variant choice, shared compiled models."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import sstrack_edge
from sstrack_edge import (
    BackendUnavailableError,
    ModelCard,
    ModelFileError,
    NoDefaultModelError,
    UntrainedModelWarning,
    backends,
)
from sstrack_edge.model_card import CARD_FILENAME


def _edit_card(model_dir, edit):
    path = model_dir / CARD_FILENAME
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))


# ------------------------------------------------------------------------------ default model
def test_no_default_model_error_names_the_fix(monkeypatch, tiny_model_dir):
    untrained = ModelCard.load(tiny_model_dir)
    monkeypatch.setattr(backends, "installed_models", lambda: [untrained])
    with pytest.raises(NoDefaultModelError, match=r"no default model.*untrained.*Tracker\(model="):
        sstrack_edge.Tracker()


def test_installed_trained_card_becomes_the_default(monkeypatch, model_copy, make_tracker):
    _edit_card(model_copy, lambda d: d.update(trained=True))
    monkeypatch.setattr(backends, "installed_models", lambda: [ModelCard.load(model_copy)])
    assert backends.default_model_dir() == model_copy
    tracker = make_tracker(None, backend="onnxruntime", threads=1)
    assert tracker.card.root == model_copy


def test_bundled_models_package_has_no_untrained_default():
    for card in backends.installed_models():
        if card.root.name == "default":
            assert card.trained, "models/default must hold a trained model"


def test_untrained_model_warns_when_loaded_explicitly(tiny_model_dir):
    with pytest.warns(UntrainedModelWarning, match="untrained"):
        sstrack_edge.load_model(tiny_model_dir, backend="onnxruntime", threads=1)


# ---------------------------------------------------------------------------- bad model files
def test_model_path_variants(tiny_model_dir, load):
    by_dir = load(tiny_model_dir, backend="onnxruntime", threads=1)
    by_card = load(tiny_model_dir / CARD_FILENAME, backend="onnxruntime", threads=1)
    assert by_dir.variant == by_card.variant
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tiny_model_dir / "nope", backend="onnxruntime")
    with pytest.raises(TypeError, match="model must be"):
        load(42)


def _ort_file(model_dir):
    card = ModelCard.load(model_dir)
    return model_dir / backends.select_variant(card, "onnxruntime", "fp32").files["model"]


def test_missing_model_file(model_copy, load):
    _ort_file(model_copy).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        load(model_copy, backend="onnxruntime", precision="fp32")


def test_corrupted_model_file(model_copy, load):
    path = _ort_file(model_copy)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted.*sha256"):
        load(model_copy, backend="onnxruntime", precision="fp32")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("search"), "malformed"),
        (lambda d: d["inference"].pop("lost_threshold"), "lost_threshold"),
        (lambda d: d["inference"].update(size_update_rate=1.5), "size_update_rate must be null or a number in"),
        (lambda d: d["inference"].update(size_update_rate="fast"), "size_update_rate.*'fast'"),
        (lambda d: d["inference"].update(lost_patience=-1), "lost_patience must be a whole number"),
        (lambda d: d["inference"].update(lost_patience=2.5), "lost_patience must be a whole number"),
        (lambda d: d["inference"].update(reacquire_threshold=1.5), "reacquire_threshold must be None/null or a number in"),
        (lambda d: d["inference"].update(redetect_tiles=-1), "redetect_tiles must be a whole number"),
        (lambda d: d["inference"].update(redetect_tiles="8"), "redetect_tiles must be a whole number"),
        (lambda d: d["inference"].update(lost_relative=-0.1), "lost_relative must be a number in"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d["input"].update(template="not_an_input"), "no input 'not_an_input'"),
        (lambda d: d["template"].update(size=64), "shape"),
        (lambda d: d["normalization"].update(in_graph=False), "in_graph"),
    ],
)
def test_malformed_card(model_copy, load, edit, message):
    _edit_card(model_copy, edit)
    with pytest.raises(ModelFileError, match=message):
        load(model_copy, backend="onnxruntime", precision="fp32")


def test_card_that_is_not_json(model_copy, load):
    (model_copy / CARD_FILENAME).write_text("{ not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load(model_copy)


def test_older_card_with_the_unread_min_size_still_loads(model_copy, load, make_tracker):
    """Cards written before ``inference.min_size`` was dropped (it was never read) keep working."""
    _edit_card(model_copy, lambda d: d["inference"].update(min_size=10))
    assert load(model_copy, backend="onnxruntime", precision="fp32").card.inference["min_size"] == 10
    frame = np.random.default_rng(0).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    tracker = make_tracker(model_copy, backend="onnxruntime", precision="fp32", threads=1, lost_threshold=0.0)
    tracker.init(frame, (60.0, 40.0, 20.0, 30.0))
    assert tracker.update(frame)[0]


# ------------------------------------------------------------------------------ variant choice
@pytest.fixture(scope="module")
def card(tiny_model_dir):
    return ModelCard.load(tiny_model_dir)


def test_auto_backend_rule(card):
    assert backends.select_variant(card, machine="x86_64", have_openvino=True).backend == "openvino"
    assert backends.select_variant(card, machine="x86_64", have_openvino=False).backend == "onnxruntime"
    assert backends.select_variant(card, machine="aarch64", have_openvino=True).backend == "onnxruntime"


def test_auto_precision_prefers_kept_int8_for_this_platform(card):
    fp32 = backends.select_variant(card, "onnxruntime", "fp32")
    int8 = replace(fp32, name="int8-test", precision="int8")
    with_int8 = replace(card, variants=[fp32, int8])
    assert backends.select_variant(with_int8, "onnxruntime", machine="x86_64").name == "int8-test"
    rejected = replace(card, variants=[fp32, replace(int8, kept=False)])
    assert backends.select_variant(rejected, "onnxruntime", machine="x86_64").name == fp32.name
    arm_only = replace(card, variants=[fp32, replace(int8, platforms=["aarch64"])])
    assert backends.select_variant(arm_only, "onnxruntime", machine="x86_64").precision == "fp32"
    assert backends.select_variant(arm_only, "onnxruntime", machine="aarch64").precision == "int8"


def test_auto_prefers_the_backend_before_the_precision(card):
    """A rejected OpenVINO INT8 falls back to OpenVINO FP32, not to ONNX Runtime's INT8."""
    ov = backends.select_variant(card, "openvino", "fp32")
    ort = backends.select_variant(card, "onnxruntime", "fp32")
    ort_int8 = replace(ort, name="int8-dynamic", precision="int8")
    ov_int8 = replace(ov, name="openvino-int8", precision="int8", kept=False)
    both = replace(card, variants=[ort, ov, ort_int8, ov_int8])
    assert backends.select_variant(both, machine="x86_64", have_openvino=True).name == ov.name
    assert backends.select_variant(both, machine="x86_64", have_openvino=False).name == "int8-dynamic"
    kept = replace(card, variants=[ort, ov, ort_int8, replace(ov_int8, kept=True)])
    assert backends.select_variant(kept, machine="x86_64", have_openvino=True).name == "openvino-int8"


def test_unavailable_requests(card, load, tiny_model_dir):
    no_int8 = replace(card, variants=[v for v in card.variants if v.precision == "fp32"])
    with pytest.raises(BackendUnavailableError, match="no kept variant"):
        backends.select_variant(no_int8, "onnxruntime", "int8")
    with pytest.raises(ValueError, match="unknown backend"):
        load(tiny_model_dir, backend="tensorrt")
    with pytest.raises(ValueError, match="unknown precision"):
        load(tiny_model_dir, precision="fp16")
    with pytest.raises(ValueError, match="no variant"):
        load(tiny_model_dir, variant="nope")
    with pytest.raises(ValueError, match="threads"):
        load(tiny_model_dir, backend="onnxruntime", threads=0)


# ------------------------------------------------------------------------ shared compiled model
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_two_trackers_share_one_compiled_model(backend, tiny_model_dir, load, make_tracker, real_clip):
    pytest.importorskip(backend)
    frames, gt = real_clip
    shared = load(tiny_model_dir, backend=backend, threads=1)
    a, b = sstrack_edge.Tracker(shared, lost_threshold=0.0), sstrack_edge.Tracker(shared, lost_threshold=0.0)
    assert a.model.compiled is b.model.compiled
    other_box = (gt[0][0] + 40, gt[0][1], gt[0][2], gt[0][3])
    a.init(frames[0], gt[0])
    b.init(frames[0], other_box)
    boxes_a, boxes_b = [], []
    for f in frames[1:8]:  # interleaved: the trackers must not share state
        boxes_a.append(a.update(f)[1])
        boxes_b.append(b.update(f)[1])
    alone = make_tracker(tiny_model_dir, backend=backend, threads=1, lost_threshold=0.0)
    alone.init(frames[0], other_box)
    np.testing.assert_allclose(boxes_b, [alone.update(f)[1] for f in frames[1:8]], atol=1e-3)
    assert not np.allclose(boxes_a, boxes_b)


def test_loaded_model_rejects_conflicting_options(tiny_model_dir, load):
    shared = load(tiny_model_dir, backend="onnxruntime", threads=1)
    with pytest.raises(ValueError, match="already loaded"):
        sstrack_edge.Tracker(shared, threads=2)


def test_runtime_imports_neither_torch_nor_training():
    import subprocess
    import sys

    code = (
        "import sys, sstrack_edge, sstrack_edge.cli, sstrack_edge.tracker, sstrack_edge.sources, sstrack_edge.bench; "
        "sstrack_edge.cli.build_parser(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'training')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_openvino_fp32_is_pinned_to_f32_and_bf16_is_opt_in(tiny_model_dir, load):
    ov = pytest.importorskip("openvino")
    fp32 = load(tiny_model_dir, backend="openvino", precision="fp32", threads=1)
    # without the hint OpenVINO would silently pick bf16 on CPUs with native bf16
    assert fp32.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    assert fp32.compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert backends.select_variant(ModelCard.load(tiny_model_dir)).precision != "bf16"  # auto never picks it
    with pytest.raises(ValueError, match="OpenVINO option"):
        load(tiny_model_dir, backend="onnxruntime", precision="bf16")
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with pytest.raises(BackendUnavailableError, match="native bf16"):
            load(tiny_model_dir, precision="bf16")
        return
    bf16 = load(tiny_model_dir, precision="bf16", threads=1)
    assert bf16.precision == "bf16" and bf16.backend == "openvino"
    assert bf16.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.bf16
