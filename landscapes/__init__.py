"""Registry of test landscapes: `get("beale")`, `get("two-wells", s=0.03)`, `names()`.

A landscape spec names one with its parameters: `parse_spec("two-wells:s=0.03")`; each
landscape class declares its parameters (`PARAMS`), which the spec and `check_params` follow.

Every landscape is a `Landscape` (see `landscapes.base`) with batched exact derivatives.
A new landscape is added by registering its class here; `tests/test_landscapes.py` walks
the registry, so it is checked (finite differences, minima, lam_max) by that alone.
"""

from __future__ import annotations

from landscapes.base import Landscape, Minimum

_REGISTRY: dict[str, str] = {
    # name -> "module:Class"; imported on first use so that listing names costs nothing.
    "beale": "landscapes.beale:Beale",
    "two-wells": "landscapes.two_wells:TwoWells",
    "quadratic": "landscapes.quadratic:Quadratic",
    "rosenbrock": "landscapes.rosenbrock:Rosenbrock",
    "himmelblau": "landscapes.himmelblau:Himmelblau",
    "rastrigin": "landscapes.rastrigin:Rastrigin",
    "ackley": "landscapes.ackley:Ackley",
    "goldstein-price": "landscapes.goldstein_price:GoldsteinPrice",
    "six-hump-camel": "landscapes.six_hump_camel:SixHumpCamel",
    "styblinski-tang": "landscapes.styblinski_tang:StyblinskiTang",
    "two-layer-net": "landscapes.two_layer_net:TwoLayerNet",
    "factorization": "landscapes.factorization:Factorization",
}


EXPRESSION = "expr"  # name of formula landscapes; not in names(): they need a formula


def names() -> list[str]:
    """Registered landscape names, in registry order."""
    return list(_REGISTRY)


def landscape_class(name: str) -> type[Landscape]:
    """The registered class of `name` (imported on first use); KeyError for unknown names."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown landscape {name!r}; choose from: {', '.join(names())}")
    import importlib

    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def check_params(name: str, params: dict) -> dict:
    """`params` checked against `name`'s declared `PARAMS` (types and ranges); raises
    `moxco_cli.params.SpecError` naming the key."""
    from moxco_cli.params import SpecError

    declared = {p.name: p for p in landscape_class(name).PARAMS}
    out = {}
    for key, value in params.items():
        if key not in declared:
            keys = ", ".join(declared) or "none"
            raise SpecError(key, f"is not a parameter of {name} (its parameters: {keys})")
        out[key] = declared[key].check(value)
    return out


def parse_spec(text: str) -> tuple[str, dict]:
    """`"two-wells:s=0.03"` -> `("two-wells", {"s": 0.03})`; `"quadratic:a=1;50;400"` for a
    list. Raises KeyError (unknown name) or `SpecError` (bad key or value)."""
    from moxco_cli.params import SpecError

    name, _, rest = str(text).strip().partition(":")
    name = name.strip()
    declared = {p.name: p for p in landscape_class(name).PARAMS}
    params = {}
    for item in (rest.split(",") if rest.strip() else []):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise SpecError("landscape", f"expects key=value after {name}:, got {item.strip()!r}")
        if key not in declared:
            keys = ", ".join(declared) or "none"
            raise SpecError(key, f"is not a parameter of {name} (its parameters: {keys})")
        if key in params:
            raise SpecError(key, "is set twice")
        params[key] = declared[key].parse(value)
    return name, params


def get(name: str, **params) -> Landscape:
    """Build the landscape registered as `name` with keyword `params`.

    `get("expr", formula=..., domain=..., minima=...)` builds a formula landscape (see
    `from_expression`), so that `get(d["name"], **d["params"])` rebuilds any `describe()` `d`.
    Raises `KeyError` (message lists the valid names) for an unknown name.
    """
    if name == EXPRESSION:
        return from_expression(**params)
    return landscape_class(name)(**params)


def check_finite(land: Landscape) -> Landscape:
    """`land` if its value, gradient and lam_max are finite on its domain and at its minima;
    else a one-line ValueError naming the first point where they are not (a parameter too
    large or too small for float64, e.g. `quadratic:a=1e308`, whose f overflows at x = 2).

    Points: for d <= 2, 33 per axis over `land.bounds` (ends included); for d > 2, the centre,
    both corners and 256 uniform points from `default_rng(0)`."""
    import numpy as np

    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    if land.dim <= 2:
        axes = [np.linspace(a, b, 33) for a, b in land.bounds]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, land.dim)
    else:
        points = np.vstack([0.5 * (lo + hi), lo, hi,
                            np.random.default_rng(0).uniform(lo, hi, (256, land.dim))])
    with np.errstate(all="ignore"):  # the minima are located here, by Newton steps
        try:
            minima = [m.x for m in land.minima]
        except (RuntimeError, ArithmeticError) as exc:
            raise ValueError(f"its minima cannot be located in float64 ({exc})") from None
        if minima:
            points = np.vstack([points, np.array(minima, dtype=float).reshape(-1, land.dim)])
        f, grad, lam = land.evaluate(points)
    finite = np.isfinite(f) & np.all(np.isfinite(grad), axis=1) & np.isfinite(lam)
    if not finite.all():
        i = int(np.argmin(finite))
        # at most six coordinates named: a dim=1000 landscape wrote a 9 KB "one line"
        shown = [f"x{j}={v:g}" for j, v in enumerate(points[i][:6])]
        where = ", ".join(shown + ([f"... {land.dim - 6} more"] if land.dim > 6 else []))
        what = next(name for name, v in (("f", f), ("the gradient", grad), ("lam_max", lam))
                    if not np.all(np.isfinite(v[i])))
        raise ValueError(f"{what} is not finite at ({where}) of its domain: a parameter is "
                         "out of what float64 can represent")
    return land


def from_expression(formula: str, domain=None, minima=None) -> Landscape:
    """A landscape from a formula in `x` (1-D) or `x, y` (2-D), with exact derivatives.

    E.g. `from_expression("(1-x)**2 + 100*(y-x**2)**2", "-2,2,-1,3")`. See
    `landscapes.expression` (imported here on first use, with sympy). Raises
    `ExpressionError` (a `ValueError`) with a one-line message for a bad formula or domain.
    """
    from landscapes.expression import from_expression as build

    return build(formula, domain=domain, minima=minima)


def __getattr__(name: str):
    # `landscapes.ExpressionError` without importing the expression module up front
    if name in ("ExpressionError", "ExpressionLandscape"):
        from landscapes import expression

        return getattr(expression, name)
    raise AttributeError(f"module 'landscapes' has no attribute {name!r}")


__all__ = [
    "EXPRESSION", "ExpressionError", "ExpressionLandscape", "Landscape", "Minimum",
    "check_finite", "check_params", "from_expression", "get", "landscape_class", "names",
    "parse_spec",
]
