"""The Styblinski-Tang function (Styblinski & Tang 1990): separable, 2^d minima.

`dim = 2` (default) is the closed-form 2-D class below, unchanged; any other `dim` is
`StyblinskiTangND`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes._nd import NAMED_AXES, BoxND, axis_name, check_dim, dim_param, dispatch, newton_1d
from landscapes._planar import SeparablePlanar
from landscapes.base import Minimum

_T_LOW, _T_HIGH = -2.903534, 2.746803  # published digits of the two 1-D minima


class StyblinskiTang(SeparablePlanar):
    r"""Styblinski-Tang: `f(x, y) = g(x) + g(y)`, `g(t) = (t^4 - 16 t^2 + 5 t) / 2`.

    Domain `[-5, 5]^2`. `g' = 2t^3 - 16t + 2.5` has three real roots; the outer two,
    `t1 ~ -2.903534` and `t2 ~ 2.746803`, are minima of `g`, so `f` has four minima:
    `global` at `(t1, t1)`, `f ~ -78.33233` (`-39.16617` per coordinate); `local-nw` at
    `(t1, t2)` and `local-se` at `(t2, t1)`, `f ~ -64.19561`; `local-ne` at `(t2, t2)`,
    `f ~ -50.05889` (published digits, polished by Newton at build time).
    `grad = (g'(x), g'(y))`, `H = diag(6x^2 - 16, 6y^2 - 16)`.

    Reference: M. A. Styblinski and T.-S. Tang, "Experiments in nonconvex optimization:
    stochastic approximation with function smoothing and simulated annealing",
    Neural Networks 3(4):467-483, 1990.
    """

    name = "styblinski-tang"
    PARAMS = (dim_param(),)

    def __new__(cls, dim: int = 2):
        return dispatch(cls, StyblinskiTangND, dim)

    def __init__(self, dim: int = 2) -> None:
        self.bounds = np.array([[-5.0, 5.0], [-5.0, 5.0]])

    @property
    def params(self) -> dict:
        return {"dim": 2}

    @property
    def f_target(self) -> float:  # type: ignore[override]
        return self.minima[0].f

    def _named_starts(self):
        return (
            ("global", (_T_LOW, _T_LOW)),
            ("local-nw", (_T_LOW, _T_HIGH)),
            ("local-se", (_T_HIGH, _T_LOW)),
            ("local-ne", (_T_HIGH, _T_HIGH)),
        )

    def _terms(self, px, py):
        return px, py, px * px, py * py

    def _f(self, t):
        px, py, x2, y2 = t
        return 0.5 * (((x2 - 16.0) * x2 + 5.0 * px) + ((y2 - 16.0) * y2 + 5.0 * py))

    def _grad(self, t):
        px, py, x2, y2 = t
        return (2.0 * x2 - 16.0) * px + 2.5, (2.0 * y2 - 16.0) * py + 2.5

    def _hess(self, t):
        px, _, x2, y2 = t
        return 6.0 * x2 - 16.0, np.zeros_like(px), 6.0 * y2 - 16.0



def _root(t0: float) -> float:
    """A minimum of `g(t) = (t^4 - 16 t^2 + 5 t) / 2`, polished by Newton from `t0`."""
    return newton_1d(lambda t: (2.0 * t * t - 16.0) * t + 2.5, lambda t: 6.0 * t * t - 16.0, t0)


class StyblinskiTangND(BoxND):
    r"""Styblinski-Tang in d dimensions: `f(x) = sum_i g(x_i)`, `g(t) = (t^4 - 16 t^2 + 5 t)/2`.

    Domain `[-5, 5]^d`. `g` has two minima, `t1 ~ -2.903534` and `t2 ~ 2.746803` (polished by
    Newton), so f has 2^d minima, one per choice of `t1` or `t2` per coordinate. Named: `global`
    at `(t1, ..., t1)`, `f = d g(t1) ~ -39.16617 d`, and the `min(d, 10)` minima one flip away,
    `local-x{i}` with `x_i = t2` (`f = (d - 1) g(t1) + g(t2)`, `~ 14.137` above the global
    one); the other 2^d - 1 - min(d, 10) are not named.
    `grad_i = 2 x_i^3 - 16 x_i + 5/2`, `H = diag(6 x_i^2 - 16)`: `H v` and `lam_max` cost O(d).

    Reference: M. A. Styblinski and T.-S. Tang, "Experiments in nonconvex optimization:
    stochastic approximation with function smoothing and simulated annealing",
    Neural Networks 3(4):467-483, 1990.
    """

    name = "styblinski-tang"
    PARAMS = StyblinskiTang.PARAMS

    def __init__(self, dim: int = 2) -> None:
        super().__init__(check_dim(dim), -5.0, 5.0)

    @cached_property
    def minima(self) -> tuple[Minimum, ...]:  # type: ignore[override]
        d = self.dim
        low, high = _root(_T_LOW), _root(_T_HIGH)
        points = [("global", np.full(d, low))]
        for i in range(min(d, NAMED_AXES)):
            x = np.full(d, low)
            x[i] = high
            points.append((axis_name(i), x))
        xs = np.stack([p for _, p in points])
        return tuple(Minimum(name, x, float(v))
                     for (name, x), v in zip(points, self.f(xs), strict=True))

    @staticmethod
    def _value(x, x2):
        return 0.5 * np.sum((x2 - 16.0) * x2 + 5.0 * x, axis=1)

    def f(self, x):
        x = np.asarray(x, dtype=float)
        return self._value(x, x * x)

    def grad(self, x):
        x = np.asarray(x, dtype=float)
        return (2.0 * (x * x) - 16.0) * x + 2.5

    @staticmethod
    def _diag(x):
        x = np.asarray(x, dtype=float)
        return 6.0 * (x * x) - 16.0

    def hess(self, x):
        diag = self._diag(x)
        h = np.zeros((len(diag), self.dim, self.dim))
        h[:, np.arange(self.dim), np.arange(self.dim)] = diag
        return h

    def hvp(self, x, v):
        return self._diag(x) * v

    def lam_max(self, x):
        return self._diag(x).max(axis=1)

    def evaluate(self, x):
        x = np.asarray(x, dtype=float)
        x2 = x * x
        return (self._value(x, x2), (2.0 * x2 - 16.0) * x + 2.5,
                (6.0 * x2 - 16.0).max(axis=1))
