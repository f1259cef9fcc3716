"""The optimizer protocol: a pair of pure functions over explicit state (optax's shape).

    state = opt.init(theta)                 # theta: (N, d) float64
    step, state = opt.update(grad, state)   # grad: (N, d); step: (N, d), subtracted from theta

`step` is the displacement the optimizer asks for (GD: `lr * grad`); the caller applies it as
`theta_next = theta - step`, or, inside the inertia wrapper, `prox(u - step)`. State is an
immutable NamedTuple holding an explicit step `count` shared by the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np


class Optimizer(NamedTuple):
    """`init(theta) -> state`, `update(grad, state) -> (step, state)`; `lr` is the nominal rate."""

    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]
    lr: float
