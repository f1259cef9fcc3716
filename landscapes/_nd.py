"""Shared pieces of the d-dimensional landscapes (parameter `dim`).

`rosenbrock`, `rastrigin`, `styblinski-tang` and `ackley` take `dim` (default 2). At d = 2
the registered class is today's closed-form 2-D one (`Planar`), unchanged, so every 2-D
number stays the same bit for bit; any other d builds the class's d-dimensional twin
(`dispatch`), which computes the textbook d-dimensional formula with exact gradient, Hessian
and Hessian-vector product. The twins can also be built at d = 2 directly, which is how the
tests compare the two code paths.

Named minima at d > 2 are capped: these landscapes have up to 3^d (rastrigin in the domain:
~11^d) or 2^d (styblinski-tang) local minima, so only the global one and a few exact
neighbours are named (`NAMED_AXES` coordinates' worth; see each class).
"""

from __future__ import annotations

import numpy as np

from landscapes.base import Landscape
from moxco_cli.params import Param

MAX_DIM = 1000
NAMED_AXES = 10  # d > 2: neighbours of the global minimum are named along x0..x9 only


def dim_param(lo: int = 1) -> Param:
    return Param("dim", 2, "number of coordinates d (2: the classic 2-D function)", kind="int",
                 lo=lo, hi=MAX_DIM)


def check_dim(dim, lo: int = 1) -> int:
    """`dim` as an int in [lo, MAX_DIM], else ValueError (one line)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, float, np.integer, np.floating)) \
            or not float(dim).is_integer() or not lo <= dim <= MAX_DIM:
        raise ValueError(f"dim must be an integer in [{lo}, {MAX_DIM}], got {dim!r}")
    return int(dim)


def dispatch(cls, nd_cls, dim, lo: int = 1, **params):
    """`__new__` of a 2-D class with a `dim` parameter: itself at d = 2, else its twin."""
    d = check_dim(dim, lo)
    if d != 2:
        return nd_cls(dim=d, **params)
    return object.__new__(cls)


def newton_1d(fp, fpp, t0: float, max_iter: int = 100) -> float:
    """Newton's method on a scalar derivative `fp` with second derivative `fpp`, from `t0`."""
    t = float(t0)
    for _ in range(max_iter):
        step = fp(t) / fpp(t)
        t_new = t - step
        if t_new == t or abs(step) <= 4 * np.finfo(float).eps * (1.0 + abs(t)):
            t = t_new
            break
        t = t_new
    return t


class BoxND(Landscape):
    """A d-dimensional landscape on a box; the Hessian-vector product is the subclass's."""

    def __init__(self, dim: int, lo: float, hi: float) -> None:
        self.dim = dim
        self.bounds = np.tile([float(lo), float(hi)], (dim, 1))

    @property
    def params(self) -> dict:
        return {"dim": self.dim}

    @property
    def f_target(self) -> float:  # type: ignore[override]
        """The global minimum's value (subclasses with a closed form set it directly)."""
        return self.minima[0].f

    def evaluate(self, x: np.ndarray):
        return self.f(x), self.grad(x), self.lam_max(x)

    def axis_minima(self, t: float) -> list:
        """The named minima `local-x{i}+` at `t e_i` and `local-x{i}-` at `-t e_i` along the
        first NAMED_AXES axes, with their values."""
        from landscapes.base import Minimum

        out = []
        for i in range(min(self.dim, NAMED_AXES)):
            for sign, ti in (("+", t), ("-", -t)):
                x = np.zeros(self.dim)
                x[i] = ti
                out.append(Minimum(axis_name(i, sign), x, float(self.f(x[None])[0])))
        return out


def axis_name(i: int, sign: str = "") -> str:
    return f"local-x{i}{sign}"
