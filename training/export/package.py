"""Write a complete model directory: ONNX + OpenVINO IR (+ INT8 variants) + model_card.json."""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import Any, Sequence

from sstrack_edge.backends import check_card
from sstrack_edge.model_card import CropSpec, ModelCard, Variant, sha256_file

from ..models.ostrack import OSTrack, count_macs
from .onnx_export import INPUT_NAMES, export_onnx, output_names

FP32_ONNX = "model_fp32.onnx"
FP32_XML = "openvino/model_fp32.xml"

OUTPUT_SEMANTICS = (
    "score_map: sigmoid target-centre probability per cell (clamped to [1e-4, 1-1e-4]); "
    "size_map: (w, h) normalized to the search-crop side; offset_map: (dx, dy) sub-cell centre offset in "
    "cells. Decode: (iy, ix) = argmax(score_map * hann); cx = (ix + dx) / F; cy = (iy + dy) / F."
)
PRESENCE_SEMANTICS = (
    " presence_map: sigmoid probability per cell that the tracked target itself (not a look-alike or "
    "background) is centred there, trained on positive and negative pairs; the presence confidence is "
    "presence_map at the decoded cell (iy, ix), and a frame is lost when it is below "
    "inference.lost_threshold."
)

INFERENCE_DEFAULTS: dict[str, Any] = {
    "hann_window": True,
    "lost_threshold": 0.25,
    "clip_margin": 10,
    "search_growth_when_lost": 1.25,
    "max_search_factor": 8.0,
    "size_update_rate": None,  # None: each detection's size as is (OSTrack); see sstrack_edge.tracker
    "lost_patience": 0,  # low-score frames in a row the tracker still follows before it re-detects
    "reacquire_threshold": None,  # presence a re-detection needs; None: lost_threshold
    "redetect_tiles": 0,  # crops of a frame scan per re-detection frame; 0: no scan
    "lost_relative": 0.0,  # also lost below this fraction of the target's usual presence; 0: off
}
INFERENCE_OPTIONAL = ("hann_window_when_lost",)  # keys a card may add; the Tracker's default otherwise


def _variant(out_dir: Path, name: str, backend: str, precision: str, files: dict[str, str], **kw) -> Variant:
    return Variant(
        name=name,
        backend=backend,
        precision=precision,
        files=files,
        sha256={rel: sha256_file(out_dir / rel) for rel in files.values()},
        **kw,
    )


def export_model(
    model: OSTrack,
    out_dir: str | Path,
    *,
    name: str,
    trained: bool,
    source_checkpoint: dict[str, Any] | None = None,
    openvino: bool = True,
    quantize: Sequence[str] = (),
    calibration=None,
    compare_pairs=None,
    compare_threads: int = 1,
    exclude: dict[str, Sequence[str]] | None = None,
    opset: int = 17,
    inference: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelCard:
    """Export ``model`` into ``out_dir`` and write its model card; returns the card.

    ``quantize`` names INT8 variants to add (``int8-dynamic``, ``int8-static``, ``openvino-int8``);
    static variants need ``calibration`` (a :class:`training.export.calibration.CalibrationSet`).
    INT8 variants are then compared with FP32 on ``compare_pairs`` (crop pairs; default: the
    calibration pairs, recorded as such) by :func:`training.export.compare.compare_variants`, which
    fills their ``metrics`` and ``kept``; with ``compare_pairs=[]`` or no pairs at all they stay
    ``kept=False`` (unmeasured).
    ``exclude``: per-variant node exclusions for :func:`training.export.quantize.quantize_variants`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    export_onnx(model, out_dir / FP32_ONNX, opset=opset)
    variants = [_variant(out_dir, "fp32", "onnxruntime", "fp32", {"model": FP32_ONNX}, batch="dynamic")]
    if openvino:
        from .openvino_export import export_openvino

        xml, binf = export_openvino(out_dir / FP32_ONNX, out_dir / FP32_XML)
        variants.append(
            _variant(
                out_dir,
                "openvino-fp32",
                "openvino",
                "fp32",
                {"xml": FP32_XML, "bin": str(Path(FP32_XML).with_suffix(".bin"))},
                batch="dynamic",
            )
        )
    if quantize:
        from .quantize import quantize_variants

        variants += quantize_variants(out_dir, FP32_ONNX, list(quantize), calibration, exclude=exclude)

    card = build_card(model, name, inference=inference, opset=opset, variants=variants, trained=trained,
                      source_checkpoint=source_checkpoint, metrics=metrics)
    check_card(card)  # never write a card the runtime would refuse (e.g. a bad --inference value)
    save_card(card, out_dir)
    if quantize:
        _gate_int8(card, out_dir, calibration, compare_pairs, compare_threads)
    return card


_ABS_PATH = re.compile(r"(?<![\w.~:/-])/[\w.+-]+(?:/[\w.+-]+)*")


def _portable(path: str) -> str:
    from sstrack_edge.paths import REPO, shared_root

    p = Path(path)
    for base, prefix in ((shared_root().resolve(), "../shared"), (REPO.resolve(), "")):
        try:
            rel = p.resolve().relative_to(base).as_posix()
        except ValueError:
            continue
        return f"{prefix}/{rel}" if prefix else rel
    return p.name


def _on_this_machine(path: str) -> bool:
    return Path("/" + path.split("/")[1]).is_dir()


def portable_paths(obj: Any) -> Any:
    """``obj`` with every absolute path made machine-independent, also inside longer strings: under
    the shared data root -> ``../shared/...``, under the repository -> repository-relative, anything
    else -> its file name. Cards ship: they must not carry the build machine's directories."""
    if isinstance(obj, dict):
        return {k: portable_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(portable_paths(v) for v in obj)
    if isinstance(obj, str):  # only real directories: ONNX node names (/model/...) look like paths too
        return _ABS_PATH.sub(lambda m: _portable(m.group(0)) if _on_this_machine(m.group(0)) else m.group(0), obj)
    return obj


def save_card(card: ModelCard, directory: str | Path | None = None) -> None:
    """Write the card with portable paths (:func:`portable_paths`)."""
    card.metrics = portable_paths(card.metrics)
    card.source_checkpoint = portable_paths(card.source_checkpoint)
    for v in card.variants:
        v.metrics, v.quantization = portable_paths(v.metrics), portable_paths(v.quantization)
    card.save(directory if directory is not None else card.root)


def build_card(model, name: str, inference: dict[str, Any] | None = None, opset: int = 17,
               variants: list[Variant] | None = None, trained: bool = True,
               source_checkpoint: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None) -> ModelCard:
    """The model card of ``model``: every constant the runtime needs comes from its config here,
    for an export and for the torch runner of :mod:`training.torch_runner` alike."""
    cfg = model.cfg
    return ModelCard(
        name=name,
        template=CropSpec(size=cfg.template_size, factor=cfg.template_factor),
        search=CropSpec(size=cfg.search_size, factor=cfg.search_factor),
        feature_size=cfg.feature_size,
        normalization={"mean": list(cfg.norm_mean), "std": list(cfg.norm_std), "color": cfg.network_color,
                       "in_graph": True},
        input={"template": INPUT_NAMES[0], "search": INPUT_NAMES[1], "layout": "NCHW", "dtype": "float32",
               "channel_order": "BGR", "range": [0, 255]},
        outputs={**{k: k for k in output_names(model)},
                 "semantics": OUTPUT_SEMANTICS + (PRESENCE_SEMANTICS if cfg.presence_head else "")},
        inference={**INFERENCE_DEFAULTS, **(inference or {})},
        architecture=_architecture(model),
        opset=opset,
        source_checkpoint=dict(source_checkpoint or {"path": None, "trained": trained,
                                                     "notes": "randomly initialised"}),
        variants=list(variants or []),
        trained=trained,
        metrics=dict(metrics or {}),
        created_by=f"sstrack_edge training.export on {platform.machine()}",
    )


def _architecture(model) -> dict[str, Any]:
    return {**model.cfg.to_dict(), "macs": count_macs(model.cfg), "params": sum(p.numel() for p in model.parameters())}


def _gate_int8(card: ModelCard, out_dir: Path, calibration, compare_pairs, threads: int) -> None:
    from .compare import compare_variants

    pairs: list = []
    if compare_pairs is not None:  # an empty sequence means: do not compare
        pairs, source = list(compare_pairs), getattr(compare_pairs, "describe", lambda: None)()
    elif calibration is not None:
        pairs, source = list(calibration), "the calibration pairs themselves (no held-out pairs given)"
    if not pairs:
        for v in card.variants:
            if v.precision == "int8":
                v.metrics["note"] = "not compared with FP32 (no crop pairs given): kept=false"
        save_card(card, out_dir)
        return
    compare_variants(card, pairs, threads=threads, source=source)
    save_card(card, out_dir)
