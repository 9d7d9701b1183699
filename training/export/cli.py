"""``sstrack-export``: checkpoint (or a random network) -> model directory with card and INT8 variants.

    sstrack-export (--checkpoint CKPT | --random) [--config CFG.yaml] [--arch key=value ...] --out DIR
                   [--quantize int8-dynamic,int8-static,openvino-int8] [--calib-root ../shared/data/sot/train_videos]
                   [--calib-sequences A,B] [--calib-pairs N] [--compare-pairs N] [--exclude VARIANT=ITEMS]
                   [--inference key=value ...] --name NAME

``--checkpoint`` takes this project's training checkpoint (``model_config`` + ``model``, written by
``sstrack-train``) or an official OSTrack/SSTrack file (``net``/``model`` with ``backbone.*`` and
``box_head.*``; give ``--arch num_heads=N``, heads are not in the weights). ``--config`` is a YAML
with ModelConfig fields, either top-level or under ``model:`` (a training config works).
``--random`` exports an untrained network (``trained: false``): for speed and plumbing only.
``--inference`` sets the card's tracker defaults (``size_update_rate=0.3``, ``max_search_factor=6``);
other keys keep ``training.export.package.INFERENCE_DEFAULTS``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from sstrack_edge.model_card import sha256_file

DEFAULT_CALIB_ROOT = "../shared/data/sot/train_videos"


def parse_arch(items: list[str]) -> dict[str, Any]:
    """``key=value`` items, values parsed as YAML (``depth=4``, ``ce_loc=[3,6,9]``, ``qkv_bias=false``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--arch {item!r} must look like key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def parse_inference(items: list[str]) -> dict[str, Any]:
    """``--inference key=value`` items (YAML values), only keys the runtime knows."""
    import yaml

    from sstrack_edge.backends import check_inference

    from .package import INFERENCE_DEFAULTS, INFERENCE_OPTIONAL

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--inference {item!r} must look like key=value")
        k, v = (x.strip() for x in item.split("=", 1))
        if k not in INFERENCE_DEFAULTS and k not in INFERENCE_OPTIONAL:
            raise ValueError(f"--inference {k!r} is not a card inference key "
                             f"({sorted([*INFERENCE_DEFAULTS, *INFERENCE_OPTIONAL])})")
        out[k] = yaml.safe_load(v)
    check_inference({**INFERENCE_DEFAULTS, **out}, "--inference")  # fail before the slow export
    return out


def parse_exclude(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--exclude {item!r} must look like VARIANT=item[,item]")
        name, rest = item.split("=", 1)
        out[name.strip()] = [x.strip() for x in rest.split(",") if x.strip()]
    return out


def read_config(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    d = yaml.safe_load(path.read_text()) or {}
    if not isinstance(d, dict):
        raise ValueError(f"config {path} must be a YAML mapping")
    d = d.get("model", d)
    if not isinstance(d, dict):
        raise ValueError(f"config {path}: 'model' must be a mapping of ModelConfig fields")
    return dict(d)


def training_summary(info: dict[str, Any]) -> dict[str, Any]:
    """How an ``sstrack-train`` checkpoint was trained (for the card), from ``load_tracker``'s info;
    {} for other checkpoints."""
    train = info.get("train")
    if not train:
        return {}
    cfg = train["config"]
    data, sched = cfg.get("data", {}), cfg.get("schedule", {})
    epochs = int(info.get("epoch") or 0)
    per_epoch = int(data.get("samples_per_epoch", 0))
    last = train["metrics"]
    out = {
        "config": cfg.get("name"), "epochs": epochs, "samples_per_epoch": per_epoch,
        "pairs_seen": epochs * per_epoch * train["world_size"],
        "datasets": [{k: d[k] for k in ("kind", "root", "weight", "options") if d.get(k)}
                     for d in data.get("datasets", [])],
        "sampler": sched.get("sampler"), "gradient_scaling": sched.get("gradient_scaling"),
        "final_train_mean_iou": round(float(last["mean_iou"]), 4) if "mean_iou" in last else None,
        "optim": cfg.get("optim"),
        "initialisation": (cfg.get("pretrained") or {}).get("path"),  # None: trained from scratch
    }
    parent = _parent_training(out["initialisation"])
    if parent:  # started from another sstrack-train checkpoint: how that one was trained, and so on
        out["initialisation_training"] = parent
    val = cfg.get("validation")
    if val:  # the checkpoint was chosen (or could be) by its score on held-out sequences
        out["epochs_planned"] = cfg.get("epochs")
        out["validation"] = {"root": val.get("root"), "sequences": val.get("sequences"),
                             "auc": round(float(last["val_auc"]), 2) if "val_auc" in last else None,
                             "best": train.get("best")}
    return out


def _parent_training(path: str | None) -> dict[str, Any]:
    """:func:`training_summary` of the checkpoint a run started from, when it is a readable
    ``sstrack-train`` checkpoint ({} otherwise: an ONNX file, a foreign checkpoint, a missing file)."""
    if not path or not str(path).endswith(".pt") or not Path(path).is_file():
        return {}
    from training.models.checkpoints import read_checkpoint

    obj = read_checkpoint(path)
    if not isinstance(obj.get("config"), dict):
        return {}
    train = {"config": obj["config"], "metrics": dict(obj.get("metrics") or {}),
             "world_size": int(obj.get("world_size", 1)), "best": obj.get("best")}
    return training_summary({"train": train, "epoch": obj.get("epoch")})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sstrack-export", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="training checkpoint or official OSTrack/SSTrack .pth")
    src.add_argument("--random", action="store_true", help="export a randomly initialised, UNTRAINED network")
    p.add_argument("--config", type=Path, help="YAML with ModelConfig fields (top level or under 'model:')")
    p.add_argument("--arch", nargs="*", default=[], metavar="KEY=VALUE", help="ModelConfig overrides")
    p.add_argument("--out", type=Path, required=True, help="output model directory")
    p.add_argument("--name", required=True, help="model name written into the card")
    p.add_argument("--licences", default=None,
                   help="licences of the initialisation and the training data, written into the card "
                        "(source_checkpoint.licences)")
    p.add_argument("--quantize", default="", help="comma list of int8-dynamic,int8-static,openvino-int8")
    p.add_argument("--calib-root", type=Path, default=None,
                   help="training clips for calibration: <seq>.mp4 + <seq>.txt, or <seq>/img + groundtruth.txt "
                        f"(layout detected; default {DEFAULT_CALIB_ROOT})")
    p.add_argument("--calib-sequences", default=None,
                   help="comma list: calibrate and compare on these clips of --calib-root only (default: all)")
    p.add_argument("--calib-pairs", type=int, default=64, help="calibration crop pairs (default 64)")
    p.add_argument("--compare-pairs", type=int, default=32,
                   help="held-out crop pairs (other seed) for the FP32 comparison (default 32; 0 = skip, kept=false)")
    p.add_argument("--exclude", action="append", default=[], metavar="VARIANT=ITEM[,ITEM]",
                   help="nodes kept in float for a variant: groups patch_embed, head, head_out, attention or "
                        "node-name regexes (default patch_embed,head_out for int8-static and openvino-int8); "
                        "VARIANT= with nothing after it quantizes everything allowed")
    p.add_argument("--inference", nargs="*", default=[], metavar="KEY=VALUE",
                   help="card inference defaults for the runtime Tracker, e.g. size_update_rate=0.3")
    p.add_argument("--threads", type=int, default=1, help="threads for the latency comparison (default 1)")
    p.add_argument("--no-openvino", action="store_true", help="skip the OpenVINO FP32 IR")
    p.add_argument("--seed", type=int, default=0, help="seed for --random weights and crop jitter")
    return p


def main(argv: list[str] | None = None) -> int:
    from ..extras import require_train_extra

    missing = require_train_extra("sstrack-export")
    if missing is not None:
        return missing
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"sstrack-export: error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    import torch

    from ..models.checkpoints import load_tracker
    from ..models.ostrack import ModelConfig, build_model
    from .package import export_model

    names = [n.strip() for n in args.quantize.split(",") if n.strip()]
    exclude = parse_exclude(args.exclude)
    inference = parse_inference(args.inference)
    stray = sorted(set(exclude) - set(names))
    if stray:
        raise ValueError(f"--exclude names variant(s) {stray} that --quantize does not build ({names})")
    base = read_config(args.config) if args.config else {}
    over = parse_arch(args.arch)
    metrics: dict[str, Any] = {}
    if args.random:
        torch.manual_seed(args.seed)
        model = build_model(ModelConfig.from_dict({**base, **over})).eval()
        trained = False
        source = {"path": None, "sha256": None, "trained": False,
                  "notes": f"randomly initialised (seed {args.seed}): UNTRAINED, for speed/plumbing only"}
        bar = "!" * 78
        print(f"{bar}\n!! sstrack-export --random: this network is UNTRAINED (random weights). Its boxes are\n"
              f"!! meaningless; the card says trained: false. Use it for speed or plumbing tests only.\n{bar}",
              file=sys.stderr)
    else:
        ckpt = args.checkpoint
        model, info = load_tracker(ckpt, base or None, over)
        trained = True
        source = {"path": str(ckpt), "sha256": sha256_file(ckpt), "trained": True,
                  "notes": f"config {info['config_source']}; epoch {info.get('epoch')}; load {info['report']}"}
        metrics["training"] = training_summary(info)
    if args.licences:
        source["licences"] = args.licences
    cfg = model.cfg
    calib = compare = None
    if names:
        from .calibration import CalibrationSet

        root = args.calib_root
        if root is None:
            root = Path(DEFAULT_CALIB_ROOT)
        needs_calib = any(n != "int8-dynamic" for n in names)
        if needs_calib or args.compare_pairs > 0:
            if not root.is_dir():
                raise FileNotFoundError(f"--calib-root {root} not found (needed for {names}); pass --calib-root")
        seqs = [n.strip() for n in args.calib_sequences.split(",") if n.strip()] if args.calib_sequences else None
        if needs_calib:
            calib = CalibrationSet.from_config(root, cfg, num_pairs=args.calib_pairs, seed=args.seed, sequences=seqs)
        compare = []  # --compare-pairs 0: not compared, INT8 variants stay kept=false
        if args.compare_pairs > 0:
            compare = CalibrationSet.from_config(root, cfg, num_pairs=args.compare_pairs, seed=args.seed + 1,
                                                 sequences=seqs)
    card = export_model(
        model, args.out, name=args.name, trained=trained, source_checkpoint=source,
        openvino=not args.no_openvino, quantize=names, calibration=calib, compare_pairs=compare,
        compare_threads=args.threads, exclude=exclude or None, metrics=metrics, inference=inference,
    )
    print(f"wrote {args.out} ({card.name}, trained={card.trained}, {cfg.depth} blocks x {cfg.embed_dim}, "
          f"{card.architecture['macs'] / 1e9:.3f} GMACs)")
    for v in card.variants:
        m = v.metrics
        extra = ""
        if v.precision == "int8" and "speedup" in m:
            extra = (f" score_corr={m['score_corr']} argmax_agree={m['argmax_agree']} box_iou={m['box_iou']} "
                     f"{m['latency_ms']} ms vs fp32 {m['fp32_latency_ms']} ms (x{m['speedup']})")
        print(f"  {v.name:14s} {v.backend:12s} {v.precision:5s} kept={v.kept}{extra}")
    if not trained:
        print("!! UNTRAINED model exported (trained: false)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
