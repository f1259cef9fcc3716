"""Statistics shared by the experiments: the one Wilson score interval every table uses.

scipy.stats is imported inside the function (it costs ~0.5 s), so importing this module is free.
"""

from __future__ import annotations

import math

CONFIDENCE = 0.95
P_FLOOR = 1e-300  # an exact test's p below this underflows (float64): printed as "< 1e-300"


def p_value(p: float, spec: str = ".3g") -> str:
    """A p-value as text: `format(p, spec)`, or "< 1e-300" where it underflowed to 0 (an
    exact binomial tail over thousands of discordant pairs): never a bare "0"."""
    if p == p and p < P_FLOOR:
        return f"< {P_FLOOR:g}"
    return format(p, spec)


def p_equals(p: float, spec: str = ".3g") -> str:
    """`p = 0.0123`, or `p < 1e-300` (`p_value`)."""
    text = p_value(p, spec)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


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


# ---------------------------------------------------------------- benchmarking (moxco compare)
# Runtimes are step counts: `rt (N, K)` float, the first step t in 1..T at which a run's
# f - f* reached target k, `inf` where it never did. Conventions follow COCO/IOHprofiler.


def runtimes(gap, targets):
    """`(N, K)` runtimes from per-step gaps `gap (T, N)` = f(theta_t) - f* for t = 1..T
    (row t-1), and `targets (K,)`: the first t with `gap <= target`, inf if none."""
    import numpy as np

    best = np.minimum.accumulate(np.asarray(gap, dtype=float), axis=0)  # (T, N), non-increasing
    steps = len(best)
    out = np.empty((best.shape[1], len(targets)))
    for k, target in enumerate(targets):
        before = np.count_nonzero(~(best <= target), axis=0)  # steps before the first hit
        out[:, k] = np.where(before < steps, before + 1.0, np.inf)
    return out


def ert(rt, budget: int):
    """Expected running time per target, `(K,)` from `rt (N, K)`: the sum over runs of
    `min(runtime, budget)` divided by the number of successes (inf with none)."""
    import numpy as np

    rt = np.asarray(rt, dtype=float)
    ok = np.isfinite(rt)
    spent = np.where(ok, rt, float(budget)).sum(axis=0)
    hits = ok.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hits > 0, spent / np.maximum(hits, 1), np.inf)


def bootstrap_ert(rt, budget: int, resamples, confidence: float = CONFIDENCE):
    """Percentile bootstrap interval of `ert` over starts: `resamples (B, N)` start indices
    (drawn once by the caller, so that every method is resampled the same way). Returns
    `(low (K,), high (K,))`; a resample without successes has ERT inf."""
    import numpy as np

    rt = np.asarray(rt, dtype=float)
    ok = np.isfinite(rt)
    spent = np.where(ok, rt, float(budget))
    lo, hi = np.empty(rt.shape[1]), np.empty(rt.shape[1])
    q = 100 * (1 - confidence) / 2
    for k in range(rt.shape[1]):
        s = spent[resamples, k].sum(axis=1)
        h = ok[resamples, k].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(h > 0, s / np.maximum(h, 1), np.inf)
        lo[k], hi[k] = quantile_with_inf(values, q / 100), quantile_with_inf(values, 1 - q / 100)
    return lo, hi


def quantile_with_inf(values, q: float) -> float:
    """Linear-interpolation quantile that keeps +inf entries as the largest values.

    (`numpy.quantile` would give NaN when interpolating between two infinities.)
    """
    import numpy as np

    v = np.sort(values)
    pos = q * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    if v[lo] == v[hi] or lo == hi:
        return float(v[lo])
    if math.isinf(v[hi]):
        return math.inf
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def ecdf(rt, steps):
    """Fraction of (run, target) pairs with runtime <= t, for each t in `steps`: `(len(steps),)`."""
    import numpy as np

    flat = np.sort(np.asarray(rt, dtype=float).ravel())
    return np.searchsorted(flat, np.asarray(steps, dtype=float), side="right") / len(flat)


def mcnemar(first, second) -> tuple[int, int, float]:
    """Exact McNemar test of paired successes `first (N,)`, `second (N,)` bool: `(only_first,
    only_second, two-sided p)` from `scipy.stats.binomtest` on the discordant pairs (p = 1
    without any)."""
    import numpy as np

    first, second = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    a = int(np.count_nonzero(first & ~second))
    b = int(np.count_nonzero(second & ~first))
    if a + b == 0:
        return a, b, 1.0
    from scipy.stats import binomtest

    return a, b, float(binomtest(a, a + b, 0.5).pvalue)


def performance_profile(costs, ratios):
    """Dolan-Moré profile: `costs (L, M)` (landscape x method, e.g. ERT at one target; inf =
    never solved) -> `(M, len(ratios))`: for each method, the fraction of landscapes on which
    its cost is within `ratio` times the best method's. A landscape no method solved counts
    for none."""
    import numpy as np

    costs = np.asarray(costs, dtype=float)
    best = costs.min(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.isfinite(costs) & np.isfinite(best), costs / best, np.inf)
    return (rel[:, :, None] <= np.asarray(ratios)[None, None, :]).mean(axis=0)


# ------------------------------------------------------ distributions (moxco generalize)


def bootstrap_median(values, resamples, confidence: float = CONFIDENCE,
                     omit_nan: bool = False):
    """`(median, low, high)` of `values (N,)` (+inf allowed: a diverged run) with a
    percentile bootstrap interval over `resamples (B, N)` indices (drawn once by the caller,
    so that paired samples are resampled alike). The median of an even count is the mean of
    the two middle values (inf if either is inf). With `omit_nan`, NaN entries are left out:
    of the sample and of each resample (the median of a resample's other values; a
    resample of NaN only gives NaN, which the interval's quantiles skip)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0 or (omit_nan and np.isnan(values).all()):
        return math.nan, math.nan, math.nan

    def middle(sorted_rows):
        # NaN sorts last: the valid values of a row are its first `count`
        count = (np.count_nonzero(~np.isnan(sorted_rows), axis=-1) if omit_nan
                 else np.full(sorted_rows.shape[:-1], n))
        lo_i, hi_i = np.maximum(count - 1, 0) // 2, count // 2
        lo = np.take_along_axis(sorted_rows, lo_i[..., None], axis=-1)[..., 0]
        hi = np.take_along_axis(sorted_rows, np.minimum(hi_i, n - 1)[..., None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore"):
            mid = np.where(lo == hi, lo, 0.5 * (lo + hi))
        return np.where(count > 0, mid, np.nan)

    med = float(middle(np.sort(values)))
    rows = max(1, (1 << 20) // n)  # resamples at a time: at most 8 MiB of draws in memory
    boot = np.concatenate([middle(np.sort(values[resamples[lo:lo + rows]], axis=1))
                           for lo in range(0, len(resamples), rows)])
    if omit_nan:
        boot = boot[~np.isnan(boot)]
        if len(boot) == 0:
            return med, math.nan, math.nan
    q = (1 - confidence) / 2
    return med, quantile_with_inf(boot, q), quantile_with_inf(boot, 1 - q)


def sign_test(differences) -> tuple[int, int, float]:
    """Exact two-sided sign test of paired `differences (N,)`: `(negative, positive, p)`,
    zeros dropped (`scipy.stats.binomtest`; p = 1 without any nonzero difference)."""
    import numpy as np

    d = np.asarray(differences, dtype=float)
    neg, pos = int(np.count_nonzero(d < 0)), int(np.count_nonzero(d > 0))
    if neg + pos == 0:
        return neg, pos, 1.0
    from scipy.stats import binomtest

    return neg, pos, float(binomtest(neg, neg + pos, 0.5).pvalue)


def spearman(x, y, confidence: float = CONFIDENCE):
    """Spearman's rank correlation of the pairs where both `x` and `y` are finite:
    `(rho, low, high, p, n)`; the interval from Fisher's z with the standard error
    `sqrt(1.06 / (n - 3))` (Fieller, Hartley and Pearson 1957); p from `scipy.stats.spearmanr`.
    NaN with fewer than 4 finite pairs or a constant sample."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 4 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan, math.nan, math.nan, math.nan, n
    from scipy.stats import norm, spearmanr

    res = spearmanr(x[ok], y[ok])
    rho = float(res.statistic)
    z = math.atanh(min(max(rho, -0.999999999), 0.999999999))
    half = float(norm.ppf(1 - (1 - confidence) / 2)) * math.sqrt(1.06 / (n - 3))
    return rho, math.tanh(z - half), math.tanh(z + half), float(res.pvalue), n
