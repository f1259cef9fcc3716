"""Command-line options shared by every command that runs optimizers: defined once here.

`@optimizer_options` adds the options below to a Typer command and hands the command one
validated `OptimizerSettings` as its `settings` argument. Defaults come from
`OptimizerSettings()` (the paper's Figure 1 settings), so they cannot drift between commands.
This module imports no numerical library: `moxco --help` stays fast.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Annotated

import typer

from moxco_cli.backends import COMMANDS as BACKEND_COMMANDS
from moxco_cli.backends import HELP as BACKEND_HELP
from moxco_cli.backends import RUNS as BACKEND_RUNS
from moxco_cli.settings import (
    ALL_METHOD_NAMES,
    COMMIT_MODES,
    METHOD_NAMES,
    PROX_NAMES,
    OptimizerSettings,
    SettingsError,
    parse_methods,
)

DEFAULTS = OptimizerSettings()
PANEL = "Optimizer settings"


def _pair(values: tuple[float, float]) -> str:
    return ",".join(repr(v) for v in values)


def parse_floats(text: str, option: str, count: int | None = None) -> tuple[float, ...]:
    """`"1,2.5"` -> `(1.0, 2.5)`; one-line SettingsError naming `option` otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        want = f"{count} comma-separated numbers" if count else "comma-separated numbers"
        raise SettingsError(option, f"expects {want}, got {text!r}") from None
    if count is not None and len(values) != count:
        raise SettingsError(option, f"expects {count} comma-separated numbers, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise SettingsError(option, f"expects finite numbers, got {text!r}")
    return values


# A start box's bounds, at most: the engine's divergence box (engine.DIVERGENCE_LIMIT; a start
# beyond it counts as diverged before its first step), and room for hi - lo in float64.
BOX_LIMIT = 1e6
# ... and at least this wide, relative to its bounds: thousands of grid points (outcome-map,
# a formula's finiteness check) must stay distinct floats, 4096 x 2.2e-16 apart at least
MIN_WIDTH = 1e-9


def check_box(values, option: str = "--domain") -> tuple[float, ...]:
    """`values` `(lo0, hi0, lo1, hi1, ...)` if they are finite numbers in LO < HI pairs
    within +-BOX_LIMIT; else a one-line SettingsError naming `option`. (Used by the CLI and
    by the configs `moxco rerun` reads.)"""
    values = tuple(values)
    if len(values) % 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and math.isfinite(v) for v in values):
        raise SettingsError(option, f"expects finite LO,HI pairs, got {_show(values)}")
    if any(abs(v) > BOX_LIMIT for v in values):
        raise SettingsError(option, f"bounds must lie in [-{BOX_LIMIT:g}, {BOX_LIMIT:g}] (the "
                            f"divergence box), got {_show(values)}")
    for k in range(0, len(values), 2):
        lo, hi = values[k], values[k + 1]
        if not lo < hi:
            raise SettingsError(option, f"needs LO < HI in every pair, got {_show(values)}")
        if hi - lo < MIN_WIDTH * max(1.0, abs(lo), abs(hi)):
            raise SettingsError(option, f"{lo:g},{hi:g} is narrower than a grid of starts can "
                                f"resolve in float64 (HI - LO >= {MIN_WIDTH:g} x max(1, |LO|, "
                                "|HI|))")
    return values


def check_point(values, option: str = "--start") -> tuple[float, ...]:
    """`values` if they are finite coordinates within +-BOX_LIMIT (a start beyond the
    divergence box would count as diverged before its first step); else one line."""
    values = tuple(values)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in values):
        raise SettingsError(option, f"expects finite numbers, got {_show(values)}")
    if any(abs(v) > BOX_LIMIT for v in values):
        raise SettingsError(option, f"coordinates must lie in [-{BOX_LIMIT:g}, {BOX_LIMIT:g}] "
                            f"(the divergence box), got {_show(values)}")
    return values


def _show(values) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else repr(v) for v in values)


def parse_box(text: str, option: str = "--domain", count: int | None = None
              ) -> tuple[float, ...]:
    """`"LO0,HI0[,LO1,HI1,...]"` -> `check_box` of its numbers."""
    return check_box(parse_floats(text, option, count), option)


def parse_point(text: str, option: str = "--start") -> tuple[float, ...]:
    """`"X0,X1,..."` -> `check_point` of its numbers."""
    return check_point(parse_floats(text, option), option)


def _opt(type_, flag: str, help: str, **kw):
    return Annotated[type_, typer.Option(flag, help=help, rich_help_panel=PANEL, **kw)]


# name -> (annotation, default). Order is the order in --help.
def _methods_help() -> str:
    from moxco_cli.methods import keys_overview

    return (f"Comma-separated method specs NAME[:key=value,...], e.g. \"adam:lr=1,adam+moxco:lr=0.01,alpha=0.95\". "
            f"NAME: {', '.join(ALL_METHOD_NAMES)} (baselines: GD inside, momentum = the --gd-moxco alpha). "
            f"Unset keys take the options below. Keys: {keys_overview()}.")


SHARED: dict[str, tuple[object, object]] = {
    "optimizers": (Annotated[str, typer.Option("--optimizers", help=_methods_help(), rich_help_panel=PANEL)],
                   ",".join(METHOD_NAMES)),
    "methods": (_opt(str | None, "--methods", "Same as --optimizers (give one of the two)."), None),
    "lr": (_opt(float, "--lr", "Learning rate (the nominal rate, also for Adam)."), DEFAULTS.lr),
    "gd_moxco": (_opt(str, "--gd-moxco", "ALPHA,BETA exploration momenta of gd+moxco, each in [0, 1)."),
                 _pair(DEFAULTS.gd_moxco)),
    "adam_moxco": (_opt(str, "--adam-moxco", "ALPHA,BETA exploration momenta of adam+moxco, each in [0, 1)."),
                   _pair(DEFAULTS.adam_moxco)),
    "restart": (_opt(str, "--restart", "ALPHA,BETA momenta after commit, each in [0, 1)."),
                _pair(DEFAULTS.restart)),
    "threshold": (_opt(float, "--threshold", "Goodness above which a MoXCo run commits, in (0, 1)."),
                  DEFAULTS.threshold),
    "tau": (_opt(float, "--tau", "Goodness temperature, > 0."), DEFAULTS.tau),
    "commit": (_opt(str, "--commit", f"Commit rule: {' | '.join(COMMIT_MODES)}."), DEFAULTS.commit),
    "prox": (_opt(str, "--prox", f"Proximal map: {' | '.join(PROX_NAMES)}."), DEFAULTS.prox),
    "prox_weight": (_opt(float, "--prox-weight", "Regularizer weight of --prox, >= 0."),
                    DEFAULTS.prox_weight),
    "noise_std": (_opt(float, "--noise-std", "Std of Gaussian noise added to every gradient, >= 0."),
                  DEFAULTS.noise_std),
    "seed": (_opt(int, "--seed", "Seed of every random draw (starts, gradient noise)."), DEFAULTS.seed),
    "backend": (_opt(str, "--backend", BACKEND_HELP), DEFAULTS.backend),
}


def settings_from_options(values: dict) -> tuple[tuple[str, ...], OptimizerSettings]:
    """Shared option values (strings as typed) -> (method names, validated settings)."""
    if values.get("methods") is not None:
        if values["optimizers"] != ",".join(METHOD_NAMES):
            raise SettingsError("--methods", "give --methods or --optimizers, not both")
        methods = parse_methods(values["methods"], "--methods")
    else:
        methods = parse_methods(values["optimizers"])
    settings = OptimizerSettings(
        lr=values["lr"],
        gd_moxco=parse_floats(values["gd_moxco"], "--gd-moxco", 2),
        adam_moxco=parse_floats(values["adam_moxco"], "--adam-moxco", 2),
        restart=parse_floats(values["restart"], "--restart", 2),
        threshold=values["threshold"], tau=values["tau"], commit=values["commit"],
        prox=values["prox"], prox_weight=values["prox_weight"], noise_std=values["noise_std"],
        seed=values["seed"], backend=values["backend"],
    )
    return methods, settings.validate()


METHOD_KEYS = ("optimizers", "methods")  # the SHARED options that name methods
NUMPY_ONLY_HELP = f"Engine: numpy only for this command (--backend jax runs {BACKEND_RUNS})."


def optimizer_options(command=None, *, methods: bool = True, omit: tuple[str, ...] = ()):
    """Decorator: append the SHARED options to `command`'s signature.

    The decorated function receives `methods: tuple[str, ...]` and `settings` instead of the
    raw option values; validation errors surface as one-line `SettingsError`s. With
    `methods=False` (`@optimizer_options(methods=False)`: a command whose methods come from
    its own options, `sweep`) --optimizers and --methods are left out and only `settings` is
    passed. `omit` names SHARED options the command does not take (`generalize` runs every
    rate of its --lrs: no --lr in its help); they keep their defaults. A command that runs on
    NumPy only (not in `backends.COMMANDS`) says so in its --backend help; its config's
    `validate` refuses any other backend
    (`OptimizerSettings.numpy_only`), before anything runs, on the CLI and in `rerun` alike.
    """
    if command is None:
        return functools.partial(optimizer_options, methods=methods, omit=omit)
    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name not in ("methods", "settings")]
    options = {k: v for k, v in SHARED.items()
               if (methods or k not in METHOD_KEYS) and k not in omit}
    if command.__name__ not in BACKEND_COMMANDS:  # its help must not offer what it refuses
        options["backend"] = (_opt(str, "--backend", NUMPY_ONLY_HELP), DEFAULTS.backend)
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                annotation=annotation)
              for name, (annotation, default) in options.items()]

    @functools.wraps(command)
    def wrapper(**kwargs):
        values = {name: kwargs.pop(name) for name in options}
        values.update({name: SHARED[name][1] for name in omit})
        if not methods:
            values.update(optimizers="gd", methods=None)  # not an option here: any valid name
        names, settings = settings_from_options(values)
        if methods:
            return command(**kwargs, methods=names, settings=settings)
        return command(**kwargs, settings=settings)

    wrapper.__signature__ = sig.replace(parameters=own + shared)
    wrapper.__annotations__ = {p.name: p.annotation for p in own + shared}
    del wrapper.__wrapped__  # Typer must see the new signature, not the original
    return wrapper


# Landscape from a user formula: shared by every command that takes a landscape.
LANDSCAPE_PANEL = "User formula landscape"
ExprOption = Annotated[str | None, typer.Option("--expr", help='A formula in x (1-D) or x, y (2-D) used instead of the named landscape, e.g. "(1-x)**2 + 100*(y-x**2)**2"; exact derivatives by sympy. Its domain is --domain (default -5,5 per coordinate).', rich_help_panel=LANDSCAPE_PANEL)]
MinimaOption = Annotated[str | None, typer.Option("--minima", help="With --expr: known minima as X,Y;X,Y;... (1-D: X;X), global first. Default: found numerically.", rich_help_panel=LANDSCAPE_PANEL)]


def parse_landscape(text: str, option: str = "LANDSCAPE") -> tuple[str, dict]:
    """A landscape spec `NAME[:key=value,...]` (e.g. `two-wells:s=0.03`) -> (name, params),
    checked against the landscape's declared parameters; one-line SettingsError naming
    `option` otherwise."""
    import landscapes
    from moxco_cli.params import SpecError

    try:
        return landscapes.parse_spec(text)
    except KeyError:
        raise SettingsError(option, f"unknown landscape {str(text).partition(':')[0]!r}; "
                            f"choose from: {', '.join(landscapes.names())}") from None
    except SpecError as exc:
        raise SettingsError(option, f"{text}: {exc}") from None


def landscape_spec(name: str | None, expr: str | None, minima: str | None,
                   domain: list[float] | None = None, *, default: str = "beale",
                   option: str = "LANDSCAPE") -> tuple[str, dict]:
    """(registry name, params) for a named landscape (`name`, None: `default`) or, with
    `--expr`, a formula landscape; a `name` given beside `--expr` is refused (it would be
    silently replaced by the formula: `run beale --expr "x**2"` ran the formula).

    The formula itself is checked when the landscape is built (`build_landscape`), with
    errors naming `--expr`.
    """
    if expr is not None and name is not None:
        raise SettingsError("--expr", f"the formula replaces the landscape; give {option} or "
                                      "--expr, not both")
    name = default if name is None else name
    if expr is None:
        if minima is not None:
            raise SettingsError("--minima", "only applies together with --expr")
        return parse_landscape(name)
    points = None
    if minima is not None:
        points = [list(parse_floats(p, "--minima")) for p in minima.split(";") if p.strip()]
        if not points:
            raise SettingsError("--minima", f"expects points X,Y;X,Y, got {minima!r}")
    return "expr", {"formula": expr, "domain": list(domain) if domain is not None else None,
                    "minima": points}
