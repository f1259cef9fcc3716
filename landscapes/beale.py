"""Beale's function (Beale 1958), the 2-D landscape of the paper's Figures 1 and 3."""

from __future__ import annotations

import numpy as np

from landscapes.base import Landscape, Minimum, lam_max_2x2

_C = (1.5, 2.25, 2.625)


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

    def evaluate(self, x: np.ndarray):
        parts = self._parts(x)
        r, rx, ry = parts[0], parts[1], parts[2]
        f = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
        g = np.empty_like(x)
        g[:, 0] = 2.0 * (r[0] * rx[0] + r[1] * rx[1] + r[2] * rx[2])
        g[:, 1] = 2.0 * (r[0] * ry[0] + r[1] * ry[1] + r[2] * ry[2])
        return f, g, lam_max_2x2(*self._hess_entries(*parts))
