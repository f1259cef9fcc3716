"""RMSProp (Tieleman & Hinton 2012) as a pure, batched `init`/`update` pair.

    s = rho s + (1 - rho) g^2          (s_0 = 0)
    step = lr * g / (sqrt(s) + eps)

No bias correction and no momentum of its own: inside `+moxco` the inertia wrapper supplies
the momentum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from moxco_cli.optim.base import InnerSpec, Optimizer, learning_rate
from moxco_cli.params import Param

if TYPE_CHECKING:
    import numpy as np

PARAMS = (
    Param("rho", 0.9, "decay of RMSProp's squared-gradient average", lo=0.0, hi=1.0,
          hi_open=True),
    Param("eps", 1e-8, "added to RMSProp's denominator", lo=0.0, lo_open=True),
)


class RMSPropState(NamedTuple):
    count: int  # number of updates done so far
    s: np.ndarray  # (N, d) running average of g^2


def rmsprop(lr, rho: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """RMSProp with learning rate `lr > 0` (a float or one per row) and decay `rho`."""
    import numpy as np

    lr = learning_rate(lr)
    if not (0 <= rho < 1 and eps > 0):
        raise ValueError(f"need 0 <= rho < 1 and eps > 0, got {rho}, {eps}")

    def init(theta: np.ndarray) -> RMSPropState:
        return RMSPropState(0, np.zeros_like(theta, dtype=float))

    def update(grad: np.ndarray, state: RMSPropState) -> tuple[np.ndarray, RMSPropState]:
        s = np.multiply(state.s, rho)
        s += (1.0 - rho) * (grad * grad)
        den = np.sqrt(s)
        den += eps
        step = np.multiply(grad, lr)
        step /= den
        return step, RMSPropState(state.count + 1, s)

    return Optimizer(init, update, lr)


SPEC = InnerSpec("rmsprop", rmsprop, PARAMS, moxco_defaults=(0.9, 0.9), doc="RMSProp")
