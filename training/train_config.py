"""Training configuration: YAML -> dataclasses, with clear errors for bad keys and missing paths.

Top-level sections (see ``training/configs/*.yaml`` and docs/training.md)::

    name, seed, epochs, model{...ModelConfig}, pretrained{path, ...} | null,
    data{datasets[...], samples_per_epoch, num_workers, bins{...}, processing{...}, ...},
    schedule{...ScheduleConfig}, optim{...}, loss{giou, l1, focal, presence}, log{...},
    validation{root, sequences, every} | null

Relative paths (dataset roots, pretrained weights) resolve against the config file's folder
first and then against the repository root; the first that exists wins, and when neither does
the error names both candidates. So ``../shared/data/...`` in ``training/configs/cpu_small.yaml``
means ``<repo>/../shared/data/...``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from sstrack_edge.backends import check_size_update_rate
from sstrack_edge.evaluation.temporal import check_starts
from training.data.negatives import check_negative_prob
from training.sstrack.schedule import ScheduleConfig, config_from_dict as schedule_from_dict

REPO_ROOT = Path(__file__).resolve().parents[1]

DATASET_KINDS = ("lasot", "got10k", "trackingnet", "coco", "stills", "folder", "video")


class ConfigError(ValueError):
    """The training config is missing, unreadable, or has a bad key/value (the message names it)."""


def _from_mapping(cls, d: Any, section: str):
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"config section {section!r} must be a mapping, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    bad = sorted(set(d) - known)
    if bad:
        raise ConfigError(f"unknown key(s) {bad} in config section {section!r}; known: {sorted(known)}")
    try:
        return cls(**d)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad value in config section {section!r}: {e}") from e


@dataclass
class DatasetEntry:
    kind: str
    root: str
    weight: float = 1.0
    options: dict = field(default_factory=dict)  # extra loader kwargs (split_file, sources, ...)

    def __post_init__(self) -> None:
        if self.kind not in DATASET_KINDS:
            raise ValueError(f"dataset kind must be one of {DATASET_KINDS}, got {self.kind!r}")
        if not isinstance(self.weight, (int, float)) or self.weight < 0:
            raise ValueError(f"dataset weight must be a number >= 0, got {self.weight!r}")


@dataclass
class DataConfig:
    datasets: list = field(default_factory=list)  # of DatasetEntry
    samples_per_epoch: int = 60_000
    num_workers: int = 4
    bins: dict = field(default_factory=dict)  # training.data.bins.BinConfig kwargs
    processing: dict = field(default_factory=dict)  # training.data.config.ProcessingConfig keys
    q_random_samples: int = 50_000  # simulated random-sampler draws to estimate q_R
    decode_cache_mb: float = 0.0
    negative_prob: float = 0.0  # fraction of negative pairs (training.data.negatives); 0 = OSTrack/SSTrack
    same_scene_prob: float = 0.0  # still-photo templates: chance of a same-scene negative (training.data.negatives)
    same_clip_prob: float = 0.0  # video templates: chance that a negative comes from the template's own clip

    def __post_init__(self) -> None:
        self.negative_prob = check_negative_prob(self.negative_prob)
        self.same_scene_prob = check_negative_prob(self.same_scene_prob, "data.same_scene_prob")
        self.same_clip_prob = check_negative_prob(self.same_clip_prob, "data.same_clip_prob")
        if self.same_clip_prob > 0 and self.negative_prob == 0:
            raise ValueError("data.same_clip_prob picks the kind of a negative pair: it needs data.negative_prob > 0")
        if not self.datasets:
            raise ValueError("data.datasets is empty: list at least one dataset {kind, root, weight}")
        self.datasets = [
            d if isinstance(d, DatasetEntry) else _from_mapping(DatasetEntry, d, f"data.datasets[{i}]")
            for i, d in enumerate(self.datasets)
        ]
        if int(self.samples_per_epoch) < 1 or int(self.num_workers) < 0 or int(self.q_random_samples) < 1:
            raise ValueError("samples_per_epoch and q_random_samples must be >= 1, num_workers >= 0")


@dataclass
class OptimConfig:
    lr: float = 4e-4
    backbone_lr_scale: float = 0.1
    backbone_keys: list = field(default_factory=lambda: ["backbone"])  # substrings of param names
    # non-empty: train only the parameters whose name contains one of these substrings; the rest are
    # frozen, and modules with no trainable parameter run in eval mode (BatchNorm statistics, drop
    # path), so their outputs stay exactly as loaded (e.g. ["_presence."]: docs/presence.md)
    trainable_keys: list = field(default_factory=list)
    weight_decay: float = 1e-4
    lr_drop_fraction: float = 0.8  # StepLR step = round(fraction * epochs)
    lr_gamma: float = 0.1
    grad_clip: float = 0.1  # 0 disables
    batch_size: int = 32  # per process
    amp: str = "none"  # "none", "bf16", "fp16" (CUDA only; ignored with a warning on CPU)

    def __post_init__(self) -> None:
        if self.amp not in ("none", "bf16", "fp16"):
            raise ValueError(f"optim.amp must be 'none', 'bf16' or 'fp16', got {self.amp!r}")
        if not self.lr > 0 or self.batch_size < 1:
            raise ValueError(f"optim.lr must be > 0 and batch_size >= 1, got {self.lr}, {self.batch_size}")
        if not 0 < self.lr_drop_fraction <= 1:
            raise ValueError(f"optim.lr_drop_fraction must be in (0, 1], got {self.lr_drop_fraction}")
        self.lr, self.weight_decay = float(self.lr), float(self.weight_decay)
        for name in ("backbone_keys", "trainable_keys"):
            keys = getattr(self, name)
            if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
                raise ValueError(f"optim.{name} must be a list of non-empty name substrings, got {keys!r}")


@dataclass
class LossConfig:
    giou: float = 2.0
    l1: float = 5.0
    focal: float = 1.0
    presence: float = 1.0  # focal loss on the presence map (model.presence_head only)


@dataclass
class LogConfig:
    tensorboard: bool = True
    progress: bool = True  # tqdm bar on rank 0
    checkpoint_every: int = 1  # epochs; the last epoch is always saved
    keep_checkpoints: int = 2  # numbered epoch files kept besides last.pt (0 keeps all)


@dataclass
class PretrainedConfig:
    path: str
    kind: str = "auto"  # passed to training.models.checkpoints (e.g. "dmae")
    min_loaded_fraction: float = 0.9


@dataclass
class ValidationConfig:
    """Sequences tracked after training epochs to pick the checkpoint (``best.pt``): OPE (or TRE
    with ``starts`` > 1) with the runtime ``Tracker`` on the torch network (training.torch_runner:
    the loop that ships, with the card's lost logic; ``inference`` overrides the exporter's card
    defaults, ``size_update_rate`` is one of them), success AUC. The sequences must not be training
    data: when ``root`` is also a ``folder`` / ``video`` dataset, list them in its ``options.exclude``."""

    root: str
    sequences: list | None = None  # names under root (None: every sequence there)
    format: str = "auto"  # sstrack_edge.evaluation.datasets format of root (auto: videos when it holds videos)
    every: int = 1  # epochs between validations (the last epoch is always validated)
    starts: int = 1  # TRE start frames per sequence (1: OPE; sstrack_edge.evaluation.temporal)
    size_update_rate: float | None = None  # smooth the box size as the runtime card does (None: off)
    inference: dict = field(default_factory=dict)  # card inference settings for the runtime Tracker

    def __post_init__(self) -> None:
        check_starts(self.starts)
        check_size_update_rate(self.size_update_rate)
        if not isinstance(self.inference, dict):
            raise ValueError(f"validation.inference must be a mapping of card inference settings, got {self.inference!r}")
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"validation.every must be a positive int, got {self.every!r}")
        if self.sequences is not None and (
            not isinstance(self.sequences, list) or not self.sequences
            or not all(isinstance(n, str) for n in self.sequences)
        ):
            raise ValueError(f"validation.sequences must be a non-empty list of names, got {self.sequences!r}")


@dataclass
class TrainConfig:
    name: str
    epochs: int
    model: dict
    data: DataConfig
    seed: int = 0
    pretrained: PretrainedConfig | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    log: LogConfig = field(default_factory=LogConfig)
    validation: ValidationConfig | None = None
    source: str | None = None  # path of the YAML file it was read from

    def to_dict(self) -> dict:
        return asdict(self)


SECTIONS = {
    "data": DataConfig,
    "optim": OptimConfig,
    "loss": LossConfig,
    "log": LogConfig,
}


def resolve_path(path: str | os.PathLike, config_dir: Path | None) -> Path:
    """Resolve a config path (see the module docstring)."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p
    candidates = ([config_dir / p] if config_dir else []) + [REPO_ROOT / p]
    for c in candidates:
        if c.exists():
            return c.resolve()
    raise ConfigError(f"path {str(path)!r} not found; tried {[str(c) for c in candidates]}")


def config_from_dict(d: dict, config_dir: Path | None = None, resolve_paths: bool = True) -> TrainConfig:
    if not isinstance(d, dict):
        raise ConfigError(f"training config must be a mapping, got {type(d).__name__}")
    known = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(d) - known)
    if bad:
        raise ConfigError(f"unknown top-level config key(s) {bad}; known: {sorted(known)}")
    for req in ("name", "epochs", "model", "data"):
        if req not in d:
            raise ConfigError(f"training config lacks the required key {req!r}")
    kw = {k: v for k, v in d.items() if k not in SECTIONS and k not in ("schedule", "pretrained", "validation")}
    for key, cls in SECTIONS.items():
        if key in d:
            kw[key] = _from_mapping(cls, d[key], key)
    try:
        kw["schedule"] = schedule_from_dict(d.get("schedule"))
    except ValueError as e:
        raise ConfigError(f"bad config section 'schedule': {e}") from e
    if d.get("pretrained") is not None:
        kw["pretrained"] = _from_mapping(PretrainedConfig, d["pretrained"], "pretrained")
    if d.get("validation") is not None:
        kw["validation"] = _from_mapping(ValidationConfig, d["validation"], "validation")
    if not isinstance(kw["model"], dict):
        raise ConfigError("config section 'model' must be a mapping of ModelConfig fields")
    if not isinstance(kw["epochs"], int) or kw["epochs"] < 1:
        raise ConfigError(f"epochs must be a positive int, got {kw['epochs']!r}")
    cfg = TrainConfig(**kw)
    if resolve_paths:
        for ds in cfg.data.datasets:
            ds.root = str(resolve_path(ds.root, config_dir))
        if cfg.pretrained is not None:
            cfg.pretrained.path = str(resolve_path(cfg.pretrained.path, config_dir))
        if cfg.validation is not None:
            cfg.validation.root = str(resolve_path(cfg.validation.root, config_dir))
            if not Path(cfg.validation.root).is_dir():
                raise ConfigError(f"validation.root folder not found: {cfg.validation.root}")
            check_validation_held_out(cfg)
    return cfg


def check_validation_held_out(cfg: TrainConfig) -> None:
    """Refuse a validation set that is also training data (a ``folder`` / ``video`` dataset on the same root
    that does not exclude the validation sequences): its score would not measure generalization."""
    val = cfg.validation
    root = Path(val.root).resolve()
    for i, ds in enumerate(cfg.data.datasets):
        if ds.kind not in ("folder", "video") or Path(ds.root).resolve() != root:
            continue
        if val.sequences is None:
            raise ConfigError(f"validation.root {val.root} is data.datasets[{i}] itself: name the held-out "
                              "validation.sequences and list them in that dataset's options.exclude")
        excluded = set(ds.options.get("exclude") or [])
        names = ds.options.get("names")
        trained_on = set(val.sequences) if names is None else set(val.sequences) & set(names)
        overlap = sorted(trained_on - excluded)
        if overlap:
            raise ConfigError(f"validation sequences {overlap} are also training data (data.datasets[{i}]); "
                              "add them to its options.exclude")


def load_config(path: str | os.PathLike, overrides: dict | None = None, resolve_paths: bool = True) -> TrainConfig:
    """Read a YAML training config. ``overrides``: nested mapping merged over the file's values."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training config file not found: {path}")
    try:
        d = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"training config {path} is not valid YAML: {e}") from e
    if overrides:
        d = merge(d or {}, overrides)
    cfg = config_from_dict(d, config_dir=path.resolve().parent, resolve_paths=resolve_paths)
    cfg.source = str(path)
    return cfg


def merge(base: dict, over: dict) -> dict:
    """Recursive dict merge (``over`` wins); lists are replaced, not merged."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(text: str) -> dict:
    """``a.b.c=value`` (value parsed as YAML) -> ``{"a": {"b": {"c": value}}}``."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, value = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {text!r} has an empty key")
    out: dict = {}
    cur = out
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = yaml.safe_load(value)
    return out
