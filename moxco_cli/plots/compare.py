"""Figures of `moxco compare`, in the shapes COCO/IOHprofiler readers know. Matplotlib only.

- `ecdf_figure`: runtime ECDF over (start, target) pairs per landscape, log step axis.
- `ert_figure`: ERT against the target with 95% bootstrap intervals, per landscape.
- `fixed_budget_figure`: median `f - f*` over the steps with the interquartile band.
- `tuning_figure`: the tuning objective of every trial (lr on the x axis), chosen marked.
- `profile_figure`: the performance profile of ERT at the headline target.

Every figure states the protocol in its title: tuned on separate starts, same trials and
step budget for every method.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from moxco_cli.plots.run import style  # noqa: E402


def _panels(count: int, width: float = 5.2, height: float = 4.0):
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.5, width * cols), height * rows + 1.2),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def _shown(values, floor: float | None = None):
    """`values` as floats with non-finite entries NaN (not drawn), raised to `floor` if given
    (a log axis cannot show 0)."""
    v = np.asarray(values, dtype=float)
    v = np.where(np.isfinite(v), v, np.nan)
    return v if floor is None else np.maximum(v, floor)


def _finish(ax, land: str, legend_loc: str = "best") -> None:
    ax.set_title(land)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:  # a panel where nothing finite was drawn has none
        ax.legend(fontsize=8, loc=legend_loc)


def _title(fig, text: str) -> None:
    """A suptitle wrapped to the figure's width (about 11 characters per inch at size 10)."""
    import textwrap

    width = int(fig.get_figwidth() * 11)
    fig.suptitle("\n".join(textwrap.wrap(text, width, break_on_hyphens=False)), fontsize=10)


def ecdf_figure(ecdf, landscapes: list[str], methods: list[str], protocol: str,
                n_targets: int, target_range: str):
    fig, axes = _panels(len(landscapes))
    for ax, land in zip(axes, landscapes, strict=True):
        for m in methods:
            part = ecdf[(ecdf.landscape == land) & (ecdf.method == m)]
            st = style(m, methods)
            ax.step(part.step, part.fraction, where="post", color=st["color"], ls=st["ls"],
                    lw=1.8, label=st["label"])
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("steps (one gradient step = one evaluation; log scale)")
        ax.set_ylabel(f"fraction of (start, target) pairs reached\n"
                      f"({n_targets} targets f - f* = {target_range})")
        _finish(ax, land, "upper left")
    _title(fig, f"Runtime ECDF (higher and further left is better). {protocol}")
    return fig


def ert_figure(ert, landscapes: list[str], methods: list[str], protocol: str, budget_note: str):
    fig, axes = _panels(len(landscapes))
    for ax, land in zip(axes, landscapes, strict=True):
        for m in methods:
            part = ert[(ert.landscape == land) & (ert.method == m)].sort_values("target")
            finite = np.isfinite(part.ert.to_numpy())
            if not finite.any():
                continue
            st = style(m, methods)
            x = part.target.to_numpy()
            ax.plot(x[finite], part.ert.to_numpy()[finite], color=st["color"], ls=st["ls"],
                    lw=1.8, marker="o", ms=2.5, label=st["label"])
            hi = part.ci_high.to_numpy()
            ax.fill_between(x[finite], part.ci_low.to_numpy()[finite], _shown(hi)[finite],
                            color=st["color"], alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("target f - f* (harder to the right; log scale)")
        ax.set_ylabel("ERT: expected steps to reach the target\n(95% bootstrap interval)")
        _finish(ax, land, "upper left")
    _title(fig, f"Expected running time; a method's curve ends at the hardest target it ever "
           f"reached. {protocol} {budget_note}")
    return fig


def fixed_budget_figure(fixed, landscapes: list[str], methods: list[str], protocol: str):
    fig, axes = _panels(len(landscapes))
    for ax, land in zip(axes, landscapes, strict=True):
        top, bottom = [], []
        for m in methods:
            part = fixed[(fixed.landscape == land) & (fixed.method == m)]
            st = style(m, methods)
            med = _shown(part.q50)
            if np.isfinite(med).any():
                top.append(np.nanmax(med))
                bottom.append(np.nanmin(med))
            ax.plot(part.step, np.maximum(med, 1e-16), color=st["color"], ls=st["ls"], lw=1.8,
                    label=st["label"])
            ax.fill_between(part.step, _shown(part.q25, 1e-16), _shown(part.q75, 1e-16),
                            color=st["color"], alpha=0.12, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if top:  # the medians decide the view; wide bands (early divergence) are clipped
            ax.set_ylim(max(1e-16, min(bottom) / 1e3), max(top) * 1e2)
        else:  # nothing finite: log axes without limits made matplotlib refuse the figure
            ax.set_ylim(1.0, 10.0)
            steps = fixed[fixed.landscape == land].step
            ax.set_xlim(1.0, max(10.0, float(steps.max())) if len(steps) else 10.0)
            ax.text(0.5, 0.5, "nothing finite to draw: every median is +inf\n(over half the "
                    "runs diverged at every step)", transform=ax.transAxes, ha="center",
                    va="center", fontsize=9, bbox=dict(fc="white", ec="0.6"))
        ax.set_xlabel("steps (log scale)")
        ax.set_ylabel("f - f* at that step: median and IQR\n(diverged runs count as +inf)")
        _finish(ax, land, "lower left")
    _title(fig, f"Fixed budget: where the runs are after t steps (bands clipped to the view). "
           f"{protocol}")
    return fig


def tuning_figure(tuning, chosen, landscapes: list[str], methods: list[str], protocol: str):
    fig, axes = _panels(len(landscapes))
    tuned = [c for c in tuning.columns if c not in ("landscape", "method", "trial", "objective",
                                                    "diverged_fraction", "chosen")]
    key = "lr" if "lr" in tuned else tuned[0]  # the x axis: lr, else the first tuned key
    # several tuned keys: trials are Sobol points of a box, their neighbours in `key` differ
    # in the other keys, so a line joining them drew a zigzag nobody can read: dots only
    several = len(tuned) > 1
    for ax, land in zip(axes, landscapes, strict=True):
        lost = []
        for m in methods:
            part = tuning[(tuning.landscape == land) & (tuning.method == m)].sort_values(key)
            if part[key].isna().all():
                continue
            st = style(m, methods)
            obj = part.objective.to_numpy(dtype=float)
            if not np.isfinite(obj).any():
                lost.append(st["label"])
            shown = _shown(obj, 1e-16)
            ax.plot(part[key], shown, color=st["color"], ls="none" if several else st["ls"],
                    lw=1.4, marker="o", ms=4 if several else 3, label=st["label"])
            pick = part[part.chosen]
            ax.plot(pick[key], np.maximum(pick.objective.to_numpy(dtype=float), 1e-16),
                    marker="*", ms=14, color=st["color"], mec="black", ls="none")
        if key in ("lr", "tau"):
            ax.set_xscale("log")
        ax.set_yscale("log")
        what = "learning rate of the trial (log scale)" if key == "lr" else f"{key} of the trial"
        others = [k for k in tuned if k != key]
        ax.set_xlabel(what + (f"\n({', '.join(others)} var{'ies' if len(others) == 1 else 'y'}"
                              " too: one dot per trial)" if several else ""))
        # three short lines: as two, the label was taller than the panel and ran into the
        # caption above it
        ax.set_ylabel("tuning objective: median final f - f*\nover the tuning starts\n"
                      "(gaps: over half diverged; 0 at 1e-16)")
        _finish(ax, land)
        if lost:
            ax.text(0.5, 0.5, "every trial: over half the runs diverged\n(objective +inf): "
                    + ", ".join(lost), transform=ax.transAxes, ha="center", va="center",
                    fontsize=9, bbox=dict(fc="white", ec="0.6"))
    if several:
        edge = (f"stars: chosen; each trial is a point of a scrambled Sobol sequence over "
                f"{', '.join(tuned)}, drawn against {key} alone; chosen.csv names any key "
                f"chosen on the edge of its range (the optimum may lie outside)")
    else:
        edge = ("stars: chosen; a star at either end of the range tried was chosen on its "
                "edge: the optimum may lie outside")
    _title(fig, f"Tuning ({edge}). {protocol}")
    return fig


def profile_figure(profile, methods: list[str], target: float, landscapes: list[str]):
    fig, ax = plt.subplots(figsize=(6.5, 4.6), layout="constrained")
    for m in methods:
        part = profile[profile.method == m]
        st = style(m, methods)
        ax.step(part.ratio, part.fraction, where="post", color=st["color"], ls=st["ls"], lw=1.8,
                label=st["label"])
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("ERT within this factor of the best method's (log scale)")
    ax.set_ylabel(f"fraction of the {len(landscapes)} landscapes")
    ax.set_title(f"Performance profile of ERT at f - f* <= {target:g}\n"
                 f"({', '.join(landscapes)}; never reached counts as never within)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    return fig
