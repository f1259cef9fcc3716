"""`moxco_cli.experiments.escape_count`: starts, basins, counts, Wilson intervals, escape rates,
and the paper's Figure 2 claim measured on 10,000 starts."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest

import landscapes
from landscapes.base import Landscape
from moxco_cli.experiments import escape_count as ec
from moxco_cli.experiments.escape_count import EscapeConfig, run_escape_count
from moxco_cli.settings import METHOD_NAMES, OptimizerSettings, SettingsError


@pytest.fixture(scope="module")
def paper_10k():
    """Figure 2 settings (SPEC) with 10,000 starts instead of 50: one engine call per optimizer."""
    return run_escape_count(EscapeConfig(inits=10_000).validate())


def _barrier(tw) -> float:
    """The local maximum between the wells: f' = 0 just left of the sharp well."""
    return brentq(lambda t: tw.grad(np.array([[t]]))[0, 0], 2 - 8 * tw.s, 2 - tw.s, xtol=1e-14)


def test_counts_sum_to_n_for_every_optimizer(paper_10k):
    c = paper_10k.counts
    assert list(c.columns) == ["optimizer", "bin", "count", "fraction", "ci_low", "ci_high"]
    for name in METHOD_NAMES:
        mine = c[c.optimizer == name]
        assert list(mine.bin) == ["flat", "sharp", "none", "diverged"]
        assert mine["count"].sum() == 10_000
        assert mine["fraction"].sum() == pytest.approx(1.0)


def test_ten_thousand_starts_agree_with_the_issue_expectation(paper_10k):
    """Measured with seed 0, SPEC settings, 1000 steps (the numbers below are what we measured).

    They agree with the issue's expectation: GD ~0.73, GD+MoXCo ~0.80, Adam+MoXCo ~1.00 lie
    inside the 95% Wilson intervals. Adam, which the issue does not mention, ends exactly
    where GD does (0.7313): from every start it stays in the basin it starts in.
    """
    flat = paper_10k.counts[paper_10k.counts.bin == "flat"].set_index("optimizer")
    measured = {"gd": 7313, "adam": 7313, "gd+moxco": 8028, "adam+moxco": 10_000}
    for name, count in measured.items():
        assert flat.loc[name, "count"] == count
    expected = {"gd": 0.73, "gd+moxco": 0.80, "adam+moxco": 1.00}
    for name, value in expected.items():
        assert flat.loc[name, "ci_low"] <= value <= flat.loc[name, "ci_high"]
    # and the intervals are tight enough to tell the optimizers apart
    assert flat.loc["gd", "ci_high"] < flat.loc["gd+moxco", "ci_low"]
    assert flat.loc["gd+moxco", "ci_high"] < flat.loc["adam+moxco", "ci_low"]


def test_plain_gd_and_adam_end_in_the_basin_they_start_in(paper_10k):
    o = paper_10k.outcomes
    for name in ("gd", "adam"):
        mine = o[o.optimizer == name]
        assert (mine["bin"] == mine["start_basin"]).all()
    e = paper_10k.escape.set_index("optimizer")
    assert (e.from_basin == "sharp").all() and (e.to_minimum == "flat").all()
    assert (e.starts == 2687).all()  # starts whose gradient flow ends in the sharp well
    assert e.loc["gd", "escaped"] == 0 and e.loc["adam", "escaped"] == 0
    assert e.loc["gd", "rate"] == 0.0 and e.loc["gd", "ci_low"] == 0.0
    assert e.loc["gd", "ci_high"] < 2e-3
    # MoXCo escapes: every Adam+MoXCo run, about a quarter of GD+MoXCo runs
    assert e.loc["adam+moxco", "rate"] == 1.0
    assert e.loc["gd+moxco", "escaped"] == 8028 - 7313
    assert 0.24 < e.loc["gd+moxco", "rate"] < 0.29


def test_outcomes_table_has_one_row_per_optimizer_and_start(paper_10k):
    o = paper_10k.outcomes
    assert list(o.columns) == [
        "optimizer", "start_id", "start_x0", "final_x0", "final_loss", "outcome", "bin",
        "commit_step", "diverged_step", "grad_evals", "hvps", "nearest_minimum",
        "distance_to_nearest", "start_basin"]
    assert len(o) == 4 * 10_000
    assert list(o.optimizer.unique()) == list(METHOD_NAMES)
    gd = o[o.optimizer == "gd"]
    np.testing.assert_array_equal(gd.start_x0, paper_10k.starts[:, 0])
    assert set(o.outcome) <= {"minimum:flat", "minimum:sharp", "none", "diverged"}
    assert (o.bin == o.outcome.str.removeprefix("minimum:")).all()
    assert (o[o.optimizer == "gd"].commit_step == -1).all()
    assert (o[o.optimizer == "adam+moxco"].commit_step >= 0).all()


@pytest.mark.parametrize("s", [0.055, 0.01])
def test_start_basin_is_the_side_of_the_barrier(s):
    tw = landscapes.get("two-wells", s=s)  # s = 0.01: curvature ~1e4 in the sharp well
    starts = np.random.default_rng(3).uniform(-4, 4, size=(3000, 1))
    barrier = _barrier(tw)
    starts[:2, 0] = barrier - 1e-6, barrier + 1e-6  # the hardest starts: next to the barrier
    basin, flow_steps = ec.start_basins(tw, starts, tol=1e-3)
    np.testing.assert_array_equal(basin == "sharp", starts[:, 0] > barrier)
    assert set(basin) == {"flat", "sharp"} and flow_steps < ec.FLOW_MAX_STEPS


def test_gradient_flow_is_stable_in_the_sharp_well_and_reaches_the_minima():
    tw = landscapes.get("two-wells", s=0.02)  # curvature ~2500 at the sharp minimum
    ends, _ = ec.gradient_flow(tw, np.array([[2.03], [2.5], [-3.9], [0.0]]))
    sharp, flat = tw.minimum("sharp").x[0], tw.minimum("flat").x[0]
    np.testing.assert_allclose(ends[:, 0], [sharp, sharp, flat, flat], atol=1e-4)


def test_basin_of_a_start_whose_flow_reaches_no_minimum_is_none():
    beale = landscapes.get("beale")
    # Figure 1's start lies in Beale's valley near y = 1 that runs off to x -> -inf
    basin, _ = ec.start_basins(beale, np.array([[-2.5, 1.2], [2.5, 0.3]]), tol=1e-2)
    assert list(basin) == ["none", "global"]


def test_starts_are_spec_uniform_draws_from_the_seed():
    box = np.array([[-4.0, 4.0]])
    expected = np.random.default_rng(0).uniform(-4, 4, size=(50, 1))
    np.testing.assert_array_equal(ec.draw_starts(box, 50, 0), expected)
    box2 = np.array([[-1.0, 0.0], [5.0, 6.0]])
    s2 = ec.draw_starts(box2, 400, 7)
    assert s2.shape == (400, 2)
    assert (s2[:, 0] >= -1).all() and (s2[:, 0] < 0).all() and (s2[:, 1] >= 5).all()


def test_every_optimizer_runs_all_starts_in_one_engine_call(monkeypatch):
    calls = []
    real = ec.simulate

    def spy(land, method, x0, steps, **kw):
        calls.append((method.name, x0.shape, kw.get("record")))
        return real(land, method, x0, steps, **kw)

    monkeypatch.setattr(ec, "simulate", spy)
    run_escape_count(EscapeConfig(inits=300, steps=50).validate())
    assert calls == [(name, (300, 1), False) for name in METHOD_NAMES]


def test_wilson_interval_is_scipys_and_nan_without_trials():
    ci = binomtest(7, 50).proportion_ci(confidence_level=0.95, method="wilson")
    assert ec.wilson(7, 50) == (ci.low, ci.high)
    lo, hi = ec.wilson(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


def test_escape_rate_without_starts_in_the_basin_is_nan():
    cfg = EscapeConfig(inits=40, steps=20, domain=(-3.0, 1.0)).validate()  # all in flat's basin
    e = run_escape_count(cfg).escape
    assert (e.starts == 0).all() and e.rate.isna().all() and e.ci_low.isna().all()


def test_landscape_whose_minima_are_all_global_has_no_escape_rows():
    cfg = EscapeConfig(landscape="quadratic", landscape_params={"a": (1.0, 2.0)}, inits=30,
                       steps=50).validate()
    r = run_escape_count(cfg)
    assert list(r.counts.bin.unique()) == ["global", "none", "diverged"]
    assert r.escape.empty and list(r.escape.columns)[:3] == ["optimizer", "from_basin",
                                                              "to_minimum"]
    assert r.outcomes.start_x1.notna().all()  # 2-D starts


def test_escape_frame_pools_several_local_basins():
    land = landscapes.get("two-wells")  # stand-in: use its interface with three minima
    minima = (land.minimum("flat"),
              land.minimum("sharp"),
              type(land.minimum("sharp"))("other", np.array([3.0]), -1.0))

    class ThreeWells(Landscape):  # only its minima matter here
        @property
        def minima(self):
            return minima

    three = ThreeWells()
    outcomes = pd.DataFrame({
        "optimizer": "gd",
        "bin": ["flat", "flat", "sharp", "other", "flat"],
        "start_basin": ["flat", "sharp", "sharp", "other", "other"],
    })
    e = ec.escape_frame(outcomes, three, ["gd"]).set_index("from_basin")
    assert list(e.index) == ["sharp", "other", ec.POOLED]
    assert (e.loc["sharp", "starts"], e.loc["sharp", "escaped"]) == (2, 1)
    assert (e.loc["other", "starts"], e.loc["other", "escaped"]) == (2, 1)
    assert (e.loc[ec.POOLED, "starts"], e.loc[ec.POOLED, "escaped"]) == (4, 2)


def test_config_round_trips_through_options():
    cfg = EscapeConfig(landscape_params={"s": 0.03}, inits=123, steps=77, domain=(-2.0, 3.0),
                       methods=("gd", "adam+moxco"), tol=0.1,
                       settings=OptimizerSettings(lr=0.002, seed=9)).validate()
    opts = cfg.to_options()
    assert opts["inits"] == 123 and opts["domain"] == [-2.0, 3.0] and opts["seed"] == 9
    assert EscapeConfig.from_options(opts) == cfg


@pytest.mark.parametrize(("changes", "option"), [
    ({"inits": 0}, "--inits"),
    ({"inits": -5}, "--inits"),
    ({"inits": 2.5}, "--inits"),
    ({"domain": (4.0, -4.0)}, "--domain"),
    ({"domain": (1.0, 1.0)}, "--domain"),
    ({"domain": (1.0, math.inf)}, "--domain"),
    ({"steps": 0}, "--steps"),
    ({"tol": 0.0}, "--tol"),
    ({"landscape": "nope"}, "--landscape"),
    # below the CLI a landscape parameter is the landscape's (--sharp-width is only a CLI
    # alias of two-wells:s=..., checked by the command: tests/test_cli_escape_count.py)
    ({"landscape_params": {"s": 0.0}}, "--landscape"),
    ({"landscape": "beale", "landscape_params": {"s": 0.1}}, "--landscape"),
    ({"methods": ("gd", "sgd")}, "--optimizers"),
    ({"settings": OptimizerSettings(lr=-1.0)}, "--lr"),
])
def test_invalid_config_names_the_option(changes, option):
    with pytest.raises(SettingsError) as err:
        EscapeConfig(**changes).validate()
    assert err.value.option == option


def test_landscape_without_named_minima_is_refused(monkeypatch):
    class Bare(landscapes.Landscape):
        name, dim = "bare", 1
        bounds = np.array([[-1.0, 1.0]])

    monkeypatch.setattr(ec, "build_landscape", lambda *a, **k: Bare())
    with pytest.raises(SettingsError, match="no named minima") as err:
        EscapeConfig().validate()
    assert err.value.option == "--landscape"
