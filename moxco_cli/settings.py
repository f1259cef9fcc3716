"""Optimizer settings shared by every command, validated in one place.

The CLI options, a `config.json` being re-run, and Python callers all go through
`OptimizerSettings.validate()`, so an invalid value gets the same one-line message everywhere.
Defaults are the paper's Figure 1 settings (SPEC).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from moxco_cli.errors import MoxcoError

COMMIT_MODES = ("latch", "reversible", "none")  # see goodness.CommitRule
PROX_NAMES = ("identity", "l1", "binary")  # see prox.make_prox
BACKENDS = ("numpy", "jax")  # see moxco_cli.backends.NAMES

METHOD_NAMES = ("gd", "adam", "gd+moxco", "adam+moxco")  # the paper's four: the defaults
# Baselines, by name (not run unless asked for): the inertia wrapper with fixed settings, with
# GD inside and momentum = the GD+MoXCo exploration alpha, so that only the rule differs.
BASELINE_NAMES = ("heavy-ball", "nesterov", "nesterov+restart-fn", "nesterov+restart-grad")
# Every method name (moxco_cli.methods.method_names(), written out so that this module stays
# import-free; tests/test_methods.py checks the two agree).
ALL_METHOD_NAMES = ("gd", "adam", "rmsprop", "gd+moxco", "adam+moxco", "rmsprop+moxco",
                    *BASELINE_NAMES)


class SettingsError(MoxcoError, ValueError):
    """An invalid option value. `option` is the CLI flag at fault (e.g. ``--lr``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.reason = message

    def __reduce__(self):  # picklable: raised in a worker process, it keeps its message
        return (type(self), (self.option, self.reason))


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class OptimizerSettings:
    """Hyperparameters of the four named methods (and of any added later)."""

    lr: float = 0.005
    gd_moxco: tuple[float, float] = (0.9, 0.9)
    adam_moxco: tuple[float, float] = (0.95, 0.5)
    restart: tuple[float, float] = (0.1, 0.1)
    threshold: float = 0.85
    tau: float = 0.15
    commit: str = "latch"
    prox: str = "identity"
    prox_weight: float = 0.0
    noise_std: float = 0.0
    seed: int = 0
    backend: str = "numpy"  # the engine: moxco_cli.backends.NAMES

    def validate(self) -> OptimizerSettings:
        """Raise `SettingsError` naming the first invalid option; return self when valid."""
        if not (_finite(self.lr) and self.lr > 0):
            raise SettingsError("--lr", f"must be a number > 0, got {self.lr!r}")
        for name in ("gd_moxco", "adam_moxco", "restart"):
            pair = getattr(self, name)
            flag = "--" + name.replace("_", "-")
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise SettingsError(flag, f"expects ALPHA,BETA (two numbers), got {pair!r}")
            for label, v in zip(("alpha", "beta"), pair, strict=True):
                if not (_finite(v) and 0 <= v < 1):
                    raise SettingsError(flag, f"{label} must be in [0, 1), got {v!r}")
        if not (_finite(self.threshold) and 0 < self.threshold < 1):
            raise SettingsError("--threshold", f"must be in (0, 1), got {self.threshold!r}")
        if not (_finite(self.tau) and self.tau > 0):
            raise SettingsError("--tau", f"must be a number > 0, got {self.tau!r}")
        if self.commit not in COMMIT_MODES:
            raise SettingsError(
                "--commit", f"must be one of {', '.join(COMMIT_MODES)}; got {self.commit!r}")
        if self.prox not in PROX_NAMES:
            raise SettingsError(
                "--prox", f"must be one of {', '.join(PROX_NAMES)}; got {self.prox!r}")
        if not (_finite(self.prox_weight) and self.prox_weight >= 0):
            raise SettingsError("--prox-weight", f"must be a number >= 0, got {self.prox_weight!r}")
        if not (_finite(self.noise_std) and self.noise_std >= 0):
            raise SettingsError("--noise-std", f"must be a number >= 0, got {self.noise_std!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise SettingsError("--seed", f"must be an integer in [0, 2^63), got {self.seed!r}")
        if self.backend not in BACKENDS:
            raise SettingsError(
                "--backend", f"must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        return self

    def numpy_only(self, command: str) -> OptimizerSettings:
        """Self; `SettingsError("--backend")` when a backend other than numpy is asked of
        `command` ("sweep"), which runs on NumPy only. Checked by the command's options and by
        its config's `validate` (what `rerun` and `sweep --resume` build from a config.json)."""
        from moxco_cli.backends import RUNS

        if self.backend != "numpy":
            raise SettingsError("--backend", f"{self.backend} runs {RUNS}; {command} runs on "
                                "numpy only")
        return self

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> OptimizerSettings:
        """Build from `to_dict` output (e.g. config.json); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:  # named as every config.json key is, by its option, and as written
            key = sorted(unknown)[0]
            raise SettingsError(f"--{key.replace('_', '-')}", f"unknown setting (config.json "
                                f"key {key!r}; the command has no such option)")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean).validate()


def _spec_error(option: str, where: str, exc) -> SettingsError:
    return SettingsError(option, f"{where}: {exc}" if where else str(exc))


def parse_methods(text: str, option: str = "--optimizers") -> tuple[str, ...]:
    """`"gd,adam+moxco:lr=0.01"` -> `("gd", "adam+moxco:lr=0.01")` (canonical spec labels);
    one-line SettingsError naming `option` for unknown names or bad keys."""
    from moxco_cli.methods import SpecError, split_specs

    if not str(text).strip():
        raise SettingsError(option, f"choose any of: {', '.join(ALL_METHOD_NAMES)}")
    try:
        items = split_specs(text)
    except SpecError as exc:
        raise _spec_error(option, "", exc) from None
    return validate_methods(items, option)


def validate_methods(names, option: str = "--optimizers") -> tuple[str, ...]:
    """Raise SettingsError (`option`) unless `names` is a non-empty list of distinct method
    specs (plain names or `NAME:key=value,...`); return their canonical labels."""
    from moxco_cli.methods import SpecError, parse_spec, split_name

    names = tuple(names)
    if not names:
        raise SettingsError(option, "choose at least one optimizer")
    labels = []
    for name in names:
        if not isinstance(name, str):
            raise SettingsError(option, f"expects method names, got {name!r}")
        try:
            split_name(name.partition(":")[0].strip())
        except SpecError:
            raise SettingsError(option, f"unknown optimizer {name.partition(':')[0]!r}; "
                                f"choose any of: {', '.join(ALL_METHOD_NAMES)}") from None
        try:
            labels.append(parse_spec(name).label)
        except SpecError as exc:
            raise _spec_error(option, name, exc) from None
    if len(set(labels)) != len(labels):
        raise SettingsError(option, f"lists an optimizer twice: {','.join(labels)}")
    return tuple(labels)


def shorthand_values(settings: OptimizerSettings, name: str) -> dict:
    """The values the shorthand options (`--lr`, `--gd-moxco`, ...) give method `name`'s keys;
    keys a method does not declare are ignored by `methods.resolve`."""
    values = {
        "lr": settings.lr, "tau": settings.tau, "threshold": settings.threshold,
        "commit": settings.commit, "prox": settings.prox, "prox_weight": settings.prox_weight,
        "noise_std": settings.noise_std, "restart_alpha": settings.restart[0],
        "restart_beta": settings.restart[1],
    }
    if name in BASELINE_NAMES:  # GD inside, momentum = the GD+MoXCo exploration alpha
        values["alpha"] = settings.gd_moxco[0]
    elif name in ("gd+moxco", "adam+moxco"):
        values["alpha"], values["beta"] = (settings.gd_moxco if name == "gd+moxco"
                                           else settings.adam_moxco)
    return values


def build_method(name, settings: OptimizerSettings):
    """The engine `Method` of spec `name` (a name of ALL_METHOD_NAMES or any method spec,
    e.g. `"adam+moxco:lr=0.01"`) with unset keys from `settings`.

    - `gd`, `adam`, `rmsprop`: the inner optimizer alone (alpha = beta = 0).
    - `X+moxco`: inertia with the exploration momenta and the commit rule.
    - `heavy-ball` (beta = 0) and `nesterov` (beta = alpha): GD inside, alpha = the `gd_moxco`
      alpha unless set, never committing.
    - `nesterov+restart-fn` / `-grad`: that Nesterov with O'Donoghue & Candes' adaptive
      restart (velocity reset when f rises / when the gradient points along the last step).
    """
    from moxco_cli import methods

    spec = name if isinstance(name, methods.MethodSpec) else None
    try:
        spec = spec or methods.parse_spec(name)
        return methods.build(spec, shorthand_values(settings, spec.name))
    except methods.SpecError as exc:
        raise _spec_error("--optimizers", str(name), exc) from None
