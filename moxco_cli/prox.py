"""Proximal operators applied after every inertial step: `theta_next = prox(u - step)`.

Each is `prox(z (N, d)) -> (N, d)` for a fixed `lr * weight`, built by `make_prox`; `lr` may
be one rate per row (`(N,)` or `(N, 1)`), so that the shrinkage follows each row's step size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from moxco_cli.params import Param

if TYPE_CHECKING:
    import numpy as np

Prox = Callable[["np.ndarray"], "np.ndarray"]
NAMES = ("identity", "l1", "binary")

PARAMS = (
    Param("prox", "identity", "proximal map after each step: identity | l1 (soft-threshold) | "
          "binary (pull towards +-1)", kind="choice", choices=NAMES),
    Param("prox_weight", 0.0, "regularizer weight of prox", lo=0.0),
)


def identity(z: np.ndarray) -> np.ndarray:
    return z


def make_prox(name: str, weight: float, lr) -> Prox:
    """The prox of `weight * g` with step `lr`, for `g` in:

    - `identity`: g = 0.
    - `l1`: g = ||x||_1; soft-threshold by `lr * weight`.
    - `binary`: g = sum(min(|x - 1|, |x + 1|)); move each coordinate towards the nearer of
      +1 / -1 by at most `lr * weight` (0 goes towards +1).
    """
    import numpy as np

    if name not in NAMES:
        raise ValueError(f"unknown prox {name!r}; choose from: {', '.join(NAMES)}")
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"prox weight must be >= 0, got {weight!r}")
    if np.ndim(lr):
        lr = np.asarray(lr, dtype=float).reshape(-1, 1)
    shrink = lr * weight
    if name == "identity" or np.all(np.equal(shrink, 0.0)):
        return identity
    if name == "l1":
        return lambda z: np.sign(z) * np.maximum(np.abs(z) - shrink, 0.0)

    def binary(z: np.ndarray) -> np.ndarray:
        target = np.where(z >= 0.0, 1.0, -1.0)
        return z + np.clip(target - z, -shrink, shrink)

    return binary
