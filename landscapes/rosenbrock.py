"""Rosenbrock's banana valley (Rosenbrock 1960): a curved, ill-conditioned valley.

`dim = 2` (default) is the closed-form 2-D class below, unchanged; any other `dim` is
`RosenbrockND`, the chained d-dimensional form.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes._nd import BoxND, check_dim, dim_param, dispatch
from landscapes._planar import Planar
from landscapes.base import Minimum
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

    PARAMS = (positive("b", 100.0, "valley steepness"), dim_param(lo=2))

    def __new__(cls, b: float = 100.0, dim: int = 2):
        return dispatch(cls, RosenbrockND, dim, lo=2, b=b)

    def __init__(self, b: float = 100.0, dim: int = 2) -> None:
        self.b = _check_b(b)
        self.bounds = np.array([[-2.0, 2.0], [-1.0, 3.0]])

    @property
    def params(self) -> dict:
        return {"b": self.b, "dim": 2}

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        hxx, hxy, hyy = self._hess(self._at(x))
        v = np.asarray(v, dtype=float)
        return np.column_stack([hxx * v[:, 0] + hxy * v[:, 1], hxy * v[:, 0] + hyy * v[:, 1]])

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


def _check_b(b) -> float:
    if not (np.isfinite(b) and b > 0):
        raise ValueError(f"valley steepness b must be a positive number, got {b!r}")
    return float(b)


class RosenbrockND(BoxND):
    r"""Rosenbrock in d >= 2 dimensions (the chained form):
    `f(x) = sum_{i=0}^{d-2} (1 - x_i)^2 + b (x_{i+1} - x_i^2)^2`, `b = 100` by default.

    Domain `[-2, 2]^d`. Global minimum `f(1, ..., 1) = 0`. For 4 <= d there is also a local
    minimum near `(-1, 1, ..., 1)` (Shang and Qiu 2006), named `local-1` when Newton from that
    point finds a minimum (checked at build time); other stationary points are not named.
    The Hessian is tridiagonal: with `r_i = x_{i+1} - x_i^2`,
    `H_ii = [i < d-1] (2 - 4 b r_i + 8 b x_i^2) + [i > 0] 2 b`, `H_{i,i+1} = -4 b x_i`, so
    `H v` costs O(d); `lam_max` is `eigvalsh` of the formed Hessian.

    References: H. H. Rosenbrock, The Computer Journal 3(3):175-184, 1960; Y.-W. Shang and
    Y.-H. Qiu, "A note on the extended Rosenbrock function", Evolutionary Computation
    14(1):119-126, 2006.
    """

    name = "rosenbrock"
    f_target = 0.0
    PARAMS = Rosenbrock.PARAMS

    def __init__(self, b: float = 100.0, dim: int = 2) -> None:
        super().__init__(check_dim(dim, lo=2), -2.0, 2.0)
        self.b = _check_b(b)

    @property
    def params(self) -> dict:
        return {"b": self.b, "dim": self.dim}

    @cached_property
    def minima(self) -> tuple[Minimum, ...]:  # type: ignore[override]
        from landscapes._minima import polish_minimum

        out = [Minimum("global", np.ones(self.dim), 0.0)]
        if self.dim >= 4:
            start = np.ones(self.dim)
            start[0] = -1.0
            x = polish_minimum(self, start)
            if x is not None and np.linalg.norm(x - 1.0) > 1e-3:
                out.append(Minimum("local-1", x, float(self.f(x[None])[0])))
        return tuple(out)

    @staticmethod
    def _terms(x):
        x = np.asarray(x, dtype=float)
        head = x[:, :-1]
        return x, head, 1.0 - head, x[:, 1:] - head * head  # x, x_i, 1 - x_i, r_i (i < d-1)

    def f(self, x):
        _, _, one_minus_x, valley = self._terms(x)
        return np.sum(one_minus_x * one_minus_x + self.b * (valley * valley), axis=1)

    def grad(self, x):
        x, head, one_minus_x, valley = self._terms(x)
        g = np.zeros_like(x)
        g[:, :-1] = -2.0 * one_minus_x - 4.0 * self.b * head * valley
        g[:, 1:] += 2.0 * self.b * valley
        return g

    def _bands(self, x):
        """Diagonal `(N, d)` and off-diagonal `(N, d-1)` of the tridiagonal Hessian."""
        x, head, _, valley = self._terms(x)
        b = self.b
        diag = np.zeros_like(x)
        diag[:, :-1] = 2.0 - 4.0 * b * valley + 8.0 * b * head * head
        diag[:, 1:] += 2.0 * b
        return diag, -4.0 * b * head

    def hess(self, x):
        diag, off = self._bands(x)
        n, d = diag.shape
        h = np.zeros((n, d, d))
        i = np.arange(d)
        h[:, i, i] = diag
        h[:, i[:-1], i[1:]] = off
        h[:, i[1:], i[:-1]] = off
        return h

    def hvp(self, x, v):
        diag, off = self._bands(x)
        v = np.asarray(v, dtype=float)
        out = diag * v
        out[:, :-1] += off * v[:, 1:]
        out[:, 1:] += off * v[:, :-1]
        return out
