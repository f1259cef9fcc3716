"""Rastrigin's function in 2-D (Rastrigin 1974): a bowl covered by a lattice of local minima."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar

_A = 10.0  # amplitude of the cosine ripple
_T1 = 0.994959  # published digits of the 1-D local minimum next to the origin
_NEIGHBOURS = {  # compass direction -> lattice offset of the local minima around the origin
    "e": (1, 0), "ne": (1, 1), "n": (0, 1), "nw": (-1, 1),
    "w": (-1, 0), "sw": (-1, -1), "s": (0, -1), "se": (1, -1),
}


class Rastrigin(Planar):
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

    def __init__(self) -> None:
        self.bounds = np.array([[-5.12, 5.12], [-5.12, 5.12]])

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

    def _lam_max(self, t):
        hxx, _, hyy = self._hess(t)
        return np.maximum(hxx, hyy)
