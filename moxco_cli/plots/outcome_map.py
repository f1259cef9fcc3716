"""Outcome-map figure: one panel per optimizer, each start coloured by where it ended.

Class colours are ordered in lightness (dark = reached the global minimum precisely,
near-white = stuck, near-black red = diverged), so the map also reads in grayscale.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from moxco_cli.plots.run import style

# class -> (colour, legend label). Grayscale lightness: 0.09, 0.36, 0.70, 0.80, 0.95.
CLASS_STYLE = {
    "global-1e-2": ("#1b7d3a", "global minimum, within 1e-2"),
    "global-0.1": ("#8fd48a", "global minimum, 1e-2 to 0.1 away"),
    "other-minimum": ("#a9c6f2", "another minimum, within 0.1"),
    "stuck": ("#f6f0d8", "stuck (finite, elsewhere)"),
    "diverged": ("#4a0a0a", "diverged"),
}


def _cmap(classes):
    colors = [CLASS_STYLE[c][0] for c in classes]
    return ListedColormap(colors), BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))


def _class_legend(classes):
    return [Patch(facecolor=CLASS_STYLE[c][0], edgecolor="0.4", lw=0.6,
                  label=CLASS_STYLE[c][1]) for c in classes]


def _panel_title(name, reached_tight, reached_loose):
    return (f"{style(name)['label']}: global min reached by {reached_tight:.1%} (1e-2),"
            f" {reached_loose:.1%} (0.1)")


def outcome_map_figure(landscape, axes, images: dict, fractions: dict, classes, *,
                       title: str, global_minima, other_minima=(), mark=None):
    """Draw the outcome map (`OutcomeMapResult.figure_inputs()` gives every argument).

    Args:
        axes: per-coordinate start grids, each `(N,)`.
        images: optimizer -> class indices into `classes`, `(N, N)` as `[j, i]` (2-D) or
            `(1, N)` (1-D).
        fractions: optimizer -> (fraction within 1e-2, fraction within 0.1) of the global
            minimum.
        global_minima, other_minima: `Minimum`s to mark (star: global, white star: other).
        mark: optional `(label, (x0, x1))` start to circle (Beale: the Figure-1 start).
    """
    if landscape.dim == 1:
        return _strips_1d(landscape, axes[0], images, fractions, classes, title,
                          global_minima, other_minima)
    cmap, norm = _cmap(classes)
    names = list(images)
    ncols = 1 if len(names) == 1 else 2 if len(names) <= 4 else 3
    nrows = -(-len(names) // ncols)
    xs, ys = axes
    # rows as tall as the domain's aspect asks (equal axes): a 9 x 4 domain in square rows
    # left bands of white between them; a square domain keeps 4.6 in per row
    shape = float(np.clip((ys[-1] - ys[0]) / (xs[-1] - xs[0]), 0.3, 2.5))
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.9 * ncols, (0.6 + 4.0 * shape) * nrows
                                                    + 0.9),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    dx = (xs[-1] - xs[0]) / (len(xs) - 1)
    dy = (ys[-1] - ys[0]) / (len(ys) - 1)
    extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2)
    for ax, name in zip(grid.flat, names, strict=False):
        ax.imshow(images[name], origin="lower", extent=extent, cmap=cmap, norm=norm,
                  interpolation="nearest", aspect="equal")
        for m in global_minima:
            ax.plot(*m.x, marker="*", ms=16, color="black", mec="white", mew=1.2, ls="none")
        for m in other_minima:
            ax.plot(*m.x, marker="*", ms=13, color="white", mec="black", mew=1.0, ls="none")
        if mark is not None:
            ax.plot(*mark[1], marker="o", ms=9, color="black", mec="white", mew=1.5, ls="none")
        ax.set_title(_panel_title(name, *fractions[name]), fontsize=10)
        ax.set(xlim=extent[:2], ylim=extent[2:])
    for ax in grid[-1, :]:
        ax.set_xlabel(r"start $x_0$")
    for ax in grid[:, 0]:
        ax.set_ylabel(r"start $x_1$")
    for ax in list(grid.flat)[len(names):]:
        ax.set_visible(False)
    handles = _class_legend(classes)
    handles.append(Line2D([], [], marker="*", ms=13, color="black", mec="white", ls="none",
                          label="global minimum"))
    if other_minima:
        handles.append(Line2D([], [], marker="*", ms=11, color="white", mec="black",
                              ls="none", label="other minimum"))
    if mark is not None:
        handles.append(Line2D([], [], marker="o", ms=8, color="black", mec="white", ls="none",
                              label=mark[0]))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)),
               fontsize=9, frameon=False)
    fig.suptitle(title)
    return fig


def _strips_1d(land, xs, images, fractions, classes, title, global_minima, other_minima):
    cmap, norm = _cmap(classes)
    names = list(images)
    fig, axs = plt.subplots(len(names) + 1, 1, figsize=(9, 2.3 + 0.75 * len(names) + 0.8),
                            sharex=True, layout="constrained",
                            gridspec_kw=dict(height_ratios=[3.2] + [1] * len(names)))
    top = axs[0]
    fine = np.linspace(xs[0], xs[-1], 2000)[:, None]
    top.plot(fine[:, 0], land.f(fine), color="0.25", lw=1.4)
    for m in global_minima:
        top.plot(m.x[0], m.f, marker="*", ms=14, color="black", mec="white", ls="none")
    for m in other_minima:
        top.plot(m.x[0], m.f, marker="*", ms=12, color="white", mec="black", ls="none")
    for m in (*global_minima, *other_minima):
        top.annotate(f"{m.name} ({m.x[0]:.3g})", (m.x[0], m.f), xytext=(0, -9),
                     textcoords="offset points", fontsize=8, va="top", ha="center")
    lo, hi = top.get_ylim()
    top.set_ylim(lo - 0.18 * (hi - lo), hi)  # room for the labels under the stars
    top.set(ylabel="f(x)",
            title="landscape (black star: global minimum, white star: other minimum)")
    dx = (xs[-1] - xs[0]) / (len(xs) - 1)
    extent = (xs[0] - dx / 2, xs[-1] + dx / 2, 0, 1)
    for ax, name in zip(axs[1:], names, strict=True):
        ax.imshow(images[name], extent=extent, cmap=cmap, norm=norm, aspect="auto",
                  interpolation="nearest")
        ax.set_yticks([])
        ax.set_ylabel(style(name)["label"], rotation=0, ha="right", va="center", fontsize=9)
        ax.set_title(_panel_title(name, *fractions[name]), fontsize=8, loc="right", pad=2)
    axs[-1].set_xlabel("start x")
    fig.legend(handles=_class_legend(classes), loc="outside lower center",
               ncol=min(3, len(classes)), fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig
