"""Figure of `moxco escape-count` (the paper's Figure 2). Matplotlib only, no computation.

Left: grouped bars, one group per end bin (the named minima, plus `none`/`diverged` when any
run ended there), one bar per optimizer, with 95% Wilson intervals as error bars. Right: the
landscape with the start distribution, coloured by start basin.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogFormatterMathtext  # noqa: E402

from moxco_cli.experiments.escape_count import POOLED  # noqa: E402
from moxco_cli.plots.run import draw_contours, draw_minima, style  # noqa: E402

# start-basin colours: apart from the optimizer colours (blue, orange, red, purple) and
# from each other (three greens and an olive made six-hump-camel's global-1 and local-3 one
# colour); the first two, the only ones two-wells uses, are as before
BASIN_COLORS = ["#4daf4a", "#a6761d", "#e7298a", "#17becf", "#e6ab02", "#000000"]
NONE_COLOR = "#8c8c8c"
MAX_SCATTER = 4000  # 2-D start scatter: the first starts only (they are in random order)
MAX_RUG = 1000  # 1-D: one tick per start under the curve, up to this many starts
MAX_NAMED = 6  # minima named on the landscape panel, at most


def basin_color(name: str, minima_names: list[str]) -> str:
    if name in minima_names:
        return BASIN_COLORS[minima_names.index(name) % len(BASIN_COLORS)]
    return NONE_COLOR


def _basin_label(name: str, count: int) -> str:
    if name == "none":
        return f"start whose gradient flow reaches no minimum ({count})"
    return f"start in {name} basin ({count})"


def _bin_label(land, name: str, global_names: list[str]) -> str:
    for m in land.minima:
        if m.name == name:
            where = ", ".join(f"{v:.4g}" for v in m.x)
            kind = "global" if name in global_names else "local"
            return f"{name}\n{kind} min\nx = {where}" if land.dim == 1 else \
                f"{name}\n{kind} min\n({where})"
    return {"none": "none\n(no minimum\nwithin tol)", "diverged": "diverged"}.get(name, name)


def _escape_note(escape, name: str) -> str:
    rows = escape[(escape["optimizer"] == name) & (escape["starts"] > 0)]
    pooled = rows[rows["from_basin"] == POOLED]
    if len(pooled):
        e = pooled.iloc[0]
        return f"  (escaped local\u2192global: {e['escaped']}/{e['starts']})"
    if len(rows) == 1:
        e = rows.iloc[0]
        return f"  (escaped {e['from_basin']}\u2192{e['to_minimum']}: {e['escaped']}/{e['starts']})"
    return ""


def draw_escape_bars(ax, land, counts, escape, n: int, tol: float, global_names) -> None:
    """Grouped bars of `counts` (counts.csv rows) with Wilson CI error bars, in counts."""
    minima = [m.name for m in land.minima]
    methods = list(dict.fromkeys(counts["optimizer"]))
    bins = list(dict.fromkeys(counts["bin"]))
    shown = [b for b in bins if b in minima or counts.loc[counts["bin"] == b, "count"].sum() > 0]
    hidden = [b for b in bins if b not in shown]
    width = 0.8 / len(methods)
    # count labels go vertical when they would not fit across a bar
    bar_points = ax.get_position().width * ax.figure.get_figwidth() * 72 * width / len(shown)
    vertical = len(str(n)) * 0.6 * 7.5 > 0.95 * bar_points
    top = 0.0
    for k, name in enumerate(methods):
        st = style(name, methods)
        rows = counts[counts["optimizer"] == name].set_index("bin").loc[shown]
        xs = np.arange(len(shown)) + (k - (len(methods) - 1) / 2) * width
        heights = rows["count"].to_numpy(dtype=float)
        err = np.maximum(np.vstack([heights - rows["ci_low"].to_numpy() * n,
                                    rows["ci_high"].to_numpy() * n - heights]), 0.0)
        ax.bar(xs, heights, width * 0.92, color=st["color"], edgecolor="black", lw=0.6,
               label=st["label"] + _escape_note(escape, name), zorder=3)
        ax.errorbar(xs, heights, yerr=err, fmt="none", ecolor="black", elinewidth=1.0,
                    capsize=3 if len(shown) * len(methods) <= 16 else 1.5, zorder=4)
        for x, h, e in zip(xs, heights, err[1], strict=True):
            ax.annotate(f"{h:.0f}", (x, h + e), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5, zorder=5,
                        rotation=90 if vertical else 0)
        top = max(top, float(np.max(heights + err[1])))
    ax.set_xticks(np.arange(len(shown)), [_bin_label(land, b, global_names) for b in shown],
                  fontsize=9 if len(shown) <= 4 else 7.5)
    ax.set_ylim(0, max(top * (1.55 if vertical else 1.45), 1.0))
    ax.set_ylabel(f"runs ending there (of N = {n})")
    note = f"end point within tol = {tol:g} of a minimum"
    if hidden:
        note += "; " + " and ".join(hidden) + ": 0 runs"
    ax.set_xlabel(f"where the run ended ({note})", fontsize=9)
    ax.grid(axis="y", alpha=0.3, lw=0.5, zorder=0)
    ax.legend(fontsize=8, loc="upper right",
              title="optimizer (error bars: 95% Wilson CI)", title_fontsize=8)


def _name_minima(ax, land, one_d: bool) -> None:
    if len(land.minima) > MAX_NAMED:  # names of many close minima would overprint
        return
    for m in land.minima:
        xy = (m.x[0], m.f) if one_d else (m.x[0], m.x[1])
        ax.annotate(m.name, xy, xytext=(9, -4), textcoords="offset points", fontsize=9,
                    fontweight="bold", zorder=7,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))


def draw_starts_1d(ax, land, starts, basin, box) -> None:
    """f(x) over the start box and the landscape's domain; starts by basin as a stacked
    histogram and (up to MAX_RUG starts) as a rug of ticks under the curve."""
    minima = [m.name for m in land.minima]
    lo = min(box[0, 0], land.bounds[0, 0])
    hi = max(box[0, 1], land.bounds[0, 1])
    xs = np.linspace(lo, hi, 4000)[:, None]
    fx = land.f(xs)
    ax.plot(xs[:, 0], fx, color="0.2", lw=1.5, label=r"$f(x)$", zorder=4)
    draw_minima(ax, land, one_d=True)
    _name_minima(ax, land, one_d=True)
    f_lo, f_hi = float(np.min(fx)), float(np.max(fx))
    pad = 0.08 * (f_hi - f_lo)
    ax.set(xlim=(lo, hi), ylim=(f_lo - 3 * pad, f_hi + 4 * pad), xlabel="x", ylabel="f(x)")
    hist = ax.twinx()
    labels = [b for b in minima + ["none"] if np.any(basin == b)]
    n_bins = int(np.clip(2 * np.sqrt(len(starts)), 16, 80))
    edges = np.linspace(box[0, 0], box[0, 1], n_bins + 1)
    data = [starts[basin == b, 0] for b in labels]
    colors = [basin_color(b, minima) for b in labels]
    hist.hist(data, bins=edges, stacked=True, alpha=0.3, zorder=1, color=colors,
              label=[_basin_label(b, len(d)) for b, d in zip(labels, data, strict=True)])
    hist.set_ylabel(f"starts per bin (width {edges[1] - edges[0]:.3g})")
    hist.set_ylim(0, hist.get_ylim()[1] * 1.8)  # bars stay below the legend
    if len(starts) <= MAX_RUG:  # beyond that the histogram says it all
        for b, c in zip(labels, colors, strict=True):
            pts = starts[basin == b, 0]
            ax.plot(pts, np.full(len(pts), f_lo - 2 * pad), ls="none", marker="|", ms=12,
                    mew=1.2, color=c, zorder=3)
    ax.set_zorder(hist.get_zorder() + 1)
    ax.patch.set_visible(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = hist.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center", framealpha=0.92)


def draw_starts_2d(ax, fig, land, starts, basin, box) -> None:
    """Log contours over the start box with the starts coloured by basin."""
    minima = [m.name for m in land.minima]
    view = np.column_stack([np.minimum(box[:, 0], land.bounds[:, 0]),
                            np.maximum(box[:, 1], land.bounds[:, 1])])
    cs = draw_contours(ax, land, view)
    cbar = fig.colorbar(cs, ax=ax, label=r"$f - f_{target}$ (log scale)", shrink=0.85)
    levels = np.asarray(cs.levels)
    decades = 10.0 ** np.arange(np.ceil(np.log10(levels.min())),
                                np.floor(np.log10(levels.max())) + 1)
    if len(decades) >= 2:
        cbar.set_ticks(decades)
        cbar.ax.yaxis.set_major_formatter(LogFormatterMathtext())
    shown = slice(0, MAX_SCATTER)
    for b in [b for b in minima + ["none"] if np.any(basin == b)]:
        pts = starts[shown][basin[shown] == b]
        ax.plot(pts[:, 0], pts[:, 1], ls="none", marker="o", ms=3 if len(starts) > 500 else 5,
                mfc=basin_color(b, minima), mec="black", mew=0.3, alpha=0.85,
                label=_basin_label(b, int(np.sum(basin == b))))
    draw_minima(ax, land)
    _name_minima(ax, land, one_d=False)
    ax.add_patch(plt.Rectangle(box[:, 0], *(box[:, 1] - box[:, 0]), fill=False, ls="--",
                               lw=1.0, ec="white"))
    ax.set(xlim=view[0], ylim=view[1], xlabel=r"$x_0$", ylabel=r"$x_1$")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2,
              framealpha=0.92)


def escape_count_figure(land, counts, escape, starts, basin, box, tol: float, title: str,
                        global_names=None):
    """The escape-count figure; `counts`/`escape` are the tables of the same names.

    `starts (N, d)`, `basin (N,)` start-basin names, `box (d, 2)` the start box,
    `global_names` the minima drawn as global (default: the first named minimum).
    """
    n = len(starts)
    global_names = list(global_names or [land.minima[0].name])
    n_shown = len(land.minima) + 2
    per_group = 0.45 * max(4, len(set(counts["optimizer"])))  # inches per bin on the x axis
    left = float(np.clip(per_group * n_shown, 7.0, 13.0))
    fig, (bars, right) = plt.subplots(1, 2, figsize=(left + 6.8, 5.8 if land.dim == 1 else 6.4),
                                      layout="constrained",
                                      gridspec_kw=dict(width_ratios=[left, 6.3]))
    draw_escape_bars(bars, land, counts, escape, n, tol, global_names)
    bars.set_title("where each optimizer ends")
    where = " x ".join(f"[{a:g}, {b:g}]" for a, b in box)
    if land.dim == 1:
        draw_starts_1d(right, land, starts, basin, box)
    else:
        draw_starts_2d(right, fig, land, starts, basin, box)
        if n > MAX_SCATTER:
            where += f"; first {MAX_SCATTER} of {n} shown"
    right.set_title(f"landscape and starts (uniform on {where}),\ncoloured by the basin gradient "
                    "flow takes them to", fontsize=10)
    fig.suptitle(title)
    return fig
