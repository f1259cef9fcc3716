"""`moxco escape-count`: where do N random starts end, per optimizer (the paper's Figure 2)?

Starts are uniform on a box (SPEC Figure 2: `default_rng(seed).uniform(lo, hi, size=(N, d))`).
Each start is labelled with its *basin*: the named minimum that gradient flow from it reaches
(`gradient_flow`, one batched call). Every optimizer then runs from all N starts in one batched
engine call; its end points are binned by `tables.classify` into one bin per named minimum plus
`none` and `diverged`. Counts get 95% Wilson intervals; the *escape rate* of an optimizer is,
among the starts in a non-global minimum's basin, the fraction that end in a global minimum
(two-wells: from `sharp` to `flat`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from landscapes.base import Landscape
from moxco_cli.backends import check_methods, simulate
from moxco_cli.engine import Trajectory
from moxco_cli.experiments.run import (
    build_landscape,
    require_isolated_minima,
    validate_int,
    validate_steps,
    validate_tol,
)
from moxco_cli.experiments.tables import classify, default_tol, labels, summary_frame
from moxco_cli.options import check_box
from moxco_cli.settings import (
    METHOD_NAMES,
    OptimizerSettings,
    SettingsError,
    build_method,
    validate_methods,
)
from moxco_cli.starts import start_box, uniform_starts
from moxco_cli.stats import wilson

MAX_INITS = 10**6  # outcomes.csv holds 4 N rows; beyond this the tables, not the engine, hurt
OTHER_BINS = ("none", "diverged")
POOLED = "any-local"  # escape.csv: all non-global basins together

# Gradient flow for the start basins (see `gradient_flow`); lengths are fractions of the span
# (the widest side of the landscape's domain).
FLOW_TOL = 1e-4  # local error allowed per step
FLOW_KAPPA = 0.5  # time step times ||Hessian||: Heun contracts by >= 0.375 per step there
FLOW_MAX_MOVE = 0.005  # longest single move
FLOW_SETTLED = 1e-6  # a row this close to a named minimum has arrived
FLOW_MAX_STEPS = 10_000  # two-wells needs ~140; Beale's starts that reach (3, 0.5): 3000-10000


@dataclass(frozen=True)
class EscapeConfig:
    """Everything `moxco escape-count` needs; `to_options()` is what config.json stores.

    `domain = (lo, hi)` is the box `[lo, hi]^d` the starts are drawn from; None means the
    landscape's own bounds. `tol = None` means the SPEC default for the dimension.
    """

    landscape: str = "two-wells"
    landscape_params: dict = field(default_factory=dict)
    inits: int = 50
    steps: int = 1000
    domain: tuple[float, float] | None = None
    methods: tuple[str, ...] = METHOD_NAMES
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)
    tol: float | None = None

    def validate(self) -> EscapeConfig:
        land = self.build_landscape()
        if land.dim > 2:
            raise SettingsError("--landscape", f"{self.landscape} is {land.dim}-D; escape-count "
                                "draws its starts and basins over a 1-D or 2-D landscape (for "
                                "d > 2: moxco sweep --starts random:N --metric escape)")
        if not land.minima:
            raise SettingsError("--landscape", f"{self.landscape} has no named minima to count "
                                "end points in; choose a landscape that has some")
        require_isolated_minima(land, "--landscape")
        validate_int("--inits", self.inits, 1, MAX_INITS)
        validate_steps(self.steps)
        validate_tol(self.tol)
        if self.domain is not None:
            if len(self.domain) != 2:
                raise SettingsError("--domain", f"expects LO,HI (two numbers), got {self.domain!r}")
            check_box(self.domain, "--domain")  # finite, LO < HI, inside the divergence box
        validate_methods(self.methods)
        self.settings.validate()
        check_methods(self.settings, land, self.methods)
        return self

    def build_landscape(self) -> Landscape:
        return build_landscape(self.landscape, self.landscape_params, option="--landscape")

    def box(self, land: Landscape) -> np.ndarray:
        """The start box `(d, 2)`: `[lo, hi]` per coordinate."""
        return start_box(land, self.domain)

    def to_options(self) -> dict:
        return {
            "landscape": self.landscape, "landscape_params": dict(self.landscape_params),
            "inits": self.inits, "steps": self.steps,
            "domain": list(self.domain) if self.domain is not None else None,
            "optimizers": list(self.methods), "tol": self.tol, **self.settings.to_dict(),
        }

    @classmethod
    def from_options(cls, opts: dict) -> EscapeConfig:
        """Inverse of `to_options` (config.json); validated like the command-line options."""
        from moxco_cli.config_types import check_types

        check_types(cls, opts)  # types first, from the fields' declarations
        opts = dict(opts)
        keys = ("landscape", "landscape_params", "inits", "steps", "domain", "optimizers", "tol")
        own = {k: opts.pop(k) for k in keys if k in opts}
        domain, methods = own.get("domain"), own.get("optimizers", list(METHOD_NAMES))
        params = own.get("landscape_params") or {}
        if domain is not None and not isinstance(domain, (list, tuple)):
            raise SettingsError("--domain", f"expects LO,HI (two numbers), got {domain!r}")
        if not (isinstance(methods, (list, tuple)) and all(isinstance(m, str) for m in methods)):
            raise SettingsError("--optimizers", f"expects a list of names, got {methods!r}")
        if not isinstance(params, dict):
            raise SettingsError("--landscape",
                                f"landscape_params must be an object, got {params!r}")
        return cls(
            landscape=own.get("landscape", "two-wells"),
            landscape_params=params,
            inits=own.get("inits", 50),
            steps=own.get("steps", 1000),
            domain=tuple(domain) if domain is not None else None,
            methods=tuple(methods),
            settings=OptimizerSettings.from_dict(opts),
            tol=own.get("tol"),
        ).validate()


@dataclass
class EscapeResult:
    config: EscapeConfig
    landscape: Landscape
    box: np.ndarray  # (d, 2) the start box
    tol: float
    starts: np.ndarray  # (N, d)
    basin: np.ndarray  # (N,) object: minimum name, or "none"
    outcomes: pd.DataFrame  # one row per (optimizer, start)
    counts: pd.DataFrame  # one row per (optimizer, bin)
    escape: pd.DataFrame  # one row per (optimizer, non-global basin)
    flow_steps: int  # gradient-flow steps the basins took

    def figure_args(self, title: str) -> tuple:
        """Arguments of `plots.escape.escape_count_figure` for this result."""
        return (self.landscape, self.counts, self.escape, self.starts, self.basin, self.box,
                self.tol, title, global_minima(self.landscape))


# SPEC Figure 2: `n` starts `(n, d)` uniform on `box (d, 2)` from `default_rng(seed)`.
draw_starts = uniform_starts


def gradient_flow(land: Landscape, x0: np.ndarray, *, max_steps: int = FLOW_MAX_STEPS,
                  tol: float = FLOW_TOL, kappa: float = FLOW_KAPPA,
                  max_move: float = FLOW_MAX_MOVE, progress=None) -> tuple[np.ndarray, int]:
    """End points `(N, d)` of gradient flow `dx/dt = -grad f(x)` from `x0 (N, d)`, batched.

    Heun's method with a time step per row, the smallest of three limits: local error control
    (a step is accepted when it differs from the embedded Euler step by at most `tol * span`,
    and the next one is scaled by `0.9 sqrt(tol span / error)`, within [0.2, 5]; this keeps
    steps from jumping across narrow wells where the curvature happens to be small),
    `kappa / ||H(x)||_F` (`>= kappa / |every eigenvalue|`, so that steps contract near a
    minimum instead of dithering at the edge of stability), and a longest move of
    `max_move * span`. The step thus shrinks wherever the flow bends or the landscape is
    sharp (two-wells' sharp well: curvature ~330, ~1e4 with `--sharp-width 0.01`; Beale's
    steep walls) and grows on flat ground: one loop follows every start, with no fixed step
    small enough for the sharpest place. A row stops once it is within `1e-6 span` of a named
    minimum or stops moving; the rest stop after `max_steps` (e.g. Beale's starts that drift
    along its unbounded valleys). Non-finite values stop a row at its last finite point.

    Returns the end points and the number of steps taken. `progress(k)` reports progress in
    rows (finished rows, or N times the share of `max_steps` used, whichever is more); its
    calls total N.
    """
    x = np.array(x0, dtype=float)
    n = len(x)
    span = float(np.max(land.bounds[:, 1] - land.bounds[:, 0]))
    err_max, move, settled = tol * span, max_move * span, FLOW_SETTLED * span
    active = np.arange(n)
    g = land.grad(x)
    g_size = np.sqrt(np.sum(g * g, axis=1))
    reported, steps = 0, 0
    with np.errstate(all="ignore"):  # also a start where the gradient is 0 (rastrigin's 0)
        h = np.where(g_size > 0, move / g_size, 1.0)  # first step: one longest move
        while active.size and steps < max_steps:
            steps += 1
            xa, ga = x[active], g[active]
            h_size = np.sqrt(np.sum(land.hess(xa) ** 2, axis=(1, 2)))
            ha = np.minimum(np.minimum(h, move / np.sqrt(np.sum(ga * ga, axis=1))),
                            kappa / h_size)
            x_euler = xa - ha[:, None] * ga
            g_euler = land.grad(x_euler)
            x_heun = xa - (0.5 * ha)[:, None] * (ga + g_euler)
            err = 0.5 * ha * np.sqrt(np.sum((g_euler - ga) ** 2, axis=1))
            finite = np.all(np.isfinite(x_heun), axis=1) & np.isfinite(err)
            accept = finite & (err <= err_max)
            scale = np.where(err > 0, 0.9 * np.sqrt(err_max / err), 5.0)
            h = ha * np.where(finite, np.clip(scale, 0.2, 5.0), 0.2)

            rows = active[accept]
            x[rows] = x_heun[accept]
            g[rows] = land.grad(x_heun[accept])
            _, dist = land.nearest_minimum(x_heun[accept])
            moved = ha[accept] * np.sqrt(np.sum((ga[accept] + g_euler[accept]) ** 2, axis=1))
            stop = np.zeros(active.size, dtype=bool)
            stop[accept] = (dist <= settled) | ~(0.5 * moved > 1e-15 * span) | \
                ~np.all(np.isfinite(g[rows]), axis=1)
            stop |= ~(h > 0)  # the step underflowed: no progress is possible
            active, h = active[~stop], h[~stop]
            # rows finished, or the share of the step budget used if that is more
            done = max(n - active.size, n * steps // max_steps)
            if progress is not None and done > reported:
                progress(done - reported)
                reported = done
    if progress is not None and n > reported:
        progress(n - reported)
    return x, steps


def flow_description() -> dict:
    """How start basins are computed, for config.json."""
    return {"method": "gradient flow dx/dt = -grad f: Heun steps, time step = min(error "
                      "control against embedded Euler, kappa/||H||_F, max_move/||grad f||); "
                      "basin = the named minimum the end point is within tol of, else none",
            "local_error_per_step": FLOW_TOL, "kappa": FLOW_KAPPA, "max_move": FLOW_MAX_MOVE,
            "settled": FLOW_SETTLED, "units": "fractions of the domain's widest side",
            "max_steps": FLOW_MAX_STEPS}


def start_basins(land: Landscape, starts: np.ndarray, tol: float, progress=None):
    """Basin of each start `(N,)`: the minimum gradient flow ends within `tol` of, else `none`."""
    ends, steps = gradient_flow(land, starts, progress=progress)
    outcome, _, _ = classify(land, ends, np.zeros(len(ends), dtype=bool), tol)
    return np.array([o.removeprefix("minimum:") for o in outcome], dtype=object), steps


def bin_names(land: Landscape) -> list[str]:
    """Bins in table order: every named minimum (global first), then `none`, `diverged`."""
    return [m.name for m in land.minima] + list(OTHER_BINS)


def counts_frame(outcomes: pd.DataFrame, bins: list[str], methods) -> pd.DataFrame:
    """`optimizer, bin, count, fraction, ci_low, ci_high`: every bin of every optimizer."""
    rows = []
    for name in methods:
        labels = outcomes.loc[outcomes["optimizer"] == name, "bin"]
        n = len(labels)
        tally = labels.value_counts()
        for b in bins:
            k = int(tally.get(b, 0))
            lo, hi = wilson(k, n)
            rows.append({"optimizer": name, "bin": b, "count": k, "fraction": k / n,
                         "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def global_minima(land: Landscape) -> list[str]:
    """Names of the global named minima (several for e.g. Himmelblau): `Landscape.split_minima`."""
    return [m.name for m in land.split_minima()[0]]


def escape_frame(outcomes: pd.DataFrame, land: Landscape, methods) -> pd.DataFrame:
    """Per optimizer and non-global basin: how many of its starts end in a global minimum.

    Columns `optimizer, from_basin, to_minimum, starts, escaped, rate, ci_low, ci_high`
    (two-wells: one row per optimizer, `sharp -> flat`). `to_minimum` names the global
    minimum (several joined by `|`). With two or more non-global minima a last row per
    optimizer, `from_basin = POOLED`, pools all their basins. `rate` and its interval are NaN
    (empty in the CSV) when no start lies in the basin; no rows at all when every named
    minimum is global.
    """
    best = global_minima(land)
    local = [m.name for m in land.minima if m.name not in best]
    groups = [(b, [b]) for b in local] + ([(POOLED, local)] if len(local) > 1 else [])
    rows = []
    for name in methods:
        mine = outcomes[outcomes["optimizer"] == name]
        for label, basins in groups:
            inside = mine[mine["start_basin"].isin(basins)]
            n, k = len(inside), int(inside["bin"].isin(best).sum())
            lo, hi = wilson(k, n)
            rows.append({"optimizer": name, "from_basin": label, "to_minimum": "|".join(best),
                         "starts": n, "escaped": k, "rate": k / n if n else math.nan,
                         "ci_low": lo, "ci_high": hi})
    columns = ["optimizer", "from_basin", "to_minimum", "starts", "escaped", "rate", "ci_low",
               "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def outcomes_frame(trajs: dict[str, Trajectory], land: Landscape, tol: float,
                   basin: np.ndarray) -> pd.DataFrame:
    """SPEC summary columns per (optimizer, start), plus `bin` (outcome without the
    `minimum:` prefix) and `start_basin`."""
    frame = summary_frame(trajs, land, tol)
    bins = frame["outcome"].cat.rename_categories(lambda c: c.removeprefix("minimum:"))
    frame.insert(frame.columns.get_loc("outcome") + 1, "bin", bins)
    frame["start_basin"] = labels(np.tile(basin, len(trajs)))
    return frame


def progress_total(cfg: EscapeConfig) -> int:
    """Units `run_escape_count` reports: N for the basins, N * steps per optimizer."""
    return cfg.inits + methods_total(cfg)


def methods_total(cfg: EscapeConfig) -> int:
    """Units of the optimizers' runs alone: N * steps per optimizer (`labelled` given)."""
    return cfg.inits * cfg.steps * len(cfg.methods)


@dataclass
class Labelled:
    """The starts and their basins, computed before any optimizer runs (`label_starts`)."""

    landscape: Landscape
    box: np.ndarray  # (d, 2)
    tol: float
    starts: np.ndarray  # (N, d)
    basin: np.ndarray  # (N,) object
    flow_steps: int


def label_starts(cfg: EscapeConfig, progress=None) -> Labelled:
    """Draw the starts and label their basins by gradient flow; `progress(k)`: N in all.

    Its own stage for the progress display: per start the flow costs another amount of time
    than an optimizer's step (Beale, N = 2000: about 7 s for the basins and 1 s for four
    optimizers' 8e6 steps), so one rate for both said "about 59 s left" with 1 s to go."""
    land = cfg.build_landscape()
    box = cfg.box(land)
    tol = cfg.tol if cfg.tol is not None else default_tol(land)
    starts = uniform_starts(box, cfg.inits, cfg.settings.seed)
    basin, flow_steps = start_basins(land, starts, tol, progress=progress)
    return Labelled(land, box, tol, starts, basin, flow_steps)


def run_escape_count(cfg: EscapeConfig, progress=None,
                     labelled: Labelled | None = None) -> EscapeResult:
    """Draw the starts, label their basins, run every method on all of them (batched).
    With `labelled` (from `label_starts`), only the methods run and report progress."""
    if labelled is None:
        labelled = label_starts(cfg, progress)
    land, box, tol, starts = labelled.landscape, labelled.box, labelled.tol, labelled.starts
    basin, flow_steps = labelled.basin, labelled.flow_steps
    s = cfg.settings
    trajs = {
        name: simulate(land, build_method(name, s), starts, cfg.steps, record=False,
                       seed=s.seed, backend=s.backend, progress=progress)
        for name in cfg.methods
    }
    outcomes = outcomes_frame(trajs, land, tol, basin)
    counts = counts_frame(outcomes, bin_names(land), cfg.methods)
    escape = escape_frame(outcomes, land, cfg.methods)
    return EscapeResult(cfg, land, box, tol, starts, basin, outcomes, counts, escape, flow_steps)
