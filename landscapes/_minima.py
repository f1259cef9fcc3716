"""Locating minima to machine precision with a landscape's own exact derivatives.

Built-in landscapes whose minima have no closed form start Newton's method from the
published (few-digit) locations; expression landscapes first run scipy from a grid of starts
(`search_minima`). Either way the stored location is a Newton fixed point of the exact
gradient, so `grad` there is at rounding level, not at the level of the printed digits.
"""

from __future__ import annotations

import numpy as np

from landscapes.base import Landscape, Minimum

_EPS = np.finfo(float).eps


def polish_minimum(land: Landscape, x0, *, max_iter: int = 100) -> np.ndarray | None:
    """Newton's method on the exact gradient from `x0 (d,)`; the minimum `(d,)` or `None`.

    Returns `None` when the iteration leaves the finite numbers, stalls away from a
    stationary point, or ends at a stationary point whose Hessian is not positive
    semi-definite (a saddle or a maximum).
    """
    x = np.array(x0, dtype=float).reshape(land.dim)
    best_x, best_g = x, np.inf
    for i in range(max_iter + 1):
        g = land.grad(x[None])[0]
        h = land.hess(x[None])[0]
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            return None
        g_norm = float(np.linalg.norm(g))
        if g_norm < best_g:
            best_x, best_g = x, g_norm
        if g_norm == 0.0 or i == max_iter:
            break
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        x = x - step
        if np.linalg.norm(step) <= 4 * _EPS * (1.0 + np.linalg.norm(x)):
            g_last = land.grad(x[None])[0]
            if np.all(np.isfinite(g_last)) and np.linalg.norm(g_last) < best_g:
                best_x, best_g = x, float(np.linalg.norm(g_last))
            break
    h = land.hess(best_x[None])[0]
    scale = max(1.0, float(np.abs(h).max())) if np.all(np.isfinite(h)) else np.inf
    if best_g > 1e-9 * scale * (1.0 + float(np.linalg.norm(best_x))):
        return None
    if np.linalg.eigvalsh(h)[0] < -1e-8 * scale:
        return None
    return best_x


def named_minima(land: Landscape, named_starts) -> tuple[Minimum, ...]:
    """`Minimum`s from `(name, approximate location)` pairs, each polished by Newton.

    Raises `RuntimeError` when a start does not lead to a minimum: that is a bug in the
    landscape (or in the published digits), not a user error.
    """
    out = []
    for name, start in named_starts:
        x = polish_minimum(land, start)
        if x is None:
            raise RuntimeError(f"{land.name}: no minimum found near {start} ({name})")
        out.append(Minimum(name, x, float(land.f(x[None])[0])))
    return tuple(out)


def name_by_value(land: Landscape, points) -> tuple[Minimum, ...]:
    """Name minima by increasing `f`: `global` (or `global-1..k` for ties), then `local-1..`.

    Ties are values within `1e-9 (1 + |f|)` of the smallest one; among equal values the
    order is lexicographic in the coordinates, so the naming is deterministic.
    """
    pts = [np.asarray(p, dtype=float).reshape(land.dim) for p in points]
    if not pts:
        return ()
    values = land.f(np.stack(pts))
    order = sorted(range(len(pts)), key=lambda i: (values[i], tuple(pts[i])))
    f_min = values[order[0]]
    n_global = sum(1 for v in values if v - f_min <= 1e-9 * (1.0 + abs(f_min)))
    out = []
    for rank, i in enumerate(order):
        if rank < n_global:
            name = "global" if n_global == 1 else f"global-{rank + 1}"
        else:
            name = f"local-{rank - n_global + 1}"
        out.append(Minimum(name, pts[i], float(values[i])))
    return tuple(out)


def search_minima(land: Landscape, fun_and_grad, *, per_axis: int | None = None,
                  starts: np.ndarray | None = None) -> list[np.ndarray]:
    """Local minima inside `land.bounds`, searched from a grid of `per_axis**d` starts
    (or from the given `starts (M, d)`, in their order).

    The starts are the centres of a `per_axis**d` grid of cells over the domain (centres,
    not corners, so symmetric landscapes do not start on their saddles). From each one,
    scipy's `trust-exact` (a trust-region Newton method on the exact Hessian, so it stops at
    minima rather than saddles, and stays in the start's basin) descends with
    `fun_and_grad(x (d,)) -> (float, (d,))`; the end point is polished by Newton
    (`polish_minimum`) and kept if it is a minimum inside the closed domain. Duplicates
    (closer than `1e-6` of the domain diameter) are dropped. Returns the locations in grid
    order. (L-BFGS-B was measured too: 3-20x slower here and it jumps between basins.)
    """
    import warnings

    from scipy.optimize import minimize

    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    diameter = float(np.linalg.norm(hi - lo))
    if starts is None:
        centres = (np.arange(per_axis) + 0.5) / per_axis
        axes = [a + centres * (b - a) for a, b in zip(lo, hi, strict=True)]
        starts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, land.dim)
    slack = 1e-9 * (hi - lo)

    def stop_far_outside(intermediate_result):  # e.g. sliding down an unbounded slope
        x = intermediate_result.x
        if np.any(x < 2 * lo - hi) or np.any(x > 2 * hi - lo):
            raise StopIteration

    found: list[np.ndarray] = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x0 in starts:
            try:
                res = minimize(fun_and_grad, x0, jac=True, hess=lambda p: land.hess(p[None])[0],
                               method="trust-exact", callback=stop_far_outside,
                               options={"maxiter": 200, "gtol": 1e-10})
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue
            if not np.all(np.isfinite(res.x)):
                continue
            x = polish_minimum(land, res.x)
            if x is None or np.any(x < lo - slack) or np.any(x > hi + slack):
                continue
            if all(np.linalg.norm(x - y) > 1e-6 * diameter for y in found):
                found.append(x)
    return found
