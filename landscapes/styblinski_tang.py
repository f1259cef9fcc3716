"""The Styblinski-Tang function in 2-D (Styblinski & Tang 1990): separable, four minima."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar

_T_LOW, _T_HIGH = -2.903534, 2.746803  # published digits of the two 1-D minima


class StyblinskiTang(Planar):
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

    def __init__(self) -> None:
        self.bounds = np.array([[-5.0, 5.0], [-5.0, 5.0]])

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

    def _lam_max(self, t):
        hxx, _, hyy = self._hess(t)
        return np.maximum(hxx, hyy)
