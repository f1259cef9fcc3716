"""The optimizer protocol: a pair of pure functions over explicit state (optax's shape).

    state = opt.init(theta)                 # theta: (N, d) float64
    step, state = opt.update(grad, state)   # grad: (N, d); step: (N, d), subtracted from theta

`step` is the displacement the optimizer asks for (GD: `lr * grad`); the caller applies it as
`theta_next = theta - step`, or, inside the inertia wrapper, `prox(u - step)`. State is an
immutable NamedTuple holding an explicit step `count` shared by the whole batch.

Each inner optimizer lives in its own module and exports an `InnerSpec`: its factory, the
hyperparameters it declares (`moxco_cli.params.Param`, besides the shared `lr`) and the
exploration momenta `+moxco` uses with it by default. `moxco_cli.optim.REGISTRY` lists them;
a new inner optimizer is one module plus one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from moxco_cli.params import Param, positive

if TYPE_CHECKING:
    import numpy as np


class Optimizer(NamedTuple):
    """`init(theta) -> state`, `update(grad, state) -> (step, state)`; `lr` is the nominal rate
    (a float, or an `(N, 1)` column with one rate per trajectory)."""

    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]
    lr: float | np.ndarray


# The learning rate every inner optimizer takes (SPEC: the nominal rate, also for Adam).
LR = positive("lr", 0.005, "learning rate (the nominal rate, also for adaptive optimizers)",
              per_row=True)


@dataclass(frozen=True)
class InnerSpec:
    """A registered inner optimizer: `factory(lr, **own) -> Optimizer`.

    `params`: its own declared hyperparameters (not `lr`); `moxco_defaults`: the `(alpha,
    beta)` exploration momenta of `NAME+moxco` when the user sets none.
    """

    name: str
    factory: Callable[..., Optimizer]
    params: tuple[Param, ...] = ()
    moxco_defaults: tuple[float, float] = (0.9, 0.9)
    doc: str = ""


def learning_rate(lr) -> float | np.ndarray:
    """`lr` as a float, or per-row rates `(N,)`/`(N, 1)` as an `(N, 1)` column; must be > 0."""
    import numpy as np

    if np.ndim(lr) == 0:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        return float(lr)
    column = np.asarray(lr, dtype=float).reshape(-1, 1)
    if not np.all(column > 0):
        raise ValueError("lr must be > 0 on every row")
    return column
