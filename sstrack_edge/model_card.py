"""The model card: the JSON file that travels with every exported model.

It is the single source of truth for every constant the runtime needs (input sizes, crop factors,
normalization, output names and semantics, inference defaults), plus provenance (source checkpoint,
opset, sha256 of each file) and what was measured for the model. The runtime reads all of these
from the card, never from code; the training/export side writes them from the training config.

Layout of a model directory::

    <dir>/model_card.json
    <dir>/<variant files>        # e.g. model_fp32.onnx, model_int8_dynamic.onnx, openvino/model_fp32.xml+.bin

See docs/model-contract.md for the full field reference.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CARD_FILENAME = "model_card.json"
SCHEMA_VERSION = 1
MAPS = ("score_map", "size_map", "offset_map")  # outputs every model has, in the runners' order
PRESENCE_MAP = "presence_map"  # optional fourth output (docs/presence.md)


class ModelFileError(RuntimeError):
    """A model file or model card is missing, unreadable or does not match its recorded sha256."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


@dataclass
class CropSpec:
    size: int  # network input side in pixels (square)
    factor: float  # crop side = ceil(sqrt(w*h) * factor)


@dataclass
class Variant:
    """One runnable file (or file pair) of the model."""

    name: str  # e.g. "fp32", "int8-dynamic", "int8-static", "openvino-fp32", "openvino-int8"
    backend: str  # "onnxruntime" or "openvino"
    precision: str  # "fp32" or "int8"
    files: dict[str, str]  # role -> relative path; ORT: {"model": x.onnx}; OV: {"xml": .., "bin": ..}
    sha256: dict[str, str]  # relative path -> hex digest
    quantization: dict[str, Any] = field(default_factory=dict)  # method, calibration, excluded ops
    platforms: list[str] = field(default_factory=lambda: ["x86_64", "aarch64"])  # declared targets
    metrics: dict[str, Any] = field(default_factory=dict)  # measured accuracy / speed of this file
    kept: bool = True  # False: exported but rejected by the accuracy/speed gate (kept for the record)
    # 1: one target per network call. "dynamic": the file takes any batch size N and each of the N
    # results depends only on its own inputs (what MultiTracker needs; docs/model-contract.md)
    batch: int | str = 1

    @property
    def batched(self) -> bool:
        return self.batch == "dynamic"


@dataclass
class ModelCard:
    name: str
    template: CropSpec
    search: CropSpec
    feature_size: int  # side of the score map (search.size / stride)
    normalization: dict[str, Any]  # {"mean": [...], "std": [...], "in_graph": true, "color": "RGB"}
    input: dict[str, Any]  # {"template": name, "search": name, "layout": "NCHW", "dtype": "float32",
    #                        "channel_order": "BGR", "range": [0, 255]}
    outputs: dict[str, Any]  # {"score_map": name, "size_map": name, "offset_map": name, "semantics": str}
    #                          [+ "presence_map": name]
    inference: dict[str, Any]  # {"hann_window": true, "lost_threshold": .., "clip_margin": 10, ...}
    architecture: dict[str, Any]  # the network config (depth, width, heads, patch embed, ...)
    opset: int
    source_checkpoint: dict[str, Any]  # {"path": .., "sha256": .., "trained": bool, "notes": ..}
    variants: list[Variant]
    trained: bool  # False for randomly initialised networks: never ship one as a model
    metrics: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    created_by: str = "sstrack_edge"
    root: Path | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ IO
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("root", None)
        return d

    def save(self, directory: str | os.PathLike) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CARD_FILENAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
        self.root = directory
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any], root: Path | None = None) -> "ModelCard":
        try:
            if int(d.get("schema_version", 0)) != SCHEMA_VERSION:
                raise ModelFileError(
                    f"model card schema_version {d.get('schema_version')!r} is not supported "
                    f"(this sstrack_edge reads version {SCHEMA_VERSION})"
                )
            d = dict(d)
            d["template"] = CropSpec(**d["template"])
            d["search"] = CropSpec(**d["search"])
            d["variants"] = [Variant(**v) for v in d["variants"]]
            card = cls(**d)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"model card is malformed: {e!r}") from e
        card.root = root
        return card

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelCard":
        """Load a card from a model directory or from the JSON file itself."""
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILENAME
        if not path.is_file():
            raise ModelFileError(f"model card not found: {path}")
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelFileError(f"model card {path} is not valid JSON: {e}") from e
        if not isinstance(d, dict):
            raise ModelFileError(f"model card {path} is not a JSON object")
        return cls.from_dict(d, root=path.parent)

    # ------------------------------------------------------------ helpers
    @property
    def maps(self) -> tuple[str, ...]:
        """The network outputs the runtime reads, in the order runners return them: the three maps,
        plus ``presence_map`` when the card names one."""
        return MAPS + ((PRESENCE_MAP,) if PRESENCE_MAP in self.outputs else ())

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"model {self.name!r} has no variant {name!r}; have {[v.name for v in self.variants]}")

    def file_path(self, rel: str) -> Path:
        if self.root is None:
            raise ModelFileError("model card has no root directory (load it with ModelCard.load)")
        return self.root / rel

    def verify(self, variant: Variant) -> None:
        """Check that every file of ``variant`` exists and matches its recorded sha256."""
        for rel, digest in variant.sha256.items():
            p = self.file_path(rel)
            if not p.is_file():
                raise ModelFileError(f"model file missing: {p} (variant {variant.name!r} of {self.name!r})")
            actual = sha256_file(p)
            if actual != digest:
                raise ModelFileError(
                    f"model file corrupted: {p} has sha256 {actual[:16]}..., the model card records "
                    f"{digest[:16]}... (variant {variant.name!r}); re-export or re-install the model"
                )
