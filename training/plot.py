"""Plots of a training run from its ``log.jsonl``: the sampling distribution q_i over epochs (the
scheduler's easier-to-harder behaviour), p_i, Gamma_i, and loss / mean IoU / tau / d.

Usage::

    python -m training.plot RUN_DIR [--out DIR]      # or: sstrack-train plot RUN_DIR

Writes ``q_over_epochs.png`` and ``training_curves.png`` (into RUN_DIR unless ``--out``); the
curves include eval AUC / P@20 per epoch when the run has an ``eval.jsonl``
(``python -m training.evaluate RUN_DIR/checkpoints/epoch_N.pt --record``), and the validation AUC
when the run validated during training (config section ``validation``; ``best.pt`` marked).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_log(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"training log not found: {path}")
    recs = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i} is not valid JSON: {e}") from e
    if not recs:
        raise ValueError(f"training log {path} has no epochs yet")
    return recs


def read_eval_log(run_dir: Path) -> list[dict]:
    """``eval.jsonl`` lines (``python -m training.evaluate CKPT --record``), one per epoch (the last wins)."""
    path = Path(run_dir) / "eval.jsonl"
    if not path.is_file():
        return []
    by_epoch = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            by_epoch[r["epoch"]] = r
    return [by_epoch[e] for e in sorted(by_epoch)]


def bin_labels(n: int, run_dir: Path) -> list[str]:
    """``image, [0,30), ...`` from the run's config when it has the bin layout, else indices."""
    try:
        from training.data.bins import BinConfig

        cfg = json.loads((run_dir / "config.json").read_text())
        labels = BinConfig(**cfg["data"]["bins"]).labels()
        if len(labels) == n:
            return labels
    except (OSError, KeyError, TypeError, ValueError):
        pass
    return [f"bin {i}" for i in range(n)]


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir
    out.mkdir(parents=True, exist_ok=True)
    recs = read_log(run_dir)
    epochs = [r["epoch"] for r in recs]
    n = len(recs[0]["q"])
    labels = bin_labels(n, run_dir)
    cmap = plt.get_cmap("viridis")

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for name, ax, title in (("q", axes[0], "sampling distribution q_i (used in the epoch)"),
                            ("p", axes[1], "success rate p_i (IoU > tau)"),
                            ("gamma", axes[2], "gradient scale Gamma_i (used in the epoch)")):
        for i in range(n):
            ax.plot(epochs, [r[name][i] for r in recs], color=cmap(i / max(n - 1, 1)), marker=".", label=labels[i])
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if "q_random" in recs[0]:
        for i in range(n):
            axes[0].axhline(recs[0]["q_random"][i], color=cmap(i / max(n - 1, 1)), ls=":", lw=0.8)
    axes[0].legend(fontsize=7, ncol=2, title="bin (interval, frames)", title_fontsize=7)
    fig.tight_layout()
    p1 = out / "q_over_epochs.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)

    evals = read_eval_log(run_dir)
    vals = [r for r in recs if "val_auc" in r]  # validation during training (config section validation)
    scores = bool(evals or vals)
    fig, axes = plt.subplots(1, 4 if scores else 3, figsize=(21 if scores else 16, 4.5))
    for key in ("loss", "giou", "l1", "focal"):
        axes[0].plot(epochs, [r[key] for r in recs], marker=".", label=key)
    axes[0].set_yscale("log")
    axes[0].set_title("training losses (weighted total and terms)")
    for key in ("mean_iou", "tau", "d"):
        axes[1].plot(epochs, [r[key] for r in recs], marker=".", label=key)
    axes[1].set_title("mean IoU, tau, d(e)")
    axes[2].plot(epochs, [r["samples_per_s"] for r in recs], marker=".", label="samples/s")
    axes[2].set_title("throughput")
    if evals:
        for key, label in (("auc", "success AUC"), ("precision20", "precision @20px")):
            axes[3].plot([r["epoch"] for r in evals], [r[key] for r in evals], marker="o", label=f"eval {label}")
    if vals:
        axes[3].plot([r["epoch"] for r in vals], [r["val_auc"] for r in vals], marker="s", ls="--",
                     label=f"validation AUC ({len(vals[-1]['val_per_sequence'])} held-out sequences)")
        best = vals[-1]["best_epoch"]
        axes[3].axvline(best, color="gray", ls=":", lw=1, label=f"best.pt (epoch {best})")
    if scores:
        n = f"eval: {evals[-1]['sequences']} sequences, training.evaluate" if evals else "validation during training"
        axes[3].set_title(f"tracking scores ({n})")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    p2 = out / "training_curves.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.plot", description="plot q_i and losses of a training run")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    try:
        paths = plot_run(args.run_dir, args.out)
    except (FileNotFoundError, ValueError) as e:
        print(f"plot: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
