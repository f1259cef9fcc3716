"""Quadratic bowls, the exact setting of Theorem 2 (edge of stability of inertial GD)."""

from __future__ import annotations

import numpy as np

from landscapes.base import Landscape, Minimum
from moxco_cli.params import Param


class Quadratic(Landscape):
    r"""`f(x) = 0.5 x^T A x` with `A = diag(a)` (1-D: `f(x) = 0.5 a x^2`).

    Domain `[-2, 2]^d`. Minimum `f(0) = 0` when every `a_i > 0`. Hessian `A` everywhere, so
    `lam_max = max(a)` and `H v = a * v`. Theorem 2: inertial GD diverges iff
    `max(a) > 2(1+alpha)/(lr(1+2 beta))`.

    The curvatures: `a` (one number or one per coordinate; its count is d), or `dim` and
    `condition`: `a = logspace(0, log10(condition), dim)`, log-spaced from 1 to `condition`.
    `dim` alone with one number `a` repeats it (`dim=10`: ten curvatures 1). `a` given as a
    list together with `condition` must be exactly that log-spaced list (so `describe()`
    rebuilds the landscape).
    """

    name = "quadratic"
    PARAMS = (Param("a", 1.0, "curvatures, one per coordinate (the dimension is their count)",
                    kind="floats", lo=0.0, lo_open=True),
              Param("dim", None, "number of coordinates d (default: the count of a; 2 with "
                    "condition)", kind="int", lo=1, hi=1000),
              Param("condition", None, "curvatures log-spaced from 1 to this (instead of a)",
                    lo=1.0))

    def __init__(self, a: float | tuple[float, ...] | None = 1.0, dim: int | None = None,
                 condition: float | None = None) -> None:
        from landscapes._nd import check_dim

        if dim is not None:
            dim = check_dim(dim)
        if condition is not None:
            if not (np.isfinite(condition) and condition >= 1.0):
                raise ValueError(f"condition must be a number >= 1, got {condition!r}")
            spaced = np.logspace(0.0, np.log10(float(condition)), 2 if dim is None else dim)
            if a is not None and np.size(a) > 1:
                if not np.array_equal(np.asarray(a, dtype=float), spaced):
                    raise ValueError("give the curvatures a or condition (with dim), not both")
            elif a is not None and float(np.asarray(a, dtype=float).ravel()[0]) != 1.0:
                raise ValueError("give the curvatures a or condition (with dim), not both")
            a = spaced
        elif a is None:
            a = 1.0
        diag = np.atleast_1d(np.asarray(a, dtype=float))
        if diag.ndim != 1 or not np.all(np.isfinite(diag)) or not np.all(diag > 0):
            raise ValueError(f"curvatures a must be positive numbers, got {a!r}")
        if dim is not None and len(diag) != dim:
            if len(diag) != 1:
                raise ValueError(f"a lists {len(diag)} curvatures but dim is {dim}")
            diag = np.full(dim, diag[0])
        self.a = diag
        self.dim = len(diag)
        self.condition = None if condition is None else float(condition)
        self.bounds = np.tile([-2.0, 2.0], (self.dim, 1))

    @property
    def params(self) -> dict:
        return {"a": self.a.tolist() if self.dim > 1 else float(self.a[0]), "dim": self.dim,
                "condition": self.condition}

    @property
    def label_params(self) -> dict:
        if self.condition is not None:
            return {"dim": self.dim, "condition": self.condition}
        return {"a": self.params["a"]}

    @property
    def minima(self) -> tuple[Minimum, ...]:
        return (Minimum("global", np.zeros(self.dim), 0.0),)

    def f(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum(self.a * x * x, axis=1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.a * x

    def hess(self, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.diag(self.a), (len(x), self.dim, self.dim)).copy()

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(v, dtype=float)

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.a.max())
