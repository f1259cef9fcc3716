"""`moxco eos-check`: Theorem 2's divergence boundary, measured by simulation.

Theorem 2 (paper section 5.2, appendix A.1): inertial GD (`u = x + alpha d`, `v = x + beta d`,
`x' = u - lr f'(v)`) on `f = a x^2 / 2` diverges iff

    a > a_theory = 2 (1 + alpha) / (lr (1 + 2 beta))      (0 <= alpha < 1, beta >= 0).

For every `(alpha, beta)` of a grid we measure the critical curvature with the engine, without
using the formula: a log-spaced scan of curvatures over `[1e-2, 1e2] / lr` brackets the
boundary, then bracketing rounds (each tries `candidates` curvatures evenly spaced inside the
bracket) shrink it until its relative width is below `tol`. Each round is ONE `simulate` call:
the landscape is the diagonal quadratic whose k-th curvature is the k-th candidate, and start k
is the unit vector e_k, so row k only ever moves along coordinate k (the other coordinates stay
exactly 0) and sees exactly `f = a_k x^2 / 2`. `a_measured` is the bracket's midpoint.

Deciding "diverged" in finitely many steps. Just above the boundary the iterates grow only
like `(1 + c (a - a_theory)/a_theory)^t` with `c = 2(1+alpha)/(1-q) >= ~1`
(`q = alpha - lr a beta`), so waiting for the engine's 1e6 box would bias the boundary upwards
by about `ln(1e6) / (c T)` (~1e-2 for T = 1000). Instead a run counts as diverged when the
engine flags it OR its amplitude still grows at the end: `max |x_t|` over the last quarter of
the run exceeds `max |x_t|` over the second quarter. A bounded run decays there (its slowest
mode is `|z| <= sqrt(alpha) < 1`, or the flip mode just below the boundary), a diverging one
grows. What limits the resolution is the second mode (root `-q` at the boundary), which
decays like `|q|^t`: while it is still visible at T/4 it can make a bounded run's amplitude
rise between the windows (it starts with the opposite sign), so a curvature a little below
the boundary is called diverged. The error is about `ln(1 + |q|^(T/4)) / (c T/2)` relative:
worst for alpha near 1 and beta = 0 (q = alpha), e.g. 2e-6 for alpha = 0.99 at T = 400 but
below 1e-7 at the default T = 1000, where the bisection tolerance, not the step count, sets
the discrepancy. The windows must also span several oscillation periods, hence
`steps >= 100`.

Cross-check (not the measurement): `a_recurrence` is the boundary of the paper's two-term
recurrence `x' = (1+alpha - lr a (1+beta)) x - (alpha - lr a beta) x_prev`, where its spectral
radius crosses 1, found by a vectorized bisection on the characteristic roots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import landscapes
from moxco_cli.engine import Method, simulate
from moxco_cli.experiments.run import validate_int
from moxco_cli.goodness import CommitRule, inv_eta_eff
from moxco_cli.optim import gd
from moxco_cli.settings import SettingsError

DEFAULT_ALPHAS = (0.0, 0.3, 0.6, 0.9, 0.95, 0.99)
DEFAULT_BETAS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
SCAN = (1e-2, 1e2)  # curvature scan in units of 1/lr: contains every boundary of the grid
MAX_BETA = 50.0  # keeps lr * a_theory >= 2/101, inside the scan
LR_RANGE = (1e-9, 1e3)
MAX_PAIRS = 10_000
STEPS_RANGE = (100, 20_000)
TOL_RANGE = (1e-9, 0.1)
EOS_COLUMNS = ["alpha", "beta", "lr", "a_theory", "a_measured", "rel_error", "a_bounded",
               "a_diverged", "theory_in_bracket", "a_recurrence", "rounds", "monotone"]


def _numbers(values, option: str, lo: float, hi: float, hi_open: bool) -> None:
    if not values:
        raise SettingsError(option, "give at least one value")
    right = ")" if hi_open else "]"
    for v in values:
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
              and lo <= v and (v < hi if hi_open else v <= hi))
        if not ok:
            raise SettingsError(option, f"each value must be in [{lo:g}, {hi:g}{right}, "
                                f"got {v!r}")
    if len(set(values)) != len(values):
        raise SettingsError(option, f"lists a value twice: {list(values)!r}")


@dataclass(frozen=True)
class EosConfig:
    """Everything `moxco eos-check` needs; `to_options()` is what config.json stores.

    `lr`: GD learning rate (the boundary scales exactly as 1/lr; 0.005 is Figure 1's rate, so
    `a_theory` is the `1/eta_eff` the goodness score uses). `steps`: steps per simulated run.
    `tol`: relative bracket width at which the bisection stops. `candidates`: curvatures per
    bracketing round (rows of one simulate call).
    """

    lr: float = 0.005
    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    betas: tuple[float, ...] = DEFAULT_BETAS
    steps: int = 1000
    tol: float = 1e-6
    candidates: int = 16

    @property
    def landscape(self) -> str:
        """Always the quadratic (names the default results folder)."""
        return "quadratic"

    def validate(self) -> EosConfig:
        lo, hi = LR_RANGE
        if not (isinstance(self.lr, (int, float)) and lo <= self.lr <= hi):
            raise SettingsError("--lr", f"must be a number in [{lo:g}, {hi:g}], got {self.lr!r}")
        _numbers(self.alphas, "--alphas", 0.0, 1.0, hi_open=True)
        _numbers(self.betas, "--betas", 0.0, MAX_BETA, hi_open=False)
        if len(self.alphas) * len(self.betas) > MAX_PAIRS:
            raise SettingsError("--alphas", f"{len(self.alphas)} alphas x {len(self.betas)} "
                                f"betas is more than {MAX_PAIRS} pairs")
        validate_int("--steps", self.steps, *STEPS_RANGE,
                     " (the growth test compares quarters of the run)")
        lo, hi = TOL_RANGE
        if not (isinstance(self.tol, (int, float)) and lo <= self.tol <= hi):
            raise SettingsError("--tol", f"must be a number in [{lo:g}, {hi:g}], got "
                                f"{self.tol!r}")
        validate_int("--candidates", self.candidates, 2, 256)
        return self

    def rounds_estimate(self) -> int:
        """Simulate calls per (alpha, beta): the scan plus the bracketing rounds."""
        ratio = (SCAN[1] / SCAN[0]) ** (1 / (self.candidates - 1)) - 1
        return 1 + max(0, math.ceil(math.log(ratio / self.tol)
                                    / math.log(self.candidates + 1)))

    def total_work(self) -> int:
        """Estimated trajectory-steps (what `progress` counts)."""
        pairs = len(self.alphas) * len(self.betas)
        return pairs * self.rounds_estimate() * self.candidates * self.steps

    def to_options(self) -> dict:
        return {"lr": self.lr, "alphas": list(self.alphas), "betas": list(self.betas),
                "steps": self.steps, "tol": self.tol, "candidates": self.candidates}

    @classmethod
    def from_options(cls, opts: dict) -> EosConfig:
        from moxco_cli.config_types import check_types

        check_types(cls, opts, settings=False)  # types first, from the fields' declarations
        known = {"lr", "alphas", "betas", "steps", "tol", "candidates"}
        unknown = set(opts) - known
        if unknown:
            raise SettingsError(f"--{sorted(unknown)[0].replace('_', '-')}", "unknown option")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
        return cls(**clean).validate()


@dataclass
class EosResult:
    """`table`: one row per (alpha, beta), EOS_COLUMNS; `max_rel_error` over the grid."""

    config: EosConfig
    table: pd.DataFrame
    max_rel_error: float
    worst: dict = field(default_factory=dict)  # the row with the largest rel_error
    eigenpairs: pd.DataFrame | None = None  # `eigenpair_check`: Theorem 2 in d dimensions

    def eigen_agreement(self) -> tuple[int, int, int]:
        """`(agreeing, counted, near_bound)` components of the d-dimensional check."""
        e = self.eigenpairs
        counted = e[~e.near_bound]
        return (int((counted.predicted == counted.measured).sum()), len(counted),
                int(e.near_bound.sum()))

    def figure_kwargs(self) -> dict:
        """Keyword arguments of `plots.eos.eos_figure(self.table, ...)` for this result."""
        cfg = self.config
        return dict(lr=cfg.lr, steps=cfg.steps, tol=cfg.tol, max_rel_error=self.max_rel_error)


def diverges(lr: float, alpha: float, beta: float, curvatures: np.ndarray, steps: int,
             progress=None) -> np.ndarray:
    """For each curvature `(K,)`: does inertial GD on `a x^2/2` diverge? `(K,)` bool.

    One engine call: diagonal quadratic of the K curvatures, start k = e_k, per-step records
    for the growth test (module docstring).
    """
    k = len(curvatures)
    quad = landscapes.get("quadratic", a=tuple(float(a) for a in curvatures))
    method = Method("inertial-gd", gd(lr), CommitRule("none", 0.85, alpha, beta))
    traj = simulate(quad, method, np.eye(k), steps, record=True, progress=progress)
    rows = np.arange(k)
    amplitude = np.abs(traj.records.x[:, rows, rows])  # (T+1, K): coordinate k of row k
    quarter = steps // 4
    early = amplitude[quarter:2 * quarter + 1].max(axis=0)
    late = amplitude[steps - quarter:].max(axis=0)
    return traj.diverged | (late > early)


def measure_boundary(lr: float, alpha: float, beta: float, *, steps: int = 1000,
                     tol: float = 1e-6, candidates: int = 16, progress=None) -> dict:
    """Critical curvature of inertial GD, by scan + bracketing rounds of engine runs.

    Returns `{"a_bounded", "a_diverged", "a_measured", "rounds", "monotone"}`: the final
    bracket (largest curvature found bounded, smallest found diverged), its midpoint, the
    number of simulate calls, and whether every round was monotone (bounded below diverged).
    """
    grid = np.geomspace(SCAN[0] / lr, SCAN[1] / lr, candidates)
    lo, hi = None, None
    monotone, rounds = True, 0
    while True:
        div = diverges(lr, alpha, beta, grid, steps, progress)
        rounds += 1
        first = int(np.argmax(div)) if div.any() else len(grid)
        monotone &= bool(div[first:].all())
        if lo is None:  # the scan must bracket the boundary
            if first == 0 or first == len(grid):
                what = "diverges" if first == 0 else "stays bounded"
                raise RuntimeError(f"alpha={alpha}, beta={beta}: every scanned curvature "
                                   f"{what}; the boundary is outside {SCAN} / lr")
            lo, hi = grid[first - 1], grid[first]
        else:
            lo = grid[first - 1] if first > 0 else lo
            hi = grid[first] if first < len(grid) else hi
        if hi - lo <= tol * hi:
            break
        grid = np.linspace(lo, hi, candidates + 2)[1:-1]
    return {"a_bounded": float(lo), "a_diverged": float(hi), "a_measured": 0.5 * (lo + hi),
            "rounds": rounds, "monotone": monotone}


def recurrence_boundary(lr: float, alpha, beta, iterations: int = 200) -> np.ndarray:
    """Cross-check: where the recurrence's spectral radius crosses 1 (vectorized bisection).

    `alpha, beta` broadcastable arrays; returns the curvature boundary with their shape.
    """
    alpha, beta = np.broadcast_arrays(np.asarray(alpha, float), np.asarray(beta, float))

    def radius(a):
        p = 1.0 + alpha - lr * a * (1.0 + beta)
        q = alpha - lr * a * beta
        root = np.sqrt((p * p - 4.0 * q).astype(complex))
        return np.maximum(np.abs(p + root), np.abs(p - root)) / 2.0

    lo = np.full(alpha.shape, SCAN[0] / lr)
    hi = np.full(alpha.shape, SCAN[1] / lr)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        unstable = radius(mid) > 1.0
        hi = np.where(unstable, mid, hi)
        lo = np.where(unstable, lo, mid)
    return 0.5 * (lo + hi)


EIGEN_DIM = 40  # eigenpairs of the d-dimensional check
EIGEN_SPAN = 2.0  # curvatures log-spaced over [bound / 2, 2 bound] around each pair's bound
EIGEN_STEPS = 300  # from 1e-300 the fastest component stays inside the 1e6 box this long
EIGEN_START = 1e-300
NEAR_BOUND = 0.03  # components within 3% of the bound grow too slowly to call in 300 steps


def eigenpair_check(lr: float, alphas, betas, dim: int = EIGEN_DIM,
                    progress=None) -> pd.DataFrame:
    """Theorem 2 per eigenpair, in d dimensions. For each (alpha, beta): the quadratic
    `diag(a)` with `dim` curvatures log-spaced over [bound / 2, 2 bound], bound =
    2(1+alpha)/(lr(1+2 beta)), and inertial GD from a start with EVERY component nonzero
    (all 1e-300, so that the fastest component needs the whole run to reach the 1e6 box).
    Component i (eigenvector e_i) is measured diverging by the growth test of `diverges` on
    its own coordinate over EIGEN_STEPS steps; Theorem 2 predicts it iff a_i > bound.
    Returns one row per (alpha, beta, component).
    """
    frames = []
    ratio = np.geomspace(1 / EIGEN_SPAN, EIGEN_SPAN, dim)
    for alpha in alphas:
        for beta in betas:
            bound = inv_eta_eff(lr, alpha, beta)
            curv = bound * ratio
            quad = landscapes.get("quadratic", a=tuple(float(a) for a in curv))
            method = Method("inertial-gd", gd(lr), CommitRule("none", 0.85, alpha, beta))
            traj = simulate(quad, method, np.full((1, dim), EIGEN_START), EIGEN_STEPS,
                            record=True, progress=progress)
            amplitude = np.abs(traj.records.x[:, 0, :])  # (T+1, d)
            quarter = EIGEN_STEPS // 4
            early = amplitude[quarter:2 * quarter + 1].max(axis=0)
            late = amplitude[EIGEN_STEPS - quarter:].max(axis=0)
            frames.append(pd.DataFrame({
                "alpha": float(alpha), "beta": float(beta), "component": np.arange(dim),
                "curvature": curv, "bound": bound, "predicted": curv > bound,
                "measured": late > early, "near_bound": np.abs(ratio - 1) <= NEAR_BOUND,
                "box_left": bool(traj.diverged[0])}))
    return pd.concat(frames, ignore_index=True)


def eos_check(cfg: EosConfig, progress=None) -> EosResult:
    """Measure the boundary for every (alpha, beta) of `cfg`; compare with Theorem 2."""
    cfg.validate()
    rows = []
    for alpha in cfg.alphas:
        for beta in cfg.betas:
            m = measure_boundary(cfg.lr, alpha, beta, steps=cfg.steps, tol=cfg.tol,
                                 candidates=cfg.candidates, progress=progress)
            a_theory = inv_eta_eff(cfg.lr, alpha, beta)
            rows.append({"alpha": float(alpha), "beta": float(beta), "lr": float(cfg.lr),
                         "a_theory": a_theory, "a_measured": m["a_measured"],
                         "rel_error": abs(m["a_measured"] - a_theory) / a_theory,
                         "a_bounded": m["a_bounded"], "a_diverged": m["a_diverged"],
                         "rounds": m["rounds"], "monotone": m["monotone"]})
    table = pd.DataFrame(rows)
    table["theory_in_bracket"] = ((table["a_bounded"] <= table["a_theory"])
                                  & (table["a_theory"] <= table["a_diverged"]))
    table["a_recurrence"] = recurrence_boundary(cfg.lr, table["alpha"].to_numpy(),
                                                table["beta"].to_numpy())
    table = table[EOS_COLUMNS]
    worst = table.loc[table["rel_error"].idxmax()]
    pairs = eigenpair_check(cfg.lr, cfg.alphas, cfg.betas)
    return EosResult(cfg, table, float(worst["rel_error"]), worst.to_dict(), pairs)
