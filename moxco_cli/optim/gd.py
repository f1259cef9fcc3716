"""Gradient descent: `step = lr * g`."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from moxco_cli.optim.base import InnerSpec, Optimizer, learning_rate

if TYPE_CHECKING:
    import numpy as np


class GDState(NamedTuple):
    count: int


def gd(lr) -> Optimizer:
    """Plain gradient descent with learning rate `lr > 0` (units of theta per unit gradient);
    `lr` may be one rate per row, `(N,)` or `(N, 1)`."""
    lr = learning_rate(lr)

    def init(theta: np.ndarray) -> GDState:
        return GDState(count=0)

    def update(grad: np.ndarray, state: GDState) -> tuple[np.ndarray, GDState]:
        return lr * grad, GDState(state.count + 1)

    return Optimizer(init, update, lr)


SPEC = InnerSpec("gd", gd, (), moxco_defaults=(0.9, 0.9), doc="gradient descent")
