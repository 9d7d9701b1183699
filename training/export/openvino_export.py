"""ONNX -> OpenVINO IR (.xml + .bin), FP32 weights kept (OpenVINO compresses to FP16 by default)."""

from __future__ import annotations

from pathlib import Path


def export_openvino(onnx_path: str | Path, xml_path: str | Path) -> tuple[Path, Path]:
    import openvino as ov

    xml_path = Path(xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    model = ov.convert_model(str(onnx_path))
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
    return xml_path, xml_path.with_suffix(".bin")
