"""Himmelblau's function (Himmelblau 1972): four global minima of equal value 0."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar


class Himmelblau(Planar):
    r"""Himmelblau: `f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Domain `[-5, 5]^2`. Four global minima, all with `f = 0`, named by quadrant:
    `global-ne` at `(3, 2)` (exact), `global-nw` near `(-2.805118, 3.131312)`,
    `global-sw` near `(-3.779310, -3.283186)`, `global-se` near `(3.584428, -1.848126)`
    (the last three are roots of a quartic, polished by Newton at build time). There is also
    a local maximum near `(-0.270845, -0.923039)` and four saddles between the minima.
    With the residuals `r1 = x^2 + y - 11`, `r2 = x + y^2 - 7`:
    `grad = (4 x r1 + 2 r2, 2 r1 + 4 y r2)`,
    `H = [[12 x^2 + 4 y - 42, 4 (x + y)], [4 (x + y), 4 x + 12 y^2 - 26]]`.

    Reference: D. M. Himmelblau, Applied Nonlinear Programming, McGraw-Hill, 1972.
    """

    name = "himmelblau"
    f_target = 0.0

    def __init__(self) -> None:
        self.bounds = np.array([[-5.0, 5.0], [-5.0, 5.0]])

    def _named_starts(self):
        return (
            ("global-ne", (3.0, 2.0)),
            ("global-nw", (-2.805118, 3.131312)),
            ("global-sw", (-3.779310, -3.283186)),
            ("global-se", (3.584428, -1.848126)),
        )

    def _terms(self, px, py):
        return px, py, px * px + py - 11.0, px + py * py - 7.0

    def _f(self, t):
        _, _, r1, r2 = t
        return r1 * r1 + r2 * r2

    def _grad(self, t):
        px, py, r1, r2 = t
        return 4.0 * px * r1 + 2.0 * r2, 2.0 * r1 + 4.0 * py * r2

    def _hess(self, t):
        px, py, _, _ = t
        hxy = 4.0 * (px + py)
        return 12.0 * px * px + 4.0 * py - 42.0, hxy, 4.0 * px + 12.0 * py * py - 26.0
