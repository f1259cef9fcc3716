"""Proximal operators applied after every inertial step: `theta_next = prox(u - step)`.

Each is `prox(z (N, d)) -> (N, d)` for a fixed `lr * weight`, built by `make_prox`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Prox = Callable[[np.ndarray], np.ndarray]
NAMES = ("identity", "l1", "binary")


def identity(z: np.ndarray) -> np.ndarray:
    return z


def make_prox(name: str, weight: float, lr: float) -> Prox:
    """The prox of `weight * g` with step `lr`, for `g` in:

    - `identity`: g = 0.
    - `l1`: g = ||x||_1; soft-threshold by `lr * weight`.
    - `binary`: g = sum(min(|x - 1|, |x + 1|)); move each coordinate towards the nearer of
      +1 / -1 by at most `lr * weight` (0 goes towards +1).
    """
    if name not in NAMES:
        raise ValueError(f"unknown prox {name!r}; choose from: {', '.join(NAMES)}")
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"prox weight must be >= 0, got {weight!r}")
    shrink = lr * weight
    if name == "identity" or shrink == 0.0:
        return identity
    if name == "l1":
        return lambda z: np.sign(z) * np.maximum(np.abs(z) - shrink, 0.0)

    def binary(z: np.ndarray) -> np.ndarray:
        target = np.where(z >= 0.0, 1.0, -1.0)
        return z + np.clip(target - z, -shrink, shrink)

    return binary
