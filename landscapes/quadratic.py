"""Quadratic bowls, the exact setting of Theorem 2 (edge of stability of inertial GD)."""

from __future__ import annotations

import numpy as np

from landscapes.base import Landscape, Minimum
from moxco_cli.params import Param


class Quadratic(Landscape):
    r"""`f(x) = 0.5 x^T A x` with `A = diag(a)` (1-D: `f(x) = 0.5 a x^2`).

    Domain `[-2, 2]^d`. Minimum `f(0) = 0` when every `a_i > 0`. Hessian `A` everywhere, so
    `lam_max = max(a)`. Theorem 2: inertial GD diverges iff `max(a) > 2(1+alpha)/(lr(1+2 beta))`.
    """

    name = "quadratic"
    PARAMS = (Param("a", 1.0, "curvatures, one per coordinate (the dimension is their count)",
                    kind="floats", lo=0.0, lo_open=True),)

    def __init__(self, a: float | tuple[float, ...] = 1.0) -> None:
        diag = np.atleast_1d(np.asarray(a, dtype=float))
        if diag.ndim != 1 or not np.all(np.isfinite(diag)) or not np.all(diag > 0):
            raise ValueError(f"curvatures a must be positive numbers, got {a!r}")
        self.a = diag
        self.dim = len(diag)
        self.bounds = np.tile([-2.0, 2.0], (self.dim, 1))

    @property
    def params(self) -> dict:
        return {"a": self.a.tolist() if self.dim > 1 else float(self.a[0])}

    @property
    def minima(self) -> tuple[Minimum, ...]:
        return (Minimum("global", np.zeros(self.dim), 0.0),)

    def f(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum(self.a * x * x, axis=1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.a * x

    def hess(self, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.diag(self.a), (len(x), self.dim, self.dim)).copy()

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.a.max())
