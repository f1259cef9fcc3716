"""The goodness score (paper section 5.2) and the commit rule that acts on it.

    G = exp(-tau * (||grad f||^2 + max(lam_max - 1/eta_eff, 0) + |f - f_target|))
    1/eta_eff = 2 (1 + alpha) / (lr (1 + 2 beta))          (Theorem 2's edge of stability)

`alpha, beta` are the exploration values, constant for the run; a non-finite G counts as 0.
Every hyperparameter may be a scalar or one value per trajectory (`(N,)` arrays): the same
IEEE operations either way, so a row's numbers do not depend on its neighbours.

`goodness` and `CommitRule.apply` are the definitions; the engine's generic path runs them
as they are, and its fused path (`moxco_cli.engine._Goodness`, `_Commit`) is an optimization
that `tests/test_engine.py` holds equal to the generic path, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from moxco_cli.params import Param, positive

if TYPE_CHECKING:
    import numpy as np

COMMIT_MODES = ("latch", "reversible", "none")

# The keys `+moxco` adds for scoring and committing (declared once; see moxco_cli.methods).
PARAMS = (
    Param("threshold", 0.85, "goodness above which a run commits", lo=0.0, hi=1.0,
          lo_open=True, hi_open=True, per_row=True),
    positive("tau", 0.15, "goodness temperature", per_row=True),
    Param("commit", "latch", "commit rule: latch (first time above threshold, for good), "
          "reversible (restart momenta only while above), none (never)", kind="choice",
          choices=COMMIT_MODES),
)


def inv_eta_eff(lr, alpha, beta):
    """Theorem 2's curvature bound `2(1+alpha)/(lr(1+2 beta))` (units of 1/lr); scalars or
    `(N,)` arrays. An lr near the float64 limit overflows the denominator to inf, and the
    bound to its limit 0, without a warning (an array of such lrs warned on stderr)."""
    import numpy as np

    with np.errstate(over="ignore"):
        return 2.0 * (1.0 + alpha) / (lr * (1.0 + 2.0 * beta))


def goodness(f: np.ndarray, grad_sq: np.ndarray, lam_max: np.ndarray, *, f_target: float,
             inv_eta, tau) -> np.ndarray:
    """Goodness `(N,)` in [0, 1] from f `(N,)`, `||grad||^2` `(N,)` and lam_max `(N,)`;
    `inv_eta`, `tau` scalars or `(N,)`."""
    import numpy as np

    with np.errstate(all="ignore"):
        penalty = grad_sq + np.maximum(lam_max - inv_eta, 0.0) + np.abs(f - f_target)
        g = np.exp(-tau * penalty)
    return np.where(np.isfinite(g), g, 0.0)


def _column(value):
    """A per-row `(N,)` value as an `(N, 1)` column (scalars unchanged)."""
    import numpy as np

    return value if np.ndim(value) == 0 else np.asarray(value, dtype=float).reshape(-1, 1)


@dataclass(frozen=True)
class CommitRule:
    """When to drop the momenta from exploration `(alpha, beta)` to `restart` values.

    - `latch`: from the first step with `G > threshold` on, use `restart` (per trajectory).
    - `reversible`: use `restart` exactly on the steps where `G > threshold`.
    - `none`: never commit.

    `threshold`, `alpha`, `beta`, `alpha_restart`, `beta_restart` are scalars or one value
    per trajectory (`(N,)`).
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
        import numpy as np

        return bool(np.all(np.equal(self.beta, 0.0))
                    and (self.mode == "none" or np.all(np.equal(self.beta_restart, 0.0))))

    @property
    def per_row(self) -> bool:
        import numpy as np

        return any(np.ndim(v) for v in (self.threshold, self.alpha, self.beta,
                                        self.alpha_restart, self.beta_restart))

    def rows(self, index) -> CommitRule:
        """The rule for the trajectories `index` (a slice or index array) of a per-row rule."""
        import numpy as np

        def take(v):
            return v if np.ndim(v) == 0 else np.asarray(v)[index]

        return CommitRule(self.mode, take(self.threshold), take(self.alpha), take(self.beta),
                          take(self.alpha_restart), take(self.beta_restart))

    def apply(self, good: np.ndarray, latched: np.ndarray):
        """Momenta for this step from goodness `(N,)` and the latch state `(N,)` bool.

        Returns `(a (N, 1), b (N, 1), committed (N,) bool)`; `committed` is the new latch
        state for `latch`, this step's decision for `reversible`, all False for `none`.
        """
        import numpy as np

        if self.mode == "none":
            committed = np.zeros_like(latched)
        elif self.mode == "latch":
            committed = latched | (good > self.threshold)
        else:
            committed = good > self.threshold
        c = committed[:, None]
        a = np.where(c, _column(self.alpha_restart), _column(self.alpha))
        b = np.where(c, _column(self.beta_restart), _column(self.beta))
        return a, b, committed
