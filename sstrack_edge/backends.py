"""Loading an exported model on an inference backend (ONNX Runtime or OpenVINO).

``load_model(...)`` reads a model card, picks one variant (backend x precision), checks the sha256
of its files and compiles it once. The returned :class:`LoadedModel` can be shared by several
:class:`~sstrack_edge.Tracker` instances: each tracker gets its own lightweight runner
(:meth:`LoadedModel.create_runner`), the compiled network is shared.

Backend choice for ``backend="auto"`` (documented in docs/runtime.md):

* backend order: OpenVINO first on x86-64 when the ``openvino`` package imports, then ONNX
  Runtime; elsewhere (ARM: OpenVINO runs INT8 in float "simulation" there) ONNX Runtime first;
* within a backend, precision ``"auto"`` tries ``int8`` first, then ``fp32``; an int8 variant is
  only eligible when the card marks it ``kept`` (it passed the export accuracy gate: faster than
  that backend's FP32, within 1 AUC point of FP32) and lists this platform. Backend before
  precision: on x86 OpenVINO FP32 outran ONNX Runtime's INT8 variant of the default model
  (benchmarks/RESULTS.md), so a rejected OpenVINO INT8 falls back to OpenVINO FP32;
* within one backend x precision the first kept variant in the card's ``variants`` list wins.

``precision="bf16"`` is an explicit opt-in, never chosen by ``auto``: the OpenVINO FP32 variant
compiled with ``INFERENCE_PRECISION_HINT=bf16`` (needs a CPU with native bf16, e.g. AVX512-BF16 or
AMX; its accuracy is not gated by the export step).
"""

from __future__ import annotations

import os
import platform
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import BackendUnavailableError, NoDefaultModelError, UntrainedModelWarning
from .model_card import CARD_FILENAME, MAPS, ModelCard, ModelFileError, Variant

BACKENDS = ("onnxruntime", "openvino")
BACKEND_ALIASES = {"ort": "onnxruntime", "onnxruntime": "onnxruntime", "ov": "openvino", "openvino": "openvino"}
PRECISIONS = ("fp32", "int8", "bf16")

_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def current_platform() -> str:
    """Normalized CPU architecture name as used in a variant's ``platforms`` list."""
    m = platform.machine().lower()
    return _MACHINE_ALIASES.get(m, m)


def default_threads() -> int:
    """Number of CPU cores this process may run on (the default thread count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------ default model
def installed_models() -> list[ModelCard]:
    """Model cards shipped inside the ``sstrack_edge.models`` package (one sub-directory each)."""
    try:
        root = resources.files("sstrack_edge.models")
    except ModuleNotFoundError:
        return []
    cards = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        card_file = entry / CARD_FILENAME
        if entry.is_dir() and card_file.is_file():
            cards.append(ModelCard.load(Path(str(card_file))))
    return cards


def default_model_dir() -> Path:
    """Directory of the default model: the installed *trained* model (``models/default/`` wins when
    several are installed). Untrained cards (random weights) are never the default."""
    cards = installed_models()
    trained = [c for c in cards if c.trained]
    if not trained:
        untrained = ", ".join(c.name for c in cards if not c.trained)
        raise NoDefaultModelError(
            "no default model is installed in sstrack_edge.models"
            + (f" (only untrained cards: {untrained})" if untrained else "")
            + ". Pass one explicitly: Tracker(model='path/to/model_dir') or "
            "Tracker(model='path/to/model_card.json'); on the command line use --model DIR. "
            "Export one with `sstrack-export`."
        )
    for c in trained:
        if c.root is not None and c.root.name == "default":
            return c.root
    if len(trained) > 1:
        raise NoDefaultModelError(
            f"several trained models are installed ({[c.name for c in trained]}) and none is in "
            "models/default/; pass model=... explicitly"
        )
    assert trained[0].root is not None
    return trained[0].root


# ---------------------------------------------------------------------- variant choice
def normalize_backend(backend: str) -> str:
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, got {type(backend).__name__}")
    b = backend.lower()
    if b == "auto":
        return b
    if b not in BACKEND_ALIASES:
        raise ValueError(f"unknown backend {backend!r}; use 'auto', 'onnxruntime' (ort) or 'openvino' (ov)")
    return BACKEND_ALIASES[b]


def normalize_precision(precision: str) -> str:
    if not isinstance(precision, str):
        raise TypeError(f"precision must be a string, got {type(precision).__name__}")
    p = precision.lower()
    if p != "auto" and p not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use 'auto', 'fp32', 'int8' or 'bf16' (OpenVINO only)")
    return p


def backend_order(backend: str, machine: str | None = None, have_openvino: bool | None = None) -> list[str]:
    """Backends to try, best first, for ``backend`` ('auto' or a concrete name)."""
    backend = normalize_backend(backend)
    if backend != "auto":
        return [backend]
    machine = machine or current_platform()
    have_openvino = openvino_available() if have_openvino is None else have_openvino
    if not have_openvino:
        return ["onnxruntime"]
    return ["openvino", "onnxruntime"] if machine == "x86_64" else ["onnxruntime", "openvino"]


def select_variant(
    card: ModelCard,
    backend: str = "auto",
    precision: str = "auto",
    variant: str | None = None,
    machine: str | None = None,
    have_openvino: bool | None = None,
    batched: bool = False,
) -> Variant:
    """Pick the variant to run (rule in the module docstring); ``batched``: only variants whose file
    takes a batch of independent targets (``batch: "dynamic"``, for :class:`~sstrack_edge.MultiTracker`)."""
    if variant is not None:
        try:
            v = card.variant(variant)
        except KeyError as e:
            raise ValueError(str(e.args[0])) from None
        if batched and not v.batched:
            raise ValueError(_not_batched(card, v))
        if not v.kept:
            warnings.warn(f"variant {v.name!r} is marked kept=false in the card (it failed the export gate)")
        return v
    machine = machine or current_platform()
    backends = backend_order(backend, machine, have_openvino)
    precision = normalize_precision(precision)
    if precision == "bf16":  # a compile-time hint on the OpenVINO FP32 file
        if "openvino" not in backend_order(backend, machine, True):
            raise ValueError("precision 'bf16' is an OpenVINO option; use backend='openvino' or 'auto'")
        backends, precision = ["openvino"], "fp32"
    precisions = ["int8", "fp32"] if precision == "auto" else [precision]
    for b in backends:
        for p in precisions:
            for v in card.variants:
                ok = v.kept and v.backend == b and v.precision == p and machine in v.platforms
                if ok and (v.batched or not batched):
                    return v
    have = [
        f"{v.name} ({v.backend}/{v.precision}, kept={v.kept}, batch={v.batch}, platforms={v.platforms})"
        for v in card.variants
    ]
    raise BackendUnavailableError(
        f"model {card.name!r} has no kept{' batched' if batched else ''} variant for backend={backend!r}, "
        f"precision={precision!r} on {machine}; tried backends {backends}. Variants: {have}"
    )


def _not_batched(card: ModelCard, v: Variant) -> str:
    batched = [x.name for x in card.variants if x.batched and x.kept]
    why = v.quantization.get("batch_note") or "its file takes one target per call"
    return (
        f"variant {v.name!r} of {card.name!r} cannot run several targets in one call ({why}); "
        f"batched variants: {batched or 'none (re-export the model with this sstrack_edge)'}"
    )


# ----------------------------------------------------------------------------- runners
class _OpenVinoRunner:
    """Per-tracker infer request on a shared OpenVINO ``CompiledModel``."""

    def __init__(self, model: "LoadedModel"):
        compiled = model.compiled
        self._request = compiled.create_infer_request()
        self._in = (model.card.input["template"], model.card.input["search"])
        self._out = [compiled.output(model.card.outputs[k]) for k in model.card.maps]

    def __call__(self, template: np.ndarray, search: np.ndarray) -> tuple[np.ndarray, ...]:
        r = self._request
        r.infer({self._in[0]: template, self._in[1]: search}, share_inputs=True, share_outputs=True)
        # share_outputs: these views are overwritten by the next infer(); the tracker decodes them at once.
        return first_row(squeeze_maps(r.get_tensor(o).data for o in self._out))


def squeeze_maps(maps) -> tuple[np.ndarray, ...]:
    """Network outputs (N x C x F x F each) in the card's ``maps`` order: the one-channel maps
    (score, presence) as N x F x F, the others as they are."""
    return tuple(m[:, 0] if m.shape[1] == 1 else m for m in maps)


def first_row(maps: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(m[0] for m in maps)


class _OrtBatchRunner:
    """``(templates N x 3 x T x T, searches N x 3 x S x S) -> (scores N x F x F, sizes N x 2 x F x F,
    offsets N x 2 x F x F[, presences N x F x F])`` on the shared session (its batch dimension is dynamic)."""

    def __init__(self, model: "LoadedModel"):
        self._session = model.compiled
        self._in = (model.card.input["template"], model.card.input["search"])
        self._out = [model.card.outputs[k] for k in model.card.maps]

    def reserve(self, n: int) -> None:
        """Nothing to prepare: one session serves every batch size."""

    def __call__(self, template: np.ndarray, search: np.ndarray) -> tuple[np.ndarray, ...]:
        return squeeze_maps(self._session.run(self._out, {self._in[0]: template, self._in[1]: search}))


class _OrtRunner(_OrtBatchRunner):
    """Per-tracker runner on a shared ``onnxruntime.InferenceSession`` (``run`` is thread-safe): one row."""

    def __call__(self, template: np.ndarray, search: np.ndarray) -> tuple[np.ndarray, ...]:
        return first_row(super().__call__(template, search))


class _OpenVinoBatchRunner:
    """As :class:`_OrtBatchRunner` on OpenVINO: one network compiled per batch size N (static shapes
    run faster than a dynamic-shape network), compiled on first use and shared by the ``LoadedModel``."""

    def __init__(self, model: "LoadedModel"):
        self._model = model
        self._requests: dict[int, Any] = {}
        self._in = (model.card.input["template"], model.card.input["search"])
        self._names = [model.card.outputs[k] for k in model.card.maps]

    def reserve(self, n: int) -> None:
        """Compile the batch-``n`` network now (it takes ~100 ms), not in the first call with ``n`` rows."""
        if n > 0 and n not in self._requests:
            compiled = self._model.compiled_for_batch(n)
            self._requests[n] = (compiled.create_infer_request(), [compiled.output(o) for o in self._names])

    def __call__(self, template: np.ndarray, search: np.ndarray) -> tuple[np.ndarray, ...]:
        n = len(search)
        self.reserve(n)
        request, outputs = self._requests[n]
        request.infer({self._in[0]: template, self._in[1]: search}, share_inputs=True, share_outputs=True)
        # share_outputs: views that a later infer() on this model may overwrite; decode them at once
        return squeeze_maps(request.get_tensor(o).data for o in outputs)


# ------------------------------------------------------------------------ loaded model
@dataclass
class LoadedModel:
    """A model card plus one compiled variant; share it between trackers (``Tracker(model=m)``)."""

    card: ModelCard
    variant: Variant
    threads: int
    spin_wait: bool
    compiled: Any  # onnxruntime.InferenceSession or openvino.CompiledModel
    precision_hint: str | None = None  # OpenVINO INFERENCE_PRECISION_HINT used ("f32" or "bf16")
    # Optional ``factory(loaded_model) -> runner`` for other engines (the bench's torch eager row).
    runner_factory: Callable[["LoadedModel"], Callable] | None = None
    # OpenVINO, batched variants: the network as read (dynamic batch) and the compile settings, to
    # compile one static-shape network per batch size on demand (``compiled_for_batch``)
    ov_source: Any = None
    ov_config: dict[str, str] | None = None
    _by_batch: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def backend(self) -> str:
        return self.variant.backend

    @property
    def precision(self) -> str:
        return "bf16" if self.precision_hint == "bf16" else self.variant.precision

    def create_runner(self):
        """A callable ``(template NCHW f32, search NCHW f32) -> (score FxF, size 2xFxF, offset 2xFxF
        [, presence FxF])``: one array per name in ``card.maps``."""
        if self.runner_factory is not None:
            return self.runner_factory(self)
        return _OrtRunner(self) if self.backend == "onnxruntime" else _OpenVinoRunner(self)

    def create_batch_runner(self):
        """A callable ``(templates N x 3 x T x T, searches N x 3 x S x S) -> (scores N x F x F,
        sizes N x 2 x F x F, offsets N x 2 x F x F[, presences N x F x F])``; only for a variant with
        ``batch: "dynamic"``."""
        if not self.variant.batched:
            raise ValueError(_not_batched(self.card, self.variant))
        if self.runner_factory is not None:
            raise ValueError(f"{self.describe()} has a custom single-target runner; batching needs ORT or OpenVINO")
        return _OrtBatchRunner(self) if self.backend == "onnxruntime" else _OpenVinoBatchRunner(self)

    def compiled_for_batch(self, n: int):
        """OpenVINO: the network compiled for batch size ``n`` (cached; batch 1 is ``compiled``)."""
        if n == 1:
            return self.compiled
        compiled = self._by_batch.get(n)
        if compiled is None:
            import openvino as ov

            model = self.ov_source.clone()
            model.reshape({p.get_any_name(): ov.PartialShape([n, *p.get_partial_shape()[1:]]) for p in model.inputs})
            core = ov.Core()
            compiled = self._by_batch[n] = core.compile_model(model, "CPU", self.ov_config)
        return compiled

    def describe(self) -> str:
        return (
            f"{self.card.name} [{self.variant.name}: {self.backend}/{self.precision}, "
            f"{self.threads} thread(s), spin_wait={self.spin_wait}]"
        )


def _compile_onnxruntime(card: ModelCard, variant: Variant, threads: int, spin_wait: bool):
    import onnxruntime as ort

    if "model" not in variant.files:
        raise ModelFileError(f"variant {variant.name!r} has no 'model' file entry: {variant.files}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin_wait else "0")
    path = card.file_path(variant.files["model"])
    try:
        sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
        raise ModelFileError(f"onnxruntime could not load {path}: {e}") from e
    names_in = {i.name: [d if isinstance(d, int) else None for d in i.shape] for i in sess.get_inputs()}
    names_out = {o.name for o in sess.get_outputs()}
    _check_io(card, variant, names_in, names_out)
    return sess


def _compile_openvino(card: ModelCard, variant: Variant, threads: int, bf16: bool = False):
    try:
        import openvino as ov
    except ImportError:
        raise BackendUnavailableError(
            "backend 'openvino' requested but the openvino package is not installed "
            "(pip install 'sstrack-edge[openvino]')"
        ) from None
    path = card.file_path(variant.files["xml"] if "xml" in variant.files else variant.files["model"])
    core = ov.Core()
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": "1",
        "INFERENCE_NUM_THREADS": str(threads),
        "ENABLE_CPU_PINNING": "NO",
        # Without this, CPUs with AVX512-BF16/AMX silently run FP32 models in bf16. INT8 (quantized)
        # ops still run in int8 under an f32 hint; the non-quantized rest stays f32.
        "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
    }
    if bf16 and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        raise BackendUnavailableError("precision 'bf16' needs a CPU with native bf16 (AVX512-BF16 or AMX); this one has none")
    try:
        ov_model = core.read_model(str(path))
    except Exception as e:  # openvino raises RuntimeError with long messages
        raise ModelFileError(f"openvino could not load {path}: {e}") from e
    names_in = {}
    for port in ov_model.inputs:
        shape = port.get_partial_shape()
        for n in port.get_names():
            names_in[n] = [d.get_length() if d.is_static else None for d in shape]
    names_out = {n for port in ov_model.outputs for n in port.get_names()}
    _check_io(card, variant, names_in, names_out)
    source = ov_model.clone() if variant.batched else None
    if any(d is None for shape in names_in.values() for d in shape[:1]):  # one target: a static batch of 1
        ov_model.reshape({p.get_any_name(): ov.PartialShape([1, *p.get_partial_shape()[1:]]) for p in ov_model.inputs})
    try:
        compiled = core.compile_model(ov_model, "CPU", config)
    except Exception as e:
        raise ModelFileError(f"openvino could not compile {path}: {e}") from e
    return compiled, source, config


def _check_io(card: ModelCard, variant: Variant, names_in: dict, names_out: set) -> None:
    """The file's inputs and outputs against the card; ``names_in`` maps input name -> shape with
    ``None`` for a dynamic dimension. Batch: 1 or dynamic; dynamic when the card says ``batch: "dynamic"``."""
    expected_in = {
        card.input["template"]: [3, card.template.size, card.template.size],
        card.input["search"]: [3, card.search.size, card.search.size],
    }
    for name, shape in expected_in.items():
        if name not in names_in:
            raise ModelFileError(
                f"variant {variant.name!r}: network has no input {name!r} (has {sorted(names_in)}); "
                "the model card and the file disagree"
            )
        have = list(names_in[name])
        batch_ok = have[:1] == [None] if variant.batched else have[:1] in ([1], [None])
        if have[1:] != shape or not batch_ok:
            want = ["N" if variant.batched else 1, *shape]
            raise ModelFileError(
                f"variant {variant.name!r}: input {name!r} has shape {have} (None = dynamic), card says {want}"
            )
    for key in card.maps:
        if card.outputs[key] not in names_out:
            raise ModelFileError(
                f"variant {variant.name!r}: network has no output {card.outputs[key]!r} ({key}); "
                f"has {sorted(names_out)}"
            )


def load_card(model: str | os.PathLike | ModelCard | None) -> ModelCard:
    """Resolve ``model`` (None = default model, a directory, a model_card.json path or a card)."""
    if isinstance(model, ModelCard):
        if model.root is None:
            raise ModelFileError("model card has no root directory (load it with ModelCard.load)")
        return model
    if model is None:
        return ModelCard.load(default_model_dir())
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            "model must be None (default model), a model directory, a model_card.json path, a ModelCard "
            f"or a LoadedModel from sstrack_edge.load_model(); got {type(model).__name__}"
        )
    p = Path(model)
    if not p.exists():
        raise ModelFileError(f"model path does not exist: {p}")
    return ModelCard.load(p)


REQUIRED_INFERENCE_KEYS = ("hann_window", "lost_threshold", "clip_margin", "search_growth_when_lost", "max_search_factor")


def check_inference(inference: dict[str, Any], name: str) -> None:
    """The card's ``inference`` section: required keys present, optional values in range."""
    missing = [k for k in REQUIRED_INFERENCE_KEYS if k not in inference]
    if missing:
        raise ModelFileError(f"model card {name!r} is malformed: inference lacks {missing}")
    try:
        check_size_update_rate(inference.get("size_update_rate"))
        check_lost_patience(inference.get("lost_patience", 0))
        check_reacquire_threshold(inference.get("reacquire_threshold"))
        check_redetect_tiles(inference.get("redetect_tiles", 0))
        check_lost_relative(inference.get("lost_relative", 0.0))
    except ValueError as e:
        raise ModelFileError(f"model card {name!r} is malformed: inference.{e}") from None


def check_size_update_rate(value: Any) -> float | None:
    """``size_update_rate`` (card value or evaluation option) as a float, or None (off); ValueError
    unless it is None or a number in (0, 1]."""
    if value is not None and not (_is_number(value) and 0.0 < value <= 1.0):
        raise ValueError(f"size_update_rate must be null or a number in (0, 1] (null = off), got {value!r}")
    return None if value is None else float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


def check_lost_patience(value: Any) -> int:
    """``lost_patience`` (card value or ``Tracker`` argument) as an int; ValueError if it is not one >= 0."""
    if not _is_count(value):
        raise ValueError(f"lost_patience must be a whole number of frames >= 0, got {value!r}")
    return int(value)


def check_reacquire_threshold(value: Any) -> float | None:
    """``reacquire_threshold`` (card value or ``Tracker`` argument) as a float in [0, 1], or None
    (= the lost threshold)."""
    if value is not None and not (_is_number(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"reacquire_threshold must be None/null or a number in [0, 1] (None = lost_threshold), got {value!r}")
    return None if value is None else float(value)


def check_lost_relative(value: Any) -> float:
    """``lost_relative`` (card value or ``Tracker`` argument) as a float in [0, 1) (0 = off)."""
    if not (_is_number(value) and 0.0 <= value < 1.0):
        raise ValueError(f"lost_relative must be a number in [0, 1) (0 = off), got {value!r}")
    return float(value)


def check_redetect_tiles(value: Any) -> int:
    """``redetect_tiles`` (card value or ``Tracker`` argument) as an int >= 0 (0 = no frame scan
    while re-detecting)."""
    if not _is_count(value):
        raise ValueError(f"redetect_tiles must be a whole number of crops >= 0 (0 = off), got {value!r}")
    return int(value)


def check_card(card: ModelCard) -> None:
    """Fields the runtime needs beyond what ``ModelCard.from_dict`` checks."""
    check_inference(card.inference, card.name)
    for role in ("template", "search"):
        if role not in card.input:
            raise ModelFileError(f"model card {card.name!r} is malformed: input lacks {role!r}")
    for key in MAPS:
        if key not in card.outputs:
            raise ModelFileError(f"model card {card.name!r} is malformed: outputs lack {key!r}")
    for v in card.variants:
        if v.batch not in (1, "dynamic"):
            raise ModelFileError(f"model card {card.name!r}: variant {v.name!r} has batch {v.batch!r}; use 1 or \"dynamic\"")
    if card.feature_size <= 0 or card.search.size % card.feature_size:
        raise ModelFileError(f"model card {card.name!r}: feature_size {card.feature_size} does not divide search size")
    if card.input.get("channel_order", "BGR") != "BGR" or not card.normalization.get("in_graph", False):
        raise ModelFileError(
            f"model card {card.name!r}: this runtime feeds raw BGR 0..255 pixels and needs the "
            "normalization inside the graph (input.channel_order 'BGR', normalization.in_graph true)"
        )


def load_model(
    model: str | os.PathLike | ModelCard | None = None,
    backend: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    spin_wait: bool = False,
    variant: str | None = None,
    batched: bool = False,
) -> LoadedModel:
    """Load and compile one variant of a model; pass the result to several ``Tracker`` objects to
    share the compiled network. See the module docstring for the ``auto`` rules. ``batched``: only
    a variant that runs several targets per call (what :class:`~sstrack_edge.MultiTracker` needs)."""
    return _load(model, backend, precision, threads, spin_wait, variant, stacklevel=3, batched=batched)


def _load(model, backend, precision, threads, spin_wait, variant, stacklevel: int, batched: bool = False) -> LoadedModel:
    card = load_card(model)
    check_card(card)
    if not card.trained:
        warnings.warn(
            f"model {card.name!r} is untrained (trained: false in its card): random weights, boxes are "
            "meaningless; use it only to test plumbing or speed",
            UntrainedModelWarning,
            stacklevel=stacklevel,  # point at the caller's line, not at this module
        )
    if threads is None:
        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    chosen = select_variant(card, backend, precision, variant, batched=batched)
    bf16 = normalize_precision(precision) == "bf16"
    if bf16 and not (chosen.backend == "openvino" and chosen.precision == "fp32"):
        raise ValueError(f"precision 'bf16' applies to an OpenVINO FP32 variant, not {chosen.name!r}")
    card.verify(chosen)
    if chosen.backend == "onnxruntime":
        compiled = _compile_onnxruntime(card, chosen, int(threads), bool(spin_wait))
    elif chosen.backend == "openvino":
        compiled, source, config = _compile_openvino(card, chosen, int(threads), bf16)
        return LoadedModel(card=card, variant=chosen, threads=int(threads), spin_wait=bool(spin_wait),
                           compiled=compiled, precision_hint="bf16" if bf16 else "f32", ov_source=source,
                           ov_config=config)
    else:
        raise ModelFileError(f"variant {chosen.name!r} names unknown backend {chosen.backend!r}")
    return LoadedModel(card=card, variant=chosen, threads=int(threads), spin_wait=bool(spin_wait), compiled=compiled)
