"""The exported FP32 files and the model card: graph contract (names, static shapes, opset 17),
every card field filled from the ModelConfig, FP32 (not FP16) OpenVINO weights."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from sstrack_edge.model_card import ModelCard, sha256_file  # noqa: E402
from training.export.package import INFERENCE_DEFAULTS, export_model  # noqa: E402
from training.models.ostrack import ModelConfig, build_model, count_macs  # noqa: E402

MAPS = ("score_map", "size_map", "offset_map")
# non-default sizes, factors and normalization: the card must follow the config, not constants
ARCH = dict(depth=2, embed_dim=48, num_heads=2, head_channels=32, template_size=96, search_size=192,
            template_factor=2.5, search_factor=4.5, norm_mean=(0.5, 0.4, 0.3), norm_std=(0.2, 0.25, 0.3))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(ModelConfig(**ARCH)).eval()
    out = tmp_path_factory.mktemp("card")
    export_model(model, out, name="card-test", trained=False, openvino=True)
    return model, out


def test_onnx_graph_contract(exported):
    model, out = exported
    m = onnx.load(str(out / "model_fp32.onnx"))
    onnx.checker.check_model(m)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [17]
    def dims(values):  # the batch is the named dynamic dim "N", every other dim is static
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    assert dims(m.graph.input) == {"template": ["N", 3, 96, 96], "search": ["N", 3, 192, 192]}
    assert dims(m.graph.output) == {"score_map": ["N", 1, 12, 12], "size_map": ["N", 2, 12, 12],
                                    "offset_map": ["N", 2, 12, 12]}
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in m.graph.input)
    assert "LayerNormalization" in {n.op_type for n in m.graph.node}  # native op at opset 17


def test_card_is_filled_from_the_config(exported):
    model, out = exported
    cfg = model.cfg
    raw = json.loads((out / "model_card.json").read_text())
    card = ModelCard.load(out)
    assert raw["trained"] is False and card.source_checkpoint["trained"] is False
    assert (card.template.size, card.template.factor) == (96, 2.5)
    assert (card.search.size, card.search.factor) == (192, 4.5)
    assert card.feature_size == 12
    assert card.normalization == {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "color": "RGB", "in_graph": True}
    assert card.input == {"template": "template", "search": "search", "layout": "NCHW", "dtype": "float32",
                          "channel_order": "BGR", "range": [0, 255]}
    assert [card.outputs[k] for k in MAPS] == list(MAPS) and "argmax" in card.outputs["semantics"]
    for k, v in INFERENCE_DEFAULTS.items():
        assert card.inference[k] == v, k
    assert card.inference["hann_window"] is True and card.inference["max_search_factor"] == 8.0
    assert card.architecture["embed_dim"] == 48 and card.architecture["macs"] == count_macs(cfg)
    assert ModelConfig.from_dict({k: v for k, v in card.architecture.items() if k not in ("macs", "params")}) == cfg
    assert card.opset == 17
    assert {v.name for v in card.variants} == {"fp32", "openvino-fp32"}
    for v in card.variants:
        card.verify(v)
        assert all(sha256_file(out / rel) == d for rel, d in v.sha256.items())


def test_openvino_ir_keeps_fp32_weights(exported):
    model, out = exported
    v = ModelCard.load(out).variant("openvino-fp32")
    assert (v.backend, v.precision) == ("openvino", "fp32")
    assert 'element_type="f16"' not in (out / v.files["xml"]).read_text()  # compress_to_fp16=False
    n_params = sum(p.numel() for p in model.parameters())
    assert (out / v.files["bin"]).stat().st_size >= 4 * n_params * 0.95


def test_runtime_loads_the_export_and_warns_untrained(exported):
    """The runtime side reads the card and runs the file (untrained: it warns)."""
    from sstrack_edge.backends import load_model

    _, out = exported
    with pytest.warns(UserWarning, match="untrained"):
        loaded = load_model(out, backend="onnxruntime", threads=1)
    import numpy as np

    score, size, offset = loaded.create_runner()(np.zeros((1, 3, 96, 96), np.float32),
                                                 np.zeros((1, 3, 192, 192), np.float32))
    assert score.shape == (12, 12) and size.shape == (2, 12, 12) and offset.shape == (2, 12, 12)
