"""Figures of `moxco generalize` and of `moxco run` on a network. Matplotlib only.

- `fit_figure`: the fitted function of each method over the training and test points, with
  the truth (run two-layer-net).
- `curves_figure`: train loss and test error, goodness, lam_max per step, commit marked (run).
- `distributions_figure`: per metric and lr, every run's value per method, with the median
  and its 95% bootstrap interval.
- `paired_figure`: median paired difference X+moxco - X with intervals (forest plot).
- `sharpness_figure`: test error against final lam_max per lr, Spearman's rho per method.
- `selected_sharpness_figure`: factorization: final lam_max per method and lr against 2/lr,
  1/eta~ and the flattest value (depth).
- `thresholds_figure`: the threshold sweep, raw points with intervals, no smoothing.
- `sharpness_map_figure`: final lam_max over the start grid (factorization, depth 2).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FormatStrFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
)

from moxco_cli.plots.run import short_title, style  # noqa: E402

LABELS = {"test_mse": "test MSE vs the noise-free truth", "train_loss": "train loss (MSE)",
          "final_lam_max": r"final $\lambda_{max}$", "test_mse_noisy": "test MSE vs noisy labels"}


def _title(fig, text: str) -> None:
    import textwrap

    fig.suptitle("\n".join(textwrap.wrap(text, int(fig.get_figwidth() * 11),
                                          break_on_hyphens=False)), fontsize=10)


class _Log125(LogLocator):
    """Ticks at 1, 2, 5 x 10^k over at most MAX_125_DECADES decades, else at decades
    (strided by matplotlib as it needs). Over many decades matplotlib's LogLocator with
    several `subs` returns no tick at all: a panel from 0.03 to 6.6e7 had no y label."""

    MAX_125_DECADES = 3.0

    def __init__(self):
        super().__init__(subs=(1.0, 2.0, 5.0))

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((vmin, vmax))
        if lo > 0 and np.isfinite(hi) and math.log10(hi / lo) > self.MAX_125_DECADES:
            return LogLocator(numticks=self.numticks).tick_values(vmin, vmax)
        return super().tick_values(vmin, vmax)


def _log(ax, which: str = "y") -> None:
    """A log axis labelled at 1, 2, 5 x 10^k in plain numbers (matplotlib's default labels
    every minor tick of an axis shorter than a decade, in overlapping scientific notation);
    over more than three decades, at decades (`_Log125`)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    axis.set_major_locator(_Log125())
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def _shown(values) -> np.ndarray:
    """`values` as floats with non-finite entries NaN (not drawn)."""
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), v, np.nan)


def _diverged_note(ax, k: int, n_div: int, infinite_median: bool, color) -> None:
    """`N diverged` above method k's strip (at the bottom it covered the median's bar), and
    where over half diverged, that the median is +inf (no bar is drawn for it)."""
    text = f"{n_div} diverged" + ("\nmedian +inf" if infinite_median else "")
    ax.annotate(text, (k, 0.985), xycoords=("data", "axes fraction"), ha="center", va="top",
                fontsize=7, color=color, zorder=6,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))


def _strips_xlim(count: int) -> tuple[float, float]:
    """x limits of `count` strips at 0..count-1: room for a note centred on the first and last
    ("311 diverged" ran over the left spine when matplotlib's margins hugged the dots)."""
    return -0.7, count - 0.3


def _finite(v):
    v = np.asarray(v, dtype=float)
    return v[np.isfinite(v)]


# ------------------------------------------------------------------------- run two-layer-net

def fit_figure(land, runs: dict, title: str):
    """One panel per method: the fitted function over [-0.5, 0.5] at the start and at the
    end, the truth, the training points (filled) and the test points (open)."""
    names = list(runs)
    cols = min(len(names), 2)
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.0 * rows + 0.8), squeeze=False,
                             sharey=True, layout="constrained")
    xs = np.linspace(-0.5, 0.5, 401)
    truth = land.truth_at(xs)
    data = land.data
    for ax, name in zip(axes.flat, names, strict=False):
        tr = runs[name]
        st = style(name, runs)
        ax.plot(xs, truth, color="black", lw=1.6, label="truth g")
        ax.plot(data["x_train"], data["y_train"], "o", color="0.35", ms=4, label="train points")
        ax.plot(data["x_test"], data["y_test"], "o", mfc="none", mec="0.35", ms=5,
                label="test points (noisy)")
        ax.plot(xs, land.predict(tr.x0, xs)[0], color=st["color"], lw=1.0, ls=":",
                label="at the start")
        ax.plot(xs, land.predict(tr.final, xs)[0], color=st["color"], lw=2.0, label="at the end")
        m = land.metrics(tr.final)
        commit = int(tr.commit_step[0])
        ax.set_title(f"{st['label']}: train {m['train_loss'][0]:.3f}, test MSE "
                     f"{m['test_mse'][0]:.3f}, " + (f"commit t={commit}" if commit >= 0
                                                    else "no commit"), fontsize=9)
        ax.set_xlabel("x = u - 0.5")
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("y")
    axes[0, 0].legend(fontsize=7, loc="lower center")
    _title(fig, f"{short_title(title)}; f_target = noise^2 = {land.f_target:.4g}")
    return fig


def curves_figure(land, runs: dict, inv_eta: dict, threshold: float, title: str):
    """Train loss and test MSE, goodness, and lam_max against step; commits marked."""
    fig, (top, mid, bottom) = plt.subplots(3, 1, figsize=(7.8, 9.0), sharex=True,
                                           layout="constrained")
    for name, tr in runs.items():
        st = style(name, runs)
        rec = tr.records
        steps = np.arange(len(rec.loss))
        test = land.metrics(rec.x[:, 0, :])["test_mse"]
        top.plot(steps, rec.loss[:, 0], color=st["color"], ls=st["ls"], lw=1.5,
                 label=f"{st['label']} train")
        top.plot(steps, test, color=st["color"], ls=":", lw=1.2, label=f"{st['label']} test MSE")
        mid.plot(steps, rec.goodness[:, 0], color=st["color"], ls=st["ls"], lw=1.4)
        bottom.plot(steps, rec.lam_max[:, 0], color=st["color"], ls=st["ls"], lw=1.4)
        c = int(tr.commit_step[0])
        if c >= 0:
            for ax, y in ((top, rec.loss[c, 0]), (mid, rec.goodness[c, 0]),
                          (bottom, rec.lam_max[c, 0])):
                ax.axvline(c, color=st["color"], ls=(0, (2, 2)), lw=0.9)
                ax.plot(c, y, marker="o", ms=8, mfc="none", mec=st["color"], mew=2)
    top.axhline(land.f_target, color="black", ls="--", lw=1.0,
                label=f"noise^2 = {land.f_target:.3g} (f_target)")
    _log(top)
    top.set(ylabel="MSE (log)", title=short_title(title))
    top.legend(fontsize=7, ncol=2)
    mid.axhline(threshold, color="black", ls="--", lw=1.0, label=f"threshold {threshold:g}")
    mid.set(ylabel="goodness G", ylim=(-0.03, 1.03))
    mid.legend(fontsize=8, loc="lower right", title="o / dashed: commit", title_fontsize=8)
    for name, value in inv_eta.items():
        st = style(name, runs)
        bottom.axhline(value, color=st["color"], ls=":", lw=1.2,
                       label=rf"2/lr or 1/$\tilde\eta$ of {st['label']} = {value:.4g}")
    _log(bottom)
    bottom.set(xlabel="step", ylabel=r"$\lambda_{max}$ (exact, log)")
    bottom.legend(fontsize=7, loc="upper right")
    for ax in (top, mid, bottom):
        ax.grid(alpha=0.3, lw=0.5, which="both")
    return fig


# ------------------------------------------------------------------------------ generalize

def _log_ok(values) -> bool:
    v = _finite(values)
    return len(v) > 0 and v.min() > 0 and v.max() / v.min() > 20


def distributions_figure(dist, runs, methods: list[str], metrics: list[str], title: str):
    """Rows: metrics; columns: lrs. Each method's runs as a strip of dots, the median as a
    bar with its 95% bootstrap interval; diverged runs are counted in the label."""
    main = runs[runs.role == "lr"]
    lrs = sorted(main.lr.unique())
    fig, axes = plt.subplots(len(metrics), len(lrs), figsize=(3.6 * len(lrs) + 1.2,
                                                              2.9 * len(metrics) + 1.0),
                             squeeze=False, layout="constrained")
    rng = np.random.default_rng(0)  # jitter only (drawing), fixed
    for i, metric in enumerate(metrics):
        for j, lr in enumerate(lrs):
            ax = axes[i, j]
            shown = []
            for k, m in enumerate(methods):
                part = main[(main.method == m) & (main.lr == lr)]
                if part.empty:
                    continue
                st = style(m, methods)
                v = part[metric].to_numpy(dtype=float)
                fin = np.isfinite(v)
                ax.plot(k + 0.25 * (rng.random(fin.sum()) - 0.5), v[fin], ".", ms=2,
                        color=st["color"], alpha=0.25)
                row = dist[(dist.method == m) & (dist.lr == lr) & (dist.metric == metric)]
                if not row.empty and math.isfinite(row["median"].iloc[0]):
                    r = row.iloc[0]
                    hi = r.ci_high if math.isfinite(r.ci_high) else r["median"]
                    ax.errorbar(k, r["median"], yerr=[[r["median"] - r.ci_low],
                                                      [hi - r["median"]]],
                                fmt="_", ms=22, mew=2.5, color="black", capsize=5, lw=1.5)
                shown.append(v[fin])
                n_div = int((~fin).sum())
                if n_div:
                    infinite = not row.empty and row["median"].iloc[0] == math.inf
                    _diverged_note(ax, k, n_div, infinite, st["color"])
            ax.set_xticks(range(len(methods)), [style(m)["label"] for m in methods],
                          rotation=25, fontsize=7)
            ax.set_xlim(*_strips_xlim(len(methods)))
            if shown and _log_ok(np.concatenate(shown)):
                _log(ax)
            if i == 0:
                ax.set_title(f"lr = {lr:g}", fontsize=9)
            if j == 0:
                ax.set_ylabel(LABELS.get(metric, metric), fontsize=8)
            ax.grid(alpha=0.3, lw=0.5, axis="y", which="both")
    _title(fig, f"Distributions over initializations (dots: runs; black bar: median with 95% "
           f"bootstrap interval). {title}")
    return fig


def paired_figure(paired, metrics: list[str], title: str):
    """One panel per metric: median of X+moxco - X over paired initializations with its 95%
    bootstrap interval, per pair and lr; the sign test's counts beside."""
    cols = min(2, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.6 * rows + 0.8), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        part = paired[paired.metric == metric].reset_index(drop=True)
        labels = []
        names = [*part.method, *part.against]
        for y, r in part.iterrows():
            st = style(r.method, names)
            lo = r.ci_low if math.isfinite(r.ci_low) else r.median_difference
            hi = r.ci_high if math.isfinite(r.ci_high) else r.median_difference
            if math.isfinite(r.median_difference):
                ax.errorbar(r.median_difference, y, xerr=[[r.median_difference - lo],
                                                          [hi - r.median_difference]],
                            fmt="o", color=st["color"], capsize=4, ms=6)
            both = int(r.both_diverged)
            labels.append(f"{st['label']} - {style(r.against, names)['label']}, lr {r.lr:g}\n"
                          f"lower in {r.method_lower}/{r.pairs}, p = {r.sign_test_p:.2g}"
                          + (f"\n(both diverged in {both}: left out)" if both else ""))
        ax.axvline(0.0, color="black", lw=1.0)
        # differences of 1e-3 in 9 auto ticks ran into each other ("-0.0040-0.0035..."): at
        # most 6, and a shared power of ten beside the axis for small or large values
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3), useMathText=True)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"paired difference of {LABELS.get(metric, metric)}\n"
                      "(< 0: the MoXCo method is lower)", fontsize=8)
        ax.grid(alpha=0.3, lw=0.5)
    _title(fig, f"Paired differences, same initialization (median and 95% bootstrap "
           f"interval; exact sign test; pairs where both runs diverged left out). {title}")
    return fig


def sharpness_figure(runs, corr, methods: list[str], primary: str, title: str):
    """Per lr (and pooled): primary metric against final lam_max, one colour per method,
    Spearman's rho [95% CI] in the legend."""
    main = runs[runs.role == "lr"]
    lrs = sorted(main.lr.unique())
    panels = [*lrs, "all"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels) + 0.6, 4.2),
                             squeeze=False, layout="constrained")
    for ax, lr in zip(axes[0], panels, strict=True):
        for m in methods:
            part = main[main.method == m] if lr == "all" else main[(main.method == m)
                                                                    & (main.lr == lr)]
            if part.empty:
                continue
            st = style(m, methods)
            c = corr[(corr.method == m) & (corr.lr.astype(str) == str(lr))]
            rho = (f" rho {c.rho.iloc[0]:.2f} [{c.ci_low.iloc[0]:.2f}, {c.ci_high.iloc[0]:.2f}]"
                   if not c.empty and math.isfinite(c.rho.iloc[0]) else "")
            ax.plot(_shown(part.final_lam_max), _shown(part[primary]), ".", ms=2.5,
                    alpha=0.35, color=st["color"], label=st["label"] + rho)
        _log(ax, "x")
        _log(ax)
        ax.set_xlabel(r"final $\lambda_{max}$ (log)")
        ax.set_title("all lrs pooled (the lr confound)" if lr == "all" else f"lr = {lr:g}",
                     fontsize=9)
        ax.legend(fontsize=6.5, markerscale=4, loc="upper left")
        ax.grid(alpha=0.3, lw=0.5, which="both")
    axes[0, 0].set_ylabel(LABELS.get(primary, primary) + " (log)")
    _title(fig, f"Is a flatter end point a better one? Spearman rank correlation per lr "
           f"(Fisher-z 95% interval). {title}")
    return fig


def selected_sharpness_figure(runs, methods: list[str], refs: dict, flattest: float,
                              title: str):
    """Factorization: every run's final lam_max per method, one panel per lr, with 2/lr,
    each MoXCo method's 1/eta~ and the flattest minima's lam_max (= depth)."""
    main = runs[runs.role == "lr"]
    lrs = sorted(main.lr.unique())
    fig, axes = plt.subplots(1, len(lrs), figsize=(4.2 * len(lrs) + 0.6, 4.4), squeeze=False,
                             layout="constrained")
    rng = np.random.default_rng(0)
    for ax, lr in zip(axes[0], lrs, strict=True):
        for k, m in enumerate(methods):
            part = main[(main.method == m) & (main.lr == lr)]
            if part.empty:
                continue
            st = style(m, methods)
            v = part.final_lam_max.to_numpy(dtype=float)
            fin = np.isfinite(v)
            ax.plot(k + 0.3 * (rng.random(fin.sum()) - 0.5), v[fin], ".", ms=2.5, alpha=0.3,
                    color=st["color"])
            if fin.any():
                ax.plot(k, np.median(v), "_", ms=24, mew=2.5, color="black")
            if (~fin).any():
                _diverged_note(ax, k, int((~fin).sum()), 2 * int((~fin).sum()) > len(v),
                               "black")
            inv = refs.get(m, {}).get(float(lr))
            if inv is not None and "+moxco" in m:
                ax.axhline(inv, color=st["color"], ls=":", lw=1.3,
                           label=rf"1/$\tilde\eta$ {st['label']} = {inv:.3g}")
        ax.axhline(2.0 / lr, color="black", ls="--", lw=1.0, label=f"2/lr = {2.0 / lr:.3g}")
        ax.axhline(flattest, color="green", ls="-", lw=1.0,
                   label=f"flattest minima: {flattest:g}")
        _log(ax)
        ax.set_xticks(range(len(methods)), [style(m)["label"] for m in methods], rotation=25,
                      fontsize=7)
        ax.set_xlim(*_strips_xlim(len(methods)))
        ax.set_title(f"lr = {lr:g}", fontsize=9)
        # below the panel: in it, the legend covered the top reference lines and the
        # diverged counts
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        ax.grid(alpha=0.3, lw=0.5, axis="y", which="both")
    axes[0, 0].set_ylabel(r"final $\lambda_{max}$ (log; bar: median)")
    _title(fig, f"Which minimum does each method select? {title}")
    return fig


PANEL_WIDTH_IN = 4.6  # about the width of one of thresholds_figure's two axes
CHAR_WIDTH_IN = 0.075  # a tick label's character at fontsize 8, with room to spare
TURNED_GAP_IN = 0.16  # between labels turned 45 degrees: about a line of fontsize 8


def _threshold_ticks(ax, gaps, ticks, width_in: float) -> None:
    """A tick at every threshold (x = 1 - threshold, log scale), labelled. Close thresholds
    (0.9, 0.91, 0.92 beside 0.999) put their labels on top of each other: turned 45 degrees
    when level ones would touch, and from left to right a label is left out while it would
    touch the last one shown."""
    labels = [f"{t:g}" for t in ticks]
    lo, hi = np.log10(ax.get_xlim())
    at = (np.log10(gaps) - lo) / (hi - lo) * width_in  # inches from the left end
    order = np.argsort(at)
    steps = np.diff(at[order])
    need = max(len(text) for text in labels) * CHAR_WIDTH_IN
    if not len(steps) or steps.min() >= need:
        ax.set_xticks(gaps, labels, fontsize=8)
        return
    shown, last = set(), -np.inf
    for k in order:
        if at[k] - last >= TURNED_GAP_IN:
            shown.add(int(k))
            last = at[k]
    ax.set_xticks(gaps, [text if k in shown else "" for k, text in enumerate(labels)],
                  fontsize=8, rotation=45, ha="right", rotation_mode="anchor")


def thresholds_figure(table, dist, primary: str, lr: float, title: str):
    """The authors' experiment, drawn raw: the primary metric's median (95% bootstrap
    interval) at every commit threshold tried, the inner optimizer's median as a band, and
    the fraction that committed."""
    fig, (ax, frac) = plt.subplots(1, 2, figsize=(11.0, 4.6), layout="constrained")
    shown = []
    names = list(table.method.unique())
    names += [m for m in dist.method.unique() if m not in names]  # the inner ones
    from moxco_cli.experiments.compare import moxco_pairs

    pairs = moxco_pairs(list(dist.method.unique()))
    for method, part in table.groupby("method", sort=False):
        st = style(method, names)
        part = part.sort_values("threshold")
        gap = 1.0 - part.threshold.to_numpy(dtype=float)  # the x axis: 1 - threshold, log
        med = _shown(part[f"{primary}_median"])  # an infinite median (most diverged): a gap
        lo = _shown(part[f"{primary}_ci_low"])
        hi = part[f"{primary}_ci_high"].to_numpy(dtype=float)
        hi = np.where(np.isfinite(hi), hi, med)
        with np.errstate(invalid="ignore"):
            err = [np.nan_to_num(med - lo), np.nan_to_num(hi - med)]
        ax.errorbar(gap, med, yerr=err, fmt="o-", lw=1.0, color=st["color"], capsize=4,
                    label=st["label"])
        shown.append(np.concatenate([med, lo, hi]))
        # the plain method's label as given (`gd:batch=5` for `gd+moxco:batch=5`): matched by
        # name alone, a spec with keys found no baseline and its band was silently missing
        plains = [plain for mox, plain in pairs if mox == method]
        keys = method.partition(":")[2]  # the plain label with the same keys, if given
        inner = next((p for p in plains if p.partition(":")[2] == keys),
                     plains[0] if plains else method.partition(":")[0].removesuffix("+moxco"))
        ref = dist[(dist.method == inner) & (dist.lr == lr) & (dist.metric == primary)]
        if not ref.empty and math.isfinite(ref["median"].iloc[0]):
            r = ref.iloc[0]
            ax.axhspan(r.ci_low, r.ci_high if math.isfinite(r.ci_high) else r["median"],
                       color=style(inner, names)["color"], alpha=0.15, lw=0)
            ax.axhline(r["median"], color=style(inner, names)["color"], ls="--", lw=1.0,
                       label=f"{style(inner, names)['label']} (no commit rule), median and CI")
        frac.errorbar(gap, part.committed_fraction,
                      yerr=[part.committed_fraction - part.committed_ci_low,
                            part.committed_ci_high - part.committed_fraction],
                      fmt="o-", lw=1.0, color=st["color"], capsize=4,
                      label=f"{st['label']} (median commit step: "
                      + ", ".join("-" if not math.isfinite(v) else f"{v:g}"
                                  for v in part.median_commit_step) + ")")
        shown.append(ref[["median", "ci_low", "ci_high"]].to_numpy(dtype=float).ravel())
    if shown and _log_ok(np.concatenate(shown)):
        _log(ax)
    ticks = np.sort(table.threshold.unique())
    gaps = 1.0 - ticks
    for a in (ax, frac):
        a.set_xscale("log")
        a.set_xlim(gaps.max() * 1.5, gaps.min() / 1.5)  # stricter thresholds to the right
        _threshold_ticks(a, gaps, ticks, PANEL_WIDTH_IN)
        a.minorticks_off()
    ax.set(xlabel="commit threshold (log scale of 1 - threshold; stricter to the right)",
           ylabel=f"{LABELS.get(primary, primary)}: median")
    ax.set_title(f"lr = {lr:g}; every threshold tried is a point (no smoothing)", fontsize=9)
    ax.legend(fontsize=7)
    frac.set(xlabel="commit threshold (log scale of 1 - threshold)",
             ylabel="fraction of runs that committed (Wilson 95%)",
             ylim=(-0.03, 1.03))
    frac.legend(fontsize=7)
    for a in (ax, frac):
        a.grid(alpha=0.3, lw=0.5)
    _title(fig, f"Threshold sweep. {title}")
    return fig


def sharpness_map_figure(grid, methods: list[str], bounds, flattest: float, title: str):
    """Final lam_max over the start grid, one panel per method (log colour; white:
    diverged)."""
    fig, axes = plt.subplots(1, len(methods), figsize=(4.0 * len(methods) + 1.2, 4.2),
                             squeeze=False, layout="constrained")
    values = grid.final_lam_max.to_numpy(dtype=float)
    fin = values[np.isfinite(values) & (values > 0)]
    # the colour scale spans the bulk (up to the 99th percentile; a few far sharper end
    # points are drawn at its top colour) so that the differences near the flattest show
    norm = LogNorm(vmin=max(fin.min(), 1e-2), vmax=max(float(np.quantile(fin, 0.99)),
                                                       2 * fin.min())) if len(fin) else None
    mesh = None
    for ax, m in zip(axes[0], methods, strict=True):
        part = grid[grid.method == m]
        side = int(round(math.sqrt(len(part))))
        z = part.final_lam_max.to_numpy(dtype=float).reshape(side, side)
        z = np.where(np.isfinite(z), z, np.nan)
        (x_lo, x_hi), (y_lo, y_hi) = bounds
        mesh = ax.imshow(z, origin="lower", extent=(x_lo, x_hi, y_lo, y_hi), norm=norm,
                         cmap="viridis", interpolation="nearest", aspect="equal")
        for xs in (np.linspace(x_lo, -1e-3, 300), np.linspace(1e-3, x_hi, 300)):
            ax.plot(xs, 1.0 / xs, color="white", lw=0.8, ls="--")  # the minima w0 w1 = 1
        ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="start w0", ylabel="start w1")
        n_div = int((~np.isfinite(part.final_lam_max)).sum())
        ax.set_title(f"{style(m, methods)['label']} (lr {part.lr.iloc[0]:g})"
                     + (f"; {n_div} diverged (blank)" if n_div else ""), fontsize=9)
    if mesh is not None:
        cbar = fig.colorbar(mesh, ax=list(axes[0]), shrink=0.85, extend="max")
        cbar.set_label(rf"final $\lambda_{{max}}$ (flattest: {flattest:g}; top: >= 99th pct)")
    _title(fig, f"Final sharpness from every start of the grid (dashed: the minima w0 w1 = 1). "
           f"{title}")
    return fig
