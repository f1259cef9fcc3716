"""`moxco outcome-map`: grid of starts, outcome classes, fractions, figure, CLI contract."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import landscapes
from moxco_cli.cli import app
from moxco_cli.experiments import outcome_map as om
from moxco_cli.experiments.outcome_map import (
    FIGURE1_START,
    OUTCOME_COLUMNS,
    OutcomeMapConfig,
    classify_outcomes,
    outcome_map,
)
from moxco_cli.experiments.run import RunConfig, run_experiment
from moxco_cli.settings import METHOD_NAMES, SettingsError

runner = CliRunner()
# A 5 x 5 grid whose corner (i=0, j=4) is exactly Figure 1's start (-2.5, 1.2).
FIG1_DOMAIN = (-2.5, 3.5, -1.8, 1.2)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def fig1_grid():
    cfg = OutcomeMapConfig(landscape="beale", grid=5, steps=800, domain=FIG1_DOMAIN)
    return outcome_map(cfg)


def test_fractions_sum_to_one_per_optimizer_and_match_the_outcomes(fig1_grid):
    f = fig1_grid.fractions
    assert list(f.columns) == ["optimizer", "class", "count", "fraction"]
    for name in METHOD_NAMES:
        rows = f[f.optimizer == name]
        assert list(rows["class"]) == ["global-1e-2", "global-0.1", "stuck", "diverged"]
        assert rows["fraction"].sum() == pytest.approx(1.0)
        assert rows["count"].sum() == 25
        counts = fig1_grid.outcomes[fig1_grid.outcomes.optimizer == name]["class"].value_counts()
        for _, row in rows.iterrows():
            assert counts.get(row["class"], 0) == row["count"]


def test_grid_convention_start_id_i_j(fig1_grid):
    o = fig1_grid.outcomes
    assert list(o.columns) == OUTCOME_COLUMNS
    gd = o[o.optimizer == "gd"]
    assert list(gd.start_id) == list(range(25))
    np.testing.assert_array_equal(gd.start_x0, np.linspace(-2.5, 3.5, 5)[gd.i])
    np.testing.assert_array_equal(gd.start_x1, np.linspace(-1.8, 1.2, 5)[gd.j])
    assert (gd.start_id == gd.j * 5 + gd.i).all()
    assert fig1_grid.class_image("gd").shape == (5, 5)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_figure1_start_class_agrees_with_a_single_run(fig1_grid, name):
    o = fig1_grid.outcomes
    row = o[(o.optimizer == name) & (o.i == 0) & (o.j == 4)].iloc[0]
    assert (row.start_x0, row.start_x1) == FIGURE1_START
    single = run_experiment(RunConfig(landscape="beale", start=FIGURE1_START, steps=800,
                                      methods=(name,)))
    s = single.summary.iloc[0]
    assert (row.final_x0, row.final_x1) == (s.final_x0, s.final_x1)  # batched == alone
    assert row.commit_step == s.commit_step and row.diverged_step == s.diverged_step
    expected = ("diverged" if s.outcome == "diverged" else "global-1e-2"
                if s.distance_to_nearest <= 1e-2 else "global-0.1"
                if s.distance_to_nearest <= 0.1 else "stuck")
    assert row["class"] == expected


def test_paper_figure1_outcomes_on_the_grid(fig1_grid):
    """Figure 1: GD and Adam get stuck far from (3, 0.5); GD+MoXCo travels to within 0.15
    of it in 800 steps (0.118: still creeping along the flat valley, so class `stuck`)."""
    o = fig1_grid.outcomes
    at = o[(o.i == 0) & (o.j == 4)].set_index("optimizer")
    assert (at.loc[["gd", "adam"], "distance_to_global"] > 5).all()
    assert at.loc["gd+moxco", "distance_to_global"] < 0.15
    assert at.loc["gd+moxco", "final_loss"] < 0.01


def test_each_optimizer_is_one_batched_simulate_call(monkeypatch):
    calls = []
    real = om.simulate

    def counting(land, method, x0, steps, **kw):
        calls.append((method.name, x0.shape, kw.get("record", False)))
        return real(land, method, x0, steps, **kw)

    monkeypatch.setattr(om, "simulate", counting)
    outcome_map(OutcomeMapConfig(grid=7, steps=20))
    assert calls == [(name, (49, 2), False) for name in METHOD_NAMES]


def test_classes_by_distance_and_divergence():
    beale = landscapes.get("beale")
    final = np.array([[3.0, 0.5], [3.02, 0.5], [3.0, 0.41], [0.0, 1.0], [3.0, 0.5]])
    cls, dist = classify_outcomes(beale, final, np.array([False] * 4 + [True]))
    assert list(cls) == ["global-1e-2", "global-0.1", "global-0.1", "stuck", "diverged"]
    np.testing.assert_allclose(dist[:3], [0.0, 0.02, 0.09])


def test_one_dimensional_landscape_has_strips_and_other_minimum_class():
    res = outcome_map(OutcomeMapConfig(landscape="two-wells", grid=41, steps=300,
                                       methods=("gd", "adam+moxco")))
    assert res.classes == ("global-1e-2", "global-0.1", "other-minimum", "stuck", "diverged")
    assert res.class_image("gd").shape == (1, 41)
    assert "start_x1" not in res.outcomes.columns and "j" in res.outcomes.columns
    gd = res.outcomes[res.outcomes.optimizer == "gd"]
    sharp = landscapes.get("two-wells").minimum("sharp").x[0]
    near_sharp = gd[(gd.start_x0 - sharp).abs() < 0.05]
    assert (near_sharp["class"] == "other-minimum").all()  # GD stays in the sharp well


def test_config_round_trips_through_options():
    cfg = OutcomeMapConfig(landscape="beale", grid=11, steps=30, methods=("gd", "adam"),
                           domain=(-1.0, 1.0, -2.0, 2.0))
    opts = json.loads(json.dumps(cfg.to_options()))
    assert OutcomeMapConfig.from_options(opts) == cfg


@pytest.mark.parametrize(("kwargs", "option"), [
    (dict(grid=1), "--grid"),
    (dict(grid=2.5), "--grid"),
    (dict(grid=1001), "--grid"),
    (dict(steps=0), "--steps"),
    (dict(domain=(1.0, 2.0)), "--domain"),
    (dict(domain=(2.0, 1.0, 0.0, 1.0)), "--domain"),
    (dict(domain=(-1e308, 1e308, 0.0, 1.0)), "--domain"),
    (dict(landscape="nope"), "LANDSCAPE"),
    (dict(landscape="quadratic", landscape_params={"a": (1.0, 2.0, 3.0)}), "LANDSCAPE"),
    (dict(methods=("gd", "sgd")), "--optimizers"),
])
def test_bad_config_raises_one_settings_error(kwargs, option):
    with pytest.raises(SettingsError) as info:
        OutcomeMapConfig(**kwargs).validate()
    assert str(info.value).startswith(option)


def test_landscape_without_named_minima_is_rejected(monkeypatch):
    quad = landscapes.get("quadratic", a=(1.0, 2.0))

    class Nameless(type(quad)):
        minima = ()

    monkeypatch.setattr(om, "build_landscape", lambda name, params: Nameless((1.0, 2.0)))
    with pytest.raises(SettingsError, match="no named minima"):
        OutcomeMapConfig(landscape="quadratic").validate()


# --- CLI ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("om") / "beale"
    result = invoke("outcome-map", "beale", "--grid", "6", "--steps", "60", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result


def test_cli_writes_tables_figure_and_config(cli_run):
    out, result = cli_run
    assert sorted(p.name for p in out.iterdir()) == [
        ".moxco-manifest.json", "config.json", "fractions.csv", "outcome_map.png", "outcomes.csv"]
    o = pd.read_csv(out / "outcomes.csv")
    assert list(o.columns) == OUTCOME_COLUMNS and len(o) == 4 * 36
    f = pd.read_csv(out / "fractions.csv")
    assert f.groupby("optimizer")["fraction"].sum().to_numpy() == pytest.approx(np.ones(4))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"] == "outcome-map"
    for key in ("landscape", "grid", "steps", "domain", "optimizers", "lr", "gd_moxco",
                "adam_moxco", "restart", "threshold", "tau", "commit", "seed"):
        assert key in cfg["options"]
    assert cfg["options"]["grid"] == 6 and cfg["domain_used"] == [[-4.5, 4.5], [-4.5, 4.5]]
    assert cfg["classes"] == ["global-1e-2", "global-0.1", "stuck", "diverged"]
    assert "gd+moxco" in result.output and str(out) in result.output
    assert (out / "outcome_map.png").stat().st_size > 20_000


def test_cli_shared_optimizer_options_reach_the_run(tmp_path):
    out = tmp_path / "o"
    result = invoke("outcome-map", "beale", "--grid", "3", "--steps", "5", "--lr", "0.001",
                    "--optimizers", "gd,adam+moxco", "--out", out)
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())["options"]
    assert cfg["lr"] == 0.001 and cfg["optimizers"] == ["gd", "adam+moxco"]
    assert set(pd.read_csv(out / "fractions.csv").optimizer) == {"gd", "adam+moxco"}


@pytest.mark.parametrize(("args", "option"), [
    (["outcome-map", "beale", "--grid", "1"], "--grid"),
    (["outcome-map", "beale", "--grid", "x"], "--grid"),
    (["outcome-map", "beale", "--steps", "0"], "--steps"),
    (["outcome-map", "nope"], "LANDSCAPE"),
    (["outcome-map", "beale", "--domain", "1,2"], "--domain"),
    (["outcome-map", "beale", "--domain", "0,1,2,x"], "--domain"),
    (["outcome-map", "beale", "--domain", "1,0,0,1"], "--domain"),
    (["outcome-map", "beale", "--lr", "0"], "--lr"),
    (["outcome-map", "beale", "--optimizers", "sgd"], "--optimizers"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(args, option, tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and option in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_rerun_of_config_json_gives_identical_tables(cli_run, tmp_path):
    out, _ = cli_run
    again = tmp_path / "again"
    result = invoke("rerun", out / "config.json", "--out", again)
    assert result.exit_code == 0, result.output
    for name in ("outcomes.csv", "fractions.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_cli_refuses_existing_folder_without_force(cli_run):
    out, _ = cli_run
    result = invoke("outcome-map", "beale", "--grid", "2", "--steps", "1", "--out", out)
    assert result.exit_code == 2 and "--force" in result.output


def test_a_restart_baseline_adds_restart_columns_after_commit_step():
    """outcomes.csv, like summary.csv, carries restart_step and restart_count (-1 and 0 for
    the methods without restart) when an adaptive-restart baseline is among the methods;
    the values are the engine's own. Before, the restarts were dropped."""
    from moxco_cli.engine import simulate
    from moxco_cli.experiments.outcome_map import RESTART_COLUMNS
    from moxco_cli.settings import build_method

    methods = ("gd", "nesterov+restart-fn")
    cfg = OutcomeMapConfig(landscape="beale", grid=5, steps=200, methods=methods)
    got = outcome_map(cfg)
    at = OUTCOME_COLUMNS.index("commit_step") + 1
    assert list(got.outcomes.columns) == (OUTCOME_COLUMNS[:at] + RESTART_COLUMNS
                                          + OUTCOME_COLUMNS[at:])
    gd = got.outcomes[got.outcomes.optimizer == "gd"]
    assert (gd.restart_step == -1).all() and (gd.restart_count == 0).all()
    restart = got.outcomes[got.outcomes.optimizer == "nesterov+restart-fn"]
    tr = simulate(got.landscape, build_method("nesterov+restart-fn", cfg.settings),
                  got.starts, 200)
    np.testing.assert_array_equal(restart.restart_step, tr.restart_step)
    np.testing.assert_array_equal(restart.restart_count, tr.restart_count)
    assert (restart.restart_count > 0).sum() > 10  # restarts happened, on most starts
    plain = outcome_map(OutcomeMapConfig(landscape="beale", grid=5, steps=200,
                                         methods=("gd", "adam+moxco")))
    assert list(plain.outcomes.columns) == OUTCOME_COLUMNS  # no restart baseline: unchanged


def _outside(fig) -> list[str]:
    """Texts and legends of `fig` (drawn) that reach past its edges, by more than a pixel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    out = []
    artists = [*fig.legends, *fig.texts, *(t for ax in fig.axes if ax.get_visible()
                                          for t in (ax.title, ax._left_title, ax._right_title,
                                                    ax.xaxis.label, ax.yaxis.label))]
    for artist in artists:
        if not artist.get_visible() or (hasattr(artist, "get_text") and not artist.get_text()):
            continue
        b = artist.get_window_extent(renderer)
        if b.x0 < box.x0 - 1 or b.x1 > box.x1 + 1 or b.y0 < box.y0 - 1 or b.y1 > box.y1 + 1:
            out.append(artist.get_text() if hasattr(artist, "get_text")
                       else type(artist).__name__)
    return out


@pytest.mark.parametrize("landscape", ["two-wells", "beale"])
def test_the_outcome_map_keeps_its_legend_and_titles_inside_the_figure(landscape):
    # 1-D: five classes in one legend row ran off both sides of the 9-inch figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from moxco_cli.plots.outcome_map import outcome_map_figure

    res = outcome_map(OutcomeMapConfig(landscape=landscape, grid=9, steps=5))
    fig = outcome_map_figure(**res.figure_inputs())
    try:
        assert _outside(fig) == []
    finally:
        plt.close(fig)
