"""Ackley's function in 2-D (Ackley 1987): a nearly flat plateau with a deep, pointed hole."""

from __future__ import annotations

import numpy as np

from landscapes._planar import Planar
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

    PARAMS = (Param("smooth", 0.0, "smoothing eps of the cone at the minimum (0: none)", lo=0.0),)

    def __init__(self, smooth: float = 0.0) -> None:
        if not (np.isfinite(smooth) and smooth >= 0):
            raise ValueError(f"smoothing eps must be a number >= 0, got {smooth!r}")
        self.smooth = float(smooth)
        self.bounds = np.array([[-32.768, 32.768], [-32.768, 32.768]])

    @property
    def params(self) -> dict:
        return {"smooth": self.smooth}

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
