"""The MoXCo inertia wrapper (paper eqs 1-3) around any inner optimizer.

    d_t  = theta_t - theta_{t-1}          (theta_{-1} = theta_0: zero initial velocity)
    u_t  = theta_t + a_t d_t              (where the step is taken from)
    v_t  = theta_t + b_t d_t              (where the gradient is queried)
    theta_{t+1} = prox(u_t - Delta_t),    Delta_t = inner optimizer's step for grad f(v_t)

The wrapper never looks inside the inner optimizer's state. `a_t`, `b_t` are `(N, 1)` arrays
(or scalars) chosen each step by the commit rule; `a = b = 0` is the inner optimizer itself,
bit for bit; with GD inside, `b = 0` is Polyak's heavy ball and `a = b` is Nesterov.

This is the definition: the engine's generic path (`moxco_cli.engine`, `path="generic"`)
runs this wrapper as it is; the fused path runs the same operations in the same order over
preallocated columns-first buffers, and `tests/test_engine.py` holds the two equal, bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from moxco_cli.optim.base import Optimizer
from moxco_cli.params import momentum
from moxco_cli.prox import Prox, identity

if TYPE_CHECKING:
    import numpy as np

# The momenta `+moxco` adds (declared once; see moxco_cli.methods). The exploration defaults
# depend on the inner optimizer (`InnerSpec.moxco_defaults`); these are GD's.
PARAMS = (
    momentum("alpha", 0.9, "exploration momentum of the step origin u (default: the inner "
             "optimizer's; gd 0.9, adam 0.95, rmsprop 0.9)"),
    momentum("beta", 0.9, "exploration momentum of the gradient query point v (default: the "
             "inner optimizer's; gd 0.9, adam 0.5, rmsprop 0.9)"),
    momentum("restart_alpha", 0.1, "alpha after commit"),
    momentum("restart_beta", 0.1, "beta after commit"),
)


class InertiaState(NamedTuple):
    inner: Any  # the wrapped optimizer's state, opaque here
    prev: np.ndarray  # (N, d) theta_{t-1}


class Inertia(NamedTuple):
    """`init(theta)`, `query(theta, state, b) -> v`, `update(theta, grad_v, state, a)`."""

    init: Any
    query: Any
    update: Any


def inertia(inner: Optimizer, prox: Prox = identity) -> Inertia:
    """Wrap `inner` with the two-momentum inertia of MoXCo and a proximal map."""

    def init(theta: np.ndarray) -> InertiaState:
        return InertiaState(inner.init(theta), theta.copy())

    def query(theta: np.ndarray, state: InertiaState, b) -> np.ndarray:
        return theta + b * (theta - state.prev)

    def update(theta: np.ndarray, grad_v: np.ndarray, state: InertiaState, a):
        step, inner_state = inner.update(grad_v, state.inner)
        u = theta + a * (theta - state.prev)
        return prox(u - step), InertiaState(inner_state, theta)

    return Inertia(init, query, update)
