"""`moxco sweep`: over which region of (alpha, beta, lr, threshold, ...) does MoXCo help?

A sweep is a grid of *cells*, one per combination of the swept hyperparameters (the
`itertools.product` of the axes in the order given: first axis slowest, last fastest). Every
cell runs the chosen optimizer from the same starts, all of them in ONE batched `simulate`
call, and reduces the end points to one metric:

    success     fraction of starts ending within `tol` of a global minimum (every named
                minimum of the lowest value: Himmelblau has four), diverged runs counting as
                failures; 95% Wilson interval
    escape      among the starts whose gradient-flow basin is a non-global named minimum
                (two-wells: `sharp`), the fraction ending within `tol` of a global one
                (`flat`); 95% Wilson interval
    final-loss  median final loss with its interquartile range as the interval; a diverged
                run counts as +inf (so the median is inf once half the runs diverge)

The plain inner optimizer (gd or adam) is run once per distinct learning rate, the only
swept value it depends on, and its metric is written beside every cell (`baseline_*`), with
`vs_baseline` saying where the cell's interval lies wholly above or below the baseline's.

Cells and baselines are independent *tasks*, each a pure function of (its hyperparameters,
the starts, steps, seed): `run_task`. Executors run them locally in order, on a local
process pool, or on a Dask cluster (`executors.py`-style classes below); whatever the order
results arrive in, `sweep_frame` assembles them in grid order, so the CSV bytes are the same.
A `CellStore` keeps every finished task on disk, so an interrupted sweep resumes without
recomputing what is done.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from landscapes.base import Landscape
from moxco_cli import methods as method_specs
from moxco_cli import stats
from moxco_cli.engine import simulate
from moxco_cli.errors import MoxcoError
from moxco_cli.experiments.run import (
    build_landscape,
    require_isolated_minima,
    validate_steps,
    validate_tol,
)
from moxco_cli.experiments.tables import default_tol
from moxco_cli.goodness import inv_eta_eff
from moxco_cli.params import Param, SpecError
from moxco_cli.ranges import parse_values
from moxco_cli.scheduler import (  # noqa: F401  (parse_scheduler, require_dask: sweep's API)
    DASK_MISSING,
    connect,
    disconnect,
    parse_scheduler,
    require_dask,
)
from moxco_cli.settings import (
    ALL_METHOD_NAMES,
    OptimizerSettings,
    SettingsError,
    shorthand_values,
)
from moxco_cli.starts import check_starts, grid_starts, start_box, uniform_starts

AXES = ("alpha", "beta", "lr", "threshold", "tau", "restart_alpha", "restart_beta")
# sweep.csv's fixed columns are AXES, named as the method keys (moxco_cli.methods). Any other
# numeric key of the method may be swept too; it gets a column after AXES. The names before
# the method keys (alpha_restart, beta_restart; sweep.csv's columns until 2026-12-03) are
# still read as the keys' (`--grid`, a config.json given to rerun).
LEGACY_AXES = method_specs.LEGACY_KEYS


def axis_key(name: str) -> str:
    """The method key an axis name as typed or stored stands for: `beta-restart` and
    `alpha_restart` (the columns' names until 2026-12-03) are `restart_beta`, `restart_alpha`;
    every other name is itself, with `-` read as `_`. The one place `--grid`, `--heatmap`,
    config.json and saved cells name axes through."""
    name = str(name).strip().replace("-", "_")
    return LEGACY_AXES.get(name, name)
METRICS = ("success", "escape", "final-loss")
CONFIDENCE = 0.95
MAX_AXIS_VALUES = 1000
MAX_CELLS = 100_000
MAX_GRID_SIDE = 1000  # grid:N -> N^2 starts in 2-D
MAX_RANDOM_STARTS = 10**6
SIGNIFICANT_DIGITS = 12  # range values are rounded: 0.09, not 0.09000000000000001
# The phase diagram of the reproduction: 12 x 12 (alpha, beta) as in the issue.
PHASE_ALPHAS = tuple(float(f"{v:.12g}") for v in np.linspace(0.0, 0.99, 12))
PHASE_BETAS = tuple(float(f"{v:.12g}") for v in np.linspace(0.0, 0.95, 12))

COLUMNS = ["cell", "optimizer", *AXES, "inv_eta_eff", "metric", "value", "ci_low", "ci_high",
           "n", "k", "other_minimum_fraction", "diverged_fraction", "committed_fraction",
           "median_commit_step",
           "theorem2_unstable_starts", "baseline", "baseline_value", "baseline_ci_low",
           "baseline_ci_high", "baseline_diverged_fraction", "vs_baseline"]


# ----------------------------------------------------------------------------- parsing

@dataclass(frozen=True)
class Axis:
    """One swept hyperparameter: `name` (a key of `axis_params()`) and its `values`, in sweep
    order. The values take the key's declared type: an integer key (`batch`, `score_every`)
    holds ints, whatever number type they were given as (a `--grid` range and config.json's
    `5.0` are floats), because the method slices and counts with them (`batch=5.0` failed
    in the minibatch sampler, in a worker); a value that is no integer stays as given, for
    `SweepConfig.validate` to refuse."""

    name: str
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        param = axis_params().get(self.name)
        if param is None:
            return

        def typed(v):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                return v
            if param.kind == "int":
                return int(v) if float(v).is_integer() else v
            return float(v)

        object.__setattr__(self, "values", tuple(typed(v) for v in self.values))


SWEEPABLE_KINDS = ("float", "int")  # not "text" (curvature: exact | power:K), nor a choice


@functools.cache
def axis_params() -> dict[str, Param]:
    """Every sweepable axis name (the numeric keys of every method, under their sweep.csv
    column names) -> its declaration, for parsing before the method is known. Only keys of a
    numeric kind: `curvature` (kind "text") was offered and accepted, and every cell then
    failed in a worker."""
    out = {}
    for name in method_specs.method_names():
        for p in method_specs.params_of(name):
            if p.kind in SWEEPABLE_KINDS:
                out.setdefault(p.name, p)
    return {**{a: out[a] for a in AXES}, **{k: v for k, v in out.items() if k not in AXES}}


def unknown_axis(typed: str) -> SettingsError:
    """The one-line error for an axis name that is not sweepable, listing those that are (as a
    method spec names them): the same words from `--grid` and from a config.json."""
    keys = list(axis_params())
    return SettingsError("--grid", f"unknown axis {typed!r}; choose from: {', '.join(keys)}")


def _check_values(name: str, values: tuple[float, ...], spec: str, typed: str = "") -> None:
    """Each value in the declared range of key `name` (one-line SettingsError otherwise,
    naming the key as the user `typed` it)."""
    def bad(why: str):
        return SettingsError("--grid", f"{typed or name}: {why} (in {spec!r})")

    if not values:
        raise bad("no values")
    if len(values) > MAX_AXIS_VALUES:
        raise bad(f"at most {MAX_AXIS_VALUES} values per axis, got {len(values)}")
    if len(set(values)) != len(values):
        raise bad("lists a value twice")
    param = axis_params()[name]
    for v in values:
        if not math.isfinite(v):
            raise bad(f"values must be finite, got {v!r}")
        if param.kind == "int" and not float(v).is_integer():  # before the range: 1.5 is in it
            raise bad(f"values must be integers, got {v!r}")
        if not param.contains(v):
            shown = int(v) if param.kind == "int" else v  # score_every 0, not 0.0
            raise bad(f"values must be {param.describe_range()}, got {shown!r}")


def parse_grid(spec: str) -> Axis:
    """`"alpha=0:0.99:12"` (linspace, both ends included) or `"lr=1e-3,5e-3"` -> Axis.

    Raises a one-line `SettingsError("--grid", ...)` for an unknown name, bad syntax, a count
    below 1, or a value out of range (momenta in [0, 1), threshold in (0, 1), lr and tau > 0).
    """
    text = str(spec).strip()
    name, eq, rhs = text.partition("=")
    typed = name.strip()
    name = axis_key(typed)
    if not eq or not name:
        raise SettingsError("--grid", f"expects NAME=LO:HI:COUNT or NAME=V1,V2,..., got {spec!r}")
    if name not in axis_params():
        raise unknown_axis(typed)
    values = parse_values(rhs, "--grid", name=typed, max_count=MAX_AXIS_VALUES,
                          digits=SIGNIFICANT_DIGITS, ascending=True)
    _check_values(name, values, text, typed)
    return Axis(name, values)


def parse_starts(spec: str) -> tuple[str, int]:
    """`"grid:41"` or `"random:1000"` -> `(kind, N)`; one-line SettingsError otherwise."""
    kind, colon, count = str(spec).strip().partition(":")
    if kind not in ("grid", "random") or not colon:
        raise SettingsError("--starts", f"expects grid:N or random:N, got {spec!r}")
    try:
        n = int(count)
    except ValueError:
        raise SettingsError("--starts", f"N must be an integer, got {count!r}") from None
    limit = MAX_GRID_SIDE if kind == "grid" else MAX_RANDOM_STARTS
    if not 1 <= n <= limit:
        raise SettingsError("--starts", f"{kind}:N needs N in [1, {limit}], got {n}")
    return kind, n


def make_starts(land: Landscape, spec: str, seed: int) -> np.ndarray:
    """The starts `(N, d)` of `spec` on `land`'s domain.

    `grid:N`: 2-D, an N x N grid with x0 fastest (`start_id = j N + i` is `(xs[i], ys[j])`,
    endpoints included); 1-D, N evenly spaced points. `random:N`: uniform on the domain from
    `numpy.random.default_rng(seed)`, `uniform(lo, hi, size=(N, d))`, or, for a landscape
    with its own start distribution (a network's initialization), `land.sample_starts(N,
    default_rng(seed))`.
    """
    kind, n = parse_starts(spec)
    if kind == "random" and type(land).sample_starts is not Landscape.sample_starts:
        return land.sample_starts(n, np.random.default_rng(seed))
    box = start_box(land)
    return uniform_starts(box, n, seed) if kind == "random" else grid_starts(box, n)[1]


# ----------------------------------------------------------------------------- config

def _method_spec(text: str) -> method_specs.MethodSpec:
    """`--optimizer`'s method spec (`adam+moxco`, `nesterov:lr=0.002`, ...)."""
    if not isinstance(text, str):
        raise SettingsError("--optimizer", f"expects a method spec, got {text!r}")
    try:
        method_specs.split_name(text.partition(":")[0].strip())
    except SpecError:
        raise SettingsError("--optimizer", f"unknown optimizer {text.partition(':')[0]!r}; "
                            f"choose one of: {', '.join(ALL_METHOD_NAMES)}") from None
    try:
        return method_specs.parse_spec(text)
    except SpecError as exc:
        raise SettingsError("--optimizer", f"{text}: {exc}") from None


def _inner_spec(spec: method_specs.MethodSpec) -> method_specs.MethodSpec:
    """The plain inner optimizer of `spec` with the spec's keys that it declares: the baseline
    every cell is compared with (`adam+moxco:b1=0.8` -> `adam:b1=0.8`; baselines -> `gd`)."""
    inner, _ = method_specs.split_name(spec.name)
    own = {p.name for p in method_specs.params_of(inner)}
    return method_specs.MethodSpec(inner, tuple((k, v) for k, v in spec.keys if k in own))


@dataclass(frozen=True)
class SweepConfig:
    """Everything `moxco sweep` needs; `to_options()` is what config.json stores.

    `optimizer` is a method spec (`adam+moxco`, `rmsprop+moxco:rho=0.8`, `nesterov`). Its
    own keys, then `settings` (the shorthand options), then the declared defaults give every
    value that is not swept; a swept axis overrides it in each cell (`alpha`, `beta` are the
    exploration momenta of `optimizer`, e.g. `settings.gd_moxco` for gd+moxco, or a
    baseline's momentum; `restart_alpha`, `restart_beta` are `settings.restart`).
    """

    landscape: str = "beale"
    landscape_params: dict = field(default_factory=dict)
    optimizer: str = "adam+moxco"
    grid: tuple[Axis, ...] = ()
    starts: str = "grid:21"
    steps: int = 800
    metric: str = "success"
    tol: float | None = None
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)
    plot_axes: tuple[str, str] | None = None  # heatmap axes; None: see `heatmap_axes`

    def build_landscape(self) -> Landscape:
        return build_landscape(self.landscape, self.landscape_params)

    @property
    def method_spec(self) -> method_specs.MethodSpec:
        return _method_spec(self.optimizer)

    @property
    def baseline(self) -> str:
        """The plain inner optimizer every cell is compared with (its spec label)."""
        return _inner_spec(self.method_spec).label

    def validate(self) -> SweepConfig:
        land = self.build_landscape()
        spec = self.method_spec
        if not self.grid:
            raise SettingsError("--grid", "give at least one axis to sweep, e.g. "
                                "--grid alpha=0:0.99:12")
        names = [a.name for a in self.grid]
        keys = {p.name for p in method_specs.params_of(spec.name) if p.kind != "choice"}
        for k, name in enumerate(names):
            if name in names[:k]:
                raise SettingsError("--grid", f"axis {name!r} is given twice")
            if name not in axis_params():
                raise unknown_axis(name)
            _check_values(name, tuple(self.grid[k].values), name)
            if name not in keys:
                wrapped = {p.name for p in method_specs.params_of(spec.name + "+moxco")} if (
                    "+" not in spec.name and spec.name not in method_specs.BASELINES) else set()
                if name in wrapped:
                    raise SettingsError("--grid", f"{name} has no effect on plain {spec.name}; "
                                        f"sweep lr only, or use {spec.name}+moxco")
                raise SettingsError("--grid", f"{name} has no effect on {spec.name}; its keys: "
                                    f"{', '.join(sorted(keys))}")
        self._check_batch(land)
        cells = math.prod(len(a.values) for a in self.grid)
        if cells > MAX_CELLS:
            raise SettingsError("--grid", f"{cells} cells; at most {MAX_CELLS}")
        kind, n = parse_starts(self.starts)
        check_starts(n ** land.dim if kind == "grid" else n, land.dim, "--starts",  # N^d
                     f"grid:{n} ({n}^{land.dim})" if kind == "grid" else f"random:{n}")
        validate_steps(self.steps)
        validate_tol(self.tol)
        if self.metric not in METRICS:
            raise SettingsError("--metric", f"must be one of {', '.join(METRICS)}; "
                                f"got {self.metric!r}")
        if self.metric in ("success", "escape"):
            if not land.minima:
                raise SettingsError("--metric", f"{self.metric} needs a landscape with named "
                                    f"minima; {self.landscape} has none (use final-loss)")
            require_isolated_minima(land, "--metric", "use --metric final-loss")
        if self.metric == "escape" and not land.split_minima()[1]:
            raise SettingsError("--metric", f"escape needs a landscape with a non-global "
                                f"named minimum to escape from (e.g. two-wells); every "
                                f"named minimum of {self.landscape} is global")
        if self.plot_axes is not None:
            pair = tuple(self.plot_axes)
            if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(names):
                raise SettingsError("--heatmap", f"expects X,Y: two different swept axes "
                                    f"(swept: {', '.join(names)}), got {','.join(pair)!r}")
        self.settings.validate().numpy_only("sweep")
        return self

    def _check_batch(self, land: Landscape) -> None:
        """Every minibatch size a cell runs with fits the landscape (`minibatch.check`: a
        loss over training points, at most their number), as a one-line error naming the
        option it came from. Unchecked, `sweep beale --grid batch=0,1` started and every
        cell failed in a worker."""
        from moxco_cli import minibatch

        swept = next((a for a in self.grid if a.name == "batch"), None)
        fixed = self.method_values().get("batch", 0)
        for option, values in (("--grid", swept.values if swept else ()),
                               ("--optimizer", () if swept else (fixed,))):
            for batch in values:
                try:
                    minibatch.check(land, batch)
                except SpecError as exc:
                    raise SettingsError(option, str(exc)) from None

    @property
    def heatmap_axes(self) -> tuple[str, ...]:
        """The heatmap's (x, y): `plot_axes`, else (alpha, beta) when both are swept, else
        the first two swept axes; a single swept axis gives a line plot."""
        if self.plot_axes is not None:
            return tuple(self.plot_axes)
        names = self.axis_names
        if "alpha" in names and "beta" in names:
            return ("alpha", "beta")
        return names[:2]

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.grid)

    def method_values(self) -> dict:
        """Every key of the swept method before any axis is applied."""
        spec = self.method_spec
        return method_specs.resolve(spec, shorthand_values(self.settings, spec.name))

    def cells(self) -> list[dict[str, float]]:
        """Every cell's sweep.csv hyperparameters (all of AXES, then any other swept key), in
        grid order."""
        base = self.method_values()
        extra = [n for n in self.axis_names if n not in AXES]
        out = []
        for combo in itertools.product(*(a.values for a in self.grid)):
            values = {**base, **{n: v
                                 for n, v in zip(self.axis_names, combo, strict=True)}}
            row = axes_columns(self.method_spec.name, values, self.settings)
            row.update({n: values[n] for n in extra})
            out.append(row)
        return out

    def baseline_rows(self) -> list[dict[str, float]]:
        """The distinct plain-optimizer runs in grid order (one per distinct value of the
        inner optimizer's keys among the cells: lr, and e.g. b1 when swept)."""
        inner = _inner_spec(self.method_spec)
        own = [p.name for p in method_specs.params_of(inner.name)]
        swept = [n for n in self.axis_names if n in own and n not in AXES]
        inner_base = method_specs.resolve(inner, shorthand_values(self.settings, inner.name))
        rows = {}
        for cell in self.cells():
            values = {**inner_base, "lr": cell["lr"], **{n: cell[n] for n in swept}}
            row = axes_columns(inner.name, values, self.settings)
            row.update({n: cell[n] for n in swept})
            rows.setdefault(baseline_key(row), row)
        return list(rows.values())

    def to_options(self) -> dict:
        return {
            "landscape": self.landscape, "landscape_params": dict(self.landscape_params),
            "optimizer": self.optimizer,
            "grid": [{"name": a.name, "values": list(a.values)} for a in self.grid],
            "starts": self.starts, "steps": self.steps, "metric": self.metric, "tol": self.tol,
            "heatmap": list(self.plot_axes) if self.plot_axes is not None else None,
            **self.settings.to_dict(),
        }

    @classmethod
    def from_options(cls, opts: dict) -> SweepConfig:
        from moxco_cli.config_types import check_types, show

        check_types(cls, opts)  # types first, from the fields' declarations
        opts = dict(opts)
        keys = ("landscape", "landscape_params", "optimizer", "grid", "starts", "steps",
                "metric", "tol", "heatmap")
        own = {k: opts.pop(k) for k in keys if k in opts}
        grid = []
        if not isinstance(own.get("grid") or [], list):
            raise SettingsError("--grid", "config.json value must be a list of {name, values} "
                                f"objects, got {show(own['grid'])}")
        for item in own.get("grid") or []:
            if not (isinstance(item, dict) and set(item) == {"name", "values"}
                    and isinstance(item["name"], str) and isinstance(item["values"], list)):
                raise SettingsError("--grid", f"config grid entries are {{name, values}}, "
                                    f"got {item!r}")
            # every axis a sweep can be started with (b1, rho, batch, ...), not AXES alone:
            # a sweep over b1 could be started, but neither resumed nor rerun
            name = axis_key(item["name"])
            if name not in axis_params():
                raise unknown_axis(item["name"])
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       for v in item["values"]):
                raise SettingsError("--grid", f"{item['name']}: values must be numbers")
            grid.append(Axis(name, tuple(item["values"])))  # typed as the key declares
        return cls(
            landscape=own.get("landscape", "beale"),
            landscape_params=own.get("landscape_params") or {},
            optimizer=own.get("optimizer", "adam+moxco"),
            grid=tuple(grid),
            starts=own.get("starts", "grid:21"),
            steps=own.get("steps", 800),
            metric=own.get("metric", "success"),
            tol=own.get("tol"),
            settings=OptimizerSettings.from_dict(opts),
            plot_axes=(tuple(axis_key(a) for a in own["heatmap"])
                       if own.get("heatmap") is not None else None),
        ).validate()


def axes_columns(name: str, values: dict, settings: OptimizerSettings) -> dict[str, float]:
    """sweep.csv's AXES columns of method `name` with resolved `values`: the momenta it runs
    with (plain methods 0, 0; heavy ball beta 0; Nesterov beta = alpha), the rest from its
    values or, for keys it does not have (a plain method's threshold), from `settings`."""
    alpha = values.get("alpha", 0.0)
    beta = values.get("beta", 0.0)
    baseline = method_specs.BASELINES.get(name)
    if baseline is not None:
        beta = 0.0 if baseline.beta == "zero" else alpha
    return {"alpha": alpha, "beta": beta, "lr": values["lr"],
            "threshold": values.get("threshold", settings.threshold), "tau": values["tau"],
            "restart_alpha": values.get("restart_alpha", settings.restart[0]),
            "restart_beta": values.get("restart_beta", settings.restart[1])}


def baseline_key(values: dict) -> tuple:
    """What a plain-optimizer run depends on among a row's sweep.csv values."""
    return tuple((k, v) for k, v in values.items() if k not in AXES or k == "lr")


# ----------------------------------------------------------------------------- one task

@dataclass(frozen=True)
class Task:
    """A unit of work: a grid `cell` (index into `cells()`) or a plain-optimizer `baseline`
    (index into `baseline_lrs()`). `key` names its result file and must be unique."""

    kind: str
    index: int
    optimizer: str
    values: tuple[tuple[str, float], ...]

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.index:06d}"


def tasks_for(cfg: SweepConfig) -> list[Task]:
    """Baselines first (one per distinct plain run), then every cell in grid order."""
    out = [Task("baseline", k, cfg.baseline, tuple(v.items()))
           for k, v in enumerate(cfg.baseline_rows())]
    out += [Task("cell", k, cfg.optimizer, tuple(v.items())) for k, v in enumerate(cfg.cells())]
    return out


def task_values(cfg: SweepConfig, task: Task) -> dict:
    """Every method key of `task` (its method's resolved values with the swept ones set)."""
    spec = _method_spec(task.optimizer)
    values = method_specs.resolve(spec, shorthand_values(cfg.settings, spec.name))
    swept = set(cfg.axis_names) | {"lr"}
    for key, value in task.values:
        if key in swept and key in values:
            values[key] = value
    return values


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """95% Wilson score interval (NaN, NaN without trials): `moxco_cli.stats.wilson`."""
    return stats.wilson(successes, trials, CONFIDENCE)


quantile_with_inf = stats.quantile_with_inf  # sweep.csv's final-loss quantiles


def reduce_metric(metric: str, land: Landscape, final: np.ndarray, final_loss: np.ndarray,
                  diverged: np.ndarray, tol: float, group: np.ndarray | None) -> dict:
    """`value, ci_low, ci_high, n, k, other_minimum_fraction` of `metric` from end points
    `final (N, d)`.

    `group (N,) bool` marks the starts an `escape` is counted over (non-global basins).
    `other_minimum_fraction`: of the same runs, those ending within `tol` of a non-global
    named minimum (two-wells, escape: still in the sharp minimum).
    """
    glob, non_global = land.split_minima()
    if non_global:
        _, dist = land.nearest_minimum(final, non_global)
        at_other = (dist <= tol) & ~diverged
    else:
        at_other = np.zeros(len(final), dtype=bool)
    if metric == "final-loss":
        loss = np.where(diverged, np.inf, final_loss)
        return {"value": quantile_with_inf(loss, 0.5), "ci_low": quantile_with_inf(loss, 0.25),
                "ci_high": quantile_with_inf(loss, 0.75), "n": len(loss), "k": None,
                "other_minimum_fraction": float(np.mean(at_other))}
    _, dist = land.nearest_minimum(final, glob)
    reached = (dist <= tol) & ~diverged
    if metric == "escape":
        reached, at_other = reached[group], at_other[group]
    n, k = len(reached), int(np.count_nonzero(reached))
    lo, hi = wilson(k, n)
    return {"value": k / n if n else math.nan, "ci_low": lo, "ci_high": hi, "n": n, "k": k,
            "other_minimum_fraction": float(np.mean(at_other)) if n else math.nan}


ROWS_PER_JOB = 16384  # trajectories per batched engine call (two engine chunks), at most
JOBS_PER_WORKER = 4


def batch_key(cfg: SweepConfig, task: Task) -> tuple:
    """Tasks with the same key can share one engine call: the same method and the same values
    of every key that cannot differ per row. A task whose starts draw from streams indexed by
    their place in the batch (`methods.indexed_streams`) runs alone, so that each start keeps the
    numbers of the cell run by itself, whatever the worker count."""
    spec = _method_spec(task.optimizer)
    values = task_values(cfg, task)
    rows = set(method_specs.per_row_keys(spec.name))
    fixed = tuple((k, v) for k, v in values.items() if k not in rows)
    return (spec.name, fixed, task.key if method_specs.indexed_streams(values) else None)


def plan_jobs(cfg: SweepConfig, tasks: list[Task], n_starts: int, workers: int = 1
              ) -> list[list[int]]:
    """Indices into `tasks`, grouped into batched jobs of at most ROWS_PER_JOB trajectories
    (and at least JOBS_PER_WORKER x `workers` jobs when there are enough tasks), each of one
    `batch_key`."""
    groups: dict[tuple, list[int]] = {}
    for k, task in enumerate(tasks):
        groups.setdefault(batch_key(cfg, task), []).append(k)
    per_job = max(1, ROWS_PER_JOB // max(1, n_starts))
    # several jobs per worker, so that one slowed worker does not hold the others up
    per_job = min(per_job, max(1, -(-len(tasks) // (JOBS_PER_WORKER * max(1, workers)))))
    return [members[i:i + per_job] for members in groups.values()
            for i in range(0, len(members), per_job)]


def run_job(cfg: SweepConfig, tasks: list[Task], starts: np.ndarray, group: np.ndarray | None,
            threads: int | None = None) -> list[dict]:
    """Run tasks of one `batch_key` as ONE engine call: every task's starts stacked (task k
    owns rows k*S .. (k+1)*S - 1), its hyperparameters given per row. Each task's numbers are
    those of the task run alone, bit for bit (`tests/test_sweep.py`). Returns one result per
    task (plain Python numbers: JSON- and pickle-friendly).
    """
    land = cfg.build_landscape()
    spec = _method_spec(tasks[0].optimizer)
    each = [task_values(cfg, t) for t in tasks]
    values = dict(each[0])
    for key in method_specs.per_row_keys(spec.name):
        column = [v[key] for v in each]
        if any(c != column[0] for c in column):
            values[key] = np.repeat(np.asarray(column, dtype=float), len(starts))
    method = method_specs.build_from_values(spec.name, values, label=spec.label)
    stacked = np.tile(starts, (len(tasks), 1)) if len(tasks) > 1 else starts
    traj = simulate(land, method, stacked, cfg.steps, seed=cfg.settings.seed, threads=threads,
                    processes=None if threads is None else 1)  # a pool pins threads=1
    tol = cfg.tol if cfg.tol is not None else default_tol(land)
    n, out = len(starts), []
    for k in range(len(tasks)):
        rows = slice(k * n, (k + 1) * n)
        final, diverged = traj.final[rows], traj.diverged[rows]
        res = reduce_metric(cfg.metric, land, final, traj.final_loss[rows], diverged, tol, group)
        commit = traj.commit_step[rows]
        committed = commit >= 0
        res["diverged_fraction"] = float(np.mean(diverged))
        res["committed_fraction"] = float(np.mean(committed))
        res["median_commit_step"] = (float(np.median(commit[committed]))
                                     if committed.any() else math.nan)
        out.append({k: (float(v) if isinstance(v, (float, np.floating)) else v)
                    for k, v in res.items()})
    return out


def run_task(cfg: SweepConfig, task: Task, starts: np.ndarray, group: np.ndarray | None,
             threads: int | None = None) -> dict:
    """Run one task alone: its optimizer from every start, batched; reduce to the metric.

    A pure function of its arguments (the engine is deterministic), so it gives the same
    numbers in any process, and the same as inside any `run_job`.
    """
    return run_job(cfg, [task], starts, group, threads)[0]


def _job_results(cfg, tasks, jobs, starts, group, threads=None):
    """`(task index, result)` of every job run here, in order."""
    for job in jobs:
        yield from zip(job, run_job(cfg, [tasks[i] for i in job], starts, group, threads),
                       strict=True)


# ----------------------------------------------------------------------------- executors

class LocalExecutor:
    """Runs tasks in this process (`workers=1`) or on a process pool of `workers`.

    `run(...)` yields `(task index, result)` as tasks finish. Tasks are batched into jobs
    (`plan_jobs`: many cells in one engine call, hyperparameters per row). With a pool, each
    job runs the engine single-threaded (`threads=1`, no worker processes of its own): the
    pool already keeps the cores busy. The pool is started here, at construction, so that on
    Linux its workers are forked before any other thread (a progress bar's) exists;
    elsewhere they are spawned. `close()` stops it.
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self.description = "local" if self.workers == 1 else f"local, {self.workers} processes"
        self.pool = None
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # the metric's Wilson interval: forked workers inherit scipy.stats instead of each
            # importing it, ~0.5 s, on its first task
            import scipy.stats  # noqa: F401

            from moxco_cli.workers import libc_prctl

            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._hook = _PoolBugHook()
            # forked workers get libc's prctl from here (a forked child should not dlopen)
            prctl = libc_prctl() if method == "fork" else None
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context(method),
                                            initializer=_settle_worker,
                                            initargs=(os.getpid(), prctl))
            for fut in [self.pool.submit(int, 0) for _ in range(self.workers)]:
                fut.result()  # start every worker now

    def run(self, cfg, tasks, starts, group) -> Iterator[tuple[int, dict]]:
        jobs = plan_jobs(cfg, tasks, len(starts), self.workers)
        if self.pool is None:
            yield from _job_results(cfg, tasks, jobs, starts, group)
            return
        from concurrent.futures import FIRST_COMPLETED, wait

        futures = {self.pool.submit(run_job, cfg, [tasks[i] for i in job], starts, group, 1): job
                   for job in jobs}
        from concurrent.futures.process import BrokenProcessPool

        from moxco_cli.workers import check_not_stopped

        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        pending, stopped_since = set(futures), {}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield from zip(futures[fut], fut.result(), strict=True)
                # a worker stopped (SIGSTOP) would make this wait for ever: fail instead
                check_not_stopped([p.pid for p in processes], stopped_since)
        except BrokenProcessPool:  # a worker died (killed, out of memory): say how
            from moxco_cli.workers import WorkerFailed, describe_exit

            for process in processes:
                process.join(timeout=1)
            how = [describe_exit(p.exitcode) for p in processes if p.exitcode not in (None, 0)]
            raise WorkerFailed(how[0] if how else "it ended abruptly") from None
        finally:  # also on an interrupt or an error in the consumer: drop queued tasks
            # (not on a broken pool: its manager thread fails them itself, and a cancel
            # racing it is an InvalidStateError traceback there, see `_kill_pool`)
            if not getattr(self.pool, "_broken", False):
                for fut in futures:
                    fut.cancel()

    def close(self, abort: bool = False) -> None:
        """Stop the pool; with `abort` (an interrupt or an error) its workers are killed
        first instead of finishing the cells they run (which may take minutes)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        # Without `abort` every cell is done (the callers' contract) and the workers only have
        # to exit: they get POOL_EXIT_S. One that is stopped (SIGSTOP after its last cell)
        # never would, and `shutdown(wait=True)` waited for it for ever.
        try:
            _kill_pool(pool, grace=0.0 if abort else POOL_EXIT_S)
        finally:
            self._hook.restore()


POOL_EXIT_S = 10.0  # how long a killed pool's threads get to end once its workers are reaped


def _kill_pool(pool, grace: float = 0.0) -> None:
    """Shut the ProcessPoolExecutor `pool` down now, its workers killed (stopped ones too),
    with no hang and no traceback from its threads. With `grace` > 0 (no cell running) the
    workers first get that many seconds to end on the shutdown's sentinels (none when one is
    stopped, `_let_exit`). The order is what makes it safe (CPython's
    concurrent/futures/process.py):

    1. `shutdown(wait=False, cancel_futures=True)` BEFORE any worker dies: the pool's manager
       thread then drops the futures `run` cancelled before it can see a dead worker. If it
       saw one first, its `terminate_broken` would call `set_exception` on a cancelled
       future: an InvalidStateError ("Exception in thread Thread-1"; python/cpython#107219,
       which Python 3.11.7 has), and the thread would die before closing its queues. Its
       call queue's feeder thread then stays blocked writing a job (the starts: more than a
       pipe holds) into a pipe only this process still reads, and multiprocessing's exit
       handler joins that thread for ever: a sweep that killed its stopped worker and was
       descheduled before `shutdown` (a loaded machine) printed that traceback and hung.
    2. SIGKILL every worker (it also ends a stopped one) and reap it.
    3. Close this process's write end of the result pipe (no worker is left to write): a
       manager thread reading a half-sent result gets EOF instead of waiting for ever
       (interpreter exit joins it).
    4. Give the manager thread POOL_EXIT_S to end. If the feeder thread is still alive then
       (the manager died or skipped its clean-up), close the call pipe's read end (a blocked
       write fails with EPIPE) and the queue (its sentinel ends a feeder waiting for work).
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    calls, results = getattr(pool, "_call_queue", None), getattr(pool, "_result_queue", None)
    pool.shutdown(wait=False, cancel_futures=True)  # 1 (it forgets the attributes above)
    _let_exit(processes, grace)
    for process in processes:  # 2 (no-op for one that has ended)
        process.kill()
    for process in processes:
        process.join(timeout=POOL_EXIT_S)
    writer = getattr(results, "_writer", None)
    if writer is not None:  # 3
        writer.close()
    if manager is not None:  # 4
        manager.join(timeout=POOL_EXIT_S)
        if results is not None and not manager.is_alive():
            results.close()
    feeder = getattr(calls, "_thread", None)
    if feeder is not None and feeder.is_alive() and not (manager and manager.is_alive()):
        # the manager is gone: no other thread closes the call queue now. The reader's end
        # fails a blocked write (EPIPE); `close()` queues the sentinel that ends a feeder
        # waiting for more work (without it, 3 of 5 double-fault runs waited the whole
        # POOL_EXIT_S here)
        calls._reader.close()
        calls.close()
        feeder.join(timeout=POOL_EXIT_S)


class _PoolBugHook:
    """While a pool lives, a `threading.excepthook` that drops one error and passes every
    other on: the pool's manager thread failing a future that `run` had already cancelled
    (`InvalidStateError`, python/cpython#107219, which Python 3.11 has). It happens when a
    worker dies on its own between `run` cancelling the queued cells and `close` (a worker
    killed while the sweep gives up on another): the pool is being given up on anyway,
    `_kill_pool` unblocks what that thread leaves, and the user saw a traceback above the
    one-line error (4 of 4 runs of the test's double fault). `restore()` puts the previous
    hook back."""

    def __init__(self) -> None:
        import threading

        self.previous = threading.excepthook
        threading.excepthook = self._hook

    def _hook(self, args) -> None:
        from concurrent.futures import InvalidStateError
        from concurrent.futures.process import _ExecutorManagerThread

        if not (isinstance(args.exc_value, InvalidStateError)
                and isinstance(args.thread, _ExecutorManagerThread)):
            self.previous(args)

    def restore(self) -> None:
        import threading

        if threading.excepthook == self._hook:  # not replaced by someone else since
            threading.excepthook = self.previous


def _let_exit(processes, grace: float) -> None:
    """Wait up to `grace` seconds for `processes` to end, not at all once one of them is
    stopped: an idle worker waits for its next task holding the call queue's read lock, so a
    stopped one also keeps the others from reading the sentinel that ends them (measured: 2
    of 12 closes then waited the whole grace)."""
    import time

    from moxco_cli.workers import is_stopped

    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_alive()]
        if not alive or any(is_stopped(p.pid) for p in alive):
            return
        alive[0].join(timeout=min(0.05, max(0.0, deadline - time.monotonic())))


def _settle_worker(parent: int, prctl) -> None:
    """Pool workers leave Ctrl-C, SIGTERM and SIGHUP to the parent, which cancels what is
    queued and kills them (`moxco_cli.signals`), and die with it (`PR_SET_PDEATHSIG`): after
    a SIGKILL of the parent (the out-of-memory killer's), they lived on under pid 1, holding
    the caller's stdout open (`moxco sweep ... | cat` never ended)."""
    from moxco_cli.workers import settle_child

    if not settle_child(parent, prctl):  # the parent died before prctl took effect
        os._exit(1)


class DaskExecutor:
    """Submits every task to a Dask distributed cluster and yields results as they finish.

    `scheduler` is `tcp://HOST:PORT` (an existing cluster whose workers can import moxco) or
    `local-cluster:K` (a `LocalCluster` of K single-threaded worker processes on 127.0.0.1,
    started here and closed by `close()`). Dask is imported only here.
    """

    def __init__(self, scheduler: str, timeout: float = 20.0) -> None:
        self.client, self.cluster = connect(scheduler, timeout)
        self.description = f"dask {scheduler}"

    def run(self, cfg, tasks, starts, group) -> Iterator[tuple[int, dict]]:
        from distributed import as_completed

        starts_f = self.client.scatter(starts, broadcast=True)
        group_f = self.client.scatter(group, broadcast=True) if group is not None else None
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        jobs = plan_jobs(cfg, tasks, len(starts), workers)
        futures = [self.client.submit(run_job, cfg, [tasks[i] for i in job], starts_f, group_f,
                                      1, pure=False) for job in jobs]
        index = {f.key: job for f, job in zip(futures, jobs, strict=True)}
        try:
            for fut in as_completed(futures):
                yield from zip(index[fut.key], fut.result(), strict=True)
        finally:
            self.client.cancel(futures)

    def close(self, abort: bool = False) -> None:
        disconnect(getattr(self, "client", None), getattr(self, "cluster", None))


def make_executor(scheduler: str | None = None, workers: int | None = None):
    """`DaskExecutor(scheduler)` when a scheduler is given, else a `LocalExecutor`
    (default: min(2, cores) processes)."""
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    return LocalExecutor(workers)


# ----------------------------------------------------------------------------- storage

def task_inputs(cfg: SweepConfig, task: Task) -> dict:
    """Everything the result of `task` is a function of (`run_job`'s inputs), as JSON: the
    landscape, the starts (spec and seed), steps, metric, tol, the task's method and every key
    it runs with (swept or not). A saved cell records them, so that a cell computed under
    other options (config.json edited before a resume: starts random:500 -> random:50) is
    refused instead of being published beside cells of the new ones."""
    return json.loads(json.dumps({
        "landscape": cfg.landscape, "landscape_params": cfg.landscape_params,
        "starts": cfg.starts, "seed": cfg.settings.seed, "steps": cfg.steps,
        "metric": cfg.metric, "tol": cfg.tol, "optimizer": task.optimizer,
        "keys": task_values(cfg, task)}))


def _difference(saved: dict, now: dict) -> tuple[str, object, object] | None:
    """The first input (a method key by its own name) whose saved value is not the one now,
    as `(name, saved, now)`; None if they are the same."""
    missing = "(none)"
    for name in [*now, *(k for k in saved if k not in now)]:
        old, new = saved.get(name, missing), now.get(name, missing)
        if old != new:
            if name == "keys" and isinstance(old, dict) and isinstance(new, dict):
                return _difference(old, new)
            return name, old, new
    return None


RESULT_KEYS = ("value", "ci_low", "ci_high", "n", "k", "other_minimum_fraction",
               "diverged_fraction", "committed_fraction", "median_commit_step")


def result_problem(cfg: SweepConfig, result, starts: int) -> str | None:
    """Why `result` cannot be what `run_job` returned for a task of `cfg` with `starts` starts
    (None: it can be). A saved cell holding an impossible number (a fraction 7.5, n = -3, a
    success rate NaN) was published as it was, and one of another shape was a traceback."""
    if not isinstance(result, dict):
        return f"holds a result that is not an object ({type(result).__name__})"
    missing = [k for k in RESULT_KEYS if k not in result]
    if missing:
        return f"holds a result without {', '.join(missing)}"

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def count(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    for key in RESULT_KEYS:
        if key not in ("n", "k") and not number(result[key]):
            return f"holds {key} = {result[key]!r}, not a number"
    n, k = result["n"], result["k"]
    value, lo, hi = result["value"], result["ci_low"], result["ci_high"]
    if not count(n) or not (0 <= n <= starts if cfg.metric == "escape" else n == starts):
        return f"holds n = {n!r}, but the sweep runs {starts} starts"
    if cfg.metric == "final-loss":
        if k is not None:
            return f"holds k = {k!r}, but final-loss counts nothing"
        if any(math.isnan(x) for x in (value, lo, hi)) or not lo <= value <= hi:
            return (f"holds a median final loss {value!r} that is not within its quartiles "
                    f"[{lo!r}, {hi!r}]")
    else:
        if not count(k) or not 0 <= k <= n:
            return f"holds k = {k!r}, not a count of the n = {n} runs"
        if n == 0:
            if not all(math.isnan(x) for x in (value, lo, hi)):
                return "holds a rate of no runs (n = 0) that is not NaN"
        elif value != k / n:
            return f"holds {cfg.metric} {value!r}, but k / n = {k}/{n} = {k / n!r}"
        elif not 0 <= lo <= hi <= 1:
            return f"holds the interval [{lo!r}, {hi!r}], not one within [0, 1]"
    for key in ("other_minimum_fraction", "diverged_fraction", "committed_fraction"):
        v = result[key]
        if not (0 <= v <= 1 or (math.isnan(v) and key == "other_minimum_fraction" and n == 0)):
            return f"holds {key} = {v!r}, not a fraction in [0, 1]"
    step = result["median_commit_step"]
    if (math.isnan(step) != (result["committed_fraction"] == 0)
            or not (math.isnan(step) or 0 <= step <= cfg.steps)):
        return (f"holds median_commit_step = {step!r}, which is not NaN exactly when no run "
                f"commits, else in [0, {cfg.steps}]")
    return None


class CellError(MoxcoError):
    """A saved cell that cannot be used (unreadable, malformed, impossible, or of other
    options): one line naming the file, exit 2, before any cell is computed."""


class CellStore:
    """Finished task results on disk, one small JSON file per task in `folder`.

    Each file is written atomically (temporary name, then rename) and carries the task's
    hyperparameters and, for a store `bound` to a config, every input its result depends on
    (`task_inputs`). `load()` checks them against the tasks, so results of a different sweep
    are never mixed in: a cell of other inputs (config.json edited before a resume), an
    unreadable or malformed file, or an impossible result (`result_problem`) is a one-line
    error naming the file, before anything is computed. JSON keeps every float exactly (repr
    digits; inf and NaN included).
    """

    def __init__(self, folder: Path, config: SweepConfig | None = None) -> None:
        self.folder = Path(folder)
        self.config = config

    def bound(self, config: SweepConfig) -> CellStore:
        """This store for the tasks of `config`: `save` records their inputs, `load` checks
        them (`run_sweep` binds the store it is given)."""
        return CellStore(self.folder, config)

    def save(self, task: Task, result: dict) -> None:
        from moxco_cli.report import atomic_write_bytes

        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"key": task.key, "optimizer": task.optimizer, "values": dict(task.values),
               "result": result}
        if self.config is not None:
            doc["inputs"] = task_inputs(self.config, task)
        atomic_write_bytes(self.folder / f"{task.key}.json", (json.dumps(doc) + "\n").encode())

    def load(self, tasks: list[Task]) -> dict[str, dict]:
        """Results already on disk for `tasks`, by key; raises a one-line CellError naming
        the file if one does not match or cannot be a result."""
        config = self.folder.parent / "config.json"
        if os.path.lexists(self.folder) and not self.folder.is_dir():
            raise CellError(f"--resume: {self.folder} is not a folder, so it holds no saved "
                             "cells; move it away to recompute every cell")
        starts = None
        if self.config is not None:
            kind, n = parse_starts(self.config.starts)
            starts = n ** self.config.build_landscape().dim if kind == "grid" else n
        done = {}
        for task in tasks:
            path = self.folder / f"{task.key}.json"
            if not os.path.lexists(path):
                continue

            def bad(why: str, path=path) -> CellError:
                return CellError(f"--resume: {path} {why}; delete it to recompute that cell")

            try:
                from moxco_cli.report import read_json_text

                doc = json.loads(read_json_text(path))
            except (OSError, ValueError, RecursionError) as exc:
                raise CellError(f"--resume: cannot read {path} ({exc}); delete it to "
                                 "recompute that cell") from None
            if not isinstance(doc, dict):
                raise bad(f"is not a saved cell (a JSON {type(doc).__name__}, not an object)")
            missing = [k for k in ("key", "optimizer", "values", "result") if k not in doc]
            if missing:
                raise bad(f"is not a saved cell (no {', '.join(map(repr, missing))})")
            if self.config is not None:  # first: it names the option that differs
                saved = doc.get("inputs")
                if not isinstance(saved, dict):
                    raise bad(f"does not record the options it was computed with (an older "
                              f"moxco wrote it), so it cannot be checked against {config}")
                differs = _difference(saved, task_inputs(self.config, task))
                if differs is not None:
                    name, old, new = differs
                    raise CellError(
                        f"--resume: {path} was computed with {name} {old!r}, but {config} "
                        f"now gives {new!r}; cells of two different sweeps are never mixed: "
                        f"put {name} back, or delete {self.folder} to recompute every cell")
            # a cell saved before the restart columns took the keys' names says
            # alpha_restart, beta_restart: the same values
            values = ({axis_key(k): v for k, v in doc["values"].items()}
                      if isinstance(doc["values"], dict) else doc["values"])
            if (doc["key"] != task.key or doc["optimizer"] != task.optimizer
                    or values != dict(task.values)):
                raise CellError(f"--resume: {path} belongs to a different sweep than {config}")
            if self.config is not None:
                why = result_problem(self.config, doc["result"], starts)
                if why is not None:
                    raise bad(why)
            done[task.key] = doc["result"]
        return done


# ----------------------------------------------------------------------------- the sweep

@dataclass
class SweepResult:
    config: SweepConfig
    landscape: Landscape
    tol: float
    starts: np.ndarray  # (N, d)
    frame: pd.DataFrame  # sweep.csv
    computed: int  # tasks run by this call (the rest came from the store)


def escape_group(land: Landscape, starts: np.ndarray, tol: float) -> np.ndarray:
    """`(N,) bool`: starts whose gradient-flow basin is a non-global named minimum."""
    try:  # the basin rule of `moxco escape-count`, shared rather than written twice
        from moxco_cli.experiments.escape_count import start_basins
    except ImportError:
        raise SettingsError("--metric", "escape needs moxco_cli.experiments.escape_count "
                            "(the escape-count command), which this install lacks") from None
    basin, _ = start_basins(land, starts, tol)
    return np.isin(basin, [m.name for m in land.split_minima()[1]])


def theorem2_curvatures(land: Landscape) -> dict[str, float]:
    """Largest Hessian eigenvalue at every named minimum (the curvature Theorem 2 compares
    `1/eta_eff` with), by minimum name."""
    if not land.minima:
        return {}
    lam = land.lam_max(np.stack([m.x for m in land.minima]))
    return {m.name: float(v) for m, v in zip(land.minima, lam, strict=True)}


def vs_baseline(metric: str, cell: dict, base: dict) -> str:
    """`better`/`worse` when the cell's interval lies wholly on one side of the baseline's
    (success, escape: Wilson intervals; final-loss: the median outside the baseline's IQR,
    lower being better), else `same`."""
    if metric == "final-loss":
        if cell["value"] < base["ci_low"]:
            return "better"
        if cell["value"] > base["ci_high"]:
            return "worse"
        return "same"
    if any(math.isnan(x) for x in (cell["ci_low"], base["ci_low"])):
        return "same"
    if cell["ci_low"] > base["ci_high"]:
        return "better"
    if cell["ci_high"] < base["ci_low"]:
        return "worse"
    return "same"


def columns(cfg: SweepConfig) -> list[str]:
    """sweep.csv's columns: COLUMNS, with any swept key beyond AXES right after them."""
    extra = [n for n in cfg.axis_names if n not in AXES]
    at = COLUMNS.index(AXES[-1]) + 1
    return COLUMNS[:at] + extra + COLUMNS[at:]


def sweep_frame(cfg: SweepConfig, tasks: list[Task], results: dict[str, dict],
                lam_start: np.ndarray) -> pd.DataFrame:
    """sweep.csv: one row per cell in grid order (COLUMNS), baseline beside each cell."""
    base_by_key = {baseline_key(dict(t.values)): results[t.key]
                   for t in tasks if t.kind == "baseline"}
    inner = _inner_spec(cfg.method_spec)
    inner_keys = {p.name for p in method_specs.params_of(inner.name)}
    extra = [n for n in cfg.axis_names if n not in AXES]
    rows = []
    for task in tasks:
        if task.kind != "cell":
            continue
        values, res = dict(task.values), results[task.key]
        base = base_by_key[baseline_key({"lr": values["lr"], **{
            n: values[n] for n in extra if n in inner_keys}})]
        bound = inv_eta_eff(values["lr"], values["alpha"], values["beta"])
        rows.append({
            "cell": task.index, "optimizer": task.optimizer, **values, "inv_eta_eff": bound,
            "metric": cfg.metric, "value": res["value"], "ci_low": res["ci_low"],
            "ci_high": res["ci_high"], "n": res["n"], "k": res["k"],
            "other_minimum_fraction": res["other_minimum_fraction"],
            "diverged_fraction": res["diverged_fraction"],
            "committed_fraction": res["committed_fraction"],
            "median_commit_step": res["median_commit_step"],
            "theorem2_unstable_starts": float(np.mean(lam_start > bound)),
            "baseline": cfg.baseline, "baseline_value": base["value"],
            "baseline_ci_low": base["ci_low"], "baseline_ci_high": base["ci_high"],
            "baseline_diverged_fraction": base["diverged_fraction"],
            "vs_baseline": vs_baseline(cfg.metric, res, base),
        })
    frame = pd.DataFrame(rows, columns=columns(cfg))
    frame["k"] = frame["k"].astype("Int64")  # empty for final-loss, an integer otherwise
    return frame


def run_sweep(cfg: SweepConfig, *, store: CellStore | None = None, executor=None,
              progress: Callable[[int], None] | None = None) -> SweepResult:
    """Run every task of `cfg` not already in `store`; return the assembled table.

    Args:
        store: where finished tasks are saved (before `progress` hears of them) and loaded
            from; None keeps results in memory only.
        executor: a `LocalExecutor` (default: in this process) or `DaskExecutor`.
        progress: called with the number of tasks finished since its last call (first with
            the number already in the store, if any). An exception it raises stops the sweep;
            every task saved until then is kept.
    """
    cfg.validate()
    land = cfg.build_landscape()
    tol = cfg.tol if cfg.tol is not None else default_tol(land)
    starts = make_starts(land, cfg.starts, cfg.settings.seed)
    group = escape_group(land, starts, tol) if cfg.metric == "escape" else None
    tasks = tasks_for(cfg)
    store = store.bound(cfg) if store is not None else None
    results = store.load(tasks) if store is not None else {}
    if results and progress is not None:
        progress(len(results))
    pending = [t for t in tasks if t.key not in results]
    executor = executor or LocalExecutor(1)
    if pending:
        for k, result in executor.run(cfg, pending, starts, group):
            task = pending[k]
            if store is not None:
                store.save(task, result)
            results[task.key] = result
            if progress is not None:
                progress(1)
    lam_start = land.lam_max(starts)
    frame = sweep_frame(cfg, tasks, results, lam_start)
    return SweepResult(cfg, land, tol, starts, frame, len(pending))


def phase_diagram(landscape: str = "beale", optimizer: str = "adam+moxco",
                  alphas=PHASE_ALPHAS, betas=PHASE_BETAS, starts: str = "grid:21",
                  steps: int = 800, settings: OptimizerSettings | None = None,
                  metric: str = "success", tol: float | None = None, executor=None,
                  progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The (alpha, beta) phase diagram of `optimizer` as a sweep.csv-shaped DataFrame.

    `settings` (default: the paper's Figure 1 settings, lr 0.005) fixes everything else.
    Values are rounded to 12 significant digits, as `--grid` ranges are.
    """
    def axis(name, values):
        return Axis(name, tuple(float(f"{float(v):.{SIGNIFICANT_DIGITS}g}") for v in values))

    cfg = SweepConfig(landscape=landscape, optimizer=optimizer,
                      grid=(axis("alpha", alphas), axis("beta", betas)), starts=starts,
                      steps=steps, metric=metric, tol=tol,
                      settings=settings or OptimizerSettings()).validate()
    return run_sweep(cfg, executor=executor, progress=progress).frame
