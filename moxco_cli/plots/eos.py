"""Theorem 2 check figure: measured divergence boundary against the formula.

(The package `__init__` selects the Agg backend before this module runs.)
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D


def eos_figure(table, *, lr: float, steps: int, tol: float, max_rel_error: float):
    """Left: critical curvature against beta, one colour per alpha (lines: formula,
    markers: measured). Right: relative discrepancy over the (alpha, beta) grid.

    `table`: the `eos.csv` frame (alpha, beta, a_theory, a_measured, rel_error, ...).
    """
    alphas = np.sort(table["alpha"].unique())
    betas = np.sort(table["beta"].unique())
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.6), layout="constrained",
                                      gridspec_kw=dict(width_ratios=[1.05, 1]))
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(alphas)))
    # one beta alone: the formula around it, so that the point sits on a visible curve
    lo, hi = ((betas.min(), betas.max()) if len(betas) > 1
              else (max(0.0, betas[0] - 0.5), betas[0] + 0.5))
    fine = np.linspace(lo, hi, 300)
    top = 0.0
    for color, alpha in zip(colors, alphas, strict=True):
        rows = table[table["alpha"] == alpha].sort_values("beta")
        formula = 2.0 * (1.0 + alpha) / (lr * (1.0 + 2.0 * fine))
        left.plot(fine, formula, color=color, lw=1.4)
        left.plot(rows["beta"], rows["a_measured"], ls="none", marker="o", ms=7,
                  mfc="none", mec=color, mew=1.6, label=rf"$\alpha$ = {alpha:g}")
        top = max(top, float(np.nanmax(formula)), float(np.nanmax(rows["a_measured"])))
    left.set_ylim(0, 1.3 * top if np.isfinite(top) and top > 0 else None)  # legend room
    left.set(xlabel=r"$\beta$ (gradient-query momentum)",
             ylabel=r"critical curvature $a$ of $f = a x^2/2$",
             title=f"divergence boundary of inertial GD, lr = {lr:g}")
    handles, _ = left.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", lw=1.4,
                       label=r"formula $2(1+\alpha)/(\mathrm{lr}(1+2\beta))$"),
                Line2D([], [], color="0.3", ls="none", marker="o", mfc="none", mew=1.6,
                       label="measured (engine, bisection)")]
    left.legend(handles=handles, fontsize=8, loc="upper right", ncol=2)
    left.grid(alpha=0.3, lw=0.5)

    err = (table.pivot(index="alpha", columns="beta", values="rel_error")
           .reindex(index=alphas, columns=betas).to_numpy())
    shown = np.clip(err, 1e-12, None)
    # whole decades, at least two: over one decade (a single pair near 1e-7, tol 1e-6) the
    # colour bar carried the one label 10^-6 and the cell's value could not be read off it
    lo = 10.0 ** math.floor(math.log10(min(shown.min(), tol / 10)) + 1e-9)
    hi = 10.0 ** math.ceil(math.log10(max(shown.max(), tol)) - 1e-9)
    if hi / lo < 99.0:
        lo /= 10.0
    image = right.imshow(shown, origin="lower", cmap="magma_r", aspect="auto",
                         norm=LogNorm(vmin=lo, vmax=hi))
    for (r, c), v in np.ndenumerate(err):
        dark = np.log(shown[r, c] / lo) / np.log(hi / lo) > 0.45
        right.text(c, r, f"{v:.0e}", ha="center", va="center", fontsize=7,
                   color="white" if dark else "black")
    right.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
    right.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    right.set(xlabel=r"$\beta$", ylabel=r"$\alpha$",
              title=f"relative discrepancy |measured - formula| / formula (tol {tol:g})")
    fig.colorbar(image, ax=right, label="relative discrepancy (log scale)")
    fig.suptitle(rf"Theorem 2 check: {len(table)} ($\alpha$, $\beta$) pairs, "
                 f"{steps} steps per run, max relative discrepancy {max_rel_error:.2e}")
    return fig
