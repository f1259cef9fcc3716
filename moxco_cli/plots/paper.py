"""The paper's Figures 1 and 3, redrawn from moxco runs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from moxco_cli.plots.run import (
    _marker_legend_handles,
    _view_box,
    draw_contours,
    draw_loss,
    draw_minima,
    draw_paths_2d,
    log_colorbar,
)


def figure1(runs, title: str):
    """Trajectories over Beale's contours (left) and loss curves (right), as in Fig 1."""
    land = runs.landscape
    trajs = runs.single(0)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5.4), layout="constrained",
                                  gridspec_kw=dict(width_ratios=[1.15, 1]))
    box = _view_box(land, trajs)
    cs = draw_contours(ax, land, box)
    log_colorbar(fig, cs, ax, shrink=0.85, pad=0.01)
    fig.get_layout_engine().set(wspace=0.06)
    draw_minima(ax, land)
    draw_paths_2d(ax, trajs, box=box)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + _marker_legend_handles(trajs), loc="upper left", fontsize=8,
              framealpha=0.92)
    ax.set(xlim=box[0], ylim=box[1], xlabel=r"$x_0$", ylabel=r"$x_1$",
           title="(a) trajectories, start (-2.5, 1.2)")
    draw_loss(ax2, trajs, land)
    ax2.legend(fontsize=8, title="o / dashed: commit step", title_fontsize=8)
    ax2.set_title("(b) loss")
    fig.suptitle(title)
    return fig


def figure3(runs, title: str):
    """Top row: Adam from three starts; bottom row: Adam+MoXCo from the same starts."""
    land = runs.landscape
    n = len(runs.starts)
    fig, axes = plt.subplots(2, n, figsize=(4.3 * n, 8.4), layout="constrained", squeeze=False)
    goal = land.minimum("global").x
    for k in range(n):
        trajs = runs.single(k)
        box = _view_box(land, trajs)
        for row, name in enumerate(("adam", "adam+moxco")):
            ax = axes[row, k]
            cs = draw_contours(ax, land, box, resolution=200)
            draw_minima(ax, land)
            draw_paths_2d(ax, {name: trajs[name]}, annotate=False, box=box)
            tr = trajs[name]
            dist = float(np.linalg.norm(tr.final[0] - goal))
            verdict = "reaches (3, 0.5)" if dist <= 0.1 else f"ends {dist:.2f} away"
            commit = f", commits t={tr.commit_step[0]}" if tr.commit_step[0] >= 0 else ""
            ax.set_title(f"{'Adam' if row == 0 else 'Adam+MoXCo'}: {verdict}{commit}",
                         fontsize=9.5)
            ax.set(xlim=box[0], ylim=box[1])
            if k == 0:
                ax.set_ylabel(r"$x_1$")
            if row == 1:
                ax.set_xlabel(r"$x_0$")
            s = runs.starts[k]
            ax.text(0.02, 0.02, f"start ({s[0]:.3g}, {s[1]:.3g})", transform=ax.transAxes,
                    fontsize=8, bbox=dict(fc="white", ec="0.6", alpha=0.9))
    log_colorbar(fig, cs, axes, shrink=0.6)
    axes[0, 0].legend(handles=_marker_legend_handles(), loc="upper left", fontsize=7.5)
    fig.suptitle(title)
    return fig


def figure3_map(choice, title: str):
    """Where the Fig 3 rule looked: Adam stuck vs Adam+MoXCo success over the start grid."""
    grid, n = choice.grid, int(round(np.sqrt(len(choice.grid))))
    code = np.where(choice.adam_stuck, 1, 0)
    code = np.where(choice.adam_trapped, np.where(choice.moxco_reached, 3, 2), code).reshape(n, n)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colors = ["#f0f0f0", "#bdbdbd", "#404040", "#d62728"]
    labels = ["Adam reaches (3, 0.5)", "Adam not there yet (still moving)",
              "Adam trapped; Adam+MoXCo does not reach", "Adam trapped; Adam+MoXCo reaches"]
    fig, ax = plt.subplots(figsize=(6.4, 6.0), layout="constrained")
    ext = (grid[:, 0].min(), grid[:, 0].max(), grid[:, 1].min(), grid[:, 1].max())
    ax.imshow(code, origin="lower", extent=ext, cmap=ListedColormap(colors), vmin=0, vmax=3,
              interpolation="nearest", aspect="auto")
    ax.plot(*grid[choice.chosen].T, "o", ms=13, mfc="none", mec="#1f77b4", mew=2.5,
            label="chosen Fig 3 starts")
    for k, i in enumerate(choice.chosen):
        ax.annotate(str(k + 1), grid[i], xytext=(7, 7), textcoords="offset points",
                    color="#1f77b4", fontweight="bold")
    ax.plot(3, 0.5, "*", ms=16, color="white", mec="black")
    handles = [Patch(color=c, label=lab) for c, lab in zip(colors, labels, strict=True)]
    ax.legend(handles=handles + [ax.lines[0]], loc="upper center", bbox_to_anchor=(0.5, -0.1),
              fontsize=8, ncol=2)
    ax.set(xlabel=r"$x_0$ of start", ylabel=r"$x_1$ of start", title=title)
    return fig


def ablation_figure(table, title: str):
    """Grouped bars: fraction of starts per outcome class, one bar per stopping rule, one
    panel per inner optimizer family."""
    from moxco_cli.plots.run import style

    classes = [c for c in ("global-1e-2", "global-0.1", "stuck", "diverged")
               if c in set(table["class"])]
    families = list(dict.fromkeys(table["family"]))
    fig, axes = plt.subplots(1, len(families), figsize=(7.4 * len(families), 4.8),
                             layout="constrained", sharey=True, squeeze=False)
    hatches = ["", "//", "..", "xx", "\\\\"]
    for ax, family in zip(axes[0], families, strict=True):
        sub_family = table[table.family == family]
        rules = list(dict.fromkeys(sub_family["rule"]))
        width = 0.84 / len(rules)
        for k, rule in enumerate(rules):
            sub = sub_family[sub_family.rule == rule]
            color = style(sub.optimizer.iloc[0])["color"]
            values = [float(sub.set_index("class").fraction.get(c, 0.0)) for c in classes]
            xs = np.arange(len(classes)) + (k - (len(rules) - 1) / 2) * width
            bars = ax.bar(xs, values, width, color=color, alpha=0.95 - 0.12 * (k % 3),
                          hatch=hatches[k % len(hatches)], edgecolor="black", lw=0.6,
                          label=f"{rule} ({style(sub.optimizer.iloc[0])['label']})")
            ax.bar_label(bars, labels=[f"{v:.0%}" if v >= 0.005 else "" for v in values],
                         fontsize=6.5, padding=1, rotation=90 if len(rules) > 3 else 0)
        ax.set_xticks(np.arange(len(classes)), classes)
        ax.set(title=family, ylabel="fraction of starts", ylim=(0, 1.15))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7.5, title="stopping rule", title_fontsize=8, loc="upper left")
    fig.suptitle(title)
    return fig


def theorem1_figure(scan, table, title: str):
    """Goodness at a minimum vs its curvature (quadratic, eps = 0), against Theorem 1's bound."""
    fig, ax = plt.subplots(figsize=(7.6, 4.6), layout="constrained")
    r, g = scan["a_times_eta_eff"].to_numpy(), scan["goodness"].to_numpy()
    ax.axvspan(0, 2, color="#dddddd", label=r"hypothesis (b): GD with lr $\tilde\eta$ stable")
    ax.axvspan(1, 2, color="#f4b6b6", label="hypotheses hold, claim fails")
    ax.semilogy(r, np.maximum(g, 1e-300), color="black", lw=1.8,
                label=r"goodness at the minimum ($\epsilon = 0$)")
    ax.axhline(1.0, color="#1f77b4", ls="--", label=r"claimed bound $e^{-\tau\epsilon} = 1$")
    sub = table[table.method == "gd+moxco"]
    inv = float(sub.inv_eta_eff.iloc[0])
    for k, row in enumerate(sub.itertuples()):
        ratio = row.lam_max / inv
        ax.plot(ratio, max(row.goodness, 1e-300), "o", color="#d62728", mec="black")
        ax.annotate(f"{row.landscape} {row.minimum}: G = {row.goodness:.2g}, bound "
                    f"{row.claimed_lower_bound:.2g}", (ratio, max(row.goodness, 1e-300)),
                    xytext=(8, -14 - 13 * k), textcoords="offset points", fontsize=8,
                    arrowprops=dict(arrowstyle="-", color="0.4", lw=0.6))
    ax.set(xlabel=r"curvature $\lambda_{max}$ in units of $1/\tilde\eta$ (GD+MoXCo, Figure 1)",
           ylabel="goodness (log)", xlim=(0, 2.2), ylim=(1e-40, 3), title=title)
    ax.legend(fontsize=8, loc="lower left")
    return fig
