"""`moxco_cli.stats`: every statistic against a hand computation on a small case."""

import math

import numpy as np
import pytest

from moxco_cli import stats

INF = math.inf


def test_runtimes_are_first_steps_where_the_gap_reaches_each_target():
    # two runs, T = 4 steps: gaps of theta_1..theta_4
    gap = np.array([[5.0, 0.5], [0.9, 0.05], [2.0, 0.2], [0.009, 0.2]])
    rt = stats.runtimes(gap, [1.0, 0.1, 0.01])
    np.testing.assert_array_equal(rt, [[2, 4, 4], [1, 2, INF]])


def test_ert_is_spent_steps_over_successes_with_failures_charged_the_budget():
    rt = np.array([[2, 4, 4], [1, 2, INF], [INF, INF, INF]])
    np.testing.assert_allclose(stats.ert(rt, 10), [(2 + 1 + 10) / 2, (4 + 2 + 10) / 2,
                                                   (4 + 10 + 10) / 1])
    assert stats.ert(np.full((3, 1), INF), 10)[0] == INF


def test_bootstrap_ert_uses_the_given_resamples():
    rt = np.array([[2.0], [INF], [4.0]])
    resamples = np.array([[0, 0, 0], [1, 1, 1], [0, 1, 2], [2, 2, 0]])
    # ERTs of the four resamples: 2, inf, (2+10+4)/2 = 8, (4+4+2)/3 = 10/3
    lo, hi = stats.bootstrap_ert(rt, 10, resamples, confidence=0.5)
    values = np.array([2.0, 10 / 3, 8.0, INF])  # sorted
    assert lo[0] == pytest.approx(values[0] + 0.75 * (values[1] - values[0]))
    assert hi[0] == INF  # the 75th percentile lies between 8 and inf


def test_ecdf_counts_run_target_pairs_reached_by_each_step():
    rt = np.array([[2, 4, 4], [1, 2, INF]])
    np.testing.assert_allclose(stats.ecdf(rt, [1, 2, 3, 4, 100]),
                               [1 / 6, 3 / 6, 3 / 6, 5 / 6, 5 / 6])


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs():
    a = np.array([True] * 8 + [False] * 2 + [True] * 5 + [False] * 5)
    b = np.array([False] * 8 + [True] * 2 + [True] * 5 + [False] * 5)
    only_a, only_b, p = stats.mcnemar(a, b)
    assert (only_a, only_b) == (8, 2)
    # two-sided exact: P(X <= 2) + P(X >= 8) for X ~ Bin(10, 1/2) = 2 * 56 / 1024
    assert p == pytest.approx(112 / 1024)
    assert stats.mcnemar(a, a) == (0, 0, 1.0)


def test_performance_profile_is_the_fraction_of_landscapes_within_each_ratio():
    costs = np.array([[10.0, 20.0, INF], [30.0, 15.0, 60.0]])
    prof = stats.performance_profile(costs, [1.0, 2.0, 4.0])
    np.testing.assert_allclose(prof, [[0.5, 1.0, 1.0], [0.5, 1.0, 1.0], [0.0, 0.0, 0.5]])


def test_quantile_with_inf_keeps_infinities_largest():
    assert stats.quantile_with_inf(np.array([1.0, 2.0, INF, INF]), 0.5) == INF
    assert stats.quantile_with_inf(np.array([3.0, 1.0, 2.0, 4.0]), 0.5) == 2.5


def test_a_p_value_that_underflowed_is_never_printed_as_zero():
    # 4000 discordant pairs all one way: the exact two-sided tail is 2^-3999, 0 in float64
    from moxco_cli.stats import mcnemar, p_equals, p_value

    only, other, p = mcnemar(np.ones(4000, bool), np.zeros(4000, bool))
    assert (only, other, p) == (4000, 0, 0.0)
    assert p_equals(p) == "p < 1e-300" and p_value(p, ".2g") == "< 1e-300"
    assert p_equals(0.01234) == "p = 0.0123" and p_value(0.5, ".2g") == "0.5"
    assert p_equals(1e-250) == "p = 1e-250"
