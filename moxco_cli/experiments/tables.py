"""Outcome classification and the tidy tables of SPEC "Results", shared by every experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscapes.base import Landscape
from moxco_cli.engine import Trajectory


def default_tol(landscape: Landscape) -> float:
    """SPEC: 0.05 for 1-D landscapes, 1e-2 otherwise (Beale)."""
    return 0.05 if landscape.dim == 1 else 1e-2


def classify(landscape: Landscape, final: np.ndarray, diverged: np.ndarray, tol: float):
    """Outcome per trajectory: `diverged`, `minimum:<name>` (within `tol`), else `none`.

    Returns `(outcome (N,) object, nearest minimum name (N,) object, distance (N,))`.
    """
    names = np.array([m.name for m in landscape.minima] or [""], dtype=object)
    idx, dist = landscape.nearest_minimum(final)  # no named minima: index -1, distance inf
    nearest = names[idx]
    outcome = np.where(dist <= tol, "minimum:" + nearest.astype(str), "none").astype(object)
    outcome[diverged] = "diverged"
    return outcome, nearest, dist


def _coords(prefix: str, x: np.ndarray) -> dict:
    return {f"{prefix}x{j}": x[..., j] for j in range(x.shape[-1])}


def labels(values) -> pd.Categorical:
    """A label column as a Categorical: same CSV text, ~1 byte per row instead of a string
    object (a 10^6-start escape count has 4 * 10^6 rows of each label column)."""
    return pd.Categorical(values)


def summary_frame(trajs: dict[str, Trajectory], landscape: Landscape, tol: float,
                  start_ids: np.ndarray | None = None) -> pd.DataFrame:
    """One row per (optimizer, start): SPEC summary columns plus the nearest-minimum distance.

    Label columns (optimizer, outcome, nearest_minimum) are Categoricals. With an adaptive-
    restart baseline among `trajs`, `restart_step` and `restart_count` follow `commit_step`
    (-1 and 0 for methods without restart): restarts are not commits. `grad_evals` and `hvps`
    are what the trajectory cost (`Trajectory`: one gradient per step, plus one gradient and
    the curvature's HVPs per scoring for a method that can commit; exact = d HVPs)."""
    frames = []
    restarts = has_restarts(trajs)
    for name, tr in trajs.items():
        n = len(tr.final)
        outcome, nearest, dist = classify(landscape, tr.final, tr.diverged, tol)
        frames.append(pd.DataFrame({
            "optimizer": name,
            "start_id": np.arange(n) if start_ids is None else start_ids,
            **_coords("start_", tr.x0),
            **_coords("final_", tr.final),
            "final_loss": tr.final_loss,
            "outcome": labels(outcome),
            "commit_step": tr.commit_step,
            **(restart_columns(tr) if restarts else {}),
            "diverged_step": tr.diverged_step,
            "grad_evals": tr.grad_evals,
            "hvps": tr.hvps,
            "nearest_minimum": labels(nearest),
            "distance_to_nearest": dist,
            **metric_columns(landscape, tr),
        }))
        del outcome, nearest
    frame = pd.concat(frames, ignore_index=True)
    for col in ("optimizer", "outcome", "nearest_minimum"):  # concat may widen categories
        frame[col] = labels(frame[col])
    return frame


def metric_columns(landscape: Landscape, tr: Trajectory) -> dict:
    """The landscape's per-run metrics at the final points (`Landscape.metrics`; none for a
    test function), +inf where the run diverged: summary tables carry them as columns."""
    return {k: np.where(tr.diverged, np.inf, v) for k, v in landscape.metrics(tr.final).items()}


def has_restarts(trajs: dict[str, Trajectory]) -> bool:
    """Whether an adaptive-restart baseline is among `trajs` (its tables get restart columns)."""
    return any(tr.restart_step is not None for tr in trajs.values())


def restart_columns(tr: Trajectory) -> dict[str, np.ndarray]:
    """`restart_step` (the first step whose velocity an adaptive restart reset) and
    `restart_count`, `(N,)` each: -1 and 0 for a method without restart (summary.csv,
    outcomes.csv)."""
    n = len(tr.final)
    if tr.restart_step is None:
        return {"restart_step": np.full(n, -1), "restart_count": np.zeros(n, np.int64)}
    return {"restart_step": tr.restart_step, "restart_count": tr.restart_count}


def trajectories_frame(trajs: dict[str, Trajectory]) -> pd.DataFrame:
    """Per-step long table (SPEC columns) from recorded trajectories; with an adaptive-restart
    baseline among them, a `restarted` column marks the steps whose velocity was reset; when
    a method estimated lam_max (records with `lam_max_exact`), a `lam_max_exact` column
    follows `lam_max` (the exact value, equal to `lam_max` for the methods that do not
    estimate)."""
    frames = []
    restarts = has_restarts(trajs)
    checked = any(tr.records is not None and tr.records.lam_max_exact is not None
                  for tr in trajs.values())
    for name, tr in trajs.items():
        rec = tr.records
        if rec is None:
            raise ValueError(f"trajectory of {name} was run without record=True")
        steps, n = rec.loss.shape
        step = np.repeat(np.arange(steps), n)
        frames.append(pd.DataFrame({
            "optimizer": name,
            "start_id": np.tile(np.arange(n), steps),
            "step": step,
            **_coords("", rec.x.reshape(steps * n, -1)),
            "loss": rec.loss.ravel(),
            "grad_norm": rec.grad_norm.ravel(),
            "lam_max": rec.lam_max.ravel(),
            **({"lam_max_exact": (rec.lam_max if rec.lam_max_exact is None
                                  else rec.lam_max_exact).ravel()} if checked else {}),
            "goodness": rec.goodness.ravel(),
            "alpha": rec.alpha.ravel(),
            "beta": rec.beta.ravel(),
            "committed": rec.committed.ravel(),
            **({"restarted": rec.restarted.ravel()} if restarts else {}),
        }))
    return pd.concat(frames, ignore_index=True)
