"""`moxco run` driven through the Typer app: outputs, contract, bad input, folder rules."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from moxco_cli.cli import app

runner = CliRunner()
SUMMARY_COLUMNS = ["optimizer", "start_id", "start_x0", "start_x1", "final_x0", "final_x1",
                   "final_loss", "outcome", "commit_step", "diverged_step", "grad_evals",
                   "hvps", "nearest_minimum", "distance_to_nearest"]
STEP_COLUMNS = ["optimizer", "start_id", "step", "x0", "x1", "loss", "grad_norm", "lam_max",
                "goodness", "alpha", "beta", "committed"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "default"
    result = invoke("run", "beale", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result


def test_default_run_writes_every_output(default_run):
    out, result = default_run
    assert sorted(p.name for p in out.iterdir()) == [
        ".moxco-manifest.json", "config.json", "goodness.png", "loss.png", "summary.csv",
        "trajectories.csv", "trajectory.png"]
    assert str(out) in result.output and "gd+moxco" in result.output


def test_summary_matches_spec_reference_values(default_run):
    out, _ = default_run
    s = pd.read_csv(out / "summary.csv").set_index("optimizer")
    assert list(pd.read_csv(out / "summary.csv").columns) == SUMMARY_COLUMNS
    assert list(s.index) == ["gd", "adam", "gd+moxco", "adam+moxco"]
    assert s.loc["gd", "distance_to_nearest"] > 5 and s.loc["adam", "distance_to_nearest"] > 5
    assert s.loc["gd+moxco", "distance_to_nearest"] <= 0.15
    assert s.loc["gd+moxco", "commit_step"] >= 0
    assert s.loc["gd", "commit_step"] == -1 and (s["diverged_step"] == -1).all()
    # the cost: one gradient per step; MoXCo also one gradient and d = 2 HVPs per scoring
    assert s["grad_evals"].to_dict() == {"gd": 800, "adam": 800, "gd+moxco": 1600,
                                         "adam+moxco": 1600}
    assert s["hvps"].to_dict() == {"gd": 0, "adam": 0, "gd+moxco": 1600, "adam+moxco": 1600}


def test_trajectories_table_has_spec_columns_and_one_row_per_step(default_run):
    out, _ = default_run
    t = pd.read_csv(out / "trajectories.csv")
    assert list(t.columns) == STEP_COLUMNS
    assert len(t) == 4 * 801
    first = t[(t.optimizer == "gd") & (t.step == 0)].iloc[0]
    assert (first.x0, first.x1) == (-2.5, 1.2)
    assert t[t.optimizer == "gd"][["alpha", "beta"]].eq(0).all().all()
    moxco = t[t.optimizer == "gd+moxco"]
    assert set(moxco.alpha) == {0.9, 0.1}


def test_config_json_records_every_option_seed_and_versions(default_run):
    out, _ = default_run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"] == "run"
    opts = cfg["options"]
    for key in ("landscape", "start", "steps", "optimizers", "lr", "gd_moxco", "adam_moxco",
                "restart", "threshold", "tau", "commit", "prox", "prox_weight", "noise_std",
                "seed", "tol"):
        assert key in opts
    assert opts["steps"] == 800 and opts["lr"] == 0.005 and opts["gd_moxco"] == [0.9, 0.9]
    assert cfg["start_used"] == [-2.5, 1.2]
    for lib in ("moxco", "numpy", "scipy", "matplotlib"):
        assert cfg["versions"][lib]


def test_same_command_twice_gives_byte_identical_csvs(default_run, tmp_path):
    out, _ = default_run
    again = tmp_path / "again"
    assert invoke("run", "beale", "--out", again).exit_code == 0
    for name in ("summary.csv", "trajectories.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_one_dimensional_run(tmp_path):
    out = tmp_path / "tw"
    result = invoke("run", "two-wells", "--start", "2.3", "--steps", "300", "--out", out)
    assert result.exit_code == 0, result.output
    s = pd.read_csv(out / "summary.csv")
    assert "final_x1" not in s.columns and len(s) == 4
    assert (out / "trajectory.png").stat().st_size > 10_000


@pytest.mark.parametrize(("args", "option"), [
    (["run", "nope"], "LANDSCAPE"),
    (["run", "beale", "--start", "1"], "--start"),
    (["run", "beale", "--start", "1,x"], "--start"),
    (["run", "beale", "--start", "1,2,3"], "--start"),
    (["run", "two-wells", "--start", "1,2"], "--start"),
    (["run", "beale", "--lr", "0"], "--lr"),
    (["run", "beale", "--lr", "-1"], "--lr"),
    (["run", "beale", "--lr", "abc"], "--lr"),
    (["run", "beale", "--gd-moxco", "1.0,0.5"], "--gd-moxco"),
    (["run", "beale", "--adam-moxco", "0.5,-0.1"], "--adam-moxco"),
    (["run", "beale", "--restart", "0.1"], "--restart"),
    (["run", "beale", "--threshold", "1"], "--threshold"),
    (["run", "beale", "--threshold", "0"], "--threshold"),
    (["run", "beale", "--tau", "0"], "--tau"),
    (["run", "beale", "--steps", "0"], "--steps"),
    (["run", "beale", "--optimizers", "gd,sgd"], "--optimizers"),
    (["run", "beale", "--commit", "maybe"], "--commit"),
    (["run", "beale", "--prox", "l2"], "--prox"),
    (["run", "beale", "--noise-std", "-1"], "--noise-std"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and option in lines[0]
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_unknown_landscape_message_lists_valid_names(tmp_path):
    result = invoke("run", "nope", "--out", tmp_path / "x")
    assert "beale" in result.output and "two-wells" in result.output


def test_existing_folder_is_never_overwritten_without_force(default_run):
    out, _ = default_run
    before = (out / "summary.csv").read_bytes()
    result = invoke("run", "beale", "--out", out, "--steps", "5")
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "summary.csv").read_bytes() == before


def test_force_replaces_the_named_folder(tmp_path):
    out = tmp_path / "f"
    # An earlier moxco result with a file this run does not write (a file a user put there
    # is refused instead, since issue 20: tests/test_data_loss.py).
    assert invoke("run", "beale", "--out", out, "--steps", "5", "--animate").exit_code == 0
    assert (out / "trajectory.gif").exists()
    assert invoke("run", "beale", "--out", out, "--steps", "7", "--force").exit_code == 0
    assert not (out / "trajectory.gif").exists()
    assert pd.read_csv(out / "trajectories.csv").step.max() == 7


def test_default_folders_get_a_suffix_instead_of_overwriting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert invoke("run", "beale", "--steps", "3").exit_code == 0
    runs = sorted(p.name for p in (tmp_path / "results" / "runs").iterdir())
    assert len(runs) == 2 and runs[0].startswith("run-beale-")
    assert not any(p.name.startswith(".") for p in (tmp_path / "results" / "runs").iterdir())


def test_start_outside_domain_warns_and_runs(tmp_path):
    result = invoke("run", "beale", "--start", "6,1", "--steps", "5", "--out", tmp_path / "o")
    assert result.exit_code == 0 and "outside" in result.output


def test_diverging_optimizer_is_reported_not_a_crash(tmp_path):
    out = tmp_path / "div"
    result = invoke("run", "beale", "--start", "4,4", "--lr", "0.5", "--steps", "50", "--out", out)
    assert result.exit_code == 0, result.output
    s = pd.read_csv(out / "summary.csv").set_index("optimizer")
    for name in ("gd", "gd+moxco"):  # GD steps scale with the gradient: they blow up
        assert s.loc[name, "outcome"] == "diverged" and s.loc[name, "diverged_step"] >= 0
    for name in ("adam", "adam+moxco"):  # Adam's steps are bounded by ~lr: they do not
        assert s.loc[name, "outcome"] != "diverged" and s.loc[name, "diverged_step"] == -1
    assert s[["final_x0", "final_x1", "final_loss"]].notna().all().all()
    assert "diverged" in result.output


def test_moxco_alone_shows_the_help_without_an_empty_error_line():
    result = runner.invoke(app, [])
    assert result.exit_code == 2
    assert "Usage: moxco" in result.output and "escape-count" in result.output
    assert "Error" not in result.output


def test_help_shows_an_example_and_defaults():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for text in ("moxco run beale", "0.005", "0.9,0.9", "0.95,0.5", "0.1,0.1", "0.85", "0.15"):
        assert text in result.output


def test_animate_writes_a_small_gif_with_one_frame_per_shown_step(tmp_path):
    from PIL import Image

    from moxco_cli.plots.animate import frame_steps

    out = tmp_path / "anim"
    result = invoke("run", "beale", "--steps", "800", "--animate", "--out", out)
    assert result.exit_code == 0, result.output
    gif = out / "trajectory.gif"
    assert gif.stat().st_size < 5_000_000
    with Image.open(gif) as im:
        assert im.n_frames == len(frame_steps(800)) == 120
    np_steps = frame_steps(800)
    assert np_steps[0] == 0 and np_steps[-1] == 800
    assert frame_steps(10).tolist() == list(range(11))  # short runs: every step


def test_exit_point_is_where_a_path_first_leaves_the_view():
    from moxco_cli.plots.run import exit_point

    box = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    inside = np.array([[0.0, 0.0], [0.5, 0.5]])
    np.testing.assert_array_equal(exit_point(inside, box), [0.5, 0.5])
    leaves = np.array([[0.0, 0.0], [0.5, 0.0], [4.5, 2.0], [0.0, 0.0]])  # right edge, x = 1
    np.testing.assert_allclose(exit_point(leaves, box), [1.0, 0.25])
    down = np.array([[0.0, 0.0], [0.0, -3.0]])
    np.testing.assert_allclose(exit_point(down, box), [0.0, -1.0])
    assert exit_point(np.array([[5.0, 0.0], [0.0, 0.0]]), box) is None  # started outside
    blown_up = np.array([[0.0, 0.0], [0.2, 0.1], [np.inf, np.nan]])
    np.testing.assert_array_equal(exit_point(blown_up, box), [0.2, 0.1])


def test_diverged_runs_do_not_stretch_the_view_and_twins_are_named(tmp_path):
    from moxco_cli.experiments.run import RunConfig, run_experiment
    from moxco_cli.plots.run import _view_box, trajectory_figure

    result = run_experiment(RunConfig(landscape="beale", start=(4.0, 4.0), steps=50))
    runs, land = result.trajectories, result.landscape
    assert runs["gd"].diverged_step[0] >= 0 and runs["adam"].diverged_step[0] < 0
    np.testing.assert_array_equal(_view_box(land, runs), land.bounds)  # GD went to -500
    fig = trajectory_figure(land, runs, "t")
    labels = fig.axes[0].get_legend().get_texts()
    assert "GD+MoXCo (same path as GD)" in [t.get_text() for t in labels]
    assert any("diverged" in t.get_text() for t in labels)


def test_one_d_view_stays_on_the_landscape_when_a_run_diverges():
    from moxco_cli.experiments.run import RunConfig, run_experiment
    from moxco_cli.plots.run import _view_box, trajectory_figure
    from moxco_cli.settings import OptimizerSettings

    cfg = RunConfig(landscape="two-wells", steps=200, settings=OptimizerSettings(lr=20.0))
    result = run_experiment(cfg)
    runs, land = result.trajectories, result.landscape
    assert runs["gd+moxco"].diverged_step[0] >= 0  # it reaches |x| ~ 1e5 and more
    box = _view_box(land, runs)
    ax = trajectory_figure(land, runs, "t").axes[0]
    np.testing.assert_allclose(ax.get_xlim(), box[0])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("GD+MoXCo diverged, t=") for label in labels)


def test_a_network_loss_is_drawn_as_the_loss_with_its_level_not_clipped_gaps():
    """A network's f_target is its noise floor, which training overfits below: the loss
    figure drew f - f_target clipped at 1e-16, every run flat at 'exactly the target'."""
    from moxco_cli.experiments.run import RunConfig, run_experiment
    from moxco_cli.plots.run import loss_figure, style

    result = run_experiment(RunConfig(landscape="two-layer-net", steps=300))
    runs, land = result.trajectories, result.landscape
    final = {name: tr.records.loss[-1, 0] for name, tr in runs.items()}
    assert min(final.values()) < land.f_target - 0.01  # the case: some run goes below it
    assert land.f_star is None  # what the figure reads
    ax = loss_figure(land, runs, "t").axes[0]
    assert ax.get_ylabel() == r"$f(\theta_t)$ (log)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    for name, tr in runs.items():  # the losses themselves, not clipped gaps
        drawn = lines[style(name)["label"]].get_ydata()
        np.testing.assert_array_equal(drawn, tr.records.loss[:, 0])
    assert "f_target = 0.64 (not the minimum)" in lines
    # Beale's f_target is its minimum: the gap on a log axis, as before
    beale = run_experiment(RunConfig(landscape="beale", steps=100))
    ax = loss_figure(beale.landscape, beale.trajectories, "t").axes[0]
    assert ax.get_ylabel() == r"$f(\theta_t) - f_{target}$ (log)"


def test_two_variants_of_one_optimizer_are_drawn_apart_and_the_title_states_the_lr(tmp_path):
    """`adam` beside `adam:lr=0.05` used to share Adam's colour and dash (any two spec names
    could), and the title said lr=0.005 of a run where one method ran at 0.05."""
    import matplotlib.image as mpimg

    from moxco_cli.experiments.run import RunConfig, run_experiment
    from moxco_cli.plots.run import goodness_figure, styles

    names = ["adam", "adam:lr=0.05", "adam+moxco", "adam+moxco:lr=0.05", "gd", "nesterov:a=1"]
    st = styles(names)
    looks = {(s["color"], s["ls"]) for s in st.values()}
    assert len(looks) == len(names)
    assert len({s["color"] for s in st.values()}) == len(names)
    assert st["adam"]["label"] == "Adam" and st["adam:lr=0.05"]["label"] == "adam:lr=0.05"
    assert styles(["adam:lr=0.05"])["adam:lr=0.05"]["color"] == st["adam"]["color"]  # alone

    result = invoke("run", "beale", "--steps", 50, "--optimizers", "adam,adam:lr=0.05",
                    "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert mpimg.imread(tmp_path / "r" / "goodness.png").shape[0] > 100
    run = run_experiment(RunConfig(landscape="beale", steps=50,
                                   methods=["adam", "adam:lr=0.05"]))
    fig = goodness_figure(run.trajectories, {}, 0.85, {"adam": 0.005, "adam:lr=0.05": 0.05},
                          "t")
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert "2/lr = 400 (Adam)" in labels and "2/lr = 40 (adam:lr=0.05)" in labels
    from moxco_cli.commands import run as command

    titles = []
    out = type("Out", (), {"write_csv": lambda *a: None, "write_rendered": lambda *a: None,
                           "write_figure": lambda self, name, fn, *a: titles.append(a[-1])})()
    command.write_outputs(run, out)
    assert titles and all(", 50 steps, lr per method" in t for t in titles), titles
    same = run_experiment(RunConfig(landscape="beale", steps=50, methods=["adam", "gd"]))
    titles.clear()
    command.write_outputs(same, out)
    assert all(", 50 steps, lr=0.005" in t for t in titles), titles


def test_a_commit_note_turns_inward_only_near_the_edge_of_the_view():
    """A note 70 pt left of a point in the left 30% ran over the start dot and out of the
    axes (the layout then squeezed the plot): it turns right there, and stays as given in the
    middle; along y only the outer 10% turns it."""
    import numpy as np

    from moxco_cli.plots.run import _keep_inside

    box = np.array([[-3.0, 3.0], [-3.0, 3.0]])
    assert _keep_inside((-1.25, -1.25), box, (-70, -20)) == ((70, -20), "left", "baseline")
    assert _keep_inside((0.0, 0.0), box, (-70, -20)) == ((-70, -20), "left", "baseline")
    assert _keep_inside((2.5, 2.9), box, (12, 14)) == ((-12, -14), "right", "top")
    assert _keep_inside((0.0, 0.0), None, (12, 14)) == ((12, 14), "left", "baseline")


def test_a_curvature_near_the_float64_limit_still_draws_the_goodness_figure(tmp_path):
    """lam_max 1e300: the lam_max panel's margin overflowed to inf and matplotlib refused the
    figure (exit 1, goodness.png lost); the data's own range is used there."""
    res = invoke("run", "quadratic:a=1e300", "--steps", "20", "--out", tmp_path / "q")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "q" / "goodness.png").stat().st_size > 0
