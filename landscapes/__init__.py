"""Registry of test landscapes: `get("beale")`, `get("two-wells", s=0.03)`, `names()`.

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
}


EXPRESSION = "expr"  # name of formula landscapes; not in names(): they need a formula


def names() -> list[str]:
    """Registered landscape names, in registry order."""
    return list(_REGISTRY)


def get(name: str, **params) -> Landscape:
    """Build the landscape registered as `name` with keyword `params`.

    `get("expr", formula=..., domain=..., minima=...)` builds a formula landscape (see
    `from_expression`), so that `get(d["name"], **d["params"])` rebuilds any `describe()` `d`.
    Raises `KeyError` (message lists the valid names) for an unknown name.
    """
    if name == EXPRESSION:
        return from_expression(**params)
    if name not in _REGISTRY:
        raise KeyError(f"unknown landscape {name!r}; choose from: {', '.join(names())}")
    import importlib

    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)(**params)


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
    "from_expression", "get", "names",
]
