"""`moxco run`: every chosen optimizer from one start on one landscape (the paper's Figure 1)."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import landscapes
from landscapes.base import Landscape
from moxco_cli.backends import check_methods, simulate
from moxco_cli.engine import Trajectory
from moxco_cli.experiments.tables import default_tol, summary_frame, trajectories_frame
from moxco_cli.options import check_point
from moxco_cli.settings import (
    METHOD_NAMES,
    OptimizerSettings,
    SettingsError,
    build_method,
    validate_methods,
)

# Figure 1's start for Beale (from the authors' public code, SPEC); elsewhere a start inside
# the basin that makes the comparison interesting (two-wells: the sharp well's basin).
DEFAULT_STARTS = {"beale": (-2.5, 1.2), "two-wells": (2.3,), "quadratic": (1.5,)}
MAX_STEPS = 10**7


def default_start(land, seed: int = 0) -> tuple[float, ...]:
    if type(land).sample_starts is not Landscape.sample_starts:  # its own start distribution
        return tuple(float(v) for v in land.sample_starts(1, np.random.default_rng(seed))[0])
    if land.name in DEFAULT_STARTS and len(DEFAULT_STARTS[land.name]) == land.dim:
        return DEFAULT_STARTS[land.name]
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    return tuple(float(v) for v in lo + 0.25 * (hi - lo))


BUILT_LANDSCAPES = 8  # how many distinct (name, params) `build_landscape` keeps
_built: OrderedDict[str, object] = OrderedDict()


def _landscape_key(name: str, params: dict) -> str | None:
    """`(name, params)` as canonical JSON (floats keep every digit); None if it has no JSON
    form, e.g. an array parameter (such a landscape is built anew each time)."""
    try:
        return json.dumps([name, params], sort_keys=True)
    except (TypeError, ValueError):
        return None


def build_landscape(name: str, params: dict, option: str = "LANDSCAPE"):
    """Registry lookup (or a `--expr` formula) with one-line errors naming the option.

    Built once per process for each `(name, params)`: a command's `validate()`, its
    experiment function and every sweep task share one landscape object, so a formula is
    parsed and compiled by sympy once per command (the last `BUILT_LANDSCAPES` distinct ones
    are kept; errors are not). Landscapes are never modified after they are built.
    """
    key = _landscape_key(name, params)
    if key is not None and key in _built:
        _built.move_to_end(key)
        return _built[key]
    land = _build_landscape(name, params, option)
    if key is not None:
        _built[key] = land
        while len(_built) > BUILT_LANDSCAPES:
            _built.popitem(last=False)
    return land


def _build_landscape(name: str, params: dict, option: str):
    if name == landscapes.EXPRESSION:
        option = "--expr"
    from moxco_cli.params import SpecError

    try:
        if name == landscapes.EXPRESSION:  # checks its own domain, finite on a finer grid
            return landscapes.get(name, **params)
        if not isinstance(params, dict):
            raise SettingsError(option, f"{name}: parameters must be a mapping, "
                                f"got {params!r}")
        params = landscapes.check_params(name, params)
        return landscapes.check_finite(landscapes.get(name, **params))
    except SpecError as exc:
        raise SettingsError(option, f"{name}: {exc}") from None
    except KeyError:
        raise SettingsError(option, f"unknown landscape {name!r}; choose from: "
                            f"{', '.join(landscapes.names())}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        # a formula's error says which input is at fault: --domain and --minima by name
        option = EXPR_OPTIONS.get(getattr(exc, "field", None), option)
        text = str(exc) if isinstance(exc, (TypeError, ValueError)) else \
            "a parameter is out of what float64 can represent"
        if name != landscapes.EXPRESSION:
            given = ",".join(f"{k}={v}" for k, v in params.items()) if isinstance(
                params, dict) else ""
            text = f"{name}{':' + given if given else ''}: {text}"
        raise SettingsError(option, text) from None


EXPR_OPTIONS = {"formula": "--expr", "domain": "--domain", "minima": "--minima"}


def validate_int(option: str, value, lo: int, hi: int, context: str = "") -> int:
    """`value` if it is an integer (not a bool) in [lo, hi], else a one-line SettingsError."""
    if not (isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi):
        raise SettingsError(option, f"must be an integer in [{lo}, {hi}]{context}, "
                            f"got {value!r}")
    return value


def validate_steps(steps) -> int:
    return validate_int("--steps", steps, 1, MAX_STEPS)


def require_isolated_minima(land, option: str, instead: str | None = None) -> None:
    """A one-line SettingsError for a landscape whose global minima are a set, not points
    (`Landscape.minimum_set`): commands that label each end point by the named minimum it
    reached would call every other point of the set 'none' or 'stuck'. `instead`: what to
    use (default: `moxco generalize`)."""
    if land.minimum_set is not None:
        if instead is None:
            instead = (f"moxco generalize {land.name} measures which minimum is selected "
                       "(final lam_max)")
        raise SettingsError(option, f"{land.name}'s global minima are not isolated points "
                            f"({land.minimum_set}), so its end points cannot be labelled by "
                            f"the minimum they reached; {instead}")


def validate_tol(tol) -> None:
    if tol is not None and not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise SettingsError("--tol", f"must be a number > 0, got {tol!r}")


@dataclass(frozen=True)
class RunConfig:
    """Everything `moxco run` needs; `to_options()` is what config.json stores."""

    landscape: str = "beale"
    landscape_params: dict = field(default_factory=dict)
    start: tuple[float, ...] | None = None  # None: the landscape's default start
    steps: int = 800
    methods: tuple[str, ...] = METHOD_NAMES
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)
    tol: float | None = None  # None: SPEC default for the landscape's dimension
    animate: bool = False  # also write trajectory.gif

    def validate(self) -> RunConfig:
        land = build_landscape(self.landscape, self.landscape_params)
        validate_steps(self.steps)
        validate_tol(self.tol)
        if self.start is not None:
            if len(self.start) != land.dim:
                raise SettingsError("--start", f"{self.landscape} is {land.dim}-D: give "
                                    f"{land.dim} comma-separated number(s), got {len(self.start)}")
            check_point(self.start, "--start")  # finite, inside the divergence box
        if self.animate and land.dim > 2:
            raise SettingsError("--animate", f"{self.landscape} is {land.dim}-D; the animation "
                                "draws paths over a 1-D or 2-D landscape (the figures "
                                "trace every coordinate instead)")
        validate_methods(self.methods)
        self.settings.validate()
        check_methods(self.settings, land, self.methods)
        return self

    def to_options(self) -> dict:
        return {
            "landscape": self.landscape, "landscape_params": dict(self.landscape_params),
            "start": list(self.start) if self.start is not None else None, "steps": self.steps,
            "optimizers": list(self.methods), "tol": self.tol, "animate": self.animate,
            **self.settings.to_dict(),
        }

    @classmethod
    def from_options(cls, opts: dict) -> RunConfig:
        from moxco_cli.config_types import check_types

        check_types(cls, opts)  # types first, from the fields' declarations
        opts = dict(opts)
        keys = ("landscape", "landscape_params", "start", "steps", "optimizers", "tol", "animate")
        own = {k: opts.pop(k) for k in keys if k in opts}
        start = own.get("start")
        return cls(
            landscape=own.get("landscape", "beale"),
            landscape_params=own.get("landscape_params") or {},
            start=tuple(start) if start is not None else None,
            steps=own.get("steps", 800),
            methods=tuple(own.get("optimizers", METHOD_NAMES)),
            settings=OptimizerSettings.from_dict(opts),
            tol=own.get("tol"),
            animate=bool(own.get("animate", False)),
        ).validate()


@dataclass
class RunResult:
    config: RunConfig
    landscape: object
    start: np.ndarray  # (d,)
    tol: float
    trajectories: dict[str, Trajectory]
    summary: pd.DataFrame
    steps_table: pd.DataFrame
    warnings: list[str]


def run_experiment(cfg: RunConfig, progress=None) -> RunResult:
    """Run every method of `cfg` from one start with per-step records."""
    land = build_landscape(cfg.landscape, cfg.landscape_params)
    start = np.array(cfg.start if cfg.start is not None else default_start(land, cfg.settings.seed),
                     dtype=float)
    warnings = []
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    if np.any(start < lo) or np.any(start > hi):
        box = " x ".join(f"[{a:g}, {b:g}]" for a, b in land.bounds)
        warnings.append(f"--start {tuple(start.tolist())} is outside the {land.name} domain {box}")
    s = cfg.settings
    methods = {name: build_method(name, s) for name in cfg.methods}
    # an estimated lam_max is recorded with the exact one beside it (goodness.png shows both)
    trajs = {
        name: simulate(land, m, start[None, :], cfg.steps, record=True, seed=s.seed,
                       progress=progress, check=m.curvature != "exact", backend=s.backend)
        for name, m in methods.items()
    }
    tol = cfg.tol if cfg.tol is not None else default_tol(land)
    return RunResult(cfg, land, start, tol, trajs, summary_frame(trajs, land, tol),
                     trajectories_frame(trajs), warnings)
