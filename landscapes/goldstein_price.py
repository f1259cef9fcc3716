"""The Goldstein-Price function (Goldstein & Price 1971): a global minimum and three local ones."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar


def _a(u):
    """`A(u) = 1 + (u + 1)^2 (3u^2 - 14u + 19) = 3u^4 - 8u^3 - 6u^2 + 24u + 20`, and A', A''."""
    value = 1.0 + (u + 1.0) ** 2 * ((3.0 * u - 14.0) * u + 19.0)
    d1 = 12.0 * (u - 2.0) * (u - 1.0) * (u + 1.0)
    d2 = (36.0 * u - 48.0) * u - 12.0
    return value, d1, d2


def _b(s):
    """`B(s) = 30 + s^2 (3s^2 - 16s + 18)`, and B', B''."""
    value = 30.0 + s * s * ((3.0 * s - 16.0) * s + 18.0)
    d1 = 12.0 * s * (s - 1.0) * (s - 3.0)
    d2 = (36.0 * s - 96.0) * s + 36.0
    return value, d1, d2


class GoldsteinPrice(Planar):
    r"""Goldstein-Price: `f(x, y) = F1 * F2` with
    `F1 = 1 + (x + y + 1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)` and
    `F2 = 30 + (2x - 3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)`.

    Domain `[-2, 2]^2`. Global minimum `f(0, -1) = 3`; local minima `f(-0.6, -0.4) = 30`,
    `f(1.8, 0.2) = 84`, `f(1.2, 0.8) = 840`, named `global`, `local-30`, `local-84`,
    `local-840`.

    Both factors depend on one linear combination each: with `u = x + y` and `s = 2x - 3y`,
    `f = A(u) B(s)`, `A(u) = 1 + (u+1)^2 (3u^2 - 14u + 19)`, `B(s) = 30 + s^2 (3s^2 - 16s + 18)`,
    `A' = 12 (u-2)(u-1)(u+1)`, `B' = 12 s (s-1)(s-3)`. Since `A, B > 0`, the stationary points
    are `u in {-1, 1, 2}` x `s in {0, 1, 3}`, and the minima are `u in {-1, 2}`, `s in {0, 3}`:
    the four points above, exactly. With `p = (1, 1)`, `q = (2, -3)`:
    `grad = A' B p + A B' q`, `H = A'' B p p^T + A' B' (p q^T + q p^T) + A B'' q q^T`.

    Reference: A. A. Goldstein and J. F. Price, "On descent from local minima",
    Mathematics of Computation 25(115):569-574, 1971.
    """

    name = "goldstein-price"
    f_target = 3.0

    def __init__(self) -> None:
        self.bounds = np.array([[-2.0, 2.0], [-2.0, 2.0]])

    def _named_starts(self):
        return (
            ("global", (0.0, -1.0)),
            ("local-30", (-0.6, -0.4)),
            ("local-84", (1.8, 0.2)),
            ("local-840", (1.2, 0.8)),
        )

    def _terms(self, px, py):
        return _a(px + py), _b(2.0 * px - 3.0 * py)

    def _f(self, t):
        (a, _, _), (b, _, _) = t
        return a * b

    def _grad(self, t):
        (a, a1, _), (b, b1, _) = t
        along_p, along_q = a1 * b, a * b1
        return along_p + 2.0 * along_q, along_p - 3.0 * along_q

    def _hess(self, t):
        (a, a1, a2), (b, b1, b2) = t
        pp, pq, qq = a2 * b, a1 * b1, a * b2
        # p p^T = [[1, 1], [1, 1]], p q^T + q p^T = [[4, -1], [-1, -6]], q q^T = [[4, -6], [-6, 9]]
        return pp + 4.0 * pq + 4.0 * qq, pp - pq - 6.0 * qq, pp - 6.0 * pq + 9.0 * qq
