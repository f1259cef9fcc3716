"""Method specs: one string names a method with its hyperparameters.

    adam                                  plain Adam, every key at its default
    adam:lr=1                             plain Adam with lr 1
    adam+moxco:lr=0.01,alpha=0.95,beta=0.5
    rmsprop+moxco:rho=0.9,commit=reversible
    nesterov:lr=0.002,alpha=0.95          a named baseline

`NAME` is an inner optimizer of `moxco_cli.optim.REGISTRY` with an optional `+moxco` (the
inertia wrapper with goodness and commit), or a named baseline (`BASELINES`). A method's keys
come from the declarations of the pieces it is built from, and nowhere else:

    every method      lr (optim.base.LR), the inner optimizer's own (adam: b1, b2, eps;
                      rmsprop: rho, eps), tau (goodness; plain methods use it for the
                      monitor), prox, prox_weight (prox.PARAMS), noise_std (noise.PARAMS),
                      curvature, score_every (curvature.PARAMS), batch (minibatch.PARAMS)
    +moxco            alpha, beta, restart_alpha, restart_beta (inertia.PARAMS),
                      threshold, commit (goodness.PARAMS)
    baselines         alpha (their fixed momentum)

A `MethodSpec` holds only the keys the user set; `resolve(spec, base)` fills the others from
`base` (the command's shorthand options, e.g. `--lr`, `--gd-moxco`) and then from the
declared defaults. `build_from_values` turns resolved values into the engine's `Method`; with
per-row values (`(N,)` arrays for keys declared `per_row`) one `Method` runs many grid cells.

Several specs in one option are separated by commas: an item with no `=`, or whose `:` comes
before its `=`, starts a new method; a `key=value` item belongs to the method before it
(`"adam:lr=1,b1=0.8,gd+moxco"` is two methods). Errors are `SpecError`s naming the key.
This module imports no numerical library at import time (it builds `--help`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from moxco_cli import curvature, goodness, inertia, minibatch, noise, prox
from moxco_cli.optim import REGISTRY as INNER
from moxco_cli.optim.base import LR
from moxco_cli.params import Param, SpecError, momentum

MOXCO = "+moxco"


@dataclass(frozen=True)
class Baseline:
    """A named baseline: the inertia wrapper with fixed momenta around GD, never committing.

    `beta`: "zero" (heavy ball: v = theta) or "alpha" (Nesterov: v = u); `restart`: None or
    an adaptive-restart scheme of O'Donoghue & Candes (2015), `engine.RESTARTS`.
    """

    beta: str
    restart: str | None
    help: str


BASELINES: dict[str, Baseline] = {
    "heavy-ball": Baseline("zero", None, "Polyak's heavy ball (GD inside, beta = 0)"),
    "nesterov": Baseline("alpha", None, "Nesterov's accelerated gradient (beta = alpha)"),
    "nesterov+restart-fn": Baseline("alpha", "function",
                                    "Nesterov, velocity reset when f rises"),
    "nesterov+restart-grad": Baseline("alpha", "gradient",
                                      "Nesterov, velocity reset when the gradient points "
                                      "along the last step"),
}
BASELINE_MOMENTUM = momentum("alpha", 0.9, "the baseline's momentum")

_BY_NAME = {p.name: p for p in (*inertia.PARAMS, *goodness.PARAMS)}
_COMMON = (*prox.PARAMS, *noise.PARAMS, *curvature.PARAMS, *minibatch.PARAMS)


def method_names() -> tuple[str, ...]:
    """Every method name: each inner optimizer, plain and `+moxco`, then the baselines."""
    plain = tuple(INNER)
    return (*plain, *(n + MOXCO for n in plain), *BASELINES)


def split_name(name: str) -> tuple[str, bool]:
    """`"adam+moxco"` -> `("adam", True)`; baselines -> `("gd", False)`."""
    if name in BASELINES:
        return "gd", False
    inner, plus, wrapper = name.partition("+")
    if inner not in INNER or (plus and wrapper != "moxco"):
        raise SpecError("method", f"unknown method {name!r}; choose any of: "
                        f"{', '.join(method_names())}")
    return inner, bool(plus)


def params_of(name: str) -> tuple[Param, ...]:
    """The declared keys of method `name`, in the order `--help` and config.json show them."""
    inner, moxco = split_name(name)
    own = INNER[inner].params
    if name in BASELINES:
        return (LR, BASELINE_MOMENTUM, _BY_NAME["tau"], *_COMMON)
    if not moxco:
        return (LR, *own, _BY_NAME["tau"], *_COMMON)
    a, b = INNER[inner].moxco_defaults
    explore = tuple(Param(p.name, v, p.help, lo=p.lo, hi=p.hi, hi_open=p.hi_open, per_row=True)
                    for p, v in zip(inertia.PARAMS[:2], (a, b), strict=True))
    return (LR, *own, *explore, *inertia.PARAMS[2:], *goodness.PARAMS, *_COMMON)


def per_row_keys(name: str) -> tuple[str, ...]:
    return tuple(p.name for p in params_of(name) if p.per_row)


def indexed_streams(values: dict) -> bool:
    """Whether a start's numbers depend on its index in the engine's batch, for a method
    with resolved `values`: gradient noise (block `i // 4096` of its stream), a curvature
    estimator's seeded start vector and minibatches (row `i % 4096` of block `i // 4096`).
    Stacking copies of the same starts into one call (sweep cells, compare's tuning trials)
    gives copy k's start j the index `k S + j`, so such runs are made one copy per call."""
    from moxco_cli.curvature import parse_curvature

    kind, _ = parse_curvature(values.get("curvature", "exact"))
    return (float(values.get("noise_std", 0.0)) > 0 or kind != "exact"
            or int(values.get("batch", 0) or 0) > 0)


@dataclass(frozen=True)
class MethodSpec:
    """A method and the keys the user set: frozen, hashable, serializable as `label`."""

    name: str
    keys: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        declared = {p.name: p for p in params_of(self.name)}
        seen = set()
        for key, value in self.keys:
            if key not in declared:
                raise SpecError(key, _unknown_key(key, self.name, declared))
            if key in seen:
                raise SpecError(key, f"is set twice in {self.label}")
            seen.add(key)
            declared[key].check(value)

    @property
    def label(self) -> str:
        """`name` alone, or `name:key=value,...` in the order given (round-trips `parse`)."""
        if not self.keys:
            return self.name
        return self.name + ":" + ",".join(f"{k}={format_value(v)}" for k, v in self.keys)

    def __str__(self) -> str:
        return self.label

    def with_keys(self, **values) -> MethodSpec:
        merged = dict(self.keys)
        merged.update(values)
        return MethodSpec(self.name, tuple(merged.items()))


def format_value(value) -> str:
    """The shortest text that parses back to `value` (`1.0` -> `1`, `0.005` -> `0.005`)."""
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


# the restart momenta's first names (SPEC Part 1; sweep's --grid still takes them)
LEGACY_KEYS = {"alpha_restart": "restart_alpha", "beta_restart": "restart_beta"}


def _unknown_key(key: str, name: str, declared) -> str:
    if key in LEGACY_KEYS and LEGACY_KEYS[key] in declared:
        return f"is the old name of {LEGACY_KEYS[key]}; write {LEGACY_KEYS[key]}"
    return f"is not a key of {name}; its keys: {', '.join(declared)}"


def parse_spec(text: str) -> MethodSpec:
    """`"adam+moxco:lr=0.01,alpha=0.95"` -> MethodSpec; one-line SpecError otherwise."""
    name, _, rest = str(text).strip().partition(":")
    name = name.strip()
    split_name(name)
    declared = {p.name: p for p in params_of(name)}
    keys = []
    for item in (rest.split(",") if rest.strip() else []):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise SpecError("method", f"expects key=value after {name}:, got {item.strip()!r}")
        if key not in declared:
            raise SpecError(key, _unknown_key(key, name, declared))
        keys.append((key, declared[key].parse(value)))
    return MethodSpec(name, tuple(keys))


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs (see the module docstring) into spec texts."""
    items: list[str] = []
    for raw in str(text).split(","):
        item = raw.strip()
        if not item:
            continue
        eq, colon = item.find("="), item.find(":")
        starts_method = eq < 0 or (0 <= colon < eq)
        if starts_method or not items:
            items.append(item)
        else:
            items[-1] += ("," if ":" in items[-1] else ":") + item
    return items


def parse_specs(text: str) -> tuple[MethodSpec, ...]:
    """Every spec of a comma-separated list; distinct labels required."""
    specs = tuple(parse_spec(item) for item in split_specs(text))
    if not specs:
        raise SpecError("method", f"choose at least one of: {', '.join(method_names())}")
    labels = [s.label for s in specs]
    for k, label in enumerate(labels):
        if label in labels[:k]:
            raise SpecError("method", f"lists {label} twice")
    return specs


def resolve(spec: MethodSpec, base: Mapping[str, object] | None = None) -> dict[str, object]:
    """Every key of `spec`'s method: the spec's own, else `base`'s (shorthand options that
    apply to this method), else the declared default. Returns checked values."""
    base = base or {}
    own = dict(spec.keys)
    out = {}
    for p in params_of(spec.name):
        value = own[p.name] if p.name in own else base.get(p.name, p.default)
        out[p.name] = p.check(value)
    return out


def build(spec: MethodSpec, base: Mapping[str, object] | None = None):
    """The engine `Method` of `spec` (see `resolve` for `base`), labelled `spec.label`."""
    return build_from_values(spec.name, resolve(spec, base), label=spec.label)


def build_from_values(name: str, values: Mapping[str, object], label: str | None = None):
    """The engine `Method` for resolved `values` of method `name`.

    Keys declared `per_row` may hold `(N,)` arrays (one value per trajectory); the `Method`
    then knows how to rebuild itself for a subset of rows (`Method.rows`).
    """
    import numpy as np

    from moxco_cli.engine import Method
    from moxco_cli.goodness import CommitRule
    from moxco_cli.prox import make_prox

    values = dict(values)
    rows = {k: v for k, v in values.items() if np.ndim(v)}
    for key in rows:
        if key not in per_row_keys(name):
            raise SpecError(key, f"takes one value for the whole run, not one per row ({name})")
    inner, moxco = split_name(name)
    spec = INNER[inner]
    own = {p.name: values[p.name] for p in spec.params}
    lr = values["lr"]
    optimizer = spec.factory(lr, **own)
    prox_map = make_prox(values["prox"], values["prox_weight"], lr)
    baseline = BASELINES.get(name)
    if baseline is not None:
        alpha = values["alpha"]
        zero = np.zeros_like(alpha) if np.ndim(alpha) else 0.0  # heavy ball, per row too
        beta = zero if baseline.beta == "zero" else alpha
        rule = CommitRule("none", 0.85, alpha, beta, 0.1, 0.1)
    elif moxco:
        rule = CommitRule(values["commit"], values["threshold"], values["alpha"],
                          values["beta"], values["restart_alpha"], values["restart_beta"])
    else:
        rule = CommitRule("none", 0.85, 0.0, 0.0, 0.1, 0.1)
    rebuild = None
    if rows:
        def rebuild(index):
            sliced = {k: (np.asarray(v)[index] if k in rows else v) for k, v in values.items()}
            return build_from_values(name, sliced, label)

    return Method(label or name, optimizer, rule, values["tau"], prox_map,
                  restart=baseline.restart if baseline else None,
                  noise_std=values["noise_std"], curvature=values["curvature"],
                  score_every=values["score_every"], batch=values["batch"], values=values,
                  rebuild=rebuild)


def keys_help(name: str) -> str:
    """One line per key of `name`: range, default and meaning (for --help and errors)."""
    return "; ".join(p.help_line() for p in params_of(name))


def keys_overview() -> str:
    """Which keys each kind of method takes, with ranges, from the declarations (--help)."""
    def line(params):
        return ", ".join(f"{p.name} ({p.describe_range()})" for p in params)

    common = params_of("gd")
    parts = [f"every method: {line(common)}"]
    for name, spec in INNER.items():
        if spec.params:
            parts.append(f"{name}: {line(spec.params)}")
    extra = [p for p in params_of("gd+moxco") if p.name not in {q.name for q in common}]
    parts.append(f"+moxco: {line(extra)}")
    defaults = ", ".join(f"{n} {a:g},{b:g}" for n, s in INNER.items()
                         for a, b in [s.moxco_defaults])
    parts.append(f"(+moxco alpha,beta defaults: {defaults})")
    parts.append(f"baselines: {line([BASELINE_MOMENTUM])}")
    return "; ".join(parts)
