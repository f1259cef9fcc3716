"""Statistics shared by the experiments: the one Wilson score interval every table uses.

scipy.stats is imported inside the function (it costs ~0.5 s), so importing this module is free.
"""

from __future__ import annotations

import math

CONFIDENCE = 0.95


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval `(low, high)` of a binomial proportion `successes / trials`
    (`scipy.stats.binomtest(...).proportion_ci(method="wilson")`); `(nan, nan)` when there
    are no trials."""
    if trials == 0:
        return math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence,
                                                               method="wilson")
    return float(ci.low), float(ci.high)
