"""The goodness score (paper section 5.2) and the commit rule that acts on it.

    G = exp(-tau * (||grad f||^2 + max(lam_max - 1/eta_eff, 0) + |f - f_target|))
    1/eta_eff = 2 (1 + alpha) / (lr (1 + 2 beta))          (Theorem 2's edge of stability)

`alpha, beta` are the exploration values, constant for the run; a non-finite G counts as 0.

`goodness` and `CommitRule.apply` are the readable definitions; the engine's `_Goodness` and
`_Commit` compute the same numbers in place, and `tests/test_engine.py` checks them equal, bit
for bit, to the reference engine built on these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMMIT_MODES = ("latch", "reversible", "none")


def inv_eta_eff(lr: float, alpha: float, beta: float) -> float:
    """Theorem 2's curvature bound `2(1+alpha)/(lr(1+2 beta))` (units of 1/lr)."""
    return 2.0 * (1.0 + alpha) / (lr * (1.0 + 2.0 * beta))


def goodness(
    f: np.ndarray, grad_sq: np.ndarray, lam_max: np.ndarray, *, f_target: float,
    inv_eta: float, tau: float,
) -> np.ndarray:
    """Goodness `(N,)` in [0, 1] from f `(N,)`, `||grad||^2` `(N,)` and lam_max `(N,)`."""
    with np.errstate(all="ignore"):
        penalty = grad_sq + np.maximum(lam_max - inv_eta, 0.0) + np.abs(f - f_target)
        g = np.exp(-tau * penalty)
    return np.where(np.isfinite(g), g, 0.0)


@dataclass(frozen=True)
class CommitRule:
    """When to drop the momenta from exploration `(alpha, beta)` to `restart` values.

    - `latch`: from the first step with `G > threshold` on, use `restart` (per trajectory).
    - `reversible`: use `restart` exactly on the steps where `G > threshold`.
    - `none`: never commit.
    """

    mode: str = "latch"
    threshold: float = 0.85
    alpha: float = 0.0
    beta: float = 0.0
    alpha_restart: float = 0.1
    beta_restart: float = 0.1

    def __post_init__(self) -> None:
        if self.mode not in COMMIT_MODES:
            raise ValueError(f"unknown commit mode {self.mode!r}; choose from {COMMIT_MODES}")

    @property
    def beta_always_zero(self) -> bool:
        """True when the query point v always equals theta (the gradient can be shared)."""
        return self.beta == 0.0 and (self.mode == "none" or self.beta_restart == 0.0)

    def apply(self, good: np.ndarray, latched: np.ndarray):
        """Momenta for this step from goodness `(N,)` and the latch state `(N,)` bool.

        Returns `(a (N, 1), b (N, 1), committed (N,) bool)`; `committed` is the new latch
        state for `latch`, this step's decision for `reversible`, all False for `none`.
        """
        if self.mode == "none":
            committed = np.zeros_like(latched)
        elif self.mode == "latch":
            committed = latched | (good > self.threshold)
        else:
            committed = good > self.threshold
        c = committed[:, None]
        a = np.where(c, self.alpha_restart, self.alpha)
        b = np.where(c, self.beta_restart, self.beta)
        return a, b, committed
