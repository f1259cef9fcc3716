"""Figures. Matplotlib only: every function draws data it is given and computes nothing else.

Axes-level functions (`draw_*`) are reused by the run command and the reproduction figures;
`*_figure` functions assemble complete figures. One style per optimizer everywhere.
"""

from __future__ import annotations

import functools
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

STYLE = {
    "gd": dict(color="#1f77b4", ls="-", label="GD"),
    "adam": dict(color="#ff7f0e", ls="--", label="Adam"),
    "gd+moxco": dict(color="#d62728", ls="-", label="GD+MoXCo"),
    "adam+moxco": dict(color="#9400d3", ls="-.", label="Adam+MoXCo"),
    "heavy-ball": dict(color="#2ca02c", ls=":", label="Heavy ball"),
    "nesterov": dict(color="#8c564b", ls=":", label="Nesterov"),
    "nesterov+restart-fn": dict(color="#17becf", ls="--", label="Nesterov+restart (f)"),
    "nesterov+restart-grad": dict(color="#e377c2", ls="--", label="Nesterov+restart (grad)"),
}
# Colours for methods without their own entry in STYLE, and for a second variant of one
# (`adam:lr=0.01` beside `adam`): taken in this order, each once per figure.
_EXTRA = ["#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#1f77b4",
          "#ff7f0e", "#d62728", "#9400d3", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
          "#c5b0d5", "#c49c94"]
_DASHES = ["-", "--", "-.", ":"]


def styles(names) -> dict[str, dict]:
    """`{name: dict(color, ls, label)}`, one distinct style per method of one figure.

    A method of STYLE keeps its own style. Any other name, e.g. a spec with keys
    (`adam:lr=0.01`, labelled in full), takes its base's style (`adam`'s) while no other
    method of the figure uses that colour (a name of neither: a colour of its own hash),
    else the first colour of `_EXTRA` not used yet and a line style of its own: two
    variants of one optimizer never look alike (they used to share the base's colour and
    dash). The dicts are fresh copies."""
    names = tuple(dict.fromkeys(names))
    return {name: dict(st) for name, st in _styles(names).items()}


@functools.lru_cache(maxsize=256)
def _styles(names: tuple[str, ...]) -> dict[str, dict]:
    """`styles` of distinct `names`, computed once per figure's set of methods (`style` is
    called per line drawn)."""
    out = {name: dict(STYLE[name]) for name in names if name in STYLE}
    used = {st["color"] for st in out.values()}
    for k, name in enumerate(n for n in names if n not in STYLE):
        base = STYLE.get(name.partition(":")[0]) or dict(color=_hashed(name), ls=":")
        st = dict(base, label=name)
        if st["color"] in used:
            free = [c for c in _EXTRA if c not in used]
            st["color"] = free[0] if free else _EXTRA[k % len(_EXTRA)]
            st["ls"] = _DASHES[(_DASHES.index(base["ls"]) + 1 + k) % len(_DASHES)]
        used.add(st["color"])
        out[name] = st
    return {name: out[name] for name in names}


def _hashed(name: str) -> str:
    """A colour for a name without a style of its own, the same in every process."""
    import zlib

    return _EXTRA[zlib.crc32(name.encode()) % 5]


def style(name: str, among=()) -> dict:
    """The style of method `name` in a figure that draws the methods `among` too
    (`styles`); alone, the style it has in every figure."""
    return styles([*among, name])[name]


def _view_box(land, runs: dict) -> np.ndarray:
    """Plot limits `(d, 2)`: the domain, grown to show the paths of `runs` ({name: Trajectory
    with records}) up to 3x the domain. Diverged runs do not grow it: they leave the view
    where `draw_paths_2d` marks them, and the landscape stays readable."""
    box = land.bounds.astype(float).copy()
    span = box[:, 1] - box[:, 0]
    for tr in runs.values():
        if tr.diverged[0]:
            continue
        p = tr.records.x[:, 0, :]
        box[:, 0] = np.minimum(box[:, 0], np.maximum(p.min(axis=0), box[:, 0] - span))
        box[:, 1] = np.maximum(box[:, 1], np.minimum(p.max(axis=0), box[:, 1] + span))
    return box


def _decades(levels: np.ndarray) -> np.ndarray:
    lo, hi = np.ceil(np.log10(levels.min())), np.floor(np.log10(levels.max()))
    return 10.0 ** np.arange(lo, hi + 1)


def log_colorbar(fig, cs, ax, **kw):
    """Colourbar of `draw_contours` output with one labelled tick per decade."""
    cbar = fig.colorbar(cs, ax=ax, **kw)
    cbar.set_ticks(_decades(cs.levels))
    cbar.set_label(r"$f(\theta) - f_{target}$ (log scale)")
    return cbar


def draw_contours(ax, land, box: np.ndarray, resolution: int = 300):
    """Filled contours of `f - f_target` on a log scale over `box (2, 2)`; returns the mappable."""
    xs = np.linspace(box[0, 0], box[0, 1], resolution)
    ys = np.linspace(box[1, 0], box[1, 1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        z = land.f(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape) - land.f_target
    # where f is not finite (a formula outside where it is real, overflow) the view is blank
    z = np.where(np.isfinite(z), np.clip(z, 1e-3, None), np.nan)
    lo, hi = (np.nanmin(z), np.nanmax(z)) if np.isfinite(z).any() else (1e-3, 1.0)
    levels = np.logspace(np.log10(lo), np.log10(max(hi, 10 * lo)), 28)
    return ax.contourf(gx, gy, z, levels=levels, norm=LogNorm(), cmap="Greys_r", alpha=0.9)


def draw_minima(ax, land, one_d: bool = False):
    """The named minima: a black star for the global ones, a smaller white star for the
    others (as the outcome maps draw them), each kind labelled once. Drawn below the end
    markers (zorder 6 < 7), so a run that ends at a minimum still shows where it ended."""
    glob, other = land.split_minima()
    for group, label, look in ((glob, "global minimum", dict(ms=17, color="black",
                                                              mec="white", mew=1.0)),
                               (other, "other minimum", dict(ms=13, color="white",
                                                             mec="black", mew=1.0))):
        for k, m in enumerate(group):
            xy = (m.x[0], m.f) if one_d else (m.x[0], m.x[1])
            ax.plot(*xy, marker="*", ls="none", zorder=6, label=label if k == 0 else None,
                    **look)


def _annotate_event(ax, xy, text, color, offset, ha="left", va="baseline"):
    note = ax.annotate(text, xy=xy, xytext=offset, textcoords="offset points", fontsize=8,
                       color=color, fontweight="bold", ha=ha, va=va,
                       arrowprops=dict(arrowstyle="-", color=color, lw=0.8),
                       bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, lw=0.6,
                                 alpha=0.9), zorder=8)
    # a note that still reaches past the axes must not make the layout shrink them
    note.set_in_layout(False)


def exit_point(path: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Where `path (T, 2)` first leaves `box (2, 2)` (on its edge), its last point if it
    never does, None if it starts outside. Non-finite points count as outside."""
    inside = np.all(np.isfinite(path) & (path >= box[:, 0]) & (path <= box[:, 1]), axis=1)
    if inside.all():
        return path[-1]
    first_out = int(np.argmin(inside))
    if first_out == 0:
        return None
    if not np.all(np.isfinite(path[first_out])):
        return path[first_out - 1]
    a, step = path[first_out - 1], path[first_out] - path[first_out - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(step > 0, (box[:, 1] - a) / step,
                     np.where(step < 0, (box[:, 0] - a) / step, np.inf))
    return a + min(1.0, float(np.min(t))) * step


def _inward(xy, box, offset):
    """`(offset, ha, va)` that put a note at `xy` on the side of the view's centre, so a
    note about a point on the top or right edge stays inside the axes."""
    if box is None:
        return offset, "left", "baseline"
    right, top = xy[0] > box[0].mean(), xy[1] > box[1].mean()
    dx, dy = abs(offset[0]), abs(offset[1])
    return ((-dx if right else dx, -dy if top else dy), "right" if right else "left",
            "top" if top else "bottom")


def _keep_inside(xy, box, offset):
    """`(offset, ha, va)`: `offset` as given, mirrored along x where the point lies in the
    outer 30% of the view on the side the note would go, along y in the outer 10% (a commit
    near the right edge had its note run out of the axes, and the layout squeezed the axes
    to fit it)."""
    if box is None:
        return offset, "left", "baseline"
    (dx, dy), ha, va = offset, "left", "baseline"
    where = (np.asarray(xy, dtype=float) - box[:, 0]) / (box[:, 1] - box[:, 0])
    if (dx > 0 and where[0] > 0.7) or (dx < 0 and where[0] < 0.3):
        dx, ha = -dx, "right" if dx > 0 else "left"
    # a note is far wider than tall: along y only the outer 10% turns it (turning at 30%
    # put two notes meant one above and one below a point on top of each other)
    if (dy > 0 and where[1] > 0.9) or (dy < 0 and where[1] < 0.1):
        dy, va = -dy, "top" if dy > 0 else "bottom"
    return (dx, dy), ha, va


def draw_paths_2d(ax, runs: dict, annotate: bool = True, box: np.ndarray | None = None):
    """Paths of `runs` ({name: Trajectory with records}, start 0) over existing contours.

    A diverged run's X goes where it leaves `box` (the plot limits, if given), and a path
    equal to an earlier one says so in its label (it is drawn underneath)."""
    offsets = [(12, 14), (12, -20), (-70, 14), (-70, -20), (20, 28), (-40, 30)]
    drawn: dict[str, np.ndarray] = {}
    for k, (name, tr) in enumerate(runs.items()):
        st = style(name, runs)
        p = tr.records.x[:, 0, :]
        twin = next((style(other, runs)["label"] for other, q in drawn.items()
                     if q.shape == p.shape and np.array_equal(q, p, equal_nan=True)), None)
        label = st["label"] + (f" (same path as {twin})" if twin else "")
        ax.plot(p[:, 0], p[:, 1], color=st["color"], ls=st["ls"], lw=1.7, label=label,
                zorder=3.9 if twin else 4)
        drawn[name] = p
        diverged = tr.diverged[0]
        end = exit_point(p, box) if diverged and box is not None else p[-1]
        if end is not None:  # None: it started outside the view and never came in
            ax.plot(*end, marker="X" if diverged else "D", ms=9, color=st["color"],
                    mec="black", mew=0.8, ls="none", zorder=7,
                    clip_on=not diverged)  # an X on the edge is drawn whole
        c = tr.commit_step[0]
        if c >= 0:
            ax.plot(*p[c], marker="o", ms=10, mfc="none", mec=st["color"], mew=2.2, zorder=7)
            if annotate:
                _annotate_event(ax, p[c], f"{st['label']} commits, t={c}", st["color"],
                                *_keep_inside(p[c], box, offsets[k % len(offsets)]))
        if diverged and annotate and end is not None:
            _annotate_event(ax, end, f"{st['label']} diverged, t={tr.diverged_step[0]}",
                            st["color"], *_inward(end, box, offsets[(k + 2) % len(offsets)]))
    start = next(iter(runs.values())).records.x[0, 0, :]
    ax.plot(*start, marker="o", ms=10, color="black", mec="white", mew=1.2, ls="none",
            zorder=9, label="start")


def _marker_legend_handles(runs: dict | None = None):
    """End-point and commit markers, plus the diverged X if any of `runs` diverged."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="D", color="gray", mec="black", ls="none", label="end point"),
        Line2D([], [], marker="o", mfc="none", mec="gray", mew=2, ls="none", label="commit"),
    ]
    if runs and any(tr.diverged[0] for tr in runs.values()):
        handles.append(Line2D([], [], marker="X", color="gray", mec="black", ls="none",
                              label="diverged (where it leaves the plot)"))
    return handles


def short_title(title: str, keep: int = 6) -> str:
    """`title` with every parenthesised list of more than `keep` items shortened to its first
    three, `...` and its last (a start in 50 dimensions); shorter lists are left as they are."""
    import re

    def shorten(match):
        items = [t.strip() for t in match.group(1).split(",")]
        if len(items) <= keep:
            return match.group(0)
        return f"({', '.join(items[:3])}, ..., {items[-1]}; {len(items)} numbers)"

    return re.sub(r"\(([^()]*)\)", shorten, title)


def trajectory_figure(land, runs: dict, title: str):
    """2-D: paths over log contours. 1-D: f(x) with the paths on it, and x against step.
    d > 2: per-coordinate traces against step (no 2-D picture of a d-D landscape)."""
    if land.dim == 1:
        return _trajectory_figure_1d(land, runs, title)
    if land.dim > 2:
        return trace_figure(land, runs, title)
    fig, ax = plt.subplots(figsize=(7.6, 6.2), layout="constrained")
    box = _view_box(land, runs)
    cs = draw_contours(ax, land, box)
    log_colorbar(fig, cs, ax, shrink=0.85)
    draw_minima(ax, land)
    draw_paths_2d(ax, runs, box=box)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + _marker_legend_handles(runs), loc="upper left", fontsize=8,
              framealpha=0.92)
    ax.set(xlim=box[0], ylim=box[1], xlabel=r"$x_0$", ylabel=r"$x_1$", title=title)
    return fig


def _trajectory_figure_1d(land, runs, title):
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained",
                                  gridspec_kw=dict(width_ratios=[1.1, 1]))
    box = _view_box(land, runs)
    xs = np.linspace(box[0, 0], box[0, 1], 4000)[:, None]
    fx = land.f(xs)
    ax.plot(xs[:, 0], fx, color="0.3", lw=1.4, label=r"$f(x)$")
    draw_minima(ax, land, one_d=True)
    for name, tr in runs.items():
        st = style(name, runs)
        p = tr.records.x[:, 0, 0]
        ax.plot(p, tr.records.loss[:, 0], color=st["color"], ls="none", marker=".", ms=3,
                alpha=0.5)
        if tr.diverged[0]:  # an X where it leaves the view (none: never in it)
            out = exit_point(tr.records.x[:, 0, :], box)
            if out is not None:
                ax.plot(out[0], land.f(out[None])[0], marker="X", ms=9, color=st["color"],
                        mec="black", ls="none", clip_on=False, zorder=7,
                        label=f"{st['label']} diverged, t={tr.diverged_step[0]}")
        else:
            ax.plot(p[-1], tr.records.loss[-1, 0], marker="D", ms=9, color=st["color"],
                    mec="black", ls="none", label=f"{st['label']} end", zorder=7)
        c = tr.commit_step[0]
        if c >= 0:
            ax.plot(p[c], tr.records.loss[c, 0], marker="o", ms=10, mfc="none",
                    mec=st["color"], mew=2.2, zorder=7)
        steps = np.arange(len(p))
        ax2.plot(steps, p, color=st["color"], ls=st["ls"], lw=1.5, label=st["label"])
        if c >= 0:
            ax2.plot(c, p[c], marker="o", ms=9, mfc="none", mec=st["color"], mew=2)
    p0 = next(iter(runs.values())).records
    ax.plot(p0.x[0, 0, 0], p0.loss[0, 0], marker="o", ms=10, color="black", ls="none",
            label="start", zorder=9)
    for m in land.minima:
        ax2.axhline(m.x[0], color="0.5", lw=0.8, ls=":")
        ax2.annotate(m.name, (1.0, m.x[0]), xycoords=("axes fraction", "data"), fontsize=8,
                     xytext=(3, 0), textcoords="offset points", va="center", color="0.3")
    pad = 0.08 * (float(np.max(fx)) - float(np.min(fx)))  # the view, not a diverged run
    ax.set(xlim=box[0], ylim=(float(np.min(fx)) - pad, float(np.max(fx)) + pad))
    if any(tr.diverged[0] for tr in runs.values()):
        span = box[0, 1] - box[0, 0]
        ax2.set_ylim(box[0, 0] - 0.05 * span, box[0, 1] + 0.05 * span)
    ax.set(xlabel="x", ylabel="f(x)", title="iterates on the landscape")
    ax.legend(fontsize=8, loc="upper center")
    ax2.set(xlabel="step", ylabel="x", title="position against step (o: commit)")
    ax2.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def trace_figure(land, runs: dict, title: str):
    """d > 2: one panel per optimizer with every coordinate `x_i(t)` against step (colour =
    coordinate index), the global minima's coordinate values as dotted lines, the commit
    step and a divergence marked; and a last panel with the distance to the nearest global
    minimum (factorization has several: the distance to one alone was 2.0 where the run
    ended 1.65 from another). Every panel has the same y range: the values the non-diverged
    runs visit."""
    from matplotlib import cm
    from matplotlib.colors import Normalize

    d = land.dim
    names = list(runs)
    glob = land.split_minima()[0]
    targets = np.stack([m.x for m in glob]) if glob else None  # (minima, d)
    target = targets[0] if glob else None
    panels = len(names) + (target is not None)  # no distance panel without a named minimum
    cols = 2 if len(names) > 1 else 1
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.3 * rows), squeeze=False,
                             layout="constrained")
    flat = list(axes.ravel())
    # y range: what the runs that stay finite visit (and the minimum), the same in every panel;
    # the domain when every run diverged. Diverged runs leave it at their divergence.
    seen = [tr.records.x[:, 0, :] for tr in runs.values() if not tr.diverged[0]]
    if target is not None:
        seen.append(targets)
    if len(seen) > (target is not None):
        lo = float(min(np.nanmin(p) for p in seen))
        hi = float(max(np.nanmax(p) for p in seen))
    else:
        lo, hi = float(land.bounds[:, 0].min()), float(land.bounds[:, 1].max())
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    norm = Normalize(vmin=0, vmax=max(d - 1, 1))
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(flat, names, strict=False):
        tr, st = runs[name], style(name)
        p = tr.records.x[:, 0, :]  # (T + 1, d)
        steps = np.arange(len(p))
        for i in range(d):
            ax.plot(steps, p[:, i], color=cmap(norm(i)), lw=0.9, alpha=0.85)
        if target is not None:
            for value in np.unique(targets):
                ax.axhline(value, color="black", ls=":", lw=1.0)
        c = tr.commit_step[0]
        if c >= 0:
            ax.axvline(c, color=st["color"], ls=(0, (2, 2)), lw=1.4)
            ax.annotate(f"commit t={c}", (c, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -10), textcoords="offset points", fontsize=8,
                        color=st["color"], fontweight="bold")
        if tr.diverged[0]:
            t = int(tr.diverged_step[0])
            ax.axvline(t, color="black", ls="-", lw=1.0)
            ax.annotate(f"diverged t={t} (leaves the view)", (t, 0.0),
                        xycoords=("data", "axes fraction"),
                        xytext=(3, 4), textcoords="offset points", fontsize=8)
        distinct = len(np.unique(p.T, axis=0, equal_nan=True))
        note = "" if distinct == d else (f" ({d} coordinates, {distinct} distinct trace"
                                         f"{'s' if distinct > 1 else ''})")
        ax.set(ylim=(lo - pad, hi + pad), xlim=(0, len(p) - 1), ylabel=r"$x_i$",
               title=st["label"] + note)
        ax.title.set_color(st["color"])
        ax.grid(alpha=0.3, lw=0.5)
    ax = flat[len(names)] if target is not None else None
    for name, tr in runs.items():
        st = style(name, runs)
        p = tr.records.x[:, 0, :]
        if target is None:
            break
        gaps = np.linalg.norm(p[:, None, :] - targets[None, :, :], axis=2)  # (T + 1, minima)
        dist = np.maximum(gaps.min(axis=1), 1e-16)
        ax.semilogy(np.arange(len(p)), dist, color=st["color"], ls=st["ls"], lw=1.5,
                    label=st["label"])
        c = tr.commit_step[0]
        if c >= 0:
            ax.plot(c, dist[c], marker="o", ms=8, mfc="none", mec=st["color"], mew=2)
    if target is not None:
        ax.set(ylabel=r"$\|\theta_t - \theta^*\|$ (log)",
               title="distance to the " + ("nearest global minimum" if len(targets) > 1
                                           else "global minimum") + " (o: commit)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both", lw=0.5)
    for extra in flat[panels:]:
        extra.set_axis_off()
    for k in range(panels):
        if k + cols >= panels:  # no panel below it
            flat[k].set_xlabel("step")
    cbar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=flat[:len(names)],
                        shrink=0.9)
    cbar.set_label(f"coordinate index i (0..{d - 1})")
    where = "" if target is None else (
        ("; dotted: the global minima's" if len(targets) > 1 else
         "; dotted: the global minimum's") + " coordinate value" +
        ("s" if len(np.unique(targets)) > 1 else f" {float(np.unique(targets)[0]):.4g}"))
    # wrapped to the figure's width (one method: 6.2 in, where one line was cut on both sides)
    width = int(fig.get_figwidth() * 13)  # characters of 10 pt per inch, about
    caption = textwrap.fill(f"{d}-D: every coordinate against step, not a picture of the "
                            f"landscape{where}", width, break_on_hyphens=False)
    fig.suptitle(f"{short_title(title)}\n{caption}", fontsize=10)
    return fig


def _drawn(tr) -> int:
    """Steps of a recorded run to draw: through its divergence step, after which the run is
    frozen at theta_t (drawn on, a diverged run read as a run that had stalled at 1e11)."""
    return int(tr.diverged_step[0]) + 1 if tr.diverged[0] else tr.records.loss.shape[0]


def _label(name: str, tr, runs) -> str:
    st = style(name, runs)
    return st["label"] + (f" (diverged t={int(tr.diverged_step[0])})" if tr.diverged[0]
                          else "")


def draw_loss(ax, runs: dict, land):
    """`f - f_target` per step on a log axis, commit steps as dashed verticals. On a
    landscape whose minimum value is not known (`f_star` None: a network's f_target is its
    noise floor, which training overfits below) the loss itself is drawn instead, with
    f_target as a dashed level, on a log axis while every finite loss is positive: the gap
    clipped at 1e-16 drew every run as if it had reached f_target exactly."""
    f_target, level = land.f_target, land.f_star is None
    if level:
        losses = np.concatenate([tr.records.loss[:, 0] for tr in runs.values()])
        losses = losses[np.isfinite(losses)]
        positive = bool(losses.size) and bool(losses.min() > 0)
    for name, tr in runs.items():
        st = style(name, runs)
        # the loss, or its gap to f_target (what the markers below sit on)
        gap = tr.records.loss[:, 0] if level else np.maximum(tr.records.loss[:, 0] - f_target,
                                                             1e-16)
        plot = ax.plot if level and not positive else ax.semilogy
        end = _drawn(tr)
        plot(np.arange(end), gap[:end], color=st["color"], ls=st["ls"], lw=1.6,
             label=_label(name, tr, runs))
        c = tr.commit_step[0]
        if c >= 0:
            ax.axvline(c, color=st["color"], ls=(0, (2, 2)), lw=1.0)
            ax.plot(c, gap[c], marker="o", ms=8, mfc="none", mec=st["color"], mew=2)
        if tr.diverged[0]:
            ax.plot(tr.diverged_step[0], gap[tr.diverged_step[0]], marker="X", ms=9,
                    color=st["color"], mec="black")
    if level:
        ax.axhline(f_target, color="black", ls="--", lw=1.0,
                   label=f"f_target = {f_target:.4g} (not the minimum)")
        ax.set(xlabel="step", ylabel=r"$f(\theta_t)$" + (" (log)" if positive else ""))
    else:
        ax.set(xlabel="step", ylabel=r"$f(\theta_t) - f_{target}$ (log)")
    ax.grid(alpha=0.3, which="both", lw=0.5)


def loss_figure(land, runs: dict, title: str):
    fig, ax = plt.subplots(figsize=(7.6, 4.6), layout="constrained")
    draw_loss(ax, runs, land)
    ax.legend(fontsize=8, title="o / dashed: commit step", title_fontsize=8)
    ax.set_title(short_title(title))
    return fig


def goodness_figure(runs: dict, inv_eta: dict, threshold: float, lrs: dict, title: str):
    """Goodness against step with the threshold; lam_max against 2/lr (`lrs`: {name: the
    lr it ran with}; one line per distinct lr of the methods without a commit rule, named
    when they differ) and, per MoXCo method
    in `inv_eta` ({name: 1/eta_eff of Theorem 2}), its curvature line. A method that estimates
    lam_max (records with `lam_max_exact`) shows its estimate with the exact value beside it
    as a thin solid line of its colour."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.6, 7.0), sharex=True,
                                      layout="constrained")
    lam_all, estimated = [], []
    for name, tr in runs.items():
        st = style(name, runs)
        end = _drawn(tr)
        steps = np.arange(end)
        top.plot(steps, tr.records.goodness[:end, 0], color=st["color"], ls=st["ls"], lw=1.4,
                 label=_label(name, tr, runs))
        bottom.plot(steps, tr.records.lam_max[:end, 0], color=st["color"], ls=st["ls"],
                    lw=1.4)
        lam_all.append(tr.records.lam_max[:end, 0])
        exact = tr.records.lam_max_exact
        if exact is not None:  # the method estimates lam_max: the exact value beside it
            bottom.plot(steps, exact[:end, 0], color=st["color"], ls="-", lw=0.6, alpha=0.6)
            lam_all.append(exact[:end, 0])
            estimated.append(st["label"])
        c = tr.commit_step[0]
        if c >= 0:
            top.axvline(c, color=st["color"], ls=(0, (2, 2)), lw=1.0)
            top.plot(c, tr.records.goodness[c, 0], marker="o", ms=8, mfc="none",
                     mec=st["color"], mew=2)
    top.axhline(threshold, color="black", ls="--", lw=1.0, label=f"threshold {threshold:g}")
    top.set(ylabel="goodness G", ylim=(-0.03, 1.03), title=short_title(title))
    top.legend(fontsize=8, loc="center right")
    plain = [name for name in runs if name not in inv_eta] or list(runs)
    by_lr = {}
    for name in plain:
        by_lr.setdefault(lrs[name], []).append(style(name, runs)["label"])
    # named whenever the methods of the run do not all share one lr (a MoXCo method with
    # its own lr has its own 1/eta~ line: "2/lr" alone would read as everyone's)
    several = len({lrs[name] for name in runs}) > 1
    refs = []
    for k, (lr, names) in enumerate(by_lr.items()):
        who = f" ({', '.join(names)})" if several else ""
        refs.append(2.0 / lr)
        bottom.axhline(2.0 / lr, color="black", ls=_DASHES[1 + k % 3], lw=1.0,
                       label=f"2/lr = {2.0 / lr:.4g}{who}")
    for name, value in inv_eta.items():
        st = style(name, runs)
        label = rf"1/$\tilde\eta$ {st['label']} = {value:.4g} (Thm 2)"
        bottom.axhline(value, color=st["color"], ls=":", lw=1.3, label=label)
        refs.append(value)
    lam = np.concatenate(lam_all)
    log = bool(np.nanmin(lam) > 0 and np.nanmax(lam) / np.nanmin(lam) > 50)
    if log:
        bottom.set_yscale("log")
    else:
        bottom.set_yscale("symlog", linthresh=1.0)
    # the reference lines inside the panel, not on its edge: the view spans the curves and
    # every reference with a margin (autoscaling left a reference at the top edge unseen)
    shown = np.concatenate([lam, refs])
    shown = shown[np.isfinite(shown) & ((shown > 0) if log else True)]
    if len(shown):  # a margin of 6% of the panel's height, in the scale's own coordinates
        scale = bottom.yaxis.get_transform()
        a, b = scale.transform(np.array([[shown.min()], [shown.max()]]))[:, 0]
        pad = 0.06 * (b - a) if b > a else 0.5
        with np.errstate(over="ignore"):
            lo, hi = scale.inverted().transform(np.array([[a - pad], [b + pad]]))[:, 0]
        # near the float64 limit (lam_max 1e300) the margin overflows: the data's own range
        lo = float(lo) if np.isfinite(lo) else float(shown.min())
        hi = float(hi) if np.isfinite(hi) else float(shown.max())
        if hi > lo:
            bottom.set_ylim(lo, hi)
    bottom.set(xlabel="step", ylabel=r"$\lambda_{max}(\nabla^2 f(\theta_t))$")
    if estimated:
        bottom.set_title("lam_max as each method scores it; thin solid lines: the exact value "
                         "beside an estimate", fontsize=8)
    # as many columns as the longest label lets fit the figure's width (a spec label with
    # its keys ran off both sides in three columns)
    longest = max((len(t) for t in bottom.get_legend_handles_labels()[1]), default=1)
    bottom.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncol=max(1, min(3, 120 // max(longest, 1))),
                  title="reference curvatures (curves: optimizers, colours as above)",
                  title_fontsize=8)
    bottom.grid(alpha=0.3, lw=0.5)
    top.grid(alpha=0.3, lw=0.5)
    return fig
