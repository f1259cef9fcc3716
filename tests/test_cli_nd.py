"""Commands on d > 2 landscapes: they work, or refuse in one line before computing."""

import json
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import landscapes
from moxco_cli.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_line_error(result, option: str, *words: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert option in lines[0], lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_run_rastrigin_dim_5_with_a_5_number_start(tmp_path):
    out = tmp_path / "r5"
    result = invoke("run", "rastrigin:dim=5", "--start", "1,1,1,1,1", "--steps", "60",
                    "--out", out)
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["landscape"]["dim"] == 5 and cfg["landscape"]["params"] == {"dim": 5}
    assert cfg["start_used"] == [1.0] * 5
    summary = pd.read_csv(out / "summary.csv")
    assert {f"final_x{i}" for i in range(5)} <= set(summary.columns)
    steps = pd.read_csv(out / "trajectories.csv")
    assert {f"x{i}" for i in range(5)} <= set(steps.columns)
    assert {p.name for p in out.glob("*.png")} == {"trajectory.png", "loss.png", "goodness.png"}
    # the same numbers through the Python API
    land = landscapes.get("rastrigin", dim=5)
    gd = steps[steps["optimizer"] == "gd"]
    first = gd[["x0", "x1", "x2", "x3", "x4"]].to_numpy()[1]
    np.testing.assert_allclose(first, 1.0 - 0.005 * land.grad(np.ones((1, 5)))[0], rtol=1e-15)


def test_run_with_an_estimated_lam_max_records_the_exact_one_beside_it(tmp_path):
    out = tmp_path / "est"
    result = invoke("run", "rastrigin:dim=5", "--start", "1,0.3,-2,0.5,1.5", "--steps", "40",
                    "--methods", "adam,adam+moxco:curvature=power:1", "--out", out)
    assert result.exit_code == 0, result.output
    steps = pd.read_csv(out / "trajectories.csv")
    assert list(steps.columns).index("lam_max_exact") == list(steps.columns).index("lam_max") + 1
    land = landscapes.get("rastrigin", dim=5)
    x = steps[[f"x{i}" for i in range(5)]].to_numpy()
    np.testing.assert_array_equal(steps["lam_max_exact"], land.lam_max(x))
    adam, est = steps[steps.optimizer == "adam"], steps[steps.optimizer != "adam"]
    assert (adam["lam_max"] == adam["lam_max_exact"]).all()  # plain Adam: the exact monitor
    # power:1 warm-started from a random vector: not the exact value along the way
    assert (est["lam_max"] != est["lam_max_exact"]).mean() > 0.5
    summary = pd.read_csv(out / "summary.csv").set_index("optimizer")
    assert summary.loc["adam+moxco:curvature=power:1", "hvps"] == 40  # one HVP per scoring
    assert summary.loc["adam+moxco:curvature=power:1", "grad_evals"] == 80


def test_run_default_start_and_rerun_at_d_10_byte_for_byte(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("run", "styblinski-tang:dim=10", "--steps", "40", "--optimizers",
                  "adam,adam+moxco", "--out", a).exit_code == 0
    assert invoke("rerun", a / "config.json", "--out", b).exit_code == 0
    for name in ("summary.csv", "trajectories.csv", "trajectory.png"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_run_expr_in_x0_to_x2(tmp_path):
    out = tmp_path / "e3"
    result = invoke("run", "--expr", "x0**2 + 2*x1**2 + (x2 - 1)**2", "--domain", "-2,2",
                    "--start", "1,1,1", "--steps", "30", "--optimizers", "gd", "--out", out)
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["landscape"]["dim"] == 3
    np.testing.assert_allclose(cfg["landscape"]["minima"][0]["x"], [0, 0, 1], atol=1e-12)


@pytest.mark.parametrize(("args", "option", "words"), [
    (["run", "rastrigin:dim=5", "--start", "1,1"], "--start", ("5-D", "5 comma-separated")),
    (["run", "rastrigin:dim=3", "--animate"], "--animate", ("3-D",)),
    (["run", "rastrigin:dim=1001"], "LANDSCAPE", ("dim",)),
    (["run", "rosenbrock:dim=1"], "LANDSCAPE", ("dim",)),
    (["escape-count", "--landscape", "rastrigin:dim=3"], "--landscape", ("3-D",)),
    (["outcome-map", "ackley:dim=4"], "LANDSCAPE", ("4-D",)),
    (["sweep", "rastrigin:dim=6", "--grid", "alpha=0.5,0.9"], "--starts",
     ("grid:21 (21^6) asks for 85,766,121 starts in 6-D", "at most 1,000,000")),
    (["sweep", "rastrigin:dim=50", "--starts", "random:1000000", "--grid", "alpha=0.5"],
     "--starts", ("50,000,000 coordinates",)),
])
def test_d_above_2_is_refused_in_one_line_before_computing(args, option, words):
    t0 = time.perf_counter()
    _one_line_error(invoke(*args), option, *words)
    assert time.perf_counter() - t0 < 20  # refused, not computed


def test_sweep_at_d_3_runs_a_small_grid(tmp_path):
    out = tmp_path / "sw"
    result = invoke("sweep", "rastrigin:dim=3", "--starts", "grid:4", "--grid", "alpha=0.5,0.9",
                    "--steps", "30", "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 2 and (table["n"] == 4**3).all()  # grid:4 in 3-D: 64 starts per cell


def test_start_designs_refuse_before_allocating():
    from moxco_cli.settings import SettingsError
    from moxco_cli.starts import MAX_STARTS, grid_starts, uniform_starts

    box = np.tile([-1.0, 1.0], (50, 1))
    with pytest.raises(SettingsError, match=r"grid:21 \(21\^50\) asks for 1.29e\+66 starts"):
        grid_starts(box, 21)  # 21**50 starts: the count is named, nothing is allocated
    with pytest.raises(SettingsError, match="coordinates"):
        uniform_starts(box, MAX_STARTS, 0)
    assert grid_starts(box[:3], 5)[1].shape == (125, 3)


def test_run_two_layer_net_with_choice_keys_and_no_named_minimum(tmp_path):
    """A landscape spec with text values (activation=tanh, target=sine) is titled by them
    (its label formatted choices as numbers: a traceback after computing); without a named
    minimum trajectory.png has no distance panel."""
    land = landscapes.get("two-layer-net", activation="tanh", target="sine")
    assert land.label == "two-layer-net:activation=tanh,target=sine"
    out = tmp_path / "net"
    result = invoke("run", "two-layer-net:activation=tanh,target=sine", "--steps", "20",
                    "--methods", "gd,gd+moxco", "--out", out)
    assert result.exit_code == 0, result.output
    assert "two-layer-net:activation=tanh,target=sine" in result.output
    assert (out / "trajectory.png").stat().st_size > 0


def test_a_wide_landscape_out_of_float64_names_a_few_coordinates_not_all(tmp_path):
    """quadratic:dim=1000 with condition 1e308 listed all 1000 coordinates: a 9 KB line."""
    result = invoke("run", "quadratic:dim=1000,condition=1e308", "--steps", "5", "--out",
                    tmp_path / "o")
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and len(line) < 300, line
    assert "(x0=-2, x1=-2, x2=-2, x3=-2, x4=-2, x5=-2, ... 994 more)" in line
