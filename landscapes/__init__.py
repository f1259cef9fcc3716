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
}


def names() -> list[str]:
    """Registered landscape names, in registry order."""
    return list(_REGISTRY)


def get(name: str, **params) -> Landscape:
    """Build the landscape registered as `name` with keyword `params`.

    Raises `KeyError` (message lists the valid names) for an unknown name.
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown landscape {name!r}; choose from: {', '.join(names())}")
    import importlib

    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)(**params)


__all__ = ["Landscape", "Minimum", "get", "names"]
