"""Success and precision plots (matplotlib PNG), one figure per mode with every tracker."""

from __future__ import annotations

import os
from pathlib import Path

from .evaluate import ModeResult
from .metrics import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS


def save_plots(results: list[ModeResult], out_dir: str | os.PathLike) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for mode in dict.fromkeys(r.mode for r in results):
        rs = [r for r in results if r.mode == mode]
        for kind in ("success", "precision"):
            fig, ax = plt.subplots(figsize=(5.5, 4.5))
            order = sorted(rs, key=lambda r: -(r.summary.auc if kind == "success" else r.summary.precision20))
            for r in order:
                if kind == "success":
                    ax.plot(SUCCESS_THRESHOLDS, r.summary.success_curve, label=f"{r.tracker} [{r.summary.auc:.3f}]")
                else:
                    ax.plot(PRECISION_THRESHOLDS, r.summary.precision_curve,
                            label=f"{r.tracker} [{r.summary.precision20:.3f}]")
            if kind == "success":
                ax.set(xlabel="Overlap threshold", ylabel="Success rate", xlim=(0, 1))
            else:
                ax.set(xlabel="Location error threshold (px)", ylabel="Precision", xlim=(0, 50))
            ax.set_ylim(0, 1)
            ax.set_title(f"{kind.capitalize()} plots of OPE ({mode})")
            ax.grid(alpha=0.3)
            ax.legend(loc="lower left" if kind == "success" else "lower right", fontsize=8)
            path = out_dir / f"{kind}_{mode}.png"
            fig.tight_layout()
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    return written
