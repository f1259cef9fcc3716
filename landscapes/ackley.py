"""Ackley's function (Ackley 1987): a nearly flat plateau with a deep, pointed hole.

`dim = 2` (default) is the closed-form 2-D class below, unchanged; any other `dim` is
`AckleyND`, the d-dimensional form (Back 1996).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes._nd import BoxND, check_dim, dim_param, dispatch
from landscapes._planar import Planar
from landscapes.base import Minimum
from moxco_cli.params import Param

_A, _B = 20.0, 0.2  # depth and radial decay of the exponential cone


class Ackley(Planar):
    r"""Ackley: `f(x, y) = -a exp(-b rho) - exp((cos 2 pi x + cos 2 pi y) / 2) + a + e`,
    `rho = sqrt((x^2 + y^2) / 2 + eps^2)`, `a = 20`, `b = 0.2`, `eps = smooth` (default 0).

    Domain `[-32.768, 32.768]^2`. Global minimum `f(0, 0) = 0` (for `eps = 0`). Local
    minima sit near the integer points; the eight around the origin are named by compass
    direction: `local-e` near `(0.952167, 0)` (`f ~ 2.579928`), `local-ne` near
    `(0.968478, 0.968478)` (`f ~ 3.574452`), ..., `local-se` (digits found numerically,
    polished by Newton at build time). Evaluated as
    `-a expm1(-b rho) - e expm1(-(sin^2 pi x + sin^2 pi y))`, the same function with an
    exact 0 at the origin.

    The kink. With `eps = 0`, `a (1 - exp(-b rho))` is a cone at the origin: `f` is not
    differentiable there, `||grad f|| -> a b / sqrt(2) ~ 2.83` along every ray into it, and
    the Hessian grows like `1 / rho`. Convention at exactly `rho = 0`: the derivatives are
    those of `f - a b rho`, which is twice differentiable there, i.e. gradient 0 (the
    minimum-norm subgradient, so the origin is stationary) and Hessian
    `(2 pi^2 e - a b^2 / 2) I ~ 53.26 I`. Everywhere else the derivatives are exact.
    `smooth = eps > 0` replaces the cone by a smooth cap (minimum value
    `a (1 - exp(-b eps))`, curvature `~ a b / (2 eps)` at the origin).

    Derivatives, with `v = (x, y)`, `k = a b exp(-b rho) / (2 rho)`,
    `E = exp((cos 2 pi x + cos 2 pi y) / 2)`:
    `grad = k v + pi E (sin 2 pi x, sin 2 pi y)`,
    `H = k (I - (1 + b rho) v v^T / (2 rho^2))
    + E [[2 pi^2 cos 2 pi x - pi^2 sin^2 2 pi x, -pi^2 sin 2 pi x sin 2 pi y], [..., ...]]`.

    Reference: D. H. Ackley, A Connectionist Machine for Genetic Hillclimbing, Kluwer, 1987;
    n-D form: T. Back, Evolutionary Algorithms in Theory and Practice, Oxford UP, 1996.
    """

    name = "ackley"

    PARAMS = (Param("smooth", 0.0, "smoothing eps of the cone at the minimum (0: none)", lo=0.0),
              dim_param())

    def __new__(cls, smooth: float = 0.0, dim: int = 2):
        return dispatch(cls, AckleyND, dim, smooth=smooth)

    def __init__(self, smooth: float = 0.0, dim: int = 2) -> None:
        self.smooth = _check_smooth(smooth)
        self.bounds = np.array([[-32.768, 32.768], [-32.768, 32.768]])

    @property
    def params(self) -> dict:
        return {"smooth": self.smooth, "dim": 2}

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        hxx, hxy, hyy = self._hess(self._at(x))
        v = np.asarray(v, dtype=float)
        return np.column_stack([hxx * v[:, 0] + hxy * v[:, 1], hxy * v[:, 0] + hyy * v[:, 1]])

    @property
    def f_target(self) -> float:  # type: ignore[override]
        return self.minima[0].f

    def _named_starts(self):
        edge, corner = 0.952167, 0.968478
        return (
            ("global", (0.0, 0.0)),
            ("local-e", (edge, 0.0)), ("local-ne", (corner, corner)),
            ("local-n", (0.0, edge)), ("local-nw", (-corner, corner)),
            ("local-w", (-edge, 0.0)), ("local-sw", (-corner, -corner)),
            ("local-s", (0.0, -edge)), ("local-se", (corner, -corner)),
        )

    def _terms(self, px, py):
        rho = np.sqrt(0.5 * (px * px + py * py) + self.smooth**2)
        apex = rho == 0.0  # only at the exact origin, and only when eps = 0
        inv_rho = 1.0 / np.where(apex, 1.0, rho)
        inv_rho[apex] = 0.0
        sx, sy = np.sin(np.pi * px), np.sin(np.pi * py)
        cx, cy = np.cos(np.pi * px), np.cos(np.pi * py)
        ripple = sx * sx + sy * sy  # (2 - cos 2 pi x - cos 2 pi y) / 2
        cone = _A * _B * np.exp(-_B * rho) * (0.5 * inv_rho)  # k above; 0 at the apex
        # sin 2 pi x = 2 s c and cos 2 pi x = 1 - 2 s^2: two trig calls per coordinate
        return px, py, rho, apex, inv_rho, sx, sy, cx, cy, ripple, cone, np.e * np.exp(-ripple)

    def _f(self, t):
        rho, ripple = t[2], t[9]
        return -_A * np.expm1(-_B * rho) - np.e * np.expm1(-ripple)

    def _grad(self, t):
        px, py, _, _, _, sx, sy, cx, cy, _, cone, bumps = t
        k = 2.0 * np.pi * bumps  # pi E sin 2 pi x = 2 pi E s c
        return cone * px + k * (sx * cx), cone * py + k * (sy * cy)

    def _hess(self, t):
        px, py, rho, apex, inv_rho, sx, sy, cx, cy, _, cone, bumps = t
        radial = cone * (1.0 + _B * rho) * (0.5 * inv_rho * inv_rho)
        at_apex = np.where(apex, -0.5 * _A * _B**2, 0.0)  # Hessian of the smooth part, -a b^2/2
        s2x, s2y = 2.0 * (sx * cx), 2.0 * (sy * cy)  # sin 2 pi x, sin 2 pi y
        c2x, c2y = 1.0 - 2.0 * (sx * sx), 1.0 - 2.0 * (sy * sy)  # cos 2 pi x, cos 2 pi y
        pi2 = np.pi**2
        hxx = (cone - radial * px * px + at_apex) + bumps * (2.0 * pi2 * c2x - pi2 * s2x * s2x)
        hyy = (cone - radial * py * py + at_apex) + bumps * (2.0 * pi2 * c2y - pi2 * s2y * s2y)
        hxy = -radial * px * py - bumps * pi2 * s2x * s2y
        return hxx, hxy, hyy


def _check_smooth(smooth) -> float:
    if not (np.isfinite(smooth) and smooth >= 0):
        raise ValueError(f"smoothing eps must be a number >= 0, got {smooth!r}")
    return float(smooth)


class AckleyND(BoxND):
    r"""Ackley in d dimensions: `f(x) = -a exp(-b rho) - exp(mean_i cos 2 pi x_i) + a + e`,
    `rho = sqrt(mean_i x_i^2 + eps^2)`, `a = 20`, `b = 0.2`, `eps = smooth` (default 0).

    Domain `[-32.768, 32.768]^d`. Global minimum at 0, `f = a (1 - exp(-b eps))` (0 for
    `eps = 0`; the cone at the origin and its convention are those of the 2-D class, with the
    Hessian of the smooth part `-(a b^2 / d) I` at exactly `rho = 0`). Named besides it: the
    neighbours along the first `min(d, 10)` axes, `local-x{i}+` at `t e_i` and `local-x{i}-`
    at `-t e_i`, where `t` is the local minimum of `f(t e_0)` near 1 (`t ~ 0.9522` at d = 2;
    it moves with d, and for large d (about 18 and more with eps = 0) the cone's slope beats
    the ripple and there is none: then only `global` is named). Evaluated as
    `-a expm1(-b rho) - e expm1(-(2/d) sum sin^2 pi x_i)`.

    Derivatives, with `k = a b exp(-b rho) / (d rho)`, `E = exp(mean cos 2 pi x_i)`,
    `s_i = sin 2 pi x_i`, `c_i = cos 2 pi x_i`: `grad = k x + (2 pi / d) E s`,
    `H = k I - k (1 + b rho) / (d rho^2) x x^T + E ((4 pi^2 / d) diag(c) - (4 pi^2 / d^2) s s^T)`,
    diagonal plus rank two, so `H v` costs O(d); `lam_max` is `eigvalsh` of the formed Hessian.

    Reference: T. Back, Evolutionary Algorithms in Theory and Practice, Oxford UP, 1996.
    """

    name = "ackley"
    PARAMS = Ackley.PARAMS

    def __init__(self, smooth: float = 0.0, dim: int = 2) -> None:
        super().__init__(check_dim(dim), -32.768, 32.768)
        self.smooth = _check_smooth(smooth)

    @property
    def params(self) -> dict:
        return {"smooth": self.smooth, "dim": self.dim}

    @cached_property
    def minima(self) -> tuple[Minimum, ...]:  # type: ignore[override]
        from landscapes._minima import polish_minimum

        d = self.dim
        out = [Minimum("global", np.zeros(d), float(self.f(np.zeros((1, d)))[0]))]
        # the local minimum of f(t e_0) near t = 1, if any: a grid, then Newton on f itself
        ts = np.linspace(0.5, 1.5, 1001)
        line = np.zeros((len(ts), d))
        line[:, 0] = ts
        vals = self.f(line)
        inner = np.flatnonzero((vals[1:-1] < vals[:-2]) & (vals[1:-1] < vals[2:])) + 1
        if len(inner):
            start = np.zeros(d)
            start[0] = ts[inner[0]]
            x = polish_minimum(self, start)
            if x is not None and abs(x[0]) > 0.5 and np.abs(x[1:]).max(initial=0.0) == 0.0:
                out += self.axis_minima(float(x[0]))
        return tuple(out)

    def _terms(self, x):
        x = np.asarray(x, dtype=float)
        d = self.dim
        rho = np.sqrt(np.sum(x * x, axis=1) / d + self.smooth**2)
        apex = rho == 0.0
        inv_rho = 1.0 / np.where(apex, 1.0, rho)
        inv_rho[apex] = 0.0
        s, c = np.sin(np.pi * x), np.cos(np.pi * x)
        ripple = (2.0 / d) * np.sum(s * s, axis=1)  # 1 - mean cos 2 pi x_i
        cone = _A * _B * np.exp(-_B * rho) * (inv_rho / d)  # k above; 0 at the apex
        return x, rho, apex, inv_rho, s, c, ripple, cone, np.e * np.exp(-ripple)

    def _f(self, t):
        rho, ripple = t[1], t[6]
        return -_A * np.expm1(-_B * rho) - np.e * np.expm1(-ripple)

    def _grad(self, t):
        x, _, _, _, s, c, _, cone, bumps = t
        return cone[:, None] * x + ((4.0 * np.pi / self.dim) * bumps)[:, None] * (s * c)

    def _parts(self, t):
        """`H = diag(D) - radial x x^T - ripple_k s2 s2^T`: `(D (N, d), radial, s2, ripple_k)`."""
        x, rho, apex, inv_rho, s, c, _, cone, bumps = t
        d = self.dim
        radial = cone * (1.0 + _B * rho) * (inv_rho * inv_rho / d)
        at_apex = np.where(apex, -_A * _B**2 / d, 0.0)
        s2, c2 = 2.0 * (s * c), 1.0 - 2.0 * (s * s)
        pi2 = np.pi**2
        diag = (cone + at_apex)[:, None] + ((4.0 * pi2 / d) * bumps)[:, None] * c2
        return diag, radial, s2, (4.0 * pi2 / d**2) * bumps

    def f(self, x):
        return self._f(self._terms(x))

    def grad(self, x):
        return self._grad(self._terms(x))

    def hess(self, x):
        t = self._terms(x)
        diag, radial, s2, kr = self._parts(t)
        x = t[0]
        h = -radial[:, None, None] * (x[:, :, None] * x[:, None, :]) \
            - kr[:, None, None] * (s2[:, :, None] * s2[:, None, :])
        i = np.arange(self.dim)
        h[:, i, i] += diag
        return h

    def hvp(self, x, v):
        t = self._terms(x)
        diag, radial, s2, kr = self._parts(t)
        x, v = t[0], np.asarray(v, dtype=float)
        return diag * v - (radial * np.sum(x * v, axis=1))[:, None] * x \
            - (kr * np.sum(s2 * v, axis=1))[:, None] * s2

    def evaluate(self, x):
        t = self._terms(x)
        return self._f(t), self._grad(t), self.lam_max(t[0])
