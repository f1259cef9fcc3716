"""Shared shell of the closed-form 2-D landscapes: one pass of intermediates, four outputs.

A subclass computes its intermediates once (`_terms`) and turns them into `f`, the gradient
`(gx, gy)` and the Hessian entries `(hxx, hxy, hyy)`. `f`, `grad`, `hess`, `lam_max` and the
fused `evaluate` all go through the same functions, so `evaluate` equals the separate calls
bit for bit.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes.base import Landscape, Minimum, lam_max_2x2


class Planar(Landscape):
    """A 2-D landscape given by closed-form `_f`, `_grad`, `_hess` of shared `_terms`.

    `_f` and `_lam_max` must return new `(N,)` arrays; `_grad` and `_hess` entries may be
    scalars (they are written into new arrays).
    """

    dim = 2

    def _terms(self, px: np.ndarray, py: np.ndarray):
        """Intermediates shared by value and derivatives, from the coordinates `(N,)`."""
        raise NotImplementedError

    def _f(self, t) -> np.ndarray:
        raise NotImplementedError

    def _grad(self, t) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _hess(self, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _lam_max(self, t) -> np.ndarray:
        """Largest Hessian eigenvalue (`SeparablePlanar`: `max(hxx, hyy)`)."""
        return lam_max_2x2(*np.broadcast_arrays(*self._hess(t)))

    def _named_starts(self) -> tuple[tuple[str, tuple[float, float]], ...]:
        """`(name, published approximate location)` of each minimum, global first."""
        raise NotImplementedError

    @cached_property
    def minima(self) -> tuple[Minimum, ...]:  # type: ignore[override]
        """Named minima, global first: the published locations polished by Newton."""
        from landscapes._minima import named_minima

        return named_minima(self, self._named_starts())

    def _at(self, x: np.ndarray):
        x = np.asarray(x, dtype=float)
        return self._terms(x[:, 0], x[:, 1])

    def f(self, x: np.ndarray) -> np.ndarray:
        return self._f(self._at(x))

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self._assemble_grad(len(x), self._grad(self._at(x)))

    def hess(self, x: np.ndarray) -> np.ndarray:
        hxx, hxy, hyy = self._hess(self._at(x))
        h = np.empty((len(x), 2, 2))
        h[:, 0, 0], h[:, 0, 1], h[:, 1, 0], h[:, 1, 1] = hxx, hxy, hxy, hyy
        return h

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return self._lam_max(self._at(x))

    def evaluate(self, x: np.ndarray):
        t = self._at(x)
        return self._f(t), self._assemble_grad(len(x), self._grad(t)), self._lam_max(t)

    @staticmethod
    def _assemble_grad(n: int, gxy) -> np.ndarray:
        g = np.empty((n, 2))
        g[:, 0], g[:, 1] = gxy
        return g


class SeparablePlanar(Planar):
    """A `Planar` landscape `f(x, y) = g(x) + h(y)`: the Hessian is diagonal (`_hess` returns
    `hxy = 0`), so lam_max is the larger diagonal entry and `H v` two products."""

    def _lam_max(self, t) -> np.ndarray:
        hxx, _, hyy = self._hess(t)
        return np.maximum(hxx, hyy)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        hxx, _, hyy = self._hess(self._at(x))
        return np.column_stack([hxx, hyy]) * v
