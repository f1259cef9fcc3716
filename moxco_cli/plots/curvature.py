"""Figure of the curvature study: each variant against the exact Hessian scored every step.
Matplotlib only."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from moxco_cli.plots.run import style  # noqa: E402


def study_figure(table, title: str):
    lands = list(dict.fromkeys(table.landscape))
    methods = list(dict.fromkeys(table.method))
    variants = list(dict.fromkeys(table.variant))
    fig, axes = plt.subplots(3, len(lands), figsize=(6.4 * len(lands), 10.5), squeeze=False,
                             layout="constrained")
    x = np.arange(len(variants))
    width = 0.8 / len(methods)
    rows = [("committed_fraction", "committed_ci_low", "committed_ci_high",
             "fraction of runs that committed\n(95% Wilson interval)", False),
            ("success", "success_ci_low", "success_ci_high",
             "success: ended at a global minimum\n(95% Wilson interval)", False),
            ("median_final_gap", "final_gap_q25", "final_gap_q75",
             "final f - f*: median and IQR\n(log scale; diverged = +inf)", True)]
    for j, land in enumerate(lands):
        for i, (col, lo, hi, label, log) in enumerate(rows):
            ax = axes[i, j]
            for k, method in enumerate(methods):
                part = table[(table.landscape == land) & (table.method == method)].set_index(
                    "variant").loc[variants]
                st = style(method, methods)
                value = part[col].to_numpy(dtype=float)
                low, high = part[lo].to_numpy(dtype=float), part[hi].to_numpy(dtype=float)
                shown = np.where(np.isfinite(value), value, np.nan)
                err = np.vstack([shown - np.where(np.isfinite(low), low, np.nan),
                                 np.where(np.isfinite(high), high, np.nan) - shown])
                ax.bar(x + (k - (len(methods) - 1) / 2) * width, shown, width,
                       color=st["color"], alpha=0.75, label=st["label"],
                       yerr=np.where(np.isfinite(err), np.maximum(err, 0), 0), capsize=2)
                exact = part.loc["exact", col]
                if np.isfinite(exact):
                    ax.axhline(exact, color=st["color"], ls=":", lw=1)
            if log:
                ax.set_yscale("log")
            ax.set_xticks(x, variants, rotation=35, ha="right", fontsize=8)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3, axis="y")
            if i == 0:
                ax.set_title(f"{land}" + (f" (d = {int(part.dim.iloc[0])})"
                                          if "dim" in part else ""))
                ax.legend(fontsize=8)
    fig.suptitle(title + "\n(dotted lines: the exact Hessian scored every step)", fontsize=10)
    return fig
