"""`moxco escape-count` driven through the Typer app: outputs, contract, bad input, folder rules."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import landscapes
from moxco_cli.cli import app
from moxco_cli.options import SHARED

runner = CliRunner()
OUTCOME_COLUMNS = ["optimizer", "start_id", "start_x0", "final_x0", "final_loss", "outcome", "bin",
                   "commit_step", "diverged_step", "grad_evals", "hvps", "nearest_minimum",
                   "distance_to_nearest", "start_basin"]
COUNT_COLUMNS = ["optimizer", "bin", "count", "fraction", "ci_low", "ci_high"]
ESCAPE_COLUMNS = ["optimizer", "from_basin", "to_minimum", "starts", "escaped", "rate", "ci_low",
                  "ci_high"]
FILES = [".moxco-manifest.json", "config.json", "counts.csv", "escape.csv", "escape_count.png",
         "outcomes.csv"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The issue's command: Figure 2 with its defaults (50 starts, 1000 steps, seed 0)."""
    out = tmp_path_factory.mktemp("ec") / "default"
    result = invoke("escape-count", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result


def test_default_run_writes_every_output_and_prints_the_counts(default_run):
    out, result = default_run
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert (out / "escape_count.png").stat().st_size > 20_000
    for text in ("N = 50", "flat", "sharp", "none", "diverged", "adam+moxco", "sharp→flat",
                 "38 (0.760)", "Wilson", str(out)):
        assert text in result.output


def test_tables_have_the_documented_columns(default_run):
    out, _ = default_run
    outcomes = pd.read_csv(out / "outcomes.csv")
    counts = pd.read_csv(out / "counts.csv")
    escape = pd.read_csv(out / "escape.csv")
    assert list(outcomes.columns) == OUTCOME_COLUMNS and len(outcomes) == 4 * 50
    assert list(counts.columns) == COUNT_COLUMNS and len(counts) == 4 * 4
    assert list(escape.columns) == ESCAPE_COLUMNS and len(escape) == 4
    assert (counts.groupby("optimizer")["count"].sum() == 50).all()
    starts = outcomes[outcomes.optimizer == "gd"].start_x0.to_numpy()
    np.testing.assert_array_equal(starts, np.random.default_rng(0).uniform(-4, 4, size=50))


def test_config_json_records_every_option_and_what_was_used(default_run):
    out, _ = default_run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"] == "escape-count"
    opts = cfg["options"]
    for key in ("landscape", "landscape_params", "inits", "steps", "domain", "optimizers", "tol",
                "lr", "gd_moxco", "adam_moxco", "restart", "threshold", "tau", "commit", "prox",
                "prox_weight", "noise_std", "seed"):
        assert key in opts
    assert (opts["inits"], opts["steps"], opts["seed"], opts["landscape"]) == (
        50, 1000, 0, "two-wells")
    assert cfg["domain_used"] == [[-4.0, 4.0]] and cfg["tol_used"] == 0.05
    assert cfg["landscape"]["params"] == {"s": 0.055}
    assert cfg["start_basin"]["steps_taken"] > 0
    for lib in ("moxco", "numpy", "scipy", "matplotlib"):
        assert cfg["versions"][lib]


def test_same_command_twice_gives_byte_identical_csvs(default_run, tmp_path):
    out, _ = default_run
    again = tmp_path / "again"
    assert invoke("escape-count", "--out", again).exit_code == 0
    for name in ("outcomes.csv", "counts.csv", "escape.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_options_change_what_is_run(tmp_path):
    out = tmp_path / "o"
    result = invoke("escape-count", "--inits", 30, "--steps", 200, "--seed", 4, "--domain", "1,3",
                    "--sharp-width", 0.03, "--tol", 0.1, "--optimizers", "gd,adam+moxco",
                    "--out", out)
    assert result.exit_code == 0, result.output
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert list(outcomes.optimizer.unique()) == ["gd", "adam+moxco"]
    gd = outcomes[outcomes.optimizer == "gd"]
    np.testing.assert_array_equal(gd.start_x0,
                                  np.random.default_rng(4).uniform(1, 3, size=30))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["landscape"]["params"] == {"s": 0.03} and cfg["tol_used"] == 0.1
    sharp = landscapes.get("two-wells", s=0.03).minimum("sharp").x[0]
    assert np.isclose(cfg["landscape"]["minima"][1]["x"][0], sharp)


def test_two_dimensional_landscape(tmp_path):
    out = tmp_path / "b"
    result = invoke("escape-count", "--landscape", "beale", "--inits", 12, "--steps", 100,
                    "--out", out)
    assert result.exit_code == 0, result.output
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert {"start_x0", "start_x1", "final_x1"} <= set(outcomes.columns)
    assert set(outcomes.start_basin) <= {"global", "none"}
    counts = pd.read_csv(out / "counts.csv")
    assert list(counts.bin.unique()) == ["global", "none", "diverged"]
    assert (counts.groupby("optimizer")["count"].sum() == 12).all()
    assert len(pd.read_csv(out / "escape.csv")) == 0  # one minimum: nothing to escape from
    assert json.loads((out / "config.json").read_text())["tol_used"] == 0.01


def test_shared_optimizer_options_are_the_same_as_moxco_run():
    import typer.main

    group = typer.main.get_command(app)
    ctx = group.make_context("moxco", ["escape-count"], resilient_parsing=True)
    params = {name: {p.name: p for p in group.get_command(ctx, name).params}
              for name in ("run", "escape-count")}
    for name in SHARED:
        ours, theirs = params["escape-count"][name], params["run"][name]
        assert ours.opts == theirs.opts and ours.default == theirs.default
        assert ours.help == theirs.help


def test_help_shows_an_example_and_defaults():
    result = invoke("escape-count", "--help")
    assert result.exit_code == 0
    for text in ("moxco escape-count", "--inits", "--sharp-width", "--domain", "0.005",
                 "0.9,0.9", "0.95,0.5", "two-wells"):
        assert text in result.output


@pytest.mark.parametrize(("args", "option"), [
    (["--inits", "0"], "--inits"),
    (["--inits", "-3"], "--inits"),
    (["--inits", "many"], "--inits"),
    (["--domain", "4,-4"], "--domain"),
    (["--domain", "1,1"], "--domain"),
    (["--domain", "1"], "--domain"),
    (["--domain", "a,b"], "--domain"),
    (["--domain", "0,inf"], "--domain"),
    (["--landscape", "nope"], "--landscape"),
    (["--sharp-width", "0"], "--sharp-width"),
    (["--sharp-width", "-1"], "--sharp-width"),
    (["--landscape", "beale", "--sharp-width", "0.1"], "--sharp-width"),
    (["--steps", "0"], "--steps"),
    (["--tol", "0"], "--tol"),
    (["--lr", "0"], "--lr"),
    (["--gd-moxco", "1.0,0.5"], "--gd-moxco"),
    (["--restart", "0.1"], "--restart"),
    (["--threshold", "1"], "--threshold"),
    (["--tau", "0"], "--tau"),
    (["--optimizers", "gd,sgd"], "--optimizers"),
    (["--commit", "maybe"], "--commit"),
    (["--prox", "l2"], "--prox"),
    (["--noise-std", "-1"], "--noise-std"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["escape-count", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and option in lines[0], lines
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_landscape_without_named_minima_is_one_line_exit_2(tmp_path, monkeypatch):
    from moxco_cli.experiments import escape_count as ec

    class Bare(landscapes.Landscape):
        name, dim = "bare", 1
        bounds = np.array([[-1.0, 1.0]])

    monkeypatch.setattr(ec, "build_landscape", lambda *a, **k: Bare())
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["escape-count"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--landscape" in lines[0] and "no named minima" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_never_overwritten_without_force(default_run):
    out, _ = default_run
    before = (out / "outcomes.csv").read_bytes()
    result = invoke("escape-count", "--out", out, "--inits", 3, "--steps", 5)
    assert result.exit_code == 2 and "--force" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert (out / "outcomes.csv").read_bytes() == before


def test_force_replaces_the_named_folder(tmp_path):
    out = tmp_path / "f"
    # An earlier moxco result with a file escape-count does not write (a file a user put
    # there is refused instead, since issue 20: tests/test_data_loss.py).
    assert invoke("run", "beale", "--steps", 5, "--optimizers", "gd", "--out",
                  out).exit_code == 0
    assert (out / "trajectories.csv").exists()
    assert invoke("escape-count", "--out", out, "--inits", 7, "--steps", 5,
                  "--force").exit_code == 0
    assert not (out / "trajectories.csv").exists()
    assert len(pd.read_csv(out / "outcomes.csv")) == 4 * 7


def test_default_folders_get_a_suffix_instead_of_overwriting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert invoke("escape-count", "--inits", 3, "--steps", 5).exit_code == 0
    runs = sorted(p.name for p in (tmp_path / "results" / "runs").iterdir())
    assert len(runs) == 2 and all(r.startswith("escape-count-two-wells-") for r in runs)
    assert not any(p.name.startswith(".") for p in (tmp_path / "results" / "runs").iterdir())


def test_force_without_out_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("escape-count", "--force")
    assert result.exit_code == 2 and "--force" in result.output
    assert list(tmp_path.iterdir()) == []


def test_rerun_of_config_json_gives_byte_identical_csvs(default_run, tmp_path):
    out, _ = default_run
    again = tmp_path / "rerun"
    result = invoke("rerun", out / "config.json", "--out", again)
    assert result.exit_code == 0, result.output
    for name in ("outcomes.csv", "counts.csv", "escape.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


@pytest.mark.parametrize(("key", "value", "option"), [
    ("inits", 0, "--inits"), ("domain", [3, -3], "--domain"), ("domain", 5, "--domain"),
    ("optimizers", "gd", "--optimizers"), ("lr", -1, "--lr"),
])
def test_rerun_of_an_edited_config_validates_like_the_flags(default_run, tmp_path, key, value,
                                                             option):
    out, _ = default_run
    doc = json.loads((out / "config.json").read_text())
    doc["options"][key] = value
    edited = tmp_path / "config.json"
    edited.write_text(json.dumps(doc))
    result = invoke("rerun", edited, "--out", tmp_path / "never")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and option in lines[0]
    assert not (tmp_path / "never").exists()


def test_sharp_width_help_states_the_range_the_landscape_declares():
    """The help said '> 0' and 5 was refused ('must be in [1e-12, 1]'): the text is written
    out (--help does not import landscapes) and checked against the declaration here."""
    import typer

    import landscapes
    from moxco_cli.cli import app

    s = next(p for p in landscapes.landscape_class("two-wells").PARAMS if p.name == "s")
    command = typer.main.get_command(app).commands["escape-count"]
    option = next(p for p in command.params if p.name == "sharp_width")
    assert f"{s.describe_range()}. Default: {s.default:g}." in option.help


def test_the_footer_explains_escape_rows_only_where_there_are_some(tmp_path):
    """Beale has one named minimum: no "escaped A->B" row, so no note about one."""
    res = invoke("escape-count", "--landscape", "beale", "--inits", "20", "--steps", "50",
                 "--out", tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert "escaped" not in res.output
    assert "Cells: count (fraction) and [95% Wilson interval]." in res.output
