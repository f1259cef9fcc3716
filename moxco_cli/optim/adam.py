"""Adam (Kingma & Ba 2015) as a pure, batched `init`/`update` pair.

    m = b1 m + (1 - b1) g
    s = b2 s + (1 - b2) g^2
    step = lr * (m / (1 - b1^(t+1))) / (sqrt(s / (1 - b2^(t+1))) + eps)

The bias correction uses the step count `t + 1` (shared by the batch), never a parameter index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from moxco_cli.optim.base import InnerSpec, Optimizer, learning_rate
from moxco_cli.params import Param

if TYPE_CHECKING:
    import numpy as np


class AdamState(NamedTuple):
    count: int  # number of updates done so far (t)
    m: np.ndarray  # (N, d) first-moment estimate
    s: np.ndarray  # (N, d) second-moment estimate


PARAMS = (
    Param("b1", 0.9, "decay of Adam's first-moment average", lo=0.0, hi=1.0, hi_open=True),
    Param("b2", 0.999, "decay of Adam's second-moment average", lo=0.0, hi=1.0, hi_open=True),
    Param("eps", 1e-8, "added to Adam's denominator", lo=0.0, lo_open=True),
)


def adam(lr, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam with nominal learning rate `lr > 0` (a float, or one rate per row `(N,)`) and the
    defaults of `PARAMS` for `b1, b2, eps` (scalars: the bias corrections are shared)."""
    import numpy as np

    lr = learning_rate(lr)
    if not (0 <= b1 < 1 and 0 <= b2 < 1 and eps > 0):
        raise ValueError(f"need 0 <= b1, b2 < 1 and eps > 0, got {b1}, {b2}, {eps}")

    def init(theta: np.ndarray) -> AdamState:
        return AdamState(0, np.zeros_like(theta, dtype=float), np.zeros_like(theta, dtype=float))

    def update(grad: np.ndarray, state: AdamState) -> tuple[np.ndarray, AdamState]:
        # The formulas of the module docstring, operation for operation and in the same
        # dtypes, written into five fresh arrays instead of a dozen temporaries (the state is
        # never mutated).
        t = state.count + 1
        m = np.multiply(state.m, b1)
        g_term = np.multiply(grad, 1.0 - b1)
        m += g_term  # b1 m + (1 - b1) g
        s = np.multiply(state.s, b2)
        np.multiply(grad, grad, out=g_term)
        g_term *= 1.0 - b2
        s += g_term  # b2 s + (1 - b2) g^2
        step = np.divide(m, 1.0 - b1**t)
        step *= lr  # lr * m_hat
        den = np.divide(s, 1.0 - b2**t)
        np.sqrt(den, out=den)
        den += eps  # sqrt(s_hat) + eps
        step /= den
        return step, AdamState(t, m, s)

    return Optimizer(init, update, lr)


SPEC = InnerSpec("adam", adam, PARAMS, moxco_defaults=(0.95, 0.5), doc="Adam (Kingma & Ba)")
