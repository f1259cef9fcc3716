"""The 1-D escape-count landscape: a wide (flat) global well beside a narrow (sharp) one."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes.base import Evaluator, Landscape, Minimum
from moxco_cli.params import Param

_WIDE = 4.5  # denominator of the wide Gaussian well
_DEPTH = 2.5  # depth of the wide well


class TwoWells(Landscape):
    r"""`f(x) = 0.05 x^2 - 2.5 exp(-(x+1)^2 / 4.5) - exp(-(x-2)^2 / (2 s^2))`.

    Domain `[-4, 4]` (random starts are drawn from it). `s` (default 0.055) is the width of
    the sharp well. Minima, located numerically (scipy) at build time:
    `flat` near x = -0.9173 (global, f'' ~ 1.21) and `sharp` near x = 1.998 (f'' ~ 330 for
    s = 0.055); the barrier between them sits near x = 1.838. `f_target` = f(flat).
    """

    name = "two-wells"
    dim = 1
    # s: below 1e-12 the well is narrower than float64 can resolve around x = 2 (its bracket
    # 2 - 2s .. 2 + s spans a few thousand ulps) and s**2 underflows near 1e-162; above 1 the
    # "sharp" well is wider than the flat one and its bracket reaches the flat minimum
    PARAMS = (Param("s", 0.055, "width of the sharp well", lo=1e-12, hi=1.0),)

    def __init__(self, s: float = 0.055) -> None:
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"sharp-well width s must be a positive number, got {s!r}")
        self.s = float(s)
        self.bounds = np.array([[-4.0, 4.0]])

    @property
    def params(self) -> dict:
        return {"s": self.s}

    def _terms(self, x: np.ndarray):
        p = x[:, 0]
        wide = np.exp(-((p + 1.0) ** 2) / _WIDE)
        sharp = np.exp(-((p - 2.0) ** 2) / (2.0 * self.s**2))
        return p, wide, sharp

    def f(self, x: np.ndarray) -> np.ndarray:
        p, wide, sharp = self._terms(x)
        return 0.05 * p * p - _DEPTH * wide - sharp

    def _grad1(self, p, wide, sharp):
        return 0.1 * p + _DEPTH * (2.0 * (p + 1.0) / _WIDE) * wide + (p - 2.0) / self.s**2 * sharp

    def _hess1(self, p, wide, sharp):
        s2 = self.s**2
        return (
            0.1
            + _DEPTH * (2.0 / _WIDE) * wide * (1.0 - 2.0 * (p + 1.0) ** 2 / _WIDE)
            + sharp / s2 * (1.0 - (p - 2.0) ** 2 / s2)
        )

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self._grad1(*self._terms(x))[:, None]

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self._hess1(*self._terms(x))[:, None, None]

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return self._hess1(*self._terms(x))

    def evaluator(self, n: int) -> _TwoWellsEvaluator:
        return _TwoWellsEvaluator(self, n)

    def evaluate(self, x: np.ndarray):
        p, wide, sharp = self._terms(x)
        f = 0.05 * p * p - _DEPTH * wide - sharp
        return f, self._grad1(p, wide, sharp)[:, None], self._hess1(p, wide, sharp)

    @cached_property
    def minima(self) -> tuple[Minimum, ...]:
        """`flat` and `sharp`, by root-finding f' on brackets around the SPEC locations."""
        from scipy.optimize import brentq

        def fprime(t: float) -> float:
            return float(self._grad1(*self._terms(np.array([[t]]))).item())

        out = []
        for name, (lo, hi) in (("flat", (-1.5, -0.3)), ("sharp", (2.0 - 2 * self.s, 2.0 + self.s))):
            if fprime(lo) * fprime(hi) >= 0:  # a very wide "sharp" well merges or moves
                continue
            xm = brentq(fprime, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
            if self._hess1(*self._terms(np.array([[xm]])))[0] > 0:
                out.append(Minimum(name, np.array([xm]), float(self.f(np.array([[xm]]))[0])))
        return tuple(out)

    @property
    def f_target(self) -> float:  # type: ignore[override]
        return self.minimum("flat").f


class _TwoWellsEvaluator(Evaluator):
    """`TwoWells.evaluate` / `TwoWells.grad` over buffers, bit for bit (same operations, same
    order; `(.)**2` is `np.square`, as NumPy computes it)."""

    def __init__(self, landscape: TwoWells, n: int) -> None:
        super().__init__(landscape, n)
        self._s2 = landscape.s**2
        # rows: p + 1, (p + 1)^2, wide, p - 2, (p - 2)^2, sharp, two scratch rows
        self._buf = np.empty((8, n))

    def _terms(self, x: np.ndarray):
        p = x[:, 0]
        q, q2, wide, u, u2, sharp, t, _ = self._buf
        np.add(p, 1.0, out=q)
        np.square(q, out=q2)
        np.negative(q2, out=t)
        np.divide(t, _WIDE, out=t)
        np.exp(t, out=wide)
        np.subtract(p, 2.0, out=u)
        np.square(u, out=u2)
        np.negative(u2, out=t)
        np.divide(t, 2.0 * self._s2, out=t)
        np.exp(t, out=sharp)
        return p

    def _grad_into(self, p, out):
        q, _, wide, u, _, sharp, t, t2 = self._buf
        np.multiply(p, 0.1, out=out)
        np.multiply(q, 2.0, out=t)
        np.divide(t, _WIDE, out=t)
        np.multiply(t, _DEPTH, out=t)
        np.multiply(t, wide, out=t)
        np.add(out, t, out=out)
        np.divide(u, self._s2, out=t2)
        np.multiply(t2, sharp, out=t2)
        np.add(out, t2, out=out)
        return out

    def grad(self, x: np.ndarray) -> np.ndarray:
        p = self._terms(x)
        return self._grad_into(p, np.empty(x.shape[0]))[:, None]

    def evaluate(self, x: np.ndarray):
        p = self._terms(x)
        _, q2, wide, _, u2, sharp, t, t2 = self._buf
        out = np.empty((3, x.shape[0]))  # f, f', f''
        f, g, h = out
        np.multiply(p, 0.05, out=f)
        np.multiply(f, p, out=f)
        np.multiply(wide, _DEPTH, out=t)
        np.subtract(f, t, out=f)
        np.subtract(f, sharp, out=f)
        self._grad_into(p, g)
        np.multiply(wide, _DEPTH * (2.0 / _WIDE), out=h)
        np.multiply(q2, 2.0, out=t)
        np.divide(t, _WIDE, out=t)
        np.subtract(1.0, t, out=t)
        np.multiply(h, t, out=h)
        np.add(h, 0.1, out=h)
        np.divide(u2, self._s2, out=t)
        np.subtract(1.0, t, out=t)
        np.divide(sharp, self._s2, out=t2)
        np.multiply(t2, t, out=t2)
        np.add(h, t2, out=h)
        return f, g[:, None], h
