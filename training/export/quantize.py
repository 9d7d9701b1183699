"""INT8 variants of an exported FP32 ONNX model (RUNTIME-AND-ECOSYSTEM 2.2-2.8, 3.4).

* ``int8-dynamic``: ORT ``quantize_dynamic(op_types_to_quantize=["MatMul"])``: int8 weights of the
  Linear layers, activations quantized on the fly; the activation x activation MatMuls (q k^T, attn v)
  stay FP32 (``MatMulConstBOnly``). Needs no calibration. Runs int8 on x86_64 and aarch64.
* ``int8-static``: ORT QDQ, S8S8, per-channel weights, MinMax calibration on real crop pairs, after
  ``quant_pre_process`` (shape inference + graph optimisation, which turns MatMul+Add into Gemm), and
  restricted to MatMul / Conv / Gemm: LayerNorm, Softmax, GELU and the residual Adds stay float.
  ``exclude`` keeps chosen nodes in float (groups below or node-name regexes).
* ``openvino-int8``: NNCF post-training quantization of the OpenVINO model
  (``model_type=TRANSFORMER``, ``subset_size`` = calibration pairs, ``ignored_scope`` from
  ``exclude``), saved with ``ov.save_model``. x86_64 only: OpenVINO runs INT8 models in float
  ("simulation") on ARM. SmoothQuant (part of TRANSFORMER mode) crashes on graphs with shared
  weights (nncf#4172; our patch embedding is shared by template and search); if it fails we retry
  with SmoothQuant disabled and record that in the variant.

Exclusion groups (``exclude`` items; anything else is a regex on node names):

``patch_embed``  the first layer, fed raw normalised pixels: the ViT's 16x16 patch Conv, or the
                 first Conv of a convolutional stem (``features.0``)
``stem``         every Conv of a convolutional stem (``patch_embed/features``) and its projection
``head``         every Conv of the box head
``head_out``     only the last 1x1 Conv of each head branch (produces the maps)
``attention``    the activation x activation MatMuls (q k^T, attn v)

A regex selects MatMul / Conv / Gemm nodes only (the ops that get quantized).
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from sstrack_edge.model_card import Variant, sha256_file

log = logging.getLogger(__name__)

INT8_NAMES = ("int8-dynamic", "int8-static", "openvino-int8")
FILES = {
    "int8-dynamic": "model_int8_dynamic.onnx",
    "int8-static": "model_int8_static.onnx",
    "openvino-int8": "openvino/model_int8.xml",
}
STATIC_OP_TYPES = ("MatMul", "Conv", "Gemm")
# why int8-dynamic is declared batch 1 although its file takes any batch (measured: score maps of one
# target moved by up to 0.013 when batched with another, benchmarks/RESULTS.md "Multi-target")
BATCH_COUPLED = ("dynamic quantization computes one activation scale per call over the whole batch, so "
                 "batched targets would change each other's results")
DEFAULT_EXCLUDE: dict[str, tuple[str, ...]] = {
    "int8-static": ("patch_embed", "head_out"),
    "openvino-int8": ("patch_embed", "head_out"),
}
GROUPS = ("patch_embed", "stem", "head", "head_out", "attention")
# the first layer only: a conv stem's features.0 (not its later layers, nor its 1x1 projection
# ``patch_embed/proj``), else the ViT's 16x16 patch Conv ``patch_embed/proj``
STEM_FIRST = re.compile(r"patch_embed/features/features\.0/")
VIT_PATCH = re.compile(r"patch_embed/proj(_\d+)?/")  # proj_1: the 2nd call (search)
STEM_ANY = re.compile(r"patch_embed/")
ORT_PLATFORMS = ["x86_64", "aarch64"]
OPENVINO_INT8_PLATFORMS = ["x86_64"]


# ------------------------------------------------------------------------ node selection
def _is_act_matmul(node, inits: set[str]) -> bool:
    return node.op_type == "MatMul" and all(i not in inits for i in node.input[:2])


def select_nodes(onnx_model, exclude: Iterable[str]) -> list[str]:
    """ONNX node names matched by ``exclude`` (group names or regexes); unknown regexes that match
    nothing raise, so a typo cannot silently quantize what it meant to keep."""
    g = onnx_model.graph
    inits = {i.name for i in g.initializer}
    picked: list[str] = []
    for item in exclude:
        if item == "patch_embed":
            convs = [n.name for n in g.node if n.op_type == "Conv"]
            hit = [n for n in convs if STEM_FIRST.search(n)] or [n for n in convs if VIT_PATCH.search(n)]
        elif item == "stem":
            hit = [n.name for n in g.node if n.op_type == "Conv" and STEM_ANY.search(n.name)]
        elif item == "head":
            hit = [n.name for n in g.node if n.op_type == "Conv" and "box_head" in n.name]
        elif item == "head_out":
            hit = [n.name for n in g.node if n.op_type == "Conv" and re.search(r"box_head/conv5_", n.name)]
        elif item == "attention":
            hit = [n.name for n in g.node if _is_act_matmul(n, inits)]
        else:
            try:
                rx = re.compile(item)
            except re.error as e:
                raise ValueError(f"exclude item {item!r} is neither a group {GROUPS} nor a valid regex: {e}") from None
            hit = [n.name for n in g.node if n.op_type in STATIC_OP_TYPES and rx.search(n.name)]
        if not hit:
            raise ValueError(f"exclude item {item!r} matches no node of the graph (groups: {GROUPS})")
        picked += [h for h in hit if h not in picked]
    return picked


# --------------------------------------------------------------------------- ORT variants
def quantize_dynamic_int8(fp32: Path, out: Path) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"  # shape inference only: graph optimisation would fuse MatMul+Add to Gemm
        quant_pre_process(str(fp32), str(pre), skip_optimization=True)
        quantize_dynamic(str(pre), str(out), op_types_to_quantize=["MatMul"], per_channel=False,
                         weight_type=QuantType.QInt8)
    return {"method": "onnxruntime.quantize_dynamic", "op_types": ["MatMul"], "weights": "int8 per-tensor",
            "activations": "dynamic uint8 per call", "preprocess": "quant_pre_process(skip_optimization=True)",
            "excluded": ["activation x activation MatMuls (MatMulConstBOnly)"]}


def quantize_static_int8(fp32: Path, out: Path, calibration, exclude: Sequence[str]) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, feeds: list[dict]):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    feeds = list(calibration.inputs())
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre))
        excluded = select_nodes(onnx.load(str(pre)), exclude)
        quantize_static(
            str(pre), str(out), Reader(feeds), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(STATIC_OP_TYPES), per_channel=True, reduce_range=False,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded, calibrate_method=CalibrationMethod.MinMax,
        )
    return {"method": "onnxruntime.quantize_static QDQ S8S8", "op_types": list(STATIC_OP_TYPES),
            "per_channel": True, "calibrate_method": "MinMax", "preprocess": "quant_pre_process",
            "exclude": list(exclude), "excluded_nodes": excluded}


# ------------------------------------------------------------------------ OpenVINO / NNCF
def _ov_ignored_scope(ov_model, onnx_excluded: list[str]):
    """NNCF ignored scope from ONNX node names. OpenVINO keeps them as friendly names after conversion
    (a Conv with bias becomes ``<name>/WithoutBiases`` + an Add named ``<name>``); every excluded ONNX
    node must be found, so the scope cannot silently miss."""
    import nncf

    weighted = [op.get_friendly_name() for op in ov_model.get_ops()
                if op.get_type_name() in ("Convolution", "GroupConvolution", "MatMul")]  # group: depthwise
    found, missing = [], []
    for n in onnx_excluded:
        hit = [f for f in weighted if f == n or f.startswith(n + "/")]
        (found.extend(hit) if hit else missing.append(n))
    if missing:
        raise ValueError(f"OpenVINO model has no (Group)Convolution/MatMul for ONNX nodes {missing[:4]}; "
                         f"cannot build the NNCF ignored scope")
    return nncf.IgnoredScope(names=found), found


def quantize_openvino_int8(fp32: Path, out_xml: Path, calibration, exclude: Sequence[str]) -> dict[str, Any]:
    import nncf
    import onnx
    import openvino as ov

    excluded = select_nodes(onnx.load(str(fp32)), exclude)
    ov_model = ov.convert_model(str(fp32))
    scope, found = _ov_ignored_scope(ov_model, excluded)
    feeds = list(calibration.inputs())
    data = nncf.Dataset(feeds)
    kw = dict(model_type=nncf.ModelType.TRANSFORMER, subset_size=len(feeds), ignored_scope=scope,
              target_device=nncf.TargetDevice.CPU)
    smooth_quant = True
    try:
        q = nncf.quantize(ov_model, data, **kw)
    except AttributeError as e:  # nncf#4172: SmoothQuant on weight-shared graphs
        log.warning("nncf.quantize failed in TRANSFORMER mode (%s, nncf#4172); retrying without SmoothQuant", e)
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

        smooth_quant = False
        no_sq = AdvancedSmoothQuantParameters(matmul=-1, convolution=-1)
        adv = AdvancedQuantizationParameters(smooth_quant_alphas=no_sq)
        q = nncf.quantize(ov.convert_model(str(fp32)), data, advanced_parameters=adv, **kw)
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(q, str(out_xml))
    return {"method": "nncf.quantize (OpenVINO)", "model_type": "TRANSFORMER", "smooth_quant": smooth_quant,
            "subset_size": len(feeds), "exclude": list(exclude), "excluded_nodes": found,
            "nncf": nncf.__version__, "openvino": ov.get_version()}


# ----------------------------------------------------------------------------- entry point
def quantize_variants(
    out_dir: str | Path,
    fp32_rel: str,
    names: Sequence[str],
    calibration=None,
    exclude: dict[str, Sequence[str]] | None = None,
) -> list[Variant]:
    """Write the INT8 variants ``names`` next to ``out_dir/fp32_rel``; returns their :class:`Variant`.

    ``calibration``: a :class:`training.export.calibration.CalibrationSet` (needed by ``int8-static``
    and ``openvino-int8``). ``exclude``: per-variant exclusion lists (default :data:`DEFAULT_EXCLUDE`).
    The variants come back with ``kept=False`` and empty metrics: :mod:`training.export.compare`
    measures them against FP32 and decides ``kept``.
    """
    out_dir = Path(out_dir)
    fp32 = out_dir / fp32_rel
    if not fp32.is_file():
        raise FileNotFoundError(f"FP32 model {fp32} not found")
    bad = [n for n in names if n not in INT8_NAMES]
    if bad:
        raise ValueError(f"unknown quantization variant(s) {bad}; choose from {INT8_NAMES}")
    if len(set(names)) != len(names):
        raise ValueError(f"quantization variants listed twice: {list(names)}")
    exclude = {**DEFAULT_EXCLUDE, **(exclude or {})}
    calib_info = calibration.describe() if calibration is not None else None
    variants = []
    for name in names:
        rel = FILES[name]
        if name != "int8-dynamic" and (calibration is None or len(calibration) == 0):
            raise ValueError(f"{name} needs calibration pairs (a CalibrationSet of real crops); none given")
        batch = "dynamic"  # fixed scales: each row of a batch is computed on its own
        if name == "int8-dynamic":
            q = quantize_dynamic_int8(fp32, out_dir / rel)
            q["calibration"] = None  # dynamic: activation ranges are computed per call
            q["batch_note"] = BATCH_COUPLED
            files, backend, platforms, batch = {"model": rel}, "onnxruntime", ORT_PLATFORMS, 1
        elif name == "int8-static":
            q = quantize_static_int8(fp32, out_dir / rel, calibration, exclude.get(name, ()))
            q["calibration"] = calib_info
            files, backend, platforms = {"model": rel}, "onnxruntime", ORT_PLATFORMS
        else:
            q = quantize_openvino_int8(fp32, out_dir / rel, calibration, exclude.get(name, ()))
            q["calibration"] = calib_info
            files = {"xml": rel, "bin": str(Path(rel).with_suffix(".bin"))}
            backend, platforms = "openvino", OPENVINO_INT8_PLATFORMS
        variants.append(Variant(
            name=name, backend=backend, precision="int8", files=files,
            sha256={r: sha256_file(out_dir / r) for r in files.values()},
            quantization=q, platforms=list(platforms), metrics={}, kept=False, batch=batch,
        ))
        log.info("wrote %s (%s)", name, ", ".join(files.values()))
    return variants
