"""`moxco outcome-map`: where does each optimizer end, from every start of a grid?

The rigorous version of the paper's Figure 1: instead of one start, an `N x N` grid of starts
over the landscape's domain (2-D) or `N` starts along it (1-D). Every optimizer advances all
its starts together in ONE batched `simulate` call (no per-step records), and each final point
gets one outcome class:

    global-1e-2     within 1e-2 of a global minimum
    global-0.1      within 0.1 of a global minimum, but not within 1e-2
    other-minimum   within 0.1 of a named minimum that is not global (only on landscapes
                    that have such minima, e.g. two-wells' sharp well)
    stuck           anything else that stayed finite (a saddle, a plateau, still travelling)
    diverged        left the finite box (SPEC "Divergence")

"A global minimum" is the first named minimum (SPEC: minima are listed global first) and every
other named minimum with the same value (a landscape such as Himmelblau's has several); on
Beale and two-wells it is exactly the first named minimum.

Grid convention: `xs = linspace(lo0, hi0, N)` along x0 and `ys = linspace(lo1, hi1, N)` along
x1, endpoints included; start `(i, j)` is `(xs[i], ys[j])` and has `start_id = j * N + i`, so
`classes.reshape(N, N)[j, i]` is the image of the map with x0 across and x1 up. 1-D: `j = 0`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from moxco_cli.backends import caption, check_methods, simulate
from moxco_cli.engine import Trajectory
from moxco_cli.experiments.run import (
    build_landscape,
    require_isolated_minima,
    validate_int,
    validate_steps,
)
from moxco_cli.experiments.tables import has_restarts, restart_columns
from moxco_cli.settings import (
    METHOD_NAMES,
    OptimizerSettings,
    SettingsError,
    build_method,
    validate_methods,
)
from moxco_cli.starts import grid_starts, start_box

TIGHT, LOOSE = 1e-2, 0.1  # distances to a global minimum that count as reaching it
CLASSES = ("global-1e-2", "global-0.1", "other-minimum", "stuck", "diverged")
FIGURE1_START = (-2.5, 1.2)  # Beale start of the paper's Figure 1 (SPEC), marked on the map
MAX_GRID = {1: 100_000, 2: 501}  # outcomes.csv holds (methods x starts) rows
DOMAIN_LIMIT = 1e6  # the engine's divergence box
OUTCOME_COLUMNS = ["optimizer", "start_id", "i", "j", "start_x0", "start_x1", "final_x0",
                   "final_x1", "final_loss", "class", "commit_step", "diverged_step",
                   "distance_to_global"]
RESTART_COLUMNS = ["restart_step", "restart_count"]  # -1 and 0 for methods without restart


def classes_for(landscape) -> tuple[str, ...]:
    """The outcome classes that can occur on `landscape`, in CLASSES order."""
    others = bool(landscape.split_minima()[1])
    return tuple(c for c in CLASSES if c != "other-minimum" or others)


def classify_outcomes(landscape, final: np.ndarray, diverged: np.ndarray):
    """Outcome class per final point.

    Args:
        final: `(N, d)` final points; diverged: `(N,)` bool.
    Returns:
        `(classes (N,) object array of CLASSES names, distance to the nearest global
        minimum (N,))`.
    """
    glob, others = landscape.split_minima()
    _, d_glob = landscape.nearest_minimum(final, glob)
    _, d_other = landscape.nearest_minimum(final, others)
    cls = np.full(len(final), "stuck", dtype=object)
    cls[d_other <= LOOSE] = "other-minimum"
    cls[d_glob <= LOOSE] = "global-0.1"
    cls[d_glob <= TIGHT] = "global-1e-2"
    cls[diverged] = "diverged"
    return cls, d_glob


def _validate_domain(domain, dim: int) -> None:
    if domain is None:
        return
    want = 2 * dim
    if len(domain) != want or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                      and abs(v) <= DOMAIN_LIMIT for v in domain):
        raise SettingsError("--domain", f"expects {want} numbers LO0,HI0"
                            f"{',LO1,HI1' if dim == 2 else ''} in [-1e6, 1e6], got {domain!r}")
    for k in range(dim):
        if not domain[2 * k] < domain[2 * k + 1]:
            raise SettingsError("--domain", f"x{k}: low {domain[2 * k]!r} must be below "
                                f"high {domain[2 * k + 1]!r}")


@dataclass(frozen=True)
class OutcomeMapConfig:
    """Everything `moxco outcome-map` needs; `to_options()` is what config.json stores.

    `grid` is N (N x N starts in 2-D, N starts in 1-D); `domain` overrides the landscape's
    bounds as `(lo0, hi0[, lo1, hi1])`.
    """

    landscape: str = "beale"
    landscape_params: dict = field(default_factory=dict)
    grid: int = 101
    steps: int = 800
    methods: tuple[str, ...] = METHOD_NAMES
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)
    domain: tuple[float, ...] | None = None

    def validate(self) -> OutcomeMapConfig:
        land = build_landscape(self.landscape, self.landscape_params)
        if land.dim not in (1, 2):
            raise SettingsError("LANDSCAPE", f"{self.landscape} is {land.dim}-D; an outcome "
                                "map needs a 1-D or 2-D landscape")
        if not land.minima:
            raise SettingsError("LANDSCAPE", f"{self.landscape} has no named minima to "
                                "classify outcomes against")
        require_isolated_minima(land, "LANDSCAPE")
        top = MAX_GRID[land.dim]
        validate_int("--grid", self.grid, 2, top, f" for a {land.dim}-D landscape")
        validate_steps(self.steps)
        validate_methods(self.methods)
        _validate_domain(self.domain, land.dim)
        self.settings.validate()
        check_methods(self.settings, land, self.methods)
        return self

    def n_starts(self) -> int:
        """Number of starts per optimizer: grid**d."""
        return self.grid ** build_landscape(self.landscape, self.landscape_params).dim

    def to_options(self) -> dict:
        return {
            "landscape": self.landscape, "landscape_params": dict(self.landscape_params),
            "grid": self.grid, "steps": self.steps,
            "domain": list(self.domain) if self.domain is not None else None,
            "optimizers": list(self.methods), **self.settings.to_dict(),
        }

    @classmethod
    def from_options(cls, opts: dict) -> OutcomeMapConfig:
        from moxco_cli.config_types import check_types

        check_types(cls, opts)  # types first, from the fields' declarations
        opts = dict(opts)
        keys = ("landscape", "landscape_params", "grid", "steps", "domain", "optimizers")
        own = {k: opts.pop(k) for k in keys if k in opts}
        domain = own.get("domain")
        return cls(
            landscape=own.get("landscape", "beale"),
            landscape_params=own.get("landscape_params") or {},
            grid=own.get("grid", 101),
            steps=own.get("steps", 800),
            methods=tuple(own.get("optimizers", METHOD_NAMES)),
            settings=OptimizerSettings.from_dict(opts),
            domain=tuple(domain) if domain is not None else None,
        ).validate()


@dataclass
class OutcomeMapResult:
    """`axes`: one `(N,)` grid per coordinate; `starts (M, d)` in start_id order.

    `outcomes`: one row per (optimizer, start) with OUTCOME_COLUMNS (1-D: no x1 columns;
    with an adaptive-restart baseline among the methods, RESTART_COLUMNS after commit_step);
    `fractions`: (optimizer, class, count, fraction), every class of `classes` listed.
    """

    config: OutcomeMapConfig
    landscape: object
    axes: list[np.ndarray]
    starts: np.ndarray
    classes: tuple[str, ...]
    trajectories: dict[str, Trajectory]
    outcomes: pd.DataFrame
    fractions: pd.DataFrame

    def class_image(self, optimizer: str) -> np.ndarray:
        """Class indices into `classes`, shaped `(N, N)` as `[j, i]` (2-D) or `(1, N)` (1-D)."""
        cls = self.outcomes.loc[self.outcomes.optimizer == optimizer, "class"].to_numpy()
        index = {c: k for k, c in enumerate(self.classes)}
        codes = np.array([index[c] for c in cls])
        n = len(self.axes[0])
        return codes.reshape(-1, n)

    def fraction(self, optimizer: str, *classes: str) -> float:
        f = self.fractions
        return float(f.loc[(f.optimizer == optimizer) & f["class"].isin(classes),
                           "fraction"].sum())

    def figure_inputs(self) -> dict:
        """Keyword arguments of `plots.outcome_map.outcome_map_figure`: class images and
        fractions, not the whole tables (they travel to the renderer process)."""
        land, cfg = self.landscape, self.config
        glob, others = land.split_minima()
        n = cfg.grid
        starts = f"{n} x {n}" if land.dim == 2 else f"{n}"
        return dict(
            landscape=land, axes=self.axes, classes=self.classes,
            images={name: self.class_image(name) for name in cfg.methods},
            fractions={name: (self.fraction(name, "global-1e-2"),
                              self.fraction(name, "global-1e-2", "global-0.1"))
                       for name in cfg.methods},
            title=(f"{land.name}: outcome after {cfg.steps} steps from each of {starts} "
                   f"starts, lr={cfg.settings.lr:g}{caption(cfg.settings.backend)}"),
            global_minima=glob, other_minima=others,
            mark=(f"Figure 1 start {FIGURE1_START}", FIGURE1_START)
            if land.name == "beale" else None)


def outcome_map(cfg: OutcomeMapConfig, progress=None) -> OutcomeMapResult:
    """Run every optimizer of `cfg` from every grid start (one batched call per optimizer).

    `progress(n)` is called with the number of trajectory-steps done since its last call
    (total `grid**d * steps * len(methods)`).
    """
    cfg.validate()
    land = build_landscape(cfg.landscape, cfg.landscape_params)
    axes, starts = grid_starts(start_box(land, cfg.domain), cfg.grid)  # start_id order
    n = cfg.grid
    ids = np.arange(len(starts))
    s = cfg.settings
    classes = classes_for(land)
    frames, counts = [], []
    trajs = {name: simulate(land, build_method(name, s), starts, cfg.steps, seed=s.seed,
                            backend=s.backend, progress=progress) for name in cfg.methods}
    restarts = has_restarts(trajs)
    for name, tr in trajs.items():
        cls, d_glob = classify_outcomes(land, tr.final, tr.diverged)
        cols = {"optimizer": name, "start_id": ids, "i": ids % n, "j": ids // n}
        for k in range(land.dim):
            cols[f"start_x{k}"] = starts[:, k]
        for k in range(land.dim):
            cols[f"final_x{k}"] = tr.final[:, k]
        cols.update({"final_loss": tr.final_loss, "class": cls, "commit_step": tr.commit_step})
        if restarts:  # as in summary.csv: restarts are not commits
            cols.update(restart_columns(tr))
        cols.update({"diverged_step": tr.diverged_step, "distance_to_global": d_glob})
        frames.append(pd.DataFrame(cols))
        for c in classes:
            k = int(np.count_nonzero(cls == c))
            counts.append({"optimizer": name, "class": c, "count": k,
                           "fraction": k / len(cls)})
    return OutcomeMapResult(cfg, land, axes, starts, classes, trajs,
                            pd.concat(frames, ignore_index=True), pd.DataFrame(counts))
