"""`--expr` on the commands that take a landscape: user formulas with exact derivatives."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import landscapes
from moxco_cli.cli import app

runner = CliRunner()
ROSENBROCK = "(1-x)**2 + 100*(y-x**2)**2"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_with_a_formula_matches_the_builtin_landscape(tmp_path):
    out = tmp_path / "rosen"
    result = invoke("run", "--expr", ROSENBROCK, "--domain", "-2,2,-1,3", "--minima", "1,1",
                    "--start", "-1.5,2", "--steps", "200", "--optimizers", "adam,adam+moxco",
                    "--out", out)
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["options"]["landscape"] == "expr"
    assert cfg["options"]["landscape_params"] == {
        "formula": ROSENBROCK, "domain": [-2.0, 2.0, -1.0, 3.0], "minima": [[1.0, 1.0]]}
    got = pd.read_csv(out / "trajectories.csv")
    # the same run on the hand-written rosenbrock gives the same path (exact derivatives)
    ref = tmp_path / "ref"
    assert invoke("run", "rosenbrock", "--start", "-1.5,2", "--steps", "200", "--optimizers",
                  "adam,adam+moxco", "--out", ref).exit_code == 0
    want = pd.read_csv(ref / "trajectories.csv")
    np.testing.assert_allclose(got[["x0", "x1"]], want[["x0", "x1"]], rtol=1e-9, atol=1e-12)


def test_formula_run_reruns_byte_for_byte(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert invoke("run", "--expr", "x**4 - x**2", "--domain", "-2,2", "--steps", "50",
                  "--out", first).exit_code == 0
    assert invoke("rerun", first / "config.json", "--out", second).exit_code == 0
    assert (first / "summary.csv").read_bytes() == (second / "summary.csv").read_bytes()


@pytest.mark.parametrize(("args", "option", "text"), [
    (["run", "--expr", "x**2 + foo(x)"], "--expr", "unknown function"),
    (["run", "--expr", "(1-x"], "--expr", "parse"),
    (["run", "--expr", "x + z"], "--expr", "z"),
    (["run", "--expr", "log(x)", "--domain", "-1,1"], "--expr", "not finite"),
    (["run", "--expr", "__import__('os')"], "--expr", ""),
    (["run", "beale", "--minima", "1,1"], "--minima", "--expr"),
    (["run", "beale", "--domain", "1,2"], "--domain", "--expr"),
    (["run", "--expr", "x**2", "--minima", "a,b"], "--minima", ""),
    (["outcome-map", "--expr", "x*y +", "--grid", "3"], "--expr", ""),
    (["escape-count", "--expr", "exp(x", "--inits", "3"], "--expr", ""),
    (["escape-count", "--expr", "x**2", "--sharp-width", "0.1"], "--sharp-width", ""),
])
def test_bad_formula_input_is_one_line_naming_the_option(args, option, text, tmp_path):
    result = invoke(*args, "--out", tmp_path / "never")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {option}") and result.output.count("\n") == 1
    assert text in result.output
    assert not (tmp_path / "never").exists()


def test_escape_count_and_outcome_map_accept_formulas(tmp_path):
    ec = invoke("escape-count", "--expr", "(x**2 - 1)**2 + 0.3*x", "--domain", "-2,2",
                "--inits", "40", "--steps", "200", "--out", tmp_path / "ec")
    assert ec.exit_code == 0, ec.output
    counts = pd.read_csv(tmp_path / "ec" / "counts.csv")
    assert counts.groupby("optimizer")["count"].sum().eq(40).all()
    om = invoke("outcome-map", "--expr", "(x**2+y-11)**2+(x+y**2-7)**2", "--domain",
                "-5,5,-5,5", "--grid", "9", "--steps", "100", "--out", tmp_path / "om")
    assert om.exit_code == 0, om.output
    land = landscapes.get("expr", formula="(x**2+y-11)**2+(x+y**2-7)**2",
                          domain=[-5, 5, -5, 5], minima=None)
    assert len(land.minima) == 4 and min(m.f for m in land.minima) == pytest.approx(0, abs=1e-12)


def test_sweep_accepts_a_formula(tmp_path):
    out = tmp_path / "sw"
    result = invoke("sweep", "--expr", "x**4 - x**2 + 0.2*x", "--domain", "-2,2", "--optimizer",
                    "gd+moxco", "--grid", "alpha=0,0.9", "--starts", "grid:8", "--steps", "50",
                    "--workers", "1", "--out", out)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert len(frame) == 2 and frame["n"].eq(8).all()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["options"]["landscape"] == "expr"


def test_a_formula_that_is_not_real_everywhere_draws_its_figures_without_warnings(tmp_path):
    """log(x + 3) is NaN left of x = -3, where the view reaches: the contour levels came out
    NaN ('figure trajectory.png could not be drawn', exit 1) and NumPy's RuntimeWarning from
    the compiled formula was printed."""
    import subprocess
    import sys

    out = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "moxco_cli", "run", "--expr",
                           "log(x+3) + (x-1)**2 + y**2", "--domain", "-2.9,3,-2,2", "--lr", "0.5",
                           "--steps", "200", "--out", str(out)], capture_output=True, text=True,
                          env={**__import__("os").environ, "MPLBACKEND": "Agg"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "could not be drawn" not in proc.stderr, proc.stderr
    assert (out / "trajectory.png").stat().st_size > 10_000


@pytest.mark.parametrize("args, option", [
    (["run", "beale"], "LANDSCAPE"), (["outcome-map", "beale"], "LANDSCAPE"),
    (["sweep", "beale", "--grid", "alpha=0.1"], "LANDSCAPE"),
    (["escape-count", "--landscape", "beale"], "--landscape")])
def test_a_landscape_given_beside_a_formula_is_refused_not_replaced(args, option, tmp_path):
    """`run beale --expr "x**2"` ran the formula (exit 0, config.json "expr"): the landscape
    typed was silently dropped."""
    result = invoke(*args, "--expr", "x**2", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.strip() == (f"Error: --expr: the formula replaces the landscape; give "
                                     f"{option} or --expr, not both")
    assert not (tmp_path / "out").exists()
