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
    box = _view_box(land, [tr.records.x[:, 0, :] for tr in trajs.values()])
    cs = draw_contours(ax, land, box)
    log_colorbar(fig, cs, ax, shrink=0.85, pad=0.01)
    fig.get_layout_engine().set(wspace=0.06)
    draw_minima(ax, land)
    draw_paths_2d(ax, trajs)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + _marker_legend_handles(), loc="upper left", fontsize=8,
              framealpha=0.92)
    ax.set(xlim=box[0], ylim=box[1], xlabel=r"$x_0$", ylabel=r"$x_1$",
           title="(a) trajectories, start (-2.5, 1.2)")
    draw_loss(ax2, trajs, land.f_target)
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
        box = _view_box(land, [tr.records.x[:, 0, :] for tr in trajs.values()])
        for row, name in enumerate(("adam", "adam+moxco")):
            ax = axes[row, k]
            cs = draw_contours(ax, land, box, resolution=200)
            draw_minima(ax, land)
            draw_paths_2d(ax, {name: trajs[name]}, annotate=False)
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
