"""`moxco compare`: MoXCo against tuned baselines, with a stated protocol (COCO/IOH style).

Protocol, per landscape, the same for every method:

1. Tuning. Every method gets the same number of trials (`trials`). Tuning only `lr` (the
   default), the trials are the log grid `10^(linspace(-12, 0, trials) / 3)` (13 trials:
   `10^(k/3)`, k = -12..0); tuning more keys, the first `trials` points of a scrambled Sobol
   sequence (`scipy.stats.qmc.Sobol(seed=seed)`) over the box of those keys (`TUNE_BOX`; `lr`
   on a log scale), each method over the tuned keys it has. Every trial runs from the same
   `tuning_starts` starts, drawn from `default_rng([seed, 1])`, for `steps` steps; all trials
   of a method run as ONE batched engine call (one hyperparameter value per row). Objective:
   the median over tuning starts of the final `f - f*` (a diverged run counts +inf); the
   smallest objective wins, ties going to the smaller lr. A chosen value at the edge of the
   values tried is flagged: the optimum may lie outside.
2. Evaluation. Every method, with its chosen values, runs from the same `eval_starts`
   starts, drawn from `default_rng([seed, 0])` (never the tuning starts), for the same
   `steps`.
3. Statistics (`moxco_cli.stats`). Targets `f - f* <= 10^k`, k = 2, 1.8, ..., -8 (51). A
   run's runtime for a target is the first step t (1..T) with `f(theta_t) - f* <= target`
   (steps after a divergence never count); ERT per target with a 95% percentile bootstrap
   over starts (1000 resamples from `default_rng([seed, 3])`, the same resamples for every
   method of a landscape); success per target with a Wilson interval; the runtime ECDF over
   (start, target) pairs; fixed-budget quantiles of `f - f*` over the steps; the exact paired
   McNemar test of each `X+moxco` against `X` at the headline target; over several
   landscapes, the performance profile of ERT at the headline target.

Cost is what the engine counts for every run (`Trajectory.grad_evals`, `.hvps`): one
gradient per step taken at the query point, plus, for methods that can commit, one gradient
and the curvature's HVPs per scoring (K for power:K, those taken for lanczos:K, d for the
exact Hessian; a scoring every `score_every` steps); steps after a divergence cost nothing
and the monitor goodness of a plain method is free. `cost.csv`: the evaluation runs' mean
per run, and the totals over tuning and evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from moxco_cli import methods as method_specs
from moxco_cli import stats
from moxco_cli.engine import simulate
from moxco_cli.experiments.run import build_landscape, validate_int
from moxco_cli.settings import OptimizerSettings, SettingsError, shorthand_values, validate_methods
from moxco_cli.starts import start_box, uniform_starts

TARGET_EXPONENTS = tuple(round(2.0 - 0.2 * k, 1) for k in range(51))  # 2, 1.8, ..., -8
TARGETS = tuple(10.0**e for e in TARGET_EXPONENTS)
HEADLINE_TARGET = 1e-4
BUDGETS = {"beale": 800, "two-wells": 1000}  # the landscape's usual step budget, else 1000
DEFAULT_BUDGET = 1000
BOOTSTRAP_RESAMPLES = 1000
EVAL_CHUNK = 2048  # evaluation starts recorded at a time (records are (T+1) x chunk)
TRACE_LEVELS_PER_DECADE = 20  # best-so-far levels logged in the IOH export
# Tuning box of each key: (low, high, log scale).
TUNE_BOX = {
    "lr": (1e-4, 1.0, True), "alpha": (0.0, 0.99, False), "beta": (0.0, 0.99, False),
    "restart_alpha": (0.0, 0.99, False), "restart_beta": (0.0, 0.99, False),
    "threshold": (0.5, 0.99, False), "tau": (0.01, 1.0, True), "b1": (0.5, 0.99, False),
    "b2": (0.9, 0.9999, False), "rho": (0.5, 0.999, False),
}
MAX_TRIALS = 1024
MAX_STARTS = 100_000
MAX_WORK = 5 * 10**9  # trajectory-steps per command, at most (about 10 minutes here)


@dataclass(frozen=True)
class CompareConfig:
    """Everything `moxco compare` needs; `to_options()` is what config.json stores."""

    landscapes: tuple[tuple[str, dict], ...] = (("beale", {}),)
    methods: tuple[str, ...] = ("gd", "adam", "gd+moxco", "adam+moxco")
    tune: tuple[str, ...] = ("lr",)
    trials: int = 13
    tuning_starts: int = 256
    eval_starts: int = 1024
    steps: int | None = None  # None: each landscape's usual budget
    target: float = HEADLINE_TARGET
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)
    export: bool = True  # also the IOHprofiler files

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def landscape(self) -> str:
        """The landscapes' names joined (the default results folder's name)."""
        return "-".join(name for name, _ in self.landscapes)

    def budget(self, land) -> int:
        return self.steps if self.steps is not None else BUDGETS.get(land.name, DEFAULT_BUDGET)

    def validate(self) -> CompareConfig:
        if not self.landscapes:
            raise SettingsError("LANDSCAPE", "name at least one landscape")
        lands = [build_landscape(name, params) for name, params in self.landscapes]
        labels = [land.label for land in lands]
        twice = next((label for k, label in enumerate(labels) if label in labels[:k]), None)
        if twice is not None:  # one landscape twice: its rows and the profile would collide
            raise SettingsError("LANDSCAPE", f"{twice} is given twice; name each landscape "
                                "once")
        validate_methods(self.methods, "--methods")
        validate_int("--trials", self.trials, 1, MAX_TRIALS)
        validate_int("--tuning-starts", self.tuning_starts, 1, MAX_STARTS)
        validate_int("--eval-starts", self.eval_starts, 1, MAX_STARTS)
        if self.steps is not None:
            validate_int("--steps", self.steps, 1, 10**6)
        if not self.tune:
            raise SettingsError("--tune", "name at least one key to tune, e.g. lr")
        for key in self.tune:
            if key not in TUNE_BOX:
                raise SettingsError("--tune", f"cannot tune {key!r}; choose from: "
                                    f"{', '.join(TUNE_BOX)}")
        if len(set(self.tune)) != len(self.tune):
            raise SettingsError("--tune", "names a key twice")
        for name in self.methods:
            spec = method_specs.parse_spec(name)
            keys = {p.name for p in method_specs.params_of(spec.name)}
            if not keys & set(self.tune):
                raise SettingsError("--tune", f"{name} has none of the tuned keys "
                                    f"({', '.join(self.tune)})")
            fixed = [k for k, _ in spec.keys if k in self.tune]
            if fixed:  # tuning would silently replace the value the label shows
                raise SettingsError("--methods", f"{name}: {', '.join(fixed)} is tuned by "
                                    f"compare; leave it out of the spec or out of --tune")
        if not (isinstance(self.target, (int, float)) and math.isfinite(self.target)
                and self.target > 0):
            raise SettingsError("--target", f"must be a number > 0, got {self.target!r}")
        for land in lands:
            if land.f_star is None or not math.isfinite(land.f_star):
                raise SettingsError("LANDSCAPE", f"{land.label} has no known minimum value f* "
                                    "to measure the target gap against")
        work = self.work(lands)
        if work > MAX_WORK:
            raise SettingsError("--eval-starts", f"{work:.3g} trajectory-steps in all; at most "
                                f"{MAX_WORK:.0e} (fewer starts, trials or steps)")
        self.settings.validate().numpy_only("compare")
        self._refuse_tuned_shorthands()
        return self

    def _refuse_tuned_shorthands(self) -> None:
        """A shorthand option that sets a tuned key of a compared method would be silently
        replaced by tuning (`compare --lr 0.01` with lr tuned, the default): refused,
        naming the option. Which option sets which key of which method is
        `settings.shorthand_values`' (so `--adam-moxco` with only gd+moxco compared is
        allowed: it sets nothing that is compared)."""
        from dataclasses import fields, replace

        default = OptimizerSettings()
        for name in (f.name for f in fields(OptimizerSettings)):
            value = getattr(self.settings, name)
            if value == getattr(default, name):
                continue
            alone = replace(default, **{name: value})  # this option alone away from default
            for method in self.methods:
                base = method_specs.parse_spec(method).name
                declared = {p.name for p in method_specs.params_of(base)}
                was, now = shorthand_values(default, base), shorthand_values(alone, base)
                for key in self.tune:
                    if key in declared and key in now and now[key] != was[key]:
                        flag = "--" + name.replace("_", "-")
                        raise SettingsError(flag, f"sets {key} of {method}, which compare "
                                            f"tunes (--tune {','.join(self.tune)}); leave "
                                            f"{flag} out, or leave {key} out of --tune to fix it")

    def work(self, lands=None) -> int:
        """Trajectory-steps of the whole command (tuning and evaluation)."""
        lands = lands or [build_landscape(name, params) for name, params in self.landscapes]
        return sum(len(self.methods) * self.budget(land)
                   * (self.trials * self.tuning_starts + self.eval_starts) for land in lands)

    def to_options(self) -> dict:
        return {
            "landscapes": [{"name": n, "params": dict(p)} for n, p in self.landscapes],
            "optimizers": list(self.methods), "tune": list(self.tune), "trials": self.trials,
            "tuning_starts": self.tuning_starts, "eval_starts": self.eval_starts,
            "steps": self.steps, "target": self.target, "export": self.export,
            **self.settings.to_dict(),
        }

    @classmethod
    def from_options(cls, opts: dict) -> CompareConfig:
        from moxco_cli.config_types import check_types

        opts = dict(opts)
        lands = opts.get("landscapes", [{"name": "beale", "params": {}}])
        if not (isinstance(lands, list) and lands and all(
                isinstance(x, dict) and isinstance(x.get("name"), str)
                and isinstance(x.get("params", {}), dict) for x in lands)):
            raise SettingsError("LANDSCAPE", "config landscapes are a list of {name, params}")
        tune = opts.get("tune", ["lr"])
        if not (isinstance(tune, list) and all(isinstance(k, str) for k in tune)):
            raise SettingsError("--tune", "config tune is a list of key names")
        check_types(cls, {k: v for k, v in opts.items() if k not in ("landscapes", "tune")})
        keys = ("landscapes", "optimizers", "tune", "trials", "tuning_starts", "eval_starts",
                "steps", "target", "export")
        own = {k: opts.pop(k) for k in keys if k in opts}
        lands = own.get("landscapes", [{"name": "beale", "params": {}}])
        if not (isinstance(lands, list) and all(isinstance(x, dict) and isinstance(
                x.get("name"), str) and isinstance(x.get("params", {}), dict) for x in lands)):
            raise SettingsError("LANDSCAPE", f"config landscapes are [{{name, params}}], "
                                f"got {lands!r}")
        methods = own.get("optimizers", list(cls.methods))
        tune = own.get("tune", ["lr"])
        if not (isinstance(methods, list) and isinstance(tune, list)):
            raise SettingsError("--methods", "config optimizers and tune must be lists")
        return cls(
            landscapes=tuple((x["name"], dict(x.get("params", {}))) for x in lands),
            methods=tuple(methods), tune=tuple(tune), trials=own.get("trials", 13),
            tuning_starts=own.get("tuning_starts", 256), eval_starts=own.get("eval_starts", 1024),
            steps=own.get("steps"), target=own.get("target", HEADLINE_TARGET),
            export=bool(own.get("export", True)), settings=OptimizerSettings.from_dict(opts),
        ).validate()


def protocol_text(cfg: CompareConfig, short: bool = False) -> str:
    """The protocol in words (figure titles, config.json)."""
    tuned = ", ".join(cfg.tune)
    text = (f"Each method tuned ({tuned}; {cfg.trials} trials) on {cfg.tuning_starts} tuning "
            f"starts, evaluated on {cfg.eval_starts} other starts; same starts and step budget "
            f"for all; seed {cfg.seed}.")
    if short:
        return text
    return (text + " Tuning objective: median final f - f* over the tuning starts (diverged "
            "= inf), ties to the smaller lr. Runtime: first step t with f(theta_t) - f* <= "
            "target. ERT: sum of min(runtime, budget) over runs / successes, 95% percentile "
            f"bootstrap over starts ({BOOTSTRAP_RESAMPLES} resamples, default_rng([seed, 3]))."
            " Success: Wilson 95% interval. McNemar: exact, on the discordant pairs.")


# --------------------------------------------------------------------------------- tuning

def trial_values(cfg: CompareConfig, method: str) -> dict[str, np.ndarray]:
    """The `trials` values of each tuned key that `method` has: `{key: (trials,)}`."""
    spec = method_specs.parse_spec(method)
    own = {p.name for p in method_specs.params_of(spec.name)}
    keys = [k for k in cfg.tune if k in own]
    if keys == ["lr"]:
        # 10^(k/3), k = -12..0 for 13 trials, the exponent divided last: 10 ** linspace(-4, 0)
        # was 1-2 ulps off five of the 13 values (e.g. 0.002154434690031882)
        return {"lr": 10.0 ** (np.linspace(-12.0, 0.0, cfg.trials) / 3.0)}
    import warnings

    from scipy.stats import qmc

    with warnings.catch_warnings():  # a sample size that is not a power of 2 is intended
        warnings.simplefilter("ignore")
        unit = qmc.Sobol(d=len(keys), scramble=True, seed=cfg.seed).random(cfg.trials)
    out = {}
    for j, key in enumerate(keys):
        lo, hi, log = TUNE_BOX[key]
        u = unit[:, j]
        out[key] = 10.0 ** (math.log10(lo) + u * (math.log10(hi) - math.log10(lo))) if log \
            else lo + u * (hi - lo)
    return out


def base_values(cfg: CompareConfig, method: str) -> dict:
    spec = method_specs.parse_spec(method)
    return method_specs.resolve(spec, shorthand_values(cfg.settings, spec.name))


def _per_row_method(method: str, base: dict, rows: dict[str, np.ndarray], repeat: int):
    spec = method_specs.parse_spec(method)
    values = {**base, **{k: np.repeat(np.asarray(v, dtype=float), repeat) for k, v in rows.items()}}
    return method_specs.build_from_values(spec.name, values, label=spec.label)


def tune_method(cfg: CompareConfig, land, method: str, starts: np.ndarray, progress=None):
    """`(table, chosen, edge, objective, cost)`: every trial's values and objective (a
    DataFrame), the chosen trial's values, the tuned keys chosen on the edge of their range,
    its objective and the engine's `[gradients, HVPs]` over all trials. All trials run in one
    engine call when every tuned key can vary per row and no draw depends on a start's place
    in the batch (`methods.indexed_streams`), else one call per trial."""
    trials = trial_values(cfg, method)
    base = base_values(cfg, method)
    steps, n = cfg.budget(land), len(starts)
    spec = method_specs.parse_spec(method)
    per_row = set(method_specs.per_row_keys(spec.name))
    cost = np.zeros(2, dtype=np.int64)  # gradients, HVPs: the engine's counts
    # one call for all trials when every tuned key varies per row, unless a start's draws
    # depend on its place in the batch: then each trial runs alone, from the same streams
    if set(trials) <= per_row and not method_specs.indexed_streams(base):
        m = _per_row_method(method, base, trials, n)
        traj = simulate(land, m, np.tile(starts, (cfg.trials, 1)), steps, seed=cfg.seed,
                        progress=progress)
        final, diverged = traj.final_loss.reshape(cfg.trials, n), traj.diverged.reshape(
            cfg.trials, n)
        cost += engine_cost(traj)
    else:
        final, diverged = np.empty((cfg.trials, n)), np.empty((cfg.trials, n), dtype=bool)
        for i in range(cfg.trials):
            values = {**base, **{k: float(v[i]) for k, v in trials.items()}}
            m = method_specs.build_from_values(spec.name, values, label=spec.label)
            traj = simulate(land, m, starts, steps, seed=cfg.seed, progress=progress)
            final[i], diverged[i] = traj.final_loss, traj.diverged
            cost += engine_cost(traj)
    gap = np.where(diverged | ~np.isfinite(final), np.inf, final - land.f_star)
    objective = np.array([stats.quantile_with_inf(row, 0.5) for row in gap])
    lr = trials.get("lr", np.full(cfg.trials, base["lr"]))
    best = int(np.lexsort((lr, objective))[0])  # smallest objective, then smallest lr
    table = pd.DataFrame({"trial": np.arange(cfg.trials), **{k: v for k, v in trials.items()},
                          "objective": objective,
                          "diverged_fraction": diverged.mean(axis=1),
                          "chosen": np.arange(cfg.trials) == best})
    chosen = {k: float(v[best]) for k, v in trials.items()}
    edge = [k for k, v in trials.items() if chosen[k] in (float(v.min()), float(v.max()))]
    return table, chosen, edge, float(objective[best]), cost


def engine_cost(traj) -> np.ndarray:
    """`[gradient evaluations, HVPs]` summed over a run's trajectories, as the engine counts
    them (`Trajectory.grad_evals`, `.hvps`: steps after a divergence cost nothing, a scoring
    every `score_every` steps, K HVPs per scoring for power:K, those taken for lanczos:K,
    d for exact)."""
    return np.array([int(traj.grad_evals.sum()), int(traj.hvps.sum())], dtype=np.int64)


# ----------------------------------------------------------------------------- evaluation

def evaluate_method(cfg: CompareConfig, land, method: str, values: dict, starts: np.ndarray,
                    steps_grid: np.ndarray, progress=None):
    """Runtimes `(N, K)` for TARGETS, the gaps `f - f*` at `steps_grid` `(S, N)` (inf after
    a divergence), the best gap and its step and point per run, and the best-so-far trace
    `(run, step, best)` (three aligned arrays) at step 1 and wherever the best gap crosses a
    level `10^(j/20)` (20 per decade, so every target of TARGETS is one), as exported."""
    spec = method_specs.parse_spec(method)
    base = base_values(cfg, method)
    m = method_specs.build_from_values(spec.name, {**base, **values}, label=spec.label)
    steps, n = cfg.budget(land), len(starts)
    rt = np.empty((n, len(TARGETS)))
    at_steps = np.empty((len(steps_grid), n))
    best_gap, best_step = np.empty(n), np.empty(n, dtype=np.int64)
    best_x = np.empty((n, land.dim))
    trace, cost = [], np.zeros(2, dtype=np.int64)
    for lo in range(0, n, EVAL_CHUNK):
        hi = min(n, lo + EVAL_CHUNK)
        traj = simulate(land, m, starts[lo:hi], steps, record=True, seed=cfg.seed,
                        progress=progress)
        cost += engine_cost(traj)
        gap = traj.records.loss[1:] - land.f_star  # (T, n): theta_1 .. theta_T
        t = np.arange(1, steps + 1)[:, None]
        dead = (traj.diverged_step >= 0)[None, :] & (t > traj.diverged_step[None, :])
        gap = np.where(dead | ~np.isfinite(gap), np.inf, gap)
        rt[lo:hi] = stats.runtimes(gap, TARGETS)
        at_steps[:, lo:hi] = gap[steps_grid - 1]
        where = np.argmin(gap, axis=0)
        best_step[lo:hi] = where + 1
        best_gap[lo:hi] = gap[where, np.arange(hi - lo)]
        best_x[lo:hi] = traj.records.x[where + 1, np.arange(hi - lo)]
        so_far = np.minimum.accumulate(gap, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.floor(TRACE_LEVELS_PER_DECADE * np.log10(np.maximum(so_far, 1e-300)))
        changed = np.ones_like(level, dtype=bool)
        changed[1:] = level[1:] != level[:-1]
        runs, t_idx = np.nonzero(changed.T)  # sorted by run, then step
        trace.append((runs + lo, t_idx + 1, so_far[t_idx, runs]))
    trace = tuple(np.concatenate(parts) for parts in zip(*trace, strict=True))
    return rt, at_steps, best_gap, best_step, best_x, trace, cost


def moxco_pairs(names) -> list[tuple[str, str]]:
    """`(X+moxco, X)` label pairs present in `names` (by method name, keys ignored): every
    `X+moxco` label with every `X` label, in the order given."""
    parsed = [(label, method_specs.parse_spec(label).name) for label in names]
    return [(mox, plain) for mox, name in parsed if name.endswith("+moxco")
            for plain, other in parsed if other == name.removesuffix("+moxco")]


@dataclass
class CompareResult:
    config: CompareConfig
    landscapes: list
    tuning: pd.DataFrame
    chosen: pd.DataFrame
    success: pd.DataFrame
    ert: pd.DataFrame
    ecdf: pd.DataFrame
    fixed_budget: pd.DataFrame
    mcnemar: pd.DataFrame
    profile: pd.DataFrame | None
    cost: pd.DataFrame
    runs: dict  # (landscape, method) -> per-run arrays for the IOH export
    headline: pd.DataFrame  # one row per (landscape, method) at the headline target

    def figure_args(self) -> dict:
        """`{png name: ("module:function", args)}` of every figure (shared with reproduce)."""
        cfg = self.config
        names = [land.label for land in self.landscapes]
        methods = list(cfg.methods)
        protocol = protocol_text(cfg, short=True)
        plots = "moxco_cli.plots.compare:"
        figures = {
            "ecdf.png": (plots + "ecdf_figure", (self.ecdf, names, methods, protocol,
                                                 len(TARGETS), "10^2, 10^1.8, ..., 10^-8")),
            "ert.png": (plots + "ert_figure", (self.ert, names, methods, protocol,
                                               "Runs that never reach a target count their whole "
                                               "budget.")),
            "fixed_budget.png": (plots + "fixed_budget_figure", (self.fixed_budget, names,
                                                                 methods, protocol)),
            "tuning.png": (plots + "tuning_figure", (self.tuning, self.chosen, names, methods,
                                                     protocol)),
        }
        if self.profile is not None:
            figures["profile.png"] = (plots + "profile_figure", (
                self.profile, methods, float(self.headline.target.iloc[0]), names))
        return figures


def _log_steps(steps: int, count: int = 40) -> np.ndarray:
    return np.unique(np.round(np.logspace(0, math.log10(steps), count)).astype(int))


def run_compare(cfg: CompareConfig, progress=None) -> CompareResult:
    """The whole protocol of the module docstring for every landscape of `cfg`."""
    cfg.validate()
    lands = [build_landscape(name, params) for name, params in cfg.landscapes]
    tuning, chosen_rows, success, erts, ecdfs, fixed, tests, costs, heads = ([] for _ in
                                                                             range(9))
    runs = {}
    head_k = int(np.argmin(np.abs(np.log10(TARGETS) - math.log10(cfg.target))))
    for land in lands:
        box = start_box(land)
        eval_starts = uniform_starts(box, cfg.eval_starts, [cfg.seed, 0])
        tune_starts = uniform_starts(box, cfg.tuning_starts, [cfg.seed, 1])
        resamples = np.random.default_rng([cfg.seed, 3]).integers(
            0, cfg.eval_starts, (BOOTSTRAP_RESAMPLES, cfg.eval_starts))
        steps = cfg.budget(land)
        grid = _log_steps(steps)
        hits = {}
        for method in cfg.methods:
            table, values, edge, objective, tune_cost = tune_method(cfg, land, method,
                                                                    tune_starts, progress)
            tuning.append(table.assign(landscape=land.label, method=method))
            chosen_rows.append({"landscape": land.label, "method": method, **{
                f"chosen_{k}": v for k, v in values.items()}, "objective": objective,
                "on_edge": ",".join(edge)})
            rt, at_steps, best_gap, best_step, best_x, trace, eval_cost = evaluate_method(
                cfg, land, method, values, eval_starts, grid, progress)
            runs[(land.label, method)] = (best_gap, best_step, best_x, trace, steps)
            ok = np.isfinite(rt)
            hits[method] = ok[:, head_k]
            e = stats.ert(rt, steps)
            lo, hi = stats.bootstrap_ert(rt, steps, resamples)
            for k, target in enumerate(TARGETS):
                n_ok = int(ok[:, k].sum())
                w_lo, w_hi = stats.wilson(n_ok, len(rt))
                success.append({"landscape": land.label, "method": method, "target": target,
                                "successes": n_ok, "runs": len(rt), "rate": n_ok / len(rt),
                                "ci_low": w_lo, "ci_high": w_hi})
                erts.append({"landscape": land.label, "method": method, "target": target,
                             "ert": e[k], "ci_low": lo[k], "ci_high": hi[k],
                             "successes": n_ok})
            for t, frac in zip(grid, stats.ecdf(rt, grid), strict=True):
                ecdfs.append({"landscape": land.label, "method": method, "step": int(t),
                              "fraction": float(frac)})
            for t, column in zip(grid, at_steps, strict=True):
                fixed.append({"landscape": land.label, "method": method, "step": int(t), **{
                    f"q{int(q * 100):02d}": stats.quantile_with_inf(column, q)
                    for q in (0.1, 0.25, 0.5, 0.75, 0.9)}})
            total = tune_cost + eval_cost
            costs.append({"landscape": land.label, "method": method, "steps": steps,
                          "gradients_per_run": float(eval_cost[0] / cfg.eval_starts),
                          "hvps_per_run": float(eval_cost[1] / cfg.eval_starts),
                          "tuning_runs": cfg.trials * cfg.tuning_starts,
                          "eval_runs": cfg.eval_starts,
                          "total_gradients": int(total[0]), "total_hvps": int(total[1])})
            heads.append({"landscape": land.label, "method": method, "target": TARGETS[head_k],
                          **{f"chosen_{k}": v for k, v in values.items()},
                          "on_edge": ",".join(edge), "successes": int(ok[:, head_k].sum()),
                          "runs": len(rt), "rate": float(ok[:, head_k].mean()),
                          "rate_ci_low": stats.wilson(int(ok[:, head_k].sum()), len(rt))[0],
                          "rate_ci_high": stats.wilson(int(ok[:, head_k].sum()), len(rt))[1],
                          "ert": e[head_k], "ert_ci_low": lo[head_k],
                          "ert_ci_high": hi[head_k],
                          "median_final_gap": stats.quantile_with_inf(at_steps[-1], 0.5)})
        for mox, base in moxco_pairs(cfg.methods):
            only_mox, only_base, p = stats.mcnemar(hits[mox], hits[base])
            tests.append({"landscape": land.label, "method": mox, "against": base,
                          "target": TARGETS[head_k], "only_method": only_mox,
                          "only_against": only_base, "p_value": p})
    ert_frame = pd.DataFrame(erts)
    profile = None
    if len(lands) > 1:
        at = ert_frame[np.isclose(ert_frame.target, TARGETS[head_k])]
        table = at.pivot(index="landscape", columns="method", values="ert")
        table = table[list(cfg.methods)]
        ratios = np.unique(np.concatenate([[1.0], np.logspace(0, 3, 61)]))
        prof = stats.performance_profile(table.to_numpy(), ratios)
        profile = pd.DataFrame([{"method": m, "ratio": r, "fraction": prof[i, j]}
                                for i, m in enumerate(cfg.methods)
                                for j, r in enumerate(ratios)])
    return CompareResult(
        cfg, lands, _tuning_frame(tuning), pd.DataFrame(chosen_rows), pd.DataFrame(success),
        ert_frame, pd.DataFrame(ecdfs),
        pd.DataFrame(fixed), pd.DataFrame(tests, columns=[
            "landscape", "method", "against", "target", "only_method", "only_against",
            "p_value"]), profile, pd.DataFrame(costs), runs, pd.DataFrame(heads))


def _tuning_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True)
    first = ["landscape", "method"]
    return frame[first + [c for c in frame.columns if c not in first]]


# ------------------------------------------------------------------------------ IOH export

def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def ioh_files(result: CompareResult) -> dict[str, bytes]:
    """The IOHprofiler format: for each method (an "algorithm") and landscape (a "function",
    numbered in the order given), `IOHprofiler_f{id}_{name}.json` with the runs' metadata and
    `data_f{id}_{name}/IOHprofiler_f{id}_DIM{d}.dat`, one block per run (a header line, then
    `evaluations raw_y` rows). One evaluation = one step; `raw_y` = the best `f - f*` so far,
    written at step 1 and wherever it improves (as IOH's analyzer logs); minimization.
    Returns `{relative path: bytes}`; IOHanalyzer and `iohinspector` load the folder."""
    import json

    from moxco_cli import __version__

    files = {}
    for fid, land in enumerate(result.landscapes, 1):
        fname = _safe(land.label)
        for method in result.config.methods:
            best_gap, best_step, best_x, (run_ids, t_log, y_log), steps = result.runs[
                (land.label, method)]
            algo = _safe(method)
            dat = f"data_f{fid}_{fname}/IOHprofiler_f{fid}_DIM{land.dim}.dat"
            lines, meta = [], []
            bounds = np.searchsorted(run_ids, np.arange(len(best_gap) + 1))
            for run, (t_best, y_best) in enumerate(zip(best_step, best_gap, strict=True)):
                lines.append("evaluations raw_y")
                for i in range(bounds[run], bounds[run + 1]):
                    lines.append(f"{int(t_log[i])} {float(y_log[i])!r}")
                meta.append({"instance": 1, "evals": int(steps), "best": {
                    "evals": int(t_best), "y": float(y_best),
                    "x": [float(v) for v in best_x[run]]}})
            doc = {
                "version": __version__, "suite": "moxco", "function_id": fid,
                "function_name": fname, "maximization": False,
                "algorithm": {"name": method, "info": _chosen_info(result, land.label, method)},
                "attributes": ["evaluations", "raw_y"],
                "scenarios": [{"dimension": land.dim, "path": dat, "runs": meta}],
            }
            files[f"{algo}/IOHprofiler_f{fid}_{fname}.json"] = (
                json.dumps(doc, indent=1) + "\n").encode()
            files[f"{algo}/{dat}"] = ("\n".join(lines) + "\n").encode()
    return files


def _chosen_info(result: CompareResult, landscape: str, method: str) -> str:
    row = result.chosen[(result.chosen.landscape == landscape)
                        & (result.chosen.method == method)].iloc[0]
    keys = [c for c in result.chosen.columns if c.startswith("chosen_") and pd.notna(row[c])]
    return "tuned: " + ", ".join(f"{c.removeprefix('chosen_')}={float(row[c])!r}"
                                 for c in keys)
