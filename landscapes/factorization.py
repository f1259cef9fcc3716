"""Scalar factorization `0.5 (w_1 w_2 ... w_depth - 1)^2`: which minimum does an optimizer pick?

Every point with `prod w = 1` is a global minimum, and their sharpness differs: there the
Hessian is `g g^T` with `g_i = prod_{j != i} w_j`, so `lam_max = sum_i 1/w_i^2`, smallest
(= depth) where every `|w_i| = 1`. GD with rate lr can only settle where `lam_max <= 2/lr`,
the classic toy of implicit sharpness selection (SPEC Part 2).
"""

from __future__ import annotations

import itertools

import numpy as np

from landscapes.base import Landscape, Minimum
from moxco_cli.params import Param

MAX_DEPTH = 8


class Factorization(Landscape):
    r"""`f(w) = 0.5 (prod_i w_i - 1)^2` on `[-3, 3]^depth`.

    With `p = prod_i w_i`, `g_i = prod_{j != i} w_j` and `C_ik = prod_{j != i, k} w_j`
    (i != k; `C_ii = 0`): `grad = (p - 1) g`, `H = g g^T + (p - 1) C`, `H v = g (g . v) + (p -
    1) C v`. The products leave indices out by multiplying ones in their place (never by
    dividing, so `w_i = 0` is fine). Global minima: the whole set `p = 1`, value 0; named are
    its flattest points, `|w_i| = 1` with an even number of negative signs (`flat++`,
    `flat--`, ... by sign), lam_max = depth there. They are not isolated: the Hessian is
    singular along the set.
    """

    name = "factorization"
    f_target = 0.0
    PARAMS = (Param("depth", 2, "number of factors (the dimension d)", kind="int", lo=1,
                    hi=MAX_DEPTH),)

    def __init__(self, depth: int = 2) -> None:
        try:
            depth = self.PARAMS[0].check(depth)
        except Exception as exc:  # SpecError: one line naming the key
            raise ValueError(str(exc)) from None
        self.depth = self.dim = depth
        self.bounds = np.tile([-3.0, 3.0], (depth, 1))
        eye = np.eye(depth, dtype=bool)
        self._drop1 = eye  # (i, j): j == i
        self._drop2 = eye[:, None, :] | eye[None, :, :]  # (i, k, j): j in {i, k}

    @property
    def params(self) -> dict:
        return {"depth": self.depth}

    @property
    def minimum_set(self) -> str | None:
        """The global minima: the point w = 1 at depth 1, else the whole set prod w = 1."""
        return None if self.depth == 1 else "every point with prod w = 1"

    @property
    def minima(self) -> tuple[Minimum, ...]:
        out = []
        for signs in itertools.product((1.0, -1.0), repeat=self.depth):
            if signs.count(-1.0) % 2 == 0:
                name = "flat" + "".join("+" if s > 0 else "-" for s in signs)
                out.append(Minimum(name, np.array(signs), 0.0))
        return tuple(out)

    def _g(self, x):
        """`(p (N,), g (N, d))`."""
        x = np.asarray(x, dtype=float)
        p = np.prod(x, axis=1)
        g = np.prod(np.where(self._drop1[None], 1.0, x[:, None, :]), axis=2)
        return p, g

    def _c(self, x):
        """`C (N, d, d)`: `prod_{j != i, k} w_j` off the diagonal, 0 on it."""
        x = np.asarray(x, dtype=float)
        c = np.prod(np.where(self._drop2[None], 1.0, x[:, None, None, :]), axis=3)
        c[:, np.arange(self.dim), np.arange(self.dim)] = 0.0
        return c

    def f(self, x):
        p = np.prod(np.asarray(x, dtype=float), axis=1)
        return 0.5 * (p - 1.0) ** 2

    def grad(self, x):
        p, g = self._g(x)
        return (p - 1.0)[:, None] * g

    def hess(self, x):
        p, g = self._g(x)
        return g[:, :, None] * g[:, None, :] + (p - 1.0)[:, None, None] * self._c(x)

    def hvp(self, x, v):
        v = np.asarray(v, dtype=float)
        p, g = self._g(x)
        cv = np.einsum("nik,nk->ni", self._c(x), v)
        return g * np.sum(g * v, axis=1)[:, None] + (p - 1.0)[:, None] * cv

    def metrics(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Per-run metrics at final points `x (N, d)`: `final_lam_max` (exact) and
        `product` (`prod w`, 1 on the minima)."""
        x = np.asarray(x, dtype=float)
        return {"final_lam_max": self.lam_max(x), "product": np.prod(x, axis=1)}

    METRICS = ("final_lam_max", "product")
