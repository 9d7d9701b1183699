"""Evaluate a training checkpoint with the torch model (no export needed): OPE on a sot folder.

Tracking loop as OSTrack's inference (RECIPE 2.7), built on :mod:`sstrack_edge.geometry`:
template cropped once at ``template_factor`` around the init box (never updated); every later
frame is cropped at ``search_factor`` around the previous predicted box; the score map is
multiplied by the Hann window to pick the cell; size and offset come from the unwindowed maps;
the box is mapped back to the frame and clipped with ``clip_box(margin=10)``. With
``size_update_rate`` (the runtime card's ``inference.size_update_rate``; off by default, as in
OSTrack and in training validation) the size is smoothed as the runtime ``Tracker`` does
(:func:`sstrack_edge.geometry.smooth_size`, rate x raw score of the chosen cell).

Scores: :mod:`sstrack_edge.evaluation.metrics` (success AUC over 21 thresholds, precision at
20 px; frame 0 and frames with an absent/NaN target excluded; sequences weighted equally).

Usage::

    python -m training.evaluate CHECKPOINT [CHECKPOINT ...] [--data ../shared/data/sot/eval] [--json OUT.json]

Several checkpoints are evaluated as one seed ensemble (the mean of their output maps,
:class:`training.models.ensemble.TrackerEnsemble`), the network ``sstrack-export`` writes for them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sstrack_edge.backends import check_size_update_rate
from sstrack_edge.evaluation.datasets import load_dataset
from sstrack_edge.evaluation.metrics import score_sequence, summarize
from sstrack_edge.evaluation.temporal import parent_name, temporal_segments
from sstrack_edge.evaluation.tracking_runs import run_offline
from sstrack_edge.paths import shared_root
from sstrack_edge.geometry import clip_box, crop_side, crop_square, crop_to_image, hann2d, smooth_size
from training.checkpoint import CheckpointError, load_checkpoint
from training.models.ensemble import TrackerEnsemble
from training.models.ostrack import ModelConfig, build_model


class TorchTracker:
    """Single-object tracker around an ``OSTrack`` torch module (batch 1, CPU or GPU)."""

    def __init__(self, model: torch.nn.Module, cfg: ModelConfig, clip_margin: float = 10.0,
                 epoch: int | None = None, size_update_rate: float | None = None):
        self.model = model.eval()
        self.epoch = epoch  # epochs the checkpoint had completed (None: unknown)
        self.cfg = cfg
        self.device = next(model.parameters()).device
        self.window = torch.from_numpy(hann2d(cfg.feature_size)).to(self.device)
        self.margin = clip_margin
        self.size_update_rate = size_update_rate
        self.template: torch.Tensor | None = None
        self.box: np.ndarray | None = None

    @staticmethod
    def _to_tensor(crop: np.ndarray, device) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float()[None].to(device)

    def init(self, frame: np.ndarray, box_xywh) -> None:
        box = np.asarray(box_xywh, dtype=np.float64)
        side = crop_side(box, self.cfg.template_factor)
        if side < 1:
            raise ValueError(f"init box {box.tolist()} is empty")
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        self.template = self._to_tensor(crop_square(frame, cx, cy, side, self.cfg.template_size), self.device)
        self.box = box

    @torch.no_grad()
    def predict(self, frame: np.ndarray, cx: float, cy: float, side: float) -> tuple[np.ndarray, float, float]:
        """Run the network on the search crop of ``side`` pixels centred at (cx, cy).

        Returns the decoded image box ``(x, y, w, h)`` (not clipped, not smoothed), the raw score of
        the chosen cell and the maximum of the Hann-windowed score map. The tracker state is unchanged.
        """
        if self.template is None:
            raise RuntimeError("call init() before update()")
        search = self._to_tensor(crop_square(frame, cx, cy, side, self.cfg.search_size), self.device)
        out = self.model(self.template, search)
        raw = out["score_map"][0, 0]
        score = raw * self.window
        f = self.cfg.feature_size
        iy, ix = divmod(int(torch.argmax(score)), f)
        dx, dy = out["offset_map"][0, :, iy, ix].tolist()
        w, h = out["size_map"][0, :, iy, ix].tolist()
        box = crop_to_image(((ix + dx) / f, (iy + dy) / f, w, h), cx, cy, side)
        return box, float(raw[iy, ix]), float(score.max())

    def update(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        if self.template is None:
            raise RuntimeError("call init() before update()")
        b = self.box
        side = max(crop_side(b, self.cfg.search_factor), 1)
        box, raw, score = self.predict(frame, b[0] + b[2] / 2, b[1] + b[3] / 2, side)
        if self.size_update_rate is not None:
            box = smooth_size(b, box, self.size_update_rate * raw)
        hgt, wid = frame.shape[:2]
        self.box = clip_box(box, wid, hgt, margin=self.margin)
        return self.box.copy(), score


def _load_network(checkpoint: str | Path, device: str) -> tuple[torch.nn.Module, int | None]:
    ckpt = load_checkpoint(checkpoint, map_location=device)
    cfg = ModelConfig.from_dict(ckpt["model_config"])
    model = build_model(cfg.for_full_state_dict())  # the state dict fills the stem too
    model.load_state_dict(ckpt["model"])
    return model, ckpt.get("epoch")


def load_tracker(checkpoint: str | Path | list, device: str = "cpu",
                 size_update_rate: float | None = None) -> TorchTracker:
    """Tracker on one checkpoint, or on the seed ensemble of a list of checkpoints (its ``epoch``:
    the members' epochs as a list)."""
    if isinstance(checkpoint, (list, tuple)):
        if len(checkpoint) == 1:
            return load_tracker(checkpoint[0], device, size_update_rate)
        loaded = [_load_network(c, device) for c in checkpoint]
        model, epoch = TrackerEnsemble([m for m, _ in loaded]), [e for _, e in loaded]
    else:
        model, epoch = _load_network(checkpoint, device)
    return TorchTracker(model.to(device), model.cfg, epoch=epoch, size_update_rate=size_update_rate)


def track_sequence(tracker: TorchTracker, seq) -> np.ndarray:
    pred = np.zeros((len(seq), 4))
    pred[0] = seq.init_box
    tracker.init(seq.read_frame(0), seq.init_box)
    for i in range(1, len(seq)):
        pred[i], _ = tracker.update(seq.read_frame(i))
    return pred


def evaluate_tracker(tracker, seqs: list, starts: int = 1) -> dict:
    """OPE (``starts=1``) or TRE (``starts`` segments per sequence, equal weight;
    :mod:`sstrack_edge.evaluation.temporal`) of ``tracker`` on ``seqs``: mean AUC / P@20 / OP50 (in %)
    and a per-sequence table (TRE: per sequence, the mean over its segments).

    ``tracker``: the runtime :class:`sstrack_edge.Tracker` (e.g. :func:`training.torch_runner.torch_tracker`;
    a frame it reports lost scores as a failure, as in ``sstrack-edge eval``) or a :class:`TorchTracker`."""
    per_seq = {}
    scores = []
    frames = 0
    t0 = time.perf_counter()
    for seq in temporal_segments(seqs, starts):
        pred = track_sequence(tracker, seq) if isinstance(tracker, TorchTracker) else run_offline(tracker, seq).boxes
        s = score_sequence(pred, seq.ground_truth, seq.present())
        scores.append(s)
        frames += len(seq)
        row = per_seq.setdefault(parent_name(seq), {"auc": [], "precision20": [], "frames": 0})
        row["auc"].append(100 * s.auc)
        row["precision20"].append(100 * s.precision20)
        row["frames"] += len(seq)
    for row in per_seq.values():
        row["segments"] = len(row["auc"])
        row["auc"], row["precision20"] = float(np.mean(row["auc"])), float(np.mean(row["precision20"]))
    summary = summarize(scores)
    return {
        "sequences": summary.sequences,  # scored segments (OPE: sequences)
        "starts": starts,
        "auc": 100 * summary.auc,
        "precision20": 100 * summary.precision20,
        "op50": 100 * summary.op50,
        "frames": frames,
        "seconds": time.perf_counter() - t0,
        "per_sequence": per_seq,
    }


def evaluate_checkpoint(checkpoint: str | Path | list, data_root: str | Path, device: str = "cpu",
                        sequences: list[str] | None = None, size_update_rate: float | None = None,
                        starts: int = 1, fmt: str = "auto") -> dict:
    """OPE (or TRE with ``starts`` > 1) of ``checkpoint`` (or of the ensemble of a list of them) on
    every sequence of ``data_root`` (or only ``sequences``); ``fmt`` its layout (``auto``: ``videos``
    when it holds video files, else ``sot``; :func:`sstrack_edge.evaluation.datasets.detect_format`)."""
    seqs = load_dataset(data_root, fmt, sequences)
    tracker = load_tracker(checkpoint, device, size_update_rate=size_update_rate)
    res = evaluate_tracker(tracker, seqs, starts=starts)
    name = [str(c) for c in checkpoint] if isinstance(checkpoint, (list, tuple)) else str(checkpoint)
    return {"checkpoint": name, "epoch": tracker.epoch, "data": str(Path(data_root)),
            "size_update_rate": size_update_rate, **res}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description="OPE of a training checkpoint")
    p.add_argument("checkpoint", nargs="+",
                   help="training checkpoint (.pt) or run directory (uses last.pt); several: their seed ensemble")
    p.add_argument("--data", default=str(shared_root() / "data" / "sot" / "eval"))
    p.add_argument("--format", default="auto", choices=["auto", "sot", "videos"],
                   help="layout of --data (default auto: videos when it holds video files, else sot)")
    p.add_argument("--json", default=None, help="write the result as JSON here")
    p.add_argument("--sequences", default=None, help="comma list of sequence names (default: all)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--size-update-rate", type=float, default=None,
                   help="smooth the box size as the runtime does with this card value (default: off, as in training)")
    p.add_argument("--starts", type=int, default=1,
                   help="TRE: track each sequence from this many evenly spaced start frames (default: 1 = OPE)")
    p.add_argument("--record", action="store_true",
                   help="append {epoch, auc, precision20} to the run's eval.jsonl (training curve; training.plot)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cks = [Path(c) / "last.pt" if Path(c).is_dir() else Path(c) for c in args.checkpoint]
    ck = cks[0] if len(cks) == 1 else cks
    if args.record and len(cks) > 1:
        p.error("--record appends to one run's eval.jsonl: give one checkpoint")
    try:
        names = [n.strip() for n in args.sequences.split(",")] if args.sequences else None
        check_size_update_rate(args.size_update_rate)
        res = evaluate_checkpoint(ck, args.data, sequences=names, size_update_rate=args.size_update_rate,
                                  starts=args.starts, fmt=args.format)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"evaluate: {e}", file=sys.stderr)
        return 2
    for name, s in res["per_sequence"].items():
        seg = f", {s['segments']} segments" if s["segments"] > 1 else ""
        print(f"{name:14s} AUC {s['auc']:5.1f}  P@20 {s['precision20']:5.1f}  ({s['frames']} frames{seg})")
    unit = "segments" if args.starts > 1 else "sequences"
    print(f"mean over {res['sequences']} {unit}: AUC {res['auc']:.2f}  P@20 {res['precision20']:.2f}  "
          f"({res['frames']} frames, {res['seconds']:.1f}s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    if args.record:
        print(f"recorded in {record_in_run(ck, res)}")
    return 0


def record_in_run(checkpoint: Path, res: dict) -> Path:
    """Append the result to ``eval.jsonl`` of the run that wrote ``checkpoint`` (RUN/last.pt or
    RUN/checkpoints/epoch_N.pt), one line per evaluated epoch."""
    run = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    line = {"epoch": int(res["epoch"]), "auc": round(res["auc"], 2), "precision20": round(res["precision20"], 2),
            "sequences": res["sequences"], "data": res["data"], "checkpoint": checkpoint.name}
    path = run / "eval.jsonl"
    with path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
