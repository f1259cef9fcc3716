"""`moxco eos-check`: Theorem 2's boundary measured with the engine, against the formula."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from moxco_cli.cli import app
from moxco_cli.commands.eos_check import parse_grid
from moxco_cli.experiments import eos_check as eos
from moxco_cli.experiments.eos_check import (
    EOS_COLUMNS,
    EosConfig,
    diverges,
    eos_check,
    recurrence_boundary,
)
from moxco_cli.goodness import inv_eta_eff
from moxco_cli.settings import SettingsError

runner = CliRunner()
# alpha = 0.99 with beta = 0 is the hardest case for the finite-step growth test (module doc).
SMALL = EosConfig(lr=0.01, alphas=(0.0, 0.99), betas=(0.0, 2.0), steps=1000, tol=1e-5)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def small():
    return eos_check(SMALL)


def test_measured_boundary_matches_theorem2_within_the_bisection_tolerance(small):
    t = small.table
    assert list(t.columns) == EOS_COLUMNS and len(t) == 4
    assert (t["rel_error"] <= SMALL.tol).all()
    assert small.max_rel_error == t["rel_error"].max() <= SMALL.tol
    assert t["theory_in_bracket"].all() and t["monotone"].all()
    assert ((t["a_diverged"] - t["a_bounded"]) <= SMALL.tol * t["a_diverged"]).all()
    np.testing.assert_allclose(t["a_theory"], 2 * (1 + t["alpha"]) / (0.01 * (1 + 2 * t["beta"])))


def test_each_bisection_round_is_one_simulate_call(monkeypatch, small):
    calls = []
    real = eos.simulate

    def counting(land, method, x0, steps, **kw):
        calls.append(x0.shape)
        return real(land, method, x0, steps, **kw)

    monkeypatch.setattr(eos, "simulate", counting)
    m = eos.measure_boundary(0.01, 0.5, 1.0, steps=200, tol=1e-4, candidates=16)
    assert len(calls) == m["rounds"] and all(shape == (16, 16) for shape in calls)


def test_growth_test_resolves_1e_4_where_the_divergence_box_alone_cannot():
    lr, alpha, beta = 0.01, 0.5, 1.0
    a = inv_eta_eff(lr, alpha, beta) * np.array([1 - 1e-4, 1 + 1e-4])
    assert list(diverges(lr, alpha, beta, a, 1000)) == [False, True]
    import landscapes
    from moxco_cli.engine import Method, simulate
    from moxco_cli.goodness import CommitRule
    from moxco_cli.optim import gd

    quad = landscapes.get("quadratic", a=tuple(a))
    traj = simulate(quad, Method("i", gd(lr), CommitRule("none", 0.85, alpha, beta)),
                    np.eye(2), 1000)
    assert not traj.diverged.any()  # 1e-4 above: growth far too slow to reach 1e6 yet


def test_recurrence_cross_check_agrees_with_the_formula():
    alpha, beta = np.meshgrid(np.linspace(0, 0.999, 40), np.linspace(0, 10, 30))
    got = recurrence_boundary(0.005, alpha, beta)
    np.testing.assert_allclose(got, inv_eta_eff(0.005, alpha, beta), rtol=1e-12)


def test_parse_grid_lists_and_ranges():
    assert parse_grid("0:3:7", "--betas") == (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
    assert parse_grid("0:0.99:12", "--alphas")[-1] == 0.99
    assert parse_grid("0.9", "--alphas") == (0.9,)
    assert parse_grid("0, 0.5", "--alphas") == (0.0, 0.5)
    for bad in ("0:1", "0:1:x", "a,b", "0:1:0", "0:1:99999999999999999999"):
        with pytest.raises(SettingsError, match="--alphas"):
            parse_grid(bad, "--alphas")


def test_config_round_trips_through_options():
    opts = json.loads(json.dumps(SMALL.to_options()))
    assert EosConfig.from_options(opts) == SMALL


@pytest.mark.parametrize(("kwargs", "option"), [
    (dict(lr=0), "--lr"),
    (dict(lr=float("nan")), "--lr"),
    (dict(lr=1e-320), "--lr"),
    (dict(alphas=()), "--alphas"),
    (dict(alphas=(1.0,)), "--alphas"),
    (dict(alphas=(0.5, 0.5)), "--alphas"),
    (dict(betas=(-0.1,)), "--betas"),
    (dict(betas=(51.0,)), "--betas"),
    (dict(steps=50), "--steps"),
    (dict(tol=0.0), "--tol"),
    (dict(candidates=1), "--candidates"),
])
def test_bad_config_raises_one_settings_error(kwargs, option):
    with pytest.raises(SettingsError) as info:
        EosConfig(**kwargs).validate()
    assert str(info.value).startswith(option)


def test_cli_writes_csv_figure_and_config_and_reruns_identically(tmp_path):
    out = tmp_path / "eos"
    result = invoke("eos-check", "--alphas", "0.5", "--betas", "0,1", "--steps", "200",
                    "--tol", "1e-4", "--lr", "0.01", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".moxco-manifest.json", "config.json",
                                                     "eigenpairs.csv", "eos.csv", "eos.png"]
    t = pd.read_csv(out / "eos.csv")
    assert list(t.columns) == EOS_COLUMNS and len(t) == 2
    assert (t["rel_error"] <= 1e-4).all()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"] == "eos-check"
    assert cfg["options"] == {"lr": 0.01, "alphas": [0.5], "betas": [0.0, 1.0], "steps": 200,
                              "tol": 1e-4, "candidates": 16}
    assert cfg["max_rel_error"] == pytest.approx(t["rel_error"].max())
    assert "Max relative discrepancy" in result.output and str(out) in result.output
    again = tmp_path / "again"
    assert invoke("rerun", out / "config.json", "--out", again).exit_code == 0
    assert (again / "eos.csv").read_bytes() == (out / "eos.csv").read_bytes()


@pytest.mark.parametrize(("args", "option"), [
    (["--lr", "0"], "--lr"),
    (["--lr", "x"], "--lr"),
    (["--alphas", "1"], "--alphas"),
    (["--alphas", "0:1"], "--alphas"),
    (["--betas", "-1"], "--betas"),
    (["--steps", "10"], "--steps"),
    (["--tol", "0"], "--tol"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(args, option, tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eos-check", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and option in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_theorem2_holds_per_eigenpair_on_a_d_dimensional_quadratic():
    from moxco_cli.experiments.eos_check import eigenpair_check

    table = eigenpair_check(0.01, (0.0, 0.9, 0.99), (0.0, 1.0, 3.0), dim=30)
    counted = table[~table.near_bound]
    assert len(table) == 9 * 30 and len(counted) > 8 * 30
    assert (counted.predicted == counted.measured).all()
    assert counted.predicted.any() and (~counted.predicted).any()  # both sides are tested
    assert not table.box_left.any()  # no run froze: every component was watched to the end


def test_one_alpha_beta_pair_is_drawn_on_its_formula_curve_below_the_legend():
    """`eos-check --alphas 0.9 --betas 0.9` (its --help example) drew a lone marker on the
    top edge, under the legend, and no curve (the formula at one beta is a point)."""
    import pandas as pd

    from moxco_cli.plots.eos import eos_figure

    table = pd.DataFrame(dict(alpha=[0.9], beta=[0.9], a_theory=[135.714], a_measured=[135.714],
                              rel_error=[1.6e-7]))
    left = eos_figure(table, lr=0.01, steps=1000, tol=1e-6, max_rel_error=1.6e-7).axes[0]
    curve = left.get_lines()[0]
    assert curve.get_xdata().min() == 0.4 and curve.get_xdata().max() == 1.4
    assert left.get_ylim()[1] > 1.25 * curve.get_ydata().max()  # above the curve's top


def test_the_table_shows_a_momentum_as_given_not_rounded_out_of_its_range():
    from moxco_cli.commands.eos_check import repr_number

    assert repr_number(0.99999) == "0.99999" and repr_number(0.9) == "0.9"
