"""`moxco generalize`: does MoXCo reach flatter minima, with lower test error? (issue 16)

Protocol, the same for every method:

1. Starts. `inits` initializations from the landscape's own start distribution
   (`Landscape.sample_starts`, for two-layer-net the network initialization) drawn from
   `default_rng(seed)`: the SAME initializations for every method, learning rate and threshold
   (paired).
2. Runs. Every method runs at every learning rate of `lrs` (a method whose spec sets `lr`
   runs at that rate only) for `steps` steps; each `+moxco` method also at every threshold of
   `thresholds` at `sweep_lr` (the threshold sweep, the authors' experiment). All rows of a
   method (rates x thresholds x initializations) run as ONE batched engine call, with one
   hyperparameter value per row. For factorization at depth 2, the same call also runs the
   `grid x grid` start grid at `sweep_lr` (the outcome map of final sharpness).
3. Per run: the landscape's metrics at the final point (two-layer-net: train loss, test_mse
   against the noise-free truth, test_mse_noisy, final lam_max; factorization: final
   lam_max, the product); a run that diverged counts +inf in every metric. Beside them,
   whether the end point is a minimum at all: the exact Hessian's smallest eigenvalue
   `final_lam_min` and the gradient norm `final_grad_norm` (NaN for a diverged run), and per
   method and lr the count of end points with negative curvature (`negative_curvature`).
4. Statistics (`moxco_cli.stats`), per method and lr (at the method's own threshold):
   medians with 95% percentile bootstrap intervals over initializations (1000 resamples
   from `default_rng([seed, 3])`, the same resamples for every method); paired differences
   of each `X+moxco` against `X` (per initialization, at the same lr): the median difference
   with its bootstrap interval and the exact two-sided sign test; Spearman's rank
   correlation of the primary metric with final lam_max per lr (and pooled over the lrs, to
   show what the step size alone does; Fisher-z interval); the threshold sweep's medians with
   intervals, at every threshold tried (raw points, no smoothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import landscapes
from moxco_cli import methods as method_specs
from moxco_cli import stats
from moxco_cli.engine import simulate
from moxco_cli.experiments.compare import BOOTSTRAP_RESAMPLES, moxco_pairs
from moxco_cli.experiments.run import build_landscape, validate_int, validate_steps
from moxco_cli.settings import (
    METHOD_NAMES,
    OptimizerSettings,
    SettingsError,
    shorthand_values,
    validate_methods,
)

DEFAULT_LRS = (0.01, 0.05, 0.2)
DEFAULT_THRESHOLDS = (0.85, 0.95, 0.99, 0.999)
MAX_INITS = 100_000
MAX_WORK = 3 * 10**9  # trajectory-steps per command, at most
OUTCOME_GRID = 41  # factorization depth 2: starts per axis of the outcome map
MIN_BLOCK_CHUNK = 256  # fewer initializations: the engine's own chunks (per-chunk overhead)
# An end point has negative curvature (so it is not a minimum, whatever its lam_max) where
# its smallest Hessian eigenvalue is below -NEGATIVE_CURVATURE * |lam_max|: far above the
# eigensolver's rounding (~1e-16 |lam_max|) and the exactly flat directions a network's dead
# units or the factorization's valley have (lam_min ~ 0), far below what unfinished runs
# show (two-layer-net, GD at lr 0.05, 400 initializations, 500 steps: median lam_min -0.016
# at lam_max ~ 3).
NEGATIVE_CURVATURE = 1e-3
FLAT_HESSIAN = 1e-12  # |lam_max| below this: the level is 1e-3 of this instead
HESSIAN_ROWS = 4096  # end points per batch of exact Hessians (N x d x d floats), at most
# so many bytes of Hessians: 4096 of d = 769 (two-layer-net:hidden=256) would be 19 GB
HESSIAN_BYTES = 256 * 2**20


@dataclass(frozen=True)
class GeneralizeConfig:
    """Everything `moxco generalize` needs; `to_options()` is what config.json stores."""

    landscape: str = "two-layer-net"
    landscape_params: dict = field(default_factory=dict)
    methods: tuple[str, ...] = METHOD_NAMES
    inits: int = 500
    steps: int = 500
    lrs: tuple[float, ...] = DEFAULT_LRS
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    sweep_lr: float | None = None  # None: the middle of lrs
    grid: int = OUTCOME_GRID
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def sweep_rate(self) -> float:
        return self.sweep_lr if self.sweep_lr is not None else self.lrs[(len(self.lrs) - 1) // 2]

    def land(self):
        return build_landscape(self.landscape, self.landscape_params)

    def validate(self) -> GeneralizeConfig:
        # the options first, the landscape after: building a wide network checks its value,
        # gradient and lam_max over its domain (5.5 s for two-layer-net:hidden=256, d = 769),
        # which an impossible --inits or --steps need not wait for
        self._validate_options()
        try:  # the study's size, before that check (the same count: rows per method)
            unchecked = landscapes.get(self.landscape, **self.landscape_params)
        except Exception:  # noqa: BLE001 - the checked build below says what is wrong
            unchecked = None
        if unchecked is not None and unchecked.METRICS:
            self._validate_work(unchecked)
        land = self.land()
        if not land.METRICS:
            raise SettingsError("LANDSCAPE", f"{land.name} declares no per-run metrics; "
                                "generalize studies two-layer-net or factorization")
        from moxco_cli import minibatch

        for spec in self.specs():
            values = method_specs.resolve(spec, shorthand_values(self.settings, spec.name))
            try:
                minibatch.check(land, values["batch"])
            except method_specs.SpecError as exc:
                raise SettingsError("--methods", f"{spec.label}: {exc}") from None
        if unchecked is None:  # counted above otherwise (the same landscape, unchecked)
            self._validate_work(land)
        self.settings.validate().numpy_only("generalize")
        return self

    def _validate_work(self, land) -> None:
        work = self.work(land)
        if work > MAX_WORK:
            raise SettingsError("--inits", f"{work:.3g} trajectory-steps in all; at most "
                                f"{MAX_WORK:.0e} (fewer inits, steps, lrs or thresholds)")

    def _validate_options(self) -> None:
        validate_methods(self.methods, "--methods")
        validate_int("--inits", self.inits, 2, MAX_INITS)
        validate_steps(self.steps)
        validate_int("--grid", self.grid, 2, 201)
        for option, values, lo, hi in (("--lrs", self.lrs, 0.0, math.inf),
                                       ("--thresholds", self.thresholds, 0.0, 1.0)):
            if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                     and math.isfinite(v) and lo < v < hi for v in values):
                raise SettingsError(option, f"expects numbers in ({lo:g}, {hi:g}), got "
                                    f"{list(values)!r}")
            if len(set(values)) != len(values):
                raise SettingsError(option, "lists a value twice")
        if self.sweep_lr is not None and self.sweep_lr not in self.lrs:
            raise SettingsError("--sweep-lr", f"must be one of --lrs "
                                f"({', '.join(f'{v:g}' for v in self.lrs)}), got {self.sweep_lr!r}")
        if self.settings.lr != OptimizerSettings.lr:
            raise SettingsError("--lr", "generalize runs every rate of --lrs; give --lrs "
                                "(or lr=... in a method spec)")

    def specs(self):
        return [method_specs.parse_spec(m) for m in self.methods]

    def work(self, land=None) -> int:
        land = land or self.land()
        return self.steps * sum(count for s in self.specs()
                                for *_, count in self.cells(s, land))

    def cells(self, spec, land=None) -> list[tuple]:
        """The row blocks of `spec`'s one engine call, in order: `(lr, threshold, role,
        count)` with role `lr` (the method at its own threshold, one block per rate), then
        `threshold` (the sweep at `sweep_lr`, `+moxco` methods only) and `grid` (the outcome
        map's start grid, factorization at depth 2 only); `threshold` is None for a method
        without one."""
        land = land or self.land()
        own = dict(spec.keys)
        values = method_specs.resolve(spec, shorthand_values(self.settings, spec.name))
        lrs = (own["lr"],) if "lr" in own else self.lrs
        sweep_lr = own.get("lr", self.sweep_rate)
        has_threshold = "+moxco" in spec.name
        base_th = values["threshold"] if has_threshold else None
        rows = [(lr, base_th, "lr", self.inits) for lr in lrs]
        if has_threshold and "threshold" not in own:
            rows += [(sweep_lr, th, "threshold", self.inits) for th in self.thresholds
                     if th != base_th]
        if land.name == "factorization" and land.dim == 2:
            rows.append((sweep_lr, base_th, "grid", self.grid**2))
        return rows

    def to_options(self) -> dict:
        return {
            "landscape": self.landscape, "landscape_params": dict(self.landscape_params),
            "optimizers": list(self.methods), "inits": self.inits, "steps": self.steps,
            "lrs": list(self.lrs), "thresholds": list(self.thresholds),
            "sweep_lr": self.sweep_lr, "grid": self.grid, **self.settings.to_dict(),
        }

    @classmethod
    def from_options(cls, opts: dict) -> GeneralizeConfig:
        from moxco_cli.config_types import check_types

        check_types(cls, opts)
        opts = dict(opts)
        keys = ("landscape", "landscape_params", "optimizers", "inits", "steps", "lrs",
                "thresholds", "sweep_lr", "grid")
        own = {k: opts.pop(k) for k in keys if k in opts}
        return cls(
            landscape=own.get("landscape", "two-layer-net"),
            landscape_params=own.get("landscape_params") or {},
            methods=tuple(own.get("optimizers", METHOD_NAMES)),
            inits=own.get("inits", 500), steps=own.get("steps", 500),
            lrs=tuple(own.get("lrs", DEFAULT_LRS)),
            thresholds=tuple(own.get("thresholds", DEFAULT_THRESHOLDS)),
            sweep_lr=own.get("sweep_lr"), grid=own.get("grid", OUTCOME_GRID),
            settings=OptimizerSettings.from_dict(opts),
        ).validate()


def protocol_text(cfg: GeneralizeConfig, short: bool = False) -> str:
    text = (f"{cfg.inits} paired initializations (default_rng({cfg.seed})), the same for every "
            f"method, lr and threshold; {cfg.steps} steps; diverged runs count +inf.")
    if short:
        return text
    return (text + f" Medians with 95% percentile bootstrap intervals ({BOOTSTRAP_RESAMPLES} "
            "resamples of the initializations, default_rng([seed, 3])); paired differences "
            "X+moxco - X per initialization with the exact sign test; Spearman rank "
            "correlation per lr (Fisher-z interval); the threshold sweep at lr "
            f"{cfg.sweep_rate:g}, every threshold a raw point.")


@dataclass
class GeneralizeResult:
    config: GeneralizeConfig
    landscape: object
    runs: pd.DataFrame  # one row per (method, lr, threshold, role, start)
    distributions: pd.DataFrame
    paired: pd.DataFrame
    correlation: pd.DataFrame
    thresholds: pd.DataFrame
    outcome_map: pd.DataFrame | None
    references: dict  # method -> {lr: 1/eta_eff}, for the sharpness figure
    primary: str

    def figure_args(self) -> dict:
        """`{png name: ("module:function", args)}` of every figure (shared with reproduce)."""
        cfg, land = self.config, self.landscape
        plots = "moxco_cli.plots.generalize:"
        title = f"{land.label}: {protocol_text(cfg, short=True)}"
        methods = list(cfg.methods)
        figures = {
            "distributions.png": (plots + "distributions_figure", (
                self.distributions, self.runs, methods, self.metric_names(), title)),
        }
        if not self.paired.empty:  # pairs need X+moxco and X among the methods
            figures["paired.png"] = (plots + "paired_figure", (
                self.paired, self.metric_names(), title))
        if not self.thresholds.empty:  # no sweep: no +moxco method, or only the threshold used
            figures["thresholds.png"] = (plots + "thresholds_figure", (
                self.thresholds, self.distributions, self.primary, cfg.sweep_rate, title))
        if "test_mse" in self.metric_names():
            figures["sharpness.png"] = (plots + "sharpness_figure", (
                self.runs, self.correlation, methods, self.primary, title))
        else:
            figures["sharpness.png"] = (plots + "selected_sharpness_figure", (
                self.runs, methods, self.references, float(land.dim), title))
        if self.outcome_map is not None:
            # the map's runs are the grid's starts, not the paired initializations
            grid_title = (f"{land.label}: a {cfg.grid} x {cfg.grid} grid of starts over the "
                          f"box, every method at lr {cfg.sweep_rate:g} (its own threshold); "
                          f"{cfg.steps} steps.")
            figures["outcome_map.png"] = (plots + "sharpness_map_figure", (
                self.outcome_map, methods, land.bounds.tolist(), float(land.dim),
                grid_title))
        return figures

    def metric_names(self) -> list[str]:
        names = list(self.landscape.METRICS)
        return [n for n in names if n in ("test_mse", "train_loss", "final_lam_max",
                                          "test_mse_noisy")]


def _primary(land) -> str:
    return "test_mse" if "test_mse" in land.METRICS else "final_lam_max"


@dataclass
class Simulated:
    """Stage one of the study (`simulate_methods`): every method's one engine call (and the
    outcome map's grid of starts); stage two (`run_generalize`) measures their end points."""

    land: object
    grid_starts: np.ndarray | None  # (grid^2, 2): factorization at depth 2, else None
    calls: list  # per method: (spec, rows of cfg.cells, the built method, Trajectory)

    def end_points(self) -> int:
        """How many end points stage two measures (its progress total, 2 units each)."""
        return 2 * sum(len(traj.final) for *_, traj in self.calls)


def _method(cfg: GeneralizeConfig, spec, rows):
    """`spec`'s one engine call's method: its rows' lr (and threshold) given per row."""
    base = method_specs.resolve(spec, shorthand_values(cfg.settings, spec.name))
    per_row = {"lr": np.concatenate([np.full(c, lr) for lr, _, _, c in rows])}
    if base.get("threshold") is not None and "+moxco" in spec.name:
        per_row["threshold"] = np.concatenate([np.full(c, th) for _, th, _, c in rows])
    return method_specs.build_from_values(spec.name, {**base, **per_row}, label=spec.label)


def step_weight(method, dim: int) -> float:
    """A trajectory-step's cost in gradients, as the engine counts it (one gradient; a
    method that can commit adds, per scoring, one gradient and its curvature's HVPs, an HVP
    taken as two gradients): what a progress unit of `method` weighs. Counted by
    trajectory-steps alone, the plain methods' cheap steps ran first and the estimate of
    the time left was a fifth of the truth (two-layer-net:hidden=16)."""
    if not method.scores:
        return 1.0
    from moxco_cli.curvature import parse_curvature

    kind, k = parse_curvature(method.curvature)
    hvps = dim if kind == "exact" else k
    return 1.0 + (1.0 + 2.0 * hvps) / method.score_every


def progress_total(cfg: GeneralizeConfig) -> int:
    """Stage one's progress total: every method's trajectory-steps, each `step_weight`."""
    land = cfg.land()
    total = 0.0
    for spec in cfg.specs():
        rows = cfg.cells(spec, land)
        count = sum(c for *_, c in rows)
        total += step_weight(_method(cfg, spec, rows), land.dim) * count * cfg.steps
    return max(1, round(total))


def simulate_methods(cfg: GeneralizeConfig, progress=None) -> Simulated:
    """Every method's rows as one batched engine call (`progress(n)`: trajectory-steps, each
    weighted by `step_weight`, so that the units add up to `progress_total(cfg)`)."""
    cfg.validate()
    land = cfg.land()
    starts = land.sample_starts(cfg.inits, np.random.default_rng(cfg.seed))
    grid_starts = None
    if land.name == "factorization" and land.dim == 2:
        from moxco_cli.starts import grid_starts as make_grid

        _, grid_starts = make_grid(land.bounds, cfg.grid)
    calls = []
    for spec in cfg.specs():
        rows = cfg.cells(spec, land)
        x0 = np.concatenate([grid_starts if role == "grid" else starts
                             for _, _, role, _ in rows])
        m = _method(cfg, spec, rows)
        weight = step_weight(m, land.dim)
        # chunks of one row block each: the engine stops scoring a chunk once all its rows
        # have latched, which whole blocks at a low threshold do within a few steps (the same
        # numbers whatever the chunking)
        chunk = cfg.inits if cfg.inits >= MIN_BLOCK_CHUNK else None
        told = None if progress is None else _weighted(progress, weight)
        traj = simulate(land, m, x0, cfg.steps, seed=cfg.seed, progress=told,
                        chunk_size=chunk)
        calls.append((spec, rows, m, traj))
    return Simulated(land, grid_starts, calls)


def _weighted(progress, weight: float):
    """`progress` told `weight` units per trajectory-step, rounded without drift."""
    done = [0, 0]  # trajectory-steps, units told

    def advance(n: int) -> None:
        done[0] += n
        units = round(done[0] * weight)
        progress(units - done[1])
        done[1] = units
    return advance


def run_generalize(cfg: GeneralizeConfig, progress=None, measured=None,
                   simulated: Simulated | None = None) -> GeneralizeResult:
    """The whole protocol of the module docstring: `simulate_methods` (unless `simulated`
    is given), then every end point's metrics and exact Hessian (`measured(n)`: 2 units per
    end point, `Simulated.end_points`; for a wide network this stage is the longer one:
    one eigvalsh of a d x d Hessian per end point, d = 769 at hidden = 256)."""
    sim = simulated if simulated is not None else simulate_methods(cfg, progress)
    land, grid_starts = sim.land, sim.grid_starts
    measured = measured or (lambda n: None)
    frames, references = [], {}
    for spec, rows, m, traj in sim.calls:
        metrics = land.metrics(traj.final)
        measured(len(traj.final))
        lam_min, grad_norm = end_curvature(land, traj.final, traj.diverged, measured)
        lo = 0
        for lr, th, role, count in rows:
            part = slice(lo, lo + count)
            dead = traj.diverged[part]
            frame = pd.DataFrame({
                "method": spec.label, "role": role, "lr": lr,
                "threshold": np.nan if th is None else th,
                "start_id": np.arange(count), "final_loss": traj.final_loss[part],
                **{k: np.where(dead, np.inf, v[part]) for k, v in metrics.items()},
                "final_lam_min": lam_min[part], "final_grad_norm": grad_norm[part],
                "commit_step": traj.commit_step[part], "diverged_step": traj.diverged_step[part],
            })
            if role == "grid":
                frame["x0"], frame["x1"] = grid_starts[:, 0], grid_starts[:, 1]
            frames.append(frame)
            lo += count
        inv = m.inv_eta_eff
        references[spec.label] = {float(lr): float(np.asarray(inv)[k * cfg.inits])
                                  if np.ndim(inv) else float(inv)
                                  for k, (lr, _, role, _) in enumerate(rows) if role == "lr"}
    runs = pd.concat(frames, ignore_index=True)
    primary = _primary(land)
    resamples = np.random.default_rng([cfg.seed, 3]).integers(
        0, cfg.inits, (BOOTSTRAP_RESAMPLES, cfg.inits))
    metric_names = [n for n in land.METRICS if n in runs.columns and n != "product"]
    result = GeneralizeResult(
        cfg, land, runs, _distributions(runs, metric_names, resamples),
        _paired(runs, cfg, metric_names, resamples), _correlation(runs, primary),
        _threshold_table(runs, primary, resamples),
        runs[runs.role == "grid"].reset_index(drop=True) if grid_starts is not None else None,
        references, primary)
    return result


def end_curvature(land, final: np.ndarray, diverged: np.ndarray, progress=None):
    """`(lam_min, grad_norm)`, `(N,)` each, at the end points `final (N, d)`: the smallest
    eigenvalue of the exact Hessian and the gradient's norm (NaN where the run diverged).
    Whether an end point is a minimum at all: `negative_curvature`. `progress(n)` after each
    batch: its end points (the diverged ones at once)."""
    progress = progress or (lambda n: None)
    lam_min = np.full(len(final), np.nan)
    grad_norm = np.full(len(final), np.nan)
    alive = np.flatnonzero(~diverged)
    progress(len(final) - len(alive))
    per_batch = max(1, min(HESSIAN_ROWS, HESSIAN_BYTES // (8 * land.dim * land.dim)))
    for lo in range(0, len(alive), per_batch):
        rows = alive[lo:lo + per_batch]
        lam_min[rows] = np.linalg.eigvalsh(land.hess(final[rows]))[:, 0]
        grad_norm[rows] = np.linalg.norm(land.grad(final[rows]), axis=1)
        progress(len(rows))
    return lam_min, grad_norm


def negative_curvature(runs: pd.DataFrame) -> np.ndarray:
    """`(N,)` bool: the runs whose end point has negative curvature (NEGATIVE_CURVATURE):
    a saddle or a slope still being descended, not a minimum. False for diverged runs."""
    lam_min = runs["final_lam_min"].to_numpy(dtype=float)
    lam_max = (runs["final_lam_max"].to_numpy(dtype=float) if "final_lam_max" in runs
               else np.ones(len(runs)))  # a landscape without it: an absolute level
    # a Hessian below FLAT_HESSIAN (every relu unit dead) is zero curvature: its rounding
    # is not a negative eigenvalue
    with np.errstate(invalid="ignore"):
        return lam_min < -NEGATIVE_CURVATURE * np.maximum(np.abs(lam_max), FLAT_HESSIAN)


def negative_curvature_cell(row) -> str:
    """`"k/m"` of a distributions.csv row: end points with negative curvature among the
    finite ones (the console table and REPRODUCTION.md's tables)."""
    return f"{row.negative_curvature}/{row.runs - row.diverged}"


def _main_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of each method at its own threshold (role `lr`)."""
    return runs[runs.role == "lr"]


def _distributions(runs, metric_names, resamples) -> pd.DataFrame:
    out = []
    for (method, lr), part in _main_rows(runs).groupby(["method", "lr"], sort=False):
        n = len(part)
        committed = int((part.commit_step >= 0).sum())
        c_lo, c_hi = stats.wilson(committed, n)
        diverged = int((part.diverged_step >= 0).sum())
        negative = int(negative_curvature(part).sum())
        for name in metric_names:
            values = part[name].to_numpy(dtype=float)
            med, lo, hi = stats.bootstrap_median(values, resamples)
            out.append({"method": method, "lr": lr, "metric": name, "runs": n, "median": med,
                        "ci_low": lo, "ci_high": hi,
                        "q25": stats.quantile_with_inf(values, 0.25),
                        "q75": stats.quantile_with_inf(values, 0.75),
                        "committed": committed, "committed_ci_low": c_lo,
                        "committed_ci_high": c_hi, "diverged": diverged,
                        "negative_curvature": negative})
    return pd.DataFrame(out)


def _paired(runs, cfg, metric_names, resamples) -> pd.DataFrame:
    main = _main_rows(runs)
    out = []
    for mox, inner in moxco_pairs(cfg.methods):
        a_all, b_all = main[main.method == mox], main[main.method == inner]
        for lr in sorted(set(a_all.lr) & set(b_all.lr)):
            a, b = a_all[a_all.lr == lr], b_all[b_all.lr == lr]
            for name in metric_names:
                x, y = a[name].to_numpy(dtype=float), b[name].to_numpy(dtype=float)
                with np.errstate(invalid="ignore"):
                    diff = x - y  # inf - inf (both diverged) is NaN
                # A pair where both runs diverged says nothing about which method ends lower:
                # it is left out of the median and the sign test and counted on its own.
                # (Counted as a zero difference, 160 such pairs of 500 put the median of
                # factorization's lam_max difference at exactly 0 [0, 0] where MoXCo
                # diverged 138 times more.)
                both = np.isnan(diff)
                kept = diff[~both]
                # the same resamples of the initializations as every other statistic; each
                # resample's median is over its pairs that are not both diverged
                med, lo, hi = stats.bootstrap_median(diff, resamples, omit_nan=True)
                lower, higher, p = stats.sign_test(kept)
                out.append({"method": mox, "against": inner, "lr": lr, "metric": name,
                            "pairs": len(diff), "median_difference": med, "ci_low": lo,
                            "ci_high": hi, "method_lower": lower, "method_higher": higher,
                            "ties": len(kept) - lower - higher,
                            "both_diverged": int(both.sum()), "sign_test_p": p})
    return pd.DataFrame(out, columns=[
        "method", "against", "lr", "metric", "pairs", "median_difference", "ci_low", "ci_high",
        "method_lower", "method_higher", "ties", "both_diverged", "sign_test_p"])


def _correlation(runs, primary) -> pd.DataFrame:
    main = _main_rows(runs)
    out = []
    if primary == "final_lam_max":
        return pd.DataFrame(columns=["method", "lr", "runs", "rho", "ci_low", "ci_high",
                                     "p_value"])
    for method, part in main.groupby("method", sort=False):
        groups = [(lr, p) for lr, p in part.groupby("lr")] + [("all", part)]
        for lr, p in groups:
            rho, lo, hi, pval, n = stats.spearman(p[primary].to_numpy(dtype=float),
                                                  p["final_lam_max"].to_numpy(dtype=float))
            out.append({"method": method, "lr": lr, "runs": n, "rho": rho, "ci_low": lo,
                        "ci_high": hi, "p_value": pval})
    return pd.DataFrame(out)


def _threshold_table(runs, primary, resamples) -> pd.DataFrame:
    """Per moxco method and threshold at the sweep lr: medians of the primary metric and of
    final lam_max with intervals, the committed fraction and the median commit step."""
    out = []
    moxco = runs[runs.threshold.notna() & (runs.role != "grid")]
    for method, part in moxco.groupby("method", sort=False):
        sweep = part[part.role == "threshold"]
        if sweep.empty:
            continue
        lr = float(sweep.lr.iloc[0])
        rows = part[part.lr == lr]
        for th, cell in rows.groupby("threshold"):
            n = len(cell)
            committed = int((cell.commit_step >= 0).sum())
            c_lo, c_hi = stats.wilson(committed, n)
            entry = {"method": method, "lr": lr, "threshold": th, "runs": n,
                     "committed": committed, "committed_fraction": committed / n,
                     "committed_ci_low": c_lo, "committed_ci_high": c_hi}
            steps = cell.commit_step[cell.commit_step >= 0].to_numpy(dtype=float)
            entry["median_commit_step"] = float(np.median(steps)) if len(steps) else math.nan
            for name in dict.fromkeys((primary, "final_lam_max")):
                med, lo, hi = stats.bootstrap_median(cell[name].to_numpy(dtype=float),
                                                     resamples)
                entry.update({f"{name}_median": med, f"{name}_ci_low": lo,
                              f"{name}_ci_high": hi})
            out.append(entry)
    return pd.DataFrame(out)
