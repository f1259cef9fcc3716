"""Beale's function (Beale 1958), the 2-D landscape of the paper's Figures 1 and 3."""

from __future__ import annotations

import numpy as np

from landscapes.base import Evaluator, Landscape, Minimum, lam_max_2x2, lam_max_2x2_into

_C = (1.5, 2.25, 2.625)
_C_COL = np.array(_C)[:, None]  # (3, 1): broadcast over the batch
_K123 = np.array([1.0, 2.0, 3.0])[:, None]
_K26 = np.array([2.0, 6.0])[:, None]


class Beale(Landscape):
    r"""Beale: `f(x, y) = sum_{i=1..3} (c_i - x + x y^i)^2`, `c = (1.5, 2.25, 2.625)`.

    Domain `[-4.5, 4.5]^2`. Global minimum `f(3, 0.5) = 0`; saddle point at `(0, 1)`.
    The residuals `r_i = c_i + x (y^i - 1)` give exact derivatives
    `grad = sum 2 r_i grad r_i` and `H = sum 2 (grad r_i grad r_i^T + r_i hess r_i)`.
    """

    name = "beale"
    dim = 2
    f_target = 0.0

    def __init__(self) -> None:
        self.bounds = np.array([[-4.5, 4.5], [-4.5, 4.5]])

    @property
    def minima(self) -> tuple[Minimum, ...]:
        return (Minimum("global", np.array([3.0, 0.5]), 0.0),)

    @staticmethod
    def _parts(x: np.ndarray):
        """Residuals and their first and second partial derivatives, each `(N,)`, for i=1..3."""
        px, py = x[:, 0], x[:, 1]
        y2 = py * py
        y3 = y2 * py
        r = (_C[0] + px * (py - 1.0), _C[1] + px * (y2 - 1.0), _C[2] + px * (y3 - 1.0))
        rx = (py - 1.0, y2 - 1.0, y3 - 1.0)  # d r_i / dx
        ry = (px, 2.0 * px * py, 3.0 * px * y2)  # d r_i / dy
        rxy = (np.ones_like(py), 2.0 * py, 3.0 * y2)  # d2 r_i / dx dy
        ryy = (np.zeros_like(py), 2.0 * px, 6.0 * px * py)  # d2 r_i / dy2
        return r, rx, ry, rxy, ryy

    def f(self, x: np.ndarray) -> np.ndarray:
        r = self._parts(x)[0]
        return r[0] * r[0] + r[1] * r[1] + r[2] * r[2]

    def grad(self, x: np.ndarray) -> np.ndarray:
        r, rx, ry, _, _ = self._parts(x)
        g = np.empty_like(x)
        g[:, 0] = 2.0 * (r[0] * rx[0] + r[1] * rx[1] + r[2] * rx[2])
        g[:, 1] = 2.0 * (r[0] * ry[0] + r[1] * ry[1] + r[2] * ry[2])
        return g

    @staticmethod
    def _hess_entries(r, rx, ry, rxy, ryy):
        hxx = 2.0 * (rx[0] * rx[0] + rx[1] * rx[1] + rx[2] * rx[2])
        hxy = 2.0 * sum(rx[i] * ry[i] + r[i] * rxy[i] for i in range(3))
        hyy = 2.0 * sum(ry[i] * ry[i] + r[i] * ryy[i] for i in range(3))
        return hxx, hxy, hyy

    def hess(self, x: np.ndarray) -> np.ndarray:
        hxx, hxy, hyy = self._hess_entries(*self._parts(x))
        h = np.empty((len(x), 2, 2))
        h[:, 0, 0], h[:, 0, 1], h[:, 1, 0], h[:, 1, 1] = hxx, hxy, hxy, hyy
        return h

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return lam_max_2x2(*self._hess_entries(*self._parts(x)))

    def evaluator(self, n: int) -> _BealeEvaluator:
        return _BealeEvaluator(self, n)

    def evaluate(self, x: np.ndarray):
        parts = self._parts(x)
        r, rx, ry = parts[0], parts[1], parts[2]
        f = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
        g = np.empty_like(x)
        g[:, 0] = 2.0 * (r[0] * rx[0] + r[1] * rx[1] + r[2] * rx[2])
        g[:, 1] = 2.0 * (r[0] * ry[0] + r[1] * ry[1] + r[2] * ry[2])
        return f, g, lam_max_2x2(*self._hess_entries(*parts))


class _BealeEvaluator(Evaluator):
    """`Beale.evaluate` / `Beale.grad` in one pass over buffers, bit for bit.

    The three residual terms are stacked as rows of `(3, n)` arrays, so each operation of
    `Beale._parts` runs once over all three; every product and sum is the one `Beale` computes,
    in the same order (`a * b` and `b * a` round alike; `sum()`'s leading `0 +` is exact here
    because no summand can be -0.0).
    """

    def __init__(self, landscape: Beale, n: int) -> None:
        super().__init__(landscape, n)
        self._pow = np.empty((4, n))  # [1, y, y^2, y^3]
        self._pow[0] = 1.0
        self._res = np.empty((3, 3, n))  # [r, rx, ry], rows i = 1..3
        self._kx = np.empty((3, n))
        self._second = np.empty((2, 3, n))  # [rxy, ryy]
        self._second[1, 0] = 0.0  # d2 r_1 / dy2
        self._prod = np.empty((6, 3, n))
        self._cross = np.empty((2, 3, n))
        self._lam_work = np.empty((2, n))

    def _residuals(self, x: np.ndarray) -> None:
        px, py = x[:, 0], x[:, 1]
        pw = self._pow
        np.copyto(pw[1], py)
        np.multiply(py, py, out=pw[2])
        np.multiply(pw[2], py, out=pw[3])
        r, rx, ry = self._res
        np.subtract(pw[1:4], 1.0, out=rx)
        np.multiply(px, rx, out=r)
        np.add(_C_COL, r, out=r)
        np.multiply(_K123, px, out=self._kx)
        np.multiply(self._kx, pw[0:3], out=ry)  # [x, 2x y, 3x y^2]

    def grad(self, x: np.ndarray) -> np.ndarray:
        self._residuals(x)
        res, prod = self._res, self._prod[0:2]
        np.multiply(res[1:3], res[0], out=prod)  # [rx r, ry r]
        g = np.empty((2, x.shape[0]))
        np.add(prod[:, 0], prod[:, 1], out=g)
        np.add(g, prod[:, 2], out=g)
        np.multiply(g, 2.0, out=g)
        return g.T

    def evaluate(self, x: np.ndarray):
        self._residuals(x)
        res, prod, second = self._res, self._prod, self._second
        np.multiply(res[0:2], res[0], out=prod[0:2])  # [r r, rx r]
        np.multiply(res, res[2], out=prod[2:5])  # [r ry, rx ry, ry ry]
        np.multiply(res[1], res[1], out=prod[5])  # rx rx
        np.multiply(_K123, self._pow[0:3], out=second[0])  # rxy = [1, 2y, 3y^2]
        np.multiply(_K26, x[:, 0], out=self._kx[0:2])
        np.multiply(self._kx[0:2], self._pow[0:2], out=second[1, 1:3])  # ryy = [0, 2x, 6x y]
        np.multiply(second, res[0], out=self._cross)  # [r rxy, r ryy]
        np.add(prod[3:5], self._cross, out=prod[3:5])
        n = x.shape[0]
        out = np.empty((7, n))  # f, g_x, g_y, h_xy, h_yy, h_xx, lam_max
        sums = out[0:6]
        np.add(prod[:, 0], prod[:, 1], out=sums)
        np.add(sums, prod[:, 2], out=sums)
        np.multiply(sums[1:6], 2.0, out=sums[1:6])
        lam_max_2x2_into(out[5], out[3], out[4], out[6], self._lam_work)
        return out[0], out[1:3].T, out[6]
