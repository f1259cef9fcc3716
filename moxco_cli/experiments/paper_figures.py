"""Computations behind the paper's Figures 1 and 3 (tables only; plots live in plots/paper.py).

Figure 3's starts are chosen by a documented rule, not by hand. The paper says Adam gets
"trapped in local stationary points when initiated in unfavorable energy zones", so on a grid of
starts over the Beale domain we take the starts from which Adam (Figure 3 settings) is *trapped*:
it ends more than 0.1 from the global minimum, not diverged, at a near-stationary point
(final gradient norm < 0.1; this excludes starts where Adam merely had no time to move). The
first chosen start is the trapped one where Adam ends with the highest loss, each next one the
trapped start farthest from those already chosen (farthest-point sampling), so the three starts
lie in different regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import landscapes
from moxco_cli.engine import Trajectory, simulate
from moxco_cli.experiments.run import RunConfig, RunResult, run_experiment
from moxco_cli.experiments.tables import summary_frame, trajectories_frame
from moxco_cli.settings import OptimizerSettings, build_method
from moxco_cli.starts import grid_starts, start_box

FIG1_START = (-2.5, 1.2)
FIG1_STEPS = 800
FIG1_SETTINGS = OptimizerSettings()  # lr 0.005, (0.9, 0.9) / (0.95, 0.5), restart (0.1, 0.1)
FIG3_SETTINGS = OptimizerSettings(lr=0.001, adam_moxco=(0.99, 0.95), restart=(0.9, 0.8))
FIG3_STEPS = 800
REACHED = 0.1  # distance to (3, 0.5) that counts as reaching the global minimum in Fig 3
STATIONARY = 0.1  # final gradient norm below which Adam counts as trapped, not just slow


@dataclass
class PathRuns:
    """Recorded runs of several methods from the same starts."""

    landscape: object
    settings: OptimizerSettings
    steps: int
    starts: np.ndarray  # (S, 2)
    trajectories: dict[str, Trajectory]  # one batched trajectory (all S starts) per method

    def single(self, start_id: int) -> dict[str, Trajectory]:
        """Per-method trajectories restricted to one start (for plotting)."""
        out = {}
        for name, tr in self.trajectories.items():
            sl = slice(start_id, start_id + 1)
            rec = tr.records
            sub = rec.rows(sl)
            out[name] = Trajectory(name, tr.steps, tr.x0[sl], tr.final[sl], tr.final_loss[sl],
                                   tr.commit_step[sl], tr.diverged_step[sl], sub)
        return out

    def summary(self, tol: float) -> pd.DataFrame:
        return summary_frame(self.trajectories, self.landscape, tol)

    def steps_table(self) -> pd.DataFrame:
        return trajectories_frame(self.trajectories)

    @classmethod
    def from_run(cls, result: RunResult) -> PathRuns:
        """The runs of a `moxco run` experiment (`run_experiment`), from its one start."""
        cfg = result.config
        return cls(result.landscape, cfg.settings, cfg.steps, result.start[None, :],
                   result.trajectories)


def run_paths(methods, starts, settings: OptimizerSettings, steps: int) -> PathRuns:
    """Recorded runs of `methods` from several Beale `starts` `(S, 2)` (Figure 3); from one
    start this is `moxco run`'s experiment: use `run_from_figure1_start`."""
    beale = landscapes.get("beale")
    starts = np.asarray(starts, dtype=float).reshape(-1, 2)
    trajs = {m: simulate(beale, build_method(m, settings), starts, steps, record=True,
                         seed=settings.seed) for m in methods}
    return PathRuns(beale, settings, steps, starts, trajs)


def run_from_figure1_start(methods) -> PathRuns:
    """`moxco run beale` (Figure 1's start, settings and steps) with `methods`: the command's
    own experiment function, `run_experiment`."""
    cfg = RunConfig(landscape="beale", start=FIG1_START, steps=FIG1_STEPS,
                    methods=tuple(methods), settings=FIG1_SETTINGS).validate()
    return PathRuns.from_run(run_experiment(cfg))


def figure1(variant: str) -> PathRuns:
    """Fig 1a (GD+MoXCo vs GD, Adam) or 1b (Adam+MoXCo vs GD, Adam) from (-2.5, 1.2)."""
    moxco = {"a": "gd+moxco", "b": "adam+moxco"}[variant]
    return run_from_figure1_start(("gd", "adam", moxco))


@dataclass
class Figure3Choice:
    grid: np.ndarray  # (G, 2) candidate starts
    adam_final_loss: np.ndarray  # (G,)
    adam_stuck: np.ndarray  # (G,) bool: Adam ends > REACHED from the minimum, not diverged
    adam_trapped: np.ndarray  # (G,) bool: stuck at a near-stationary point (the candidates)
    moxco_reached: np.ndarray  # (G,) bool: Adam+MoXCo within REACHED of the minimum
    chosen: np.ndarray  # (3,) indices into grid


def choose_figure3_starts(grid_n: int = 41, count: int = 3) -> Figure3Choice:
    """Apply the module docstring's rule on a grid_n x grid_n grid (batched, no recording)."""
    beale = landscapes.get("beale")
    _, grid = grid_starts(start_box(beale), grid_n)  # (n*n, 2), x0 fastest
    goal = beale.minimum("global").x
    adam = simulate(beale, build_method("adam", FIG3_SETTINGS), grid, FIG3_STEPS)
    moxco = simulate(beale, build_method("adam+moxco", FIG3_SETTINGS), grid, FIG3_STEPS)
    stuck = (np.linalg.norm(adam.final - goal, axis=1) > REACHED) & ~adam.diverged
    reached = (np.linalg.norm(moxco.final - goal, axis=1) <= REACHED) & ~moxco.diverged
    trapped = stuck & (np.linalg.norm(beale.grad(adam.final), axis=1) < STATIONARY)
    candidates = np.flatnonzero(trapped)
    chosen = [candidates[np.argmax(adam.final_loss[candidates])]]
    while len(chosen) < min(count, len(candidates)):
        d = np.min(np.linalg.norm(grid[candidates, None, :] - grid[None, chosen, :], axis=2),
                   axis=1)
        chosen.append(candidates[np.argmax(d)])
    return Figure3Choice(grid, adam.final_loss, stuck, trapped, reached, np.array(chosen))


def figure3(choice: Figure3Choice) -> PathRuns:
    return run_paths(("adam", "adam+moxco"), choice.grid[choice.chosen], FIG3_SETTINGS,
                     FIG3_STEPS)


def theorem1_table(settings: OptimizerSettings = FIG1_SETTINGS) -> pd.DataFrame:
    """Theorem 1 checked at every named minimum of beale and two-wells, for both MoXCo settings.

    Hypotheses: (a) local minimum, (b) stable fixed point of GD with learning rate eta~, read
    literally as `lam_max <= 2/eta~`, (c) `eps = |f - f_target|`. Claim: `G >= exp(-tau eps)`.
    `holds_if_lam_le_inv_eta` says whether the minimum also satisfies the stricter reading
    `lam_max <= 1/eta~` (Theorem 2's bound), under which the claim is always true.
    """
    from moxco_cli.goodness import goodness, inv_eta_eff

    rows = []
    for method, (alpha, beta) in (("gd+moxco", settings.gd_moxco),
                                  ("adam+moxco", settings.adam_moxco)):
        inv = inv_eta_eff(settings.lr, alpha, beta)
        for name in ("beale", "two-wells"):
            land = landscapes.get(name)
            for m in land.minima:
                x = m.x[None, :]
                f, g, lam = land.f(x), land.grad(x), land.lam_max(x)
                good = goodness(f, (g * g).sum(axis=1), lam, f_target=land.f_target,
                                inv_eta=inv, tau=settings.tau)[0]
                eps = abs(float(f[0]) - land.f_target)
                bound = float(np.exp(-settings.tau * eps))
                rows.append({
                    "method": method, "landscape": name, "minimum": m.name,
                    "lam_max": float(lam[0]), "inv_eta_eff": inv, "gd_stable_limit": 2 * inv,
                    "hypotheses_hold": bool(lam[0] <= 2 * inv), "eps": eps,
                    "goodness": float(good), "claimed_lower_bound": bound,
                    "claim_holds": bool(good >= bound * (1 - 1e-12)),
                    "holds_if_lam_le_inv_eta": bool(lam[0] <= inv),
                })
    return pd.DataFrame(rows)


def theorem1_quadratic_scan(settings: OptimizerSettings = FIG1_SETTINGS,
                            points: int = 221) -> pd.DataFrame:
    """Goodness at the minimum of `a x^2/2` for `a` from 0 to 2.2/eta~ (eps = 0: claim G >= 1)."""
    from moxco_cli.goodness import goodness, inv_eta_eff

    alpha, beta = settings.gd_moxco
    inv = inv_eta_eff(settings.lr, alpha, beta)
    ratio = np.linspace(0.0, 2.2, points)
    good = goodness(np.zeros(points), np.zeros(points), ratio * inv, f_target=0.0, inv_eta=inv,
                    tau=settings.tau)
    return pd.DataFrame({"a_times_eta_eff": ratio, "curvature": ratio * inv, "goodness": good,
                         "gd_stable": ratio <= 2.0, "claim_holds": good >= 1.0})
