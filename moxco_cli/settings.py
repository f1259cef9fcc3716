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

METHOD_NAMES = ("gd", "adam", "gd+moxco", "adam+moxco")  # the paper's four: the defaults
# Baselines, by name (not run unless asked for): the inertia wrapper with fixed settings, with
# GD inside and momentum = the GD+MoXCo exploration alpha, so that only the rule differs.
BASELINE_NAMES = ("heavy-ball", "nesterov", "nesterov+restart-fn", "nesterov+restart-grad")
ALL_METHOD_NAMES = METHOD_NAMES + BASELINE_NAMES


class SettingsError(MoxcoError, ValueError):
    """An invalid option value. `option` is the CLI flag at fault (e.g. ``--lr``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


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
        return self

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> OptimizerSettings:
        """Build from `to_dict` output (e.g. config.json); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(f"--{sorted(unknown)[0].replace('_', '-')}", "unknown setting")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean).validate()


def parse_methods(text: str) -> tuple[str, ...]:
    """`"gd,adam+moxco"` -> `("gd", "adam+moxco")`; raises SettingsError for unknown names."""
    if not text.strip():
        raise SettingsError("--optimizers", f"choose any of: {', '.join(ALL_METHOD_NAMES)}")
    return validate_methods(s.strip() for s in text.split(","))


def validate_methods(names) -> tuple[str, ...]:
    """Raise SettingsError (`--optimizers`) unless `names` is a non-empty list of known,
    distinct method names; return them as a tuple."""
    names = tuple(names)
    if not names:
        raise SettingsError("--optimizers", "choose at least one optimizer")
    for name in names:
        if name not in ALL_METHOD_NAMES:
            raise SettingsError("--optimizers", f"unknown optimizer {name!r}; choose any of: "
                                f"{', '.join(ALL_METHOD_NAMES)}")
    if len(set(names)) != len(names):
        raise SettingsError("--optimizers", f"lists an optimizer twice: {','.join(names)}")
    return names


def build_method(name: str, settings: OptimizerSettings):
    """The engine `Method` named `name` (one of ALL_METHOD_NAMES) under `settings`.

    - `gd`, `adam`: the inner optimizer alone (alpha = beta = 0).
    - `gd+moxco`, `adam+moxco`: inertia with the exploration momenta and the commit rule.
    - `heavy-ball` (beta = 0) and `nesterov` (beta = alpha): GD inside, alpha = the `gd_moxco`
      alpha, never committing.
    - `nesterov+restart-fn` / `-grad`: that Nesterov with O'Donoghue & Candes' adaptive
      restart (velocity reset when f rises / when the gradient points along the last step).
    """
    from moxco_cli.engine import Method
    from moxco_cli.goodness import CommitRule
    from moxco_cli.optim import adam, gd
    from moxco_cli.prox import make_prox

    if name not in ALL_METHOD_NAMES:
        raise SettingsError("--optimizers", f"unknown optimizer {name!r}")
    prox = make_prox(settings.prox, settings.prox_weight, settings.lr)
    restart = settings.restart

    def rule(mode, alpha, beta):
        return CommitRule(mode, settings.threshold, alpha, beta, *restart)

    if name in BASELINE_NAMES:
        momentum = settings.gd_moxco[0]
        beta = 0.0 if name == "heavy-ball" else momentum
        scheme = {"nesterov+restart-fn": "function", "nesterov+restart-grad": "gradient"}
        return Method(name, gd(settings.lr), rule("none", momentum, beta), settings.tau, prox,
                      restart=scheme.get(name))
    inner_name, _, wrapper = name.partition("+")
    inner = {"gd": gd, "adam": adam}[inner_name](settings.lr)
    if wrapper == "moxco":
        alpha, beta = settings.gd_moxco if inner_name == "gd" else settings.adam_moxco
        return Method(name, inner, rule(settings.commit, alpha, beta), settings.tau, prox)
    return Method(name, inner, rule("none", 0.0, 0.0), settings.tau, prox)
