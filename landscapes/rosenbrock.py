"""Rosenbrock's banana valley (Rosenbrock 1960): a curved, ill-conditioned 2-D valley."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar
from moxco_cli.params import positive


class Rosenbrock(Planar):
    r"""Rosenbrock: `f(x, y) = (1 - x)^2 + b (y - x^2)^2`, `b = 100` by default.

    Domain `[-2, 2] x [-1, 3]`. Global minimum `f(1, 1) = 0`, the only stationary point; the
    Hessian there is `[[2 + 8b, -4b], [-4b, 2b]]` (`lam_max ~ 1001.6` for `b = 100`), so the
    valley floor is flat along it and steep across it. `b > 0` sets that steepness.
    Exact derivatives: `grad = (-2(1 - x) - 4 b x (y - x^2), 2 b (y - x^2))`,
    `H = [[2 - 4 b (y - x^2) + 8 b x^2, -4 b x], [-4 b x, 2 b]]`.

    Reference: H. H. Rosenbrock, "An automatic method for finding the greatest or least
    value of a function", The Computer Journal 3(3):175-184, 1960.
    """

    name = "rosenbrock"
    f_target = 0.0

    PARAMS = (positive("b", 100.0, "valley steepness"),)

    def __init__(self, b: float = 100.0) -> None:
        if not (np.isfinite(b) and b > 0):
            raise ValueError(f"valley steepness b must be a positive number, got {b!r}")
        self.b = float(b)
        self.bounds = np.array([[-2.0, 2.0], [-1.0, 3.0]])

    @property
    def params(self) -> dict:
        return {"b": self.b}

    def _named_starts(self):
        return (("global", (1.0, 1.0)),)

    def _terms(self, px, py):
        return px, 1.0 - px, py - px * px  # x, 1 - x, and the valley residual y - x^2

    def _f(self, t):
        _, one_minus_x, valley = t
        return one_minus_x * one_minus_x + self.b * (valley * valley)

    def _grad(self, t):
        px, one_minus_x, valley = t
        return -2.0 * one_minus_x - 4.0 * self.b * px * valley, 2.0 * self.b * valley

    def _hess(self, t):
        px, _, valley = t
        b = self.b
        return 2.0 - 4.0 * b * valley + 8.0 * b * px * px, -4.0 * b * px, np.full_like(px, 2 * b)
