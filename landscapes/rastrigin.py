"""Rastrigin's function (Rastrigin 1974): a bowl covered by a lattice of local minima.

`dim = 2` (default) is the closed-form 2-D class below, unchanged; any other `dim` is
`RastriginND`, the d-dimensional form (Muhlenbein et al. 1991).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes._nd import BoxND, check_dim, dim_param, dispatch, newton_1d
from landscapes._planar import SeparablePlanar
from landscapes.base import Minimum

_A = 10.0  # amplitude of the cosine ripple
_T1 = 0.994959  # published digits of the 1-D local minimum next to the origin
_NEIGHBOURS = {  # compass direction -> lattice offset of the local minima around the origin
    "e": (1, 0), "ne": (1, 1), "n": (0, 1), "nw": (-1, 1),
    "w": (-1, 0), "sw": (-1, -1), "s": (0, -1), "se": (1, -1),
}


class Rastrigin(SeparablePlanar):
    r"""Rastrigin: `f(x, y) = 2A + (x^2 - A cos 2 pi x) + (y^2 - A cos 2 pi y)`, `A = 10`.

    Domain `[-5.12, 5.12]^2`. Global minimum `f(0, 0) = 0`. Near every integer point of
    the domain sits a local minimum (about 120 of them); the eight around the origin are
    named by compass direction, `local-e` near `(0.994959, 0)` (`f ~ 0.994959`),
    `local-ne` near `(0.994959, 0.994959)` (`f ~ 1.989918`), ..., `local-se`; they are the
    published 1-D digits polished by Newton at build time. Evaluated as
    `x^2 + y^2 + 2A (sin^2 pi x + sin^2 pi y)` (the same function, exact 0 at the origin).
    `grad_i = 2 x_i + 2 pi A sin 2 pi x_i`, `H = diag(2 + 4 pi^2 A cos 2 pi x_i)`.

    Reference: L. A. Rastrigin, Systems of Extremal Control, Nauka, Moscow, 1974 (2-D form);
    H. Muhlenbein, M. Schomisch and J. Born, "The parallel genetic algorithm as function
    optimizer", Parallel Computing 17:619-632, 1991 (n-D form).
    """

    name = "rastrigin"
    f_target = 0.0
    PARAMS = (dim_param(),)

    def __new__(cls, dim: int = 2):
        return dispatch(cls, RastriginND, dim)

    def __init__(self, dim: int = 2) -> None:
        self.bounds = np.array([[-5.12, 5.12], [-5.12, 5.12]])

    @property
    def params(self) -> dict:
        return {"dim": 2}

    def _named_starts(self):
        starts = [("global", (0.0, 0.0))]
        starts += [(f"local-{d}", (_T1 * i, _T1 * j)) for d, (i, j) in _NEIGHBOURS.items()]
        return tuple(starts)

    def _terms(self, px, py):
        # sin and cos of pi x only: sin 2 pi x = 2 s c and cos 2 pi x = 1 - 2 s^2
        sx, sy = np.sin(np.pi * px), np.sin(np.pi * py)
        return px, py, sx, sy, np.cos(np.pi * px), np.cos(np.pi * py)

    def _f(self, t):
        px, py, sx, sy, _, _ = t
        return (px * px + py * py) + 2.0 * _A * (sx * sx + sy * sy)

    def _grad(self, t):
        px, py, sx, sy, cx, cy = t
        k = 4.0 * np.pi * _A  # 2 pi A sin 2 pi x = 4 pi A s c
        return 2.0 * px + k * (sx * cx), 2.0 * py + k * (sy * cy)

    def _hess(self, t):
        px, _, sx, sy, _, _ = t
        curv = 4.0 * np.pi**2 * _A
        hxx = 2.0 + curv * (1.0 - 2.0 * (sx * sx))
        hyy = 2.0 + curv * (1.0 - 2.0 * (sy * sy))
        return hxx, np.zeros_like(px), hyy



def _t1() -> float:
    """The 1-D local minimum next to the origin, `t^2 + 2A sin^2 pi t`, polished by Newton."""
    return newton_1d(lambda t: 2.0 * t + 2.0 * np.pi * _A * np.sin(2.0 * np.pi * t),
                     lambda t: 2.0 + 4.0 * np.pi**2 * _A * np.cos(2.0 * np.pi * t), _T1)


class RastriginND(BoxND):
    r"""Rastrigin in d dimensions: `f(x) = A d + sum_i (x_i^2 - A cos 2 pi x_i)`, `A = 10`.

    Domain `[-5.12, 5.12]^d`. Global minimum `f(0) = 0`. Separable: near every integer point
    sits a local minimum, so the domain holds about 11^d of them; named are the global one and
    the neighbours one lattice step away along the first `min(d, 10)` axes, `local-x{i}+` at
    `t1 e_i` and `local-x{i}-` at `-t1 e_i` (`t1 ~ 0.994959`, the 1-D local minimum polished
    by Newton; `f ~ 0.994959` each, exact stationary points since f is separable). Evaluated
    as `sum x_i^2 + 2A sum sin^2 pi x_i`. `grad_i = 2 x_i + 2 pi A sin 2 pi x_i`,
    `H = diag(2 + 4 pi^2 A cos 2 pi x_i)`, so `H v` and `lam_max = max_i H_ii` cost O(d).

    Reference: H. Muhlenbein, M. Schomisch and J. Born, "The parallel genetic algorithm as
    function optimizer", Parallel Computing 17:619-632, 1991.
    """

    name = "rastrigin"
    f_target = 0.0
    PARAMS = Rastrigin.PARAMS

    def __init__(self, dim: int = 2) -> None:
        super().__init__(check_dim(dim), -5.12, 5.12)

    @cached_property
    def minima(self) -> tuple[Minimum, ...]:  # type: ignore[override]
        return (Minimum("global", np.zeros(self.dim), 0.0), *self.axis_minima(_t1()))

    # two sines: s = sin(pi x) for the value and the Hessian (sin^2 pi x = (1 - cos 2 pi x)/2),
    # t = sin(2 pi x) for the gradient, so that a gradient alone (at every query point) costs
    # one sine. Both are taken of the exact remainder r = x - round(x) in [-1/2, 1/2]
    # (sin^2 pi x = sin^2 pi r and sin 2 pi x = sin 2 pi r, periodicity): the sine of a small
    # argument costs about half (8.6 against 16 ns per element here), and the rounding error
    # of the angle pi r is at most that of pi x (it grows with the argument).
    @staticmethod
    def _reduced(x):
        x = np.asarray(x, dtype=float)
        return x, x - np.round(x)

    @classmethod
    def _sc(cls, x):
        x, r = cls._reduced(x)
        return x, np.sin(np.pi * r), np.sin(2.0 * np.pi * r)

    @staticmethod
    def _value(x, s):
        return np.sum(x * x, axis=1) + 2.0 * _A * np.sum(s * s, axis=1)

    @staticmethod
    def _gradient(x, t):
        return 2.0 * x + 2.0 * np.pi * _A * t

    @staticmethod
    def _diag(s):
        return 2.0 + 4.0 * np.pi**2 * _A * (1.0 - 2.0 * (s * s))

    def _s(self, x):
        """`(x, sin pi r)` (see `_reduced`)."""
        x, r = self._reduced(x)
        return x, np.sin(np.pi * r)

    def f(self, x):
        return self._value(*self._s(x))

    def grad(self, x):
        x, r = self._reduced(x)
        return self._gradient(x, np.sin(2.0 * np.pi * r))

    def hess(self, x):
        diag = self._diag(self._s(x)[1])
        h = np.zeros((len(diag), self.dim, self.dim))
        h[:, np.arange(self.dim), np.arange(self.dim)] = diag
        return h

    def hvp(self, x, v):
        return self._diag(self._s(x)[1]) * v

    def lam_max(self, x):
        return self._diag(self._s(x)[1]).max(axis=1)

    def scoring_terms(self, x):
        x, s, t = self._sc(x)
        diag = self._diag(s)  # the Hessian is diagonal: every HVP is one product
        return self._value(x, s), self._gradient(x, t), lambda v: diag * v

    def evaluate(self, x):
        x, s, t = self._sc(x)
        return self._value(x, s), self._gradient(x, t), self._diag(s).max(axis=1)
