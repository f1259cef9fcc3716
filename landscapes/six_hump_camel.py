"""The six-hump camel function (Dixon & Szego 1978): two global minima among six."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar


class SixHumpCamel(Planar):
    r"""Six-hump camel: `f(x, y) = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (-4 + 4 y^2) y^2`.

    Domain `[-3, 3] x [-2, 2]`. Six minima, symmetric under `(x, y) -> (-x, -y)`:
    `global-1` near `(0.089842, -0.712656)` and `global-2` near `(-0.089842, 0.712656)`,
    `f = -1.0316284535`; `local-1` near `(-1.703607, 0.796084)` and `local-2` near
    `(1.703607, -0.796084)`, `f = -0.2154638244`; `local-3` near `(-1.607105, -0.568651)` and
    `local-4` near `(1.607105, 0.568651)`, `f = 2.1042503103` (published digits, polished by
    Newton at build time). The function is even under that symmetry, so the two global
    minima have equal values up to rounding.
    `grad = (8x - 8.4x^3 + 2x^5 + y, x - 8y + 16y^3)`,
    `H = [[8 - 25.2x^2 + 10x^4, 1], [1, -8 + 48y^2]]`.

    Reference: L. C. W. Dixon and G. P. Szego, "The global optimisation problem: an
    introduction", in Towards Global Optimisation 2, North-Holland, 1978, pp. 1-15.
    """

    name = "six-hump-camel"

    def __init__(self) -> None:
        self.bounds = np.array([[-3.0, 3.0], [-2.0, 2.0]])

    @property
    def f_target(self) -> float:  # type: ignore[override]
        return self.minima[0].f

    def _named_starts(self):
        return (
            ("global-1", (0.089842, -0.712656)),
            ("global-2", (-0.089842, 0.712656)),
            ("local-1", (-1.703607, 0.796084)),
            ("local-2", (1.703607, -0.796084)),
            ("local-3", (-1.607105, -0.568651)),
            ("local-4", (1.607105, 0.568651)),
        )

    def _terms(self, px, py):
        return px, py, px * px, py * py

    def _f(self, t):
        px, py, x2, y2 = t
        return ((4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + px * py) + (4.0 * y2 - 4.0) * y2

    def _grad(self, t):
        px, py, x2, y2 = t
        return (8.0 - 8.4 * x2 + 2.0 * x2 * x2) * px + py, px + (16.0 * y2 - 8.0) * py

    def _hess(self, t):
        px, _, x2, y2 = t
        return 8.0 - 25.2 * x2 + 10.0 * x2 * x2, np.ones_like(px), 48.0 * y2 - 8.0
