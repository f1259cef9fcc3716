"""Gradient descent: `step = lr * g`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from moxco_cli.optim.base import Optimizer


class GDState(NamedTuple):
    count: int


def gd(lr: float) -> Optimizer:
    """Plain gradient descent with learning rate `lr > 0` (units of theta per unit gradient)."""
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")

    def init(theta: np.ndarray) -> GDState:
        return GDState(count=0)

    def update(grad: np.ndarray, state: GDState) -> tuple[np.ndarray, GDState]:
        return lr * grad, GDState(state.count + 1)

    return Optimizer(init, update, float(lr))
