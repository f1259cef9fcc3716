"""Figures of `moxco sweep`: heatmaps of a metric over two swept axes. Matplotlib only.

Every facet (one per optimizer and per combination of the other swept values) is a pair of
panels: the metric, and the fraction of runs that diverged. Cell text is the metric, with `+`
where it beats the plain inner optimizer at the same lr (intervals apart) and `-` where it is
worse. On (alpha, beta) panels with one lr, Theorem 2's boundary `lam = 2(1+alpha)/(lr(1+2beta))`
is drawn for the curvature of each named minimum: above the curve (larger beta / smaller
alpha) the exploration momenta cannot settle in that minimum.
"""

from __future__ import annotations

import itertools
import math
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from moxco_cli.plots.run import style  # noqa: E402

AXIS_LABELS = {
    "alpha": r"exploration momentum $\alpha$ (dimensionless)",
    "beta": r"exploration momentum $\beta$ (dimensionless)",
    "lr": "learning rate lr (nominal, per step)",
    "threshold": "goodness threshold (dimensionless)",
    "tau": r"goodness temperature $\tau$",
    "restart_alpha": r"restart momentum $\alpha$ after commit",
    "restart_beta": r"restart momentum $\beta$ after commit",
}
SHORT = {"alpha": "α", "beta": "β", "lr": "lr", "threshold": "threshold", "tau": "τ",
         "restart_alpha": "α_restart", "restart_beta": "β_restart"}
PLAIN = {"gd": "GD", "adam": "Adam"}
BOUNDARY_COLORS = ["#ffffff", "#00e5ff", "#ff4081", "#ffd600"]
MAX_TEXT_CELLS = 20  # per side: beyond this, cells carry no text
AXES_COLUMNS = ("alpha", "beta", "lr", "threshold", "tau", "restart_alpha", "restart_beta")
# Matplotlib's tick locators overflow near the float64 limit (an axis holding the one value
# 1e308 failed with "arange: cannot compute length"); a line figure's axis with a value beyond
# this magnitude is drawn by position instead, each value labelled, as the heatmaps are.
AXIS_LIMIT = 1e300


def metric_label(metric: str, tol: float | None = None, n: int | None = None) -> str:
    """Axis label of the metric (line plots)."""
    runs = f"of {n} runs" if n else "of runs"
    within = f" within {tol:g}" if tol is not None else ""
    return {
        "success": f"success: fraction {runs} ending{within}\n"
                   "of the global minimum (95% Wilson CI)",
        "escape": f"escape: fraction of runs from a non-global basin\nending{within} "
                  "of the global minimum",
        "final-loss": f"median final loss {runs}\n(diverged runs count as +inf; log scale)",
    }[metric]


def _fmt_value(metric: str, v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "div"
    if metric == "final-loss":
        return f"{v:.1g}" if v < 0.01 or v >= 100 else f"{v:.2g}"
    return f"{v:.2f}" if v >= 0.1 or v == 0 else f"{v:.3f}"


def _ticks(ax, values, axis: str) -> None:
    idx = np.arange(len(values))
    step = max(1, math.ceil(len(values) / 12))
    labels = [f"{v:.3g}" for v in values]
    if axis == "x":
        ax.set_xticks(idx[::step], labels[::step], rotation=45, ha="right", fontsize=8)
    else:
        ax.set_yticks(idx[::step], labels[::step], fontsize=8)


def _text_color(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _facets(frame, x: str, y: str):
    """`[(title, sub-frame)]`: one per optimizer and combination of the other axes that vary
    independently of `x` and `y`."""
    out = []
    for opt in dict.fromkeys(frame["optimizer"]):
        part = frame[frame["optimizer"] == opt]
        # a column that follows the panel's axes (nesterov's beta = alpha) is not a facet
        others = [c for c in AXES_COLUMNS if c not in (x, y) and part[c].nunique() > 1
                  and part.groupby([x, y])[c].nunique().max() > 1]
        combos = itertools.product(*(list(dict.fromkeys(part[c])) for c in others))
        for combo in combos:
            sub = part
            for c, v in zip(others, combo, strict=True):
                sub = sub[sub[c] == v]
            name = style(opt)["label"]
            extra = ", ".join(f"{SHORT[c]} = {v:g}" for c, v in zip(others, combo, strict=True))
            out.append((name + (f" ({extra})" if extra else ""), sub))
    return out


def _minima_text(names: list[str]) -> str:
    """`the global minimum`, `the local-1 and local-2 minima`, `the global and 20 other
    minima` (more than three names)."""
    if len(names) == 1:
        return f"the {names[0]} minimum"
    if len(names) <= 3:
        return f"the {', '.join(names[:-1])} and {names[-1]} minima"
    return f"the {names[0]} and {len(names) - 1} other minima"


def _same_curvature(boundaries: dict[str, float]) -> list[tuple[str, float]]:
    """`(text, lam)` per distinct curvature (to 1e-9 relative), in the minima's order: minima
    of one lam_max share one Theorem 2 edge (rastrigin:dim=10's 21 named minima all have
    lam_max 397: one curve and one note, not 21)."""
    groups: list[tuple[list[str], float]] = []
    for name, lam in boundaries.items():
        for names, value in groups:
            if abs(lam - value) <= 1e-9 * max(1.0, abs(value)):
                names.append(name)
                break
        else:
            groups.append(([name], lam))
    return [(_minima_text(names), lam) for names, lam in groups]


def _boundary(ax, sub, x, y, xs, ys, boundaries) -> list[str]:
    """Theorem 2 curves on an (alpha, beta) panel of one lr; returns notes for the curves
    that miss the panel."""
    notes = []
    if {x, y} != {"alpha", "beta"} or sub["lr"].nunique() != 1 or not boundaries:
        return notes
    lr = float(sub["lr"].iloc[0])
    alphas = xs if x == "alpha" else ys
    betas = ys if x == "alpha" else xs
    a = np.linspace(alphas[0], alphas[-1], 400)
    bound_lo = 2 * (1 + alphas[0]) / (lr * (1 + 2 * betas[-1]))
    bound_hi = 2 * (1 + alphas[-1]) / (lr * (1 + 2 * betas[0]))
    for k, (which, lam) in enumerate(_same_curvature(boundaries)):
        b = (2 * (1 + a) / (lr * lam) - 1) / 2  # beta on the edge lam = 1/eta_eff
        inside = (b >= betas[0]) & (b <= betas[-1])
        if not inside.any():
            side = "stable" if lam < bound_lo else "unstable"
            verb = "are" if which.endswith("minima") else "is"
            notes.append(f"Theorem 2 at lr {lr:g}: {which} (λmax {lam:.3g}) {verb} {side} "
                         f"under the exploration momenta in every cell (2(1+α)/(lr(1+2β)) "
                         f"runs from {bound_lo:.3g} to {bound_hi:.3g} here).")
            continue
        ai = np.interp(a[inside], alphas, np.arange(len(alphas)))
        bi = np.interp(b[inside], betas, np.arange(len(betas)))
        px, py = (ai, bi) if x == "alpha" else (bi, ai)
        color = BOUNDARY_COLORS[k % len(BOUNDARY_COLORS)]
        ax.plot(px, py, color="black", lw=3.6, zorder=5)
        ax.plot(px, py, color=color, lw=2.0, zorder=6,
                label=f"Theorem 2 edge for {which} (λmax {lam:.3g}): "
                      f"{'above' if x == 'alpha' else 'right of'} it, the exploration "
                      "momenta cannot converge there (a run may still oscillate within "
                      "tol of it and be counted there)")
    return notes


def axis_label(name: str, optimizers) -> str:
    """`name`'s axis label; the momenta of a baseline (heavy-ball, Nesterov: no exploration
    phase, no commit) are plain momenta, not "exploration momenta"."""
    label = AXIS_LABELS.get(name, name)
    if name in ("alpha", "beta") and not any("+moxco" in str(o) for o in optimizers):
        label = label.replace("exploration momentum", "momentum")
    return label


def _heat_panel(fig, ax, sub, x, y, values_col, norm, cmap, cbar_label, metric, marks,
                baseline=None):
    xs = np.array(sorted(sub[x].unique()))
    ys = np.array(sorted(sub[y].unique()))
    grid = np.full((len(ys), len(xs)), np.nan)
    text = [["" for _ in xs] for _ in ys]
    for _, row in sub.iterrows():
        i, j = int(np.searchsorted(xs, row[x])), int(np.searchsorted(ys, row[y]))
        v = float(row[values_col])
        grid[j, i] = v
        if values_col == "value":
            text[j][i] = _fmt_value(metric, v) + marks.get(row["vs_baseline"], "")
        elif v > 0:
            text[j][i] = f"{100 * v:.0f}"
        elif v == 0 and values_col == "other_minimum_fraction":
            text[j][i] = "0"
    shown = np.where(np.isinf(grid), np.nan, grid)
    cm = plt.get_cmap(cmap).with_extremes(bad="#bdbdbd")
    im = ax.imshow(shown, origin="lower", cmap=cm, norm=norm, aspect="auto",
                   interpolation="nearest", extent=(-0.5, len(xs) - 0.5, -0.5, len(ys) - 0.5))
    if len(xs) <= MAX_TEXT_CELLS and len(ys) <= MAX_TEXT_CELLS:
        size = 7 if max(len(xs), len(ys)) <= 12 else 5.5
        for j in range(len(ys)):
            for i in range(len(xs)):
                if not text[j][i]:
                    continue
                val = shown[j, i]
                color = "black" if math.isnan(val) else _text_color(cm(norm(val)))
                ax.text(i, j, text[j][i], ha="center", va="center", fontsize=size,
                        color=color, zorder=4)
    _ticks(ax, xs, "x")
    _ticks(ax, ys, "y")
    optimizers = sub["optimizer"].unique() if "optimizer" in sub else ["+moxco"]
    ax.set_xlabel(axis_label(x, optimizers), fontsize=9)
    ax.set_ylabel(axis_label(y, optimizers), fontsize=9)
    cbar = fig.colorbar(im, ax=ax, fraction=0.06, pad=0.03)
    cbar.set_label(cbar_label, fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    if baseline is not None and math.isfinite(baseline) and norm.vmin <= baseline <= norm.vmax:
        cbar.ax.axhline(baseline, color="red", lw=2.5)
    return xs, ys


def _metric_norm(frame, metric: str):
    if metric == "final-loss":
        vals = np.concatenate([frame["value"].to_numpy(float),
                               frame["baseline_value"].to_numpy(float)])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if not len(vals):
            return LogNorm(1e-3, 1.0)
        lo, hi = float(vals.min()), float(vals.max())
        return LogNorm(lo, hi if hi > lo else lo * 10)
    vals = np.concatenate([frame["value"].to_numpy(float),
                           frame["baseline_value"].to_numpy(float)])
    vals = vals[np.isfinite(vals)]
    top = float(vals.max()) if len(vals) else 1.0
    return Normalize(0.0, min(1.0, max(0.05, math.ceil(top * 1.1 * 20) / 20)))


def _colorbar_label(metric: str, tol: float | None) -> str:
    within = f"within {tol:g} " if tol is not None else ""
    return {
        "success": f"fraction of runs ending {within}of the global minimum",
        "escape": f"fraction of non-global-basin runs ending\n{within}of the global minimum",
        "final-loss": "median final loss (log scale; grey: median run diverged)",
    }[metric]


def heatmap_figure(frame, x: str = "alpha", y: str = "beta", *,
                   boundaries: dict[str, float] | None = None, title: str = "",
                   tol: float | None = None):
    """Heatmaps of a sweep table (sweep.csv rows, one or more optimizers) over axes `x`, `y`.

    Args:
        frame: sweep.csv rows (`moxco_cli.experiments.sweep.COLUMNS`); several optimizers or
            other swept axes give one facet (row of two panels) each.
        x, y: two swept axis columns (e.g. `alpha`, `beta`).
        boundaries: curvature by minimum name (`theorem2_curvatures(land)`), drawn as
            Theorem 2 edges on (alpha, beta) facets with a single lr.
        title: figure title; tol: the success distance, for the colour-bar label.
    Returns: a matplotlib Figure (the caller closes it).
    """
    metric = str(frame["metric"].iloc[0])
    facets = _facets(frame, x, y)
    nx, ny = frame[x].nunique(), frame[y].nunique()
    w = min(9.0, max(6.2, 2.6 + 0.45 * nx))
    h = min(8.0, max(4.4, 2.0 + 0.36 * ny))
    other = frame["other_minimum_fraction"].to_numpy(float)
    panels = 3 if np.nanmax(np.append(other, 0.0)) > 0 else 2
    fig, axes = plt.subplots(len(facets), panels, figsize=(panels * w, h * len(facets) + 1.2),
                             squeeze=False)
    norm = _metric_norm(frame, metric)
    cmap = "viridis" if metric != "final-loss" else "viridis_r"
    marks = {"better": "+", "worse": "−"}
    footer: list[str] = []
    for (name, sub), row_axes in zip(facets, axes, strict=True):
        ax_m, ax_d = row_axes[0], row_axes[-1]
        plain = PLAIN.get(str(sub["baseline"].iloc[0]), str(sub["baseline"].iloc[0]))
        one_lr = sub["lr"].nunique() == 1
        b = sub.iloc[0]
        base_value = float(b["baseline_value"]) if one_lr else None
        xs, ys = _heat_panel(fig, ax_m, sub, x, y, "value", norm, cmap,
                             _colorbar_label(metric, tol), metric, marks, base_value)
        _heat_panel(fig, ax_d, sub, x, y, "diverged_fraction", Normalize(0, 1), "Reds",
                    "fraction of runs that diverged (cell text: %)", metric, {})
        if not (sub["diverged_fraction"] > 0).any():
            ax_d.text(0.5, 0.5, "no run diverged in any cell", transform=ax_d.transAxes,
                      ha="center", va="center", fontsize=10, color="0.3")
        if panels == 3:
            _heat_panel(fig, row_axes[1], sub, x, y, "other_minimum_fraction", Normalize(0, 1),
                        "Blues", "fraction of the runs ending at a non-global minimum "
                        "(cell text: %)", metric, {})
            others = list(boundaries or {})[1:]
            where = _minima_text(others) if 0 < len(others) <= 3 else "the non-global minima"
            row_axes[1].set_title(f"{name}: runs ending at {where}\n"
                                  f"(of the runs counted in {metric})", fontsize=9)
        for ax in row_axes:
            footer += [n for n in _boundary(ax, sub, x, y, xs, ys, boundaries)
                       if n not in footer]
        lr_in_name = frame["lr"].nunique() > 1  # then the facet name carries lr
        lr_note = f", lr {sub['lr'].iloc[0]:g}" if one_lr and not lr_in_name else ""
        if one_lr:
            line = (f"Plain {plain} at lr {sub['lr'].iloc[0]:g}: {metric} "
                    f"{_fmt_value(metric, float(b['baseline_value']))} "
                    f"[{_fmt_value(metric, float(b['baseline_ci_low']))}, "
                    f"{_fmt_value(metric, float(b['baseline_ci_high']))}], "
                    f"{100 * float(b['baseline_diverged_fraction']):.0f}% of its runs diverged.")
            if line not in footer:
                footer.insert(sum(f.startswith("Plain ") for f in footer), line)
            how = f"vs plain {plain} (red mark on the colour bar)"
        else:
            how = f"vs plain {plain} at the same lr"
        rule = ("median outside its IQR" if metric == "final-loss"
                else "95% intervals apart")
        # a long spec made the line wider than its panel, cut on both sides: wrapped
        legend_line = textwrap.fill(f"+ better, − worse {how}, {rule}", 90,
                                    break_on_hyphens=False)
        ax_m.set_title(f"{name}{lr_note}: {metric}\n{legend_line}", fontsize=9)
        ax_d.set_title(f"{name}{lr_note}: diverged runs\n(left the box |x| <= 1e6)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    handles, labels = [], []
    for ax in axes[:, 0]:
        for hnd, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(hnd)
                labels.append(lab)
    height = fig.get_figheight()
    footer_in = 0.16 * len(footer) + 0.08  # inches: 8 pt lines
    legend_in = 0.22 * len(labels) + 0.15 if labels else 0.0
    fig.text(0.01, 0.04 / height, "\n".join(footer), fontsize=8, ha="left", va="bottom")
    if labels:
        fig.legend(handles, labels, loc="lower left", fontsize=8, framealpha=0.9,
                   bbox_to_anchor=(0.0, footer_in / height))
    top = 1 - (0.45 / height if title else 0.0)
    fig.tight_layout(rect=(0, (footer_in + legend_in + 0.1) / height, 1, top))
    return fig


def line_figure(frame, x: str, *, title: str = "", tol: float | None = None):
    """One swept axis: the metric with its interval against `x`, the baseline as a band,
    and the diverged fraction on a second panel."""
    metric = str(frame["metric"].iloc[0])
    # sharex: the diverged panel always has finite data, so the x range exists even when
    # every metric value is +inf (final-loss once most runs diverge)
    fig, (ax_m, ax_d) = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    n = int(frame["n"].iloc[0]) if metric == "success" else None
    finite = np.empty(0)
    if metric == "final-loss":
        # A median or band edge at +inf (more than a half or a quarter of the runs diverged)
        # has no place on a log axis: the limits come from the finite values, and infinite
        # band tops are drawn past the top edge instead of vanishing.
        cols = [c for c in ("value", "ci_low", "ci_high", "baseline_value", "baseline_ci_low",
                            "baseline_ci_high") if c in frame]
        shown = frame[cols].to_numpy(float)
        finite = shown[np.isfinite(shown) & (shown > 0)]
    top = finite.max() * 10 if finite.size else 1.0

    def _to_top(upper) -> np.ndarray:
        return np.nan_to_num(np.asarray(upper, dtype=float), nan=np.nan, posinf=top)

    values = np.unique(frame[x].to_numpy(float))
    by_position = not np.all(np.abs(values) <= AXIS_LIMIT)
    for opt in dict.fromkeys(frame["optimizer"]):
        sub = frame[frame["optimizer"] == opt].sort_values(x)
        st = style(opt)
        xv = sub[x].to_numpy(float)
        if by_position:
            xv = np.searchsorted(values, xv).astype(float)
        ax_m.plot(xv, sub["value"], marker="o", color=st["color"], label=st["label"])
        ax_m.fill_between(xv, sub["ci_low"], _to_top(sub["ci_high"]), color=st["color"],
                          alpha=0.2)
        plain = str(sub["baseline"].iloc[0])
        pst = style(plain)
        ax_m.plot(xv, sub["baseline_value"], ls="--", color=pst["color"],
                  label=f"plain {pst['label']} (same lr)")
        ax_m.fill_between(xv, sub["baseline_ci_low"], _to_top(sub["baseline_ci_high"]),
                          color=pst["color"], alpha=0.12)
        ax_d.plot(xv, sub["diverged_fraction"], marker="o", color=st["color"], label=st["label"])
        ax_d.plot(xv, sub["baseline_diverged_fraction"], ls="--", color=pst["color"],
                  label=f"plain {pst['label']}")
    if metric == "final-loss":
        if finite.size:
            ax_m.set_yscale("log")
            ax_m.set_ylim(finite.min() / 2, finite.max() * 2)
        if not np.isfinite(frame["value"].to_numpy(float)).all():
            ax_m.text(0.02, 0.98, "median not drawn where it is +inf\n(more than half of the "
                      "runs diverged)", transform=ax_m.transAxes, ha="left", va="top",
                      fontsize=8)
    if by_position:
        for ax in (ax_m, ax_d):
            _ticks(ax, values, "x")
        ax_m.set_xlim(-0.5, len(values) - 0.5)
    elif x == "lr":
        for ax in (ax_m, ax_d):
            ax.set_xscale("log")
    ax_m.set_ylabel(metric_label(metric, tol, n), fontsize=9)
    ax_d.set_ylabel("fraction of runs that diverged", fontsize=9)
    ax_d.set_ylim(-0.02, 1.02)
    for ax in (ax_m, ax_d):
        ax.set_xlabel(axis_label(x, frame["optimizer"].unique() if "optimizer" in frame
                                 else ["+moxco"])
                      + (" (one position per value)" if by_position else ""), fontsize=9)
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(fontsize=8)
    ax_m.set_title(f"{metric} (band: 95% interval; IQR for final-loss)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def sweep_figure(frame, axes: tuple[str, ...], *, boundaries=None, title: str = "",
                 tol: float | None = None):
    """`heatmap_figure` over the first two of `axes`, or `line_figure` for one axis."""
    if len(axes) >= 2:
        return heatmap_figure(frame, axes[0], axes[1], boundaries=boundaries, title=title,
                              tol=tol)
    return line_figure(frame, axes[0], title=title, tol=tol)
