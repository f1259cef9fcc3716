"""`moxco sweep` driven through the Typer app: outputs, rerun, resume, folder rules, bad input."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from moxco_cli.cli import app
from moxco_cli.experiments.sweep import COLUMNS

runner = CliRunner()
SMALL = ["beale", "--optimizer", "gd+moxco", "--grid", "alpha=0:0.9:2", "--grid", "beta=0,0.5",
         "--starts", "grid:4", "--steps", "40", "--tol", "0.5", "--workers", "1"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "small"
    result = invoke("sweep", *SMALL, "--out", out)
    assert result.exit_code == 0, result.output
    return out, result


def test_sweep_writes_csv_config_and_heatmap_and_nothing_incomplete(small_sweep):
    out, result = small_sweep
    assert sorted(p.name for p in out.iterdir()) == [".moxco-manifest.json", "config.json",
                                                    "sweep-success.png", "sweep.csv"]
    assert not out.with_name("small.incomplete").exists()
    frame = pd.read_csv(out / "sweep.csv")
    assert list(frame.columns) == COLUMNS and len(frame) == 4
    assert list(frame["cell"]) == [0, 1, 2, 3] and set(frame["baseline"]) == {"gd"}
    doc = json.loads((out / "config.json").read_text())
    assert doc["command"] == "sweep" and doc["options"]["grid"][0] == {"name": "alpha",
                                                                       "values": [0.0, 0.9]}
    assert "best of 4 cells" in result.output and str(out) in result.output


def test_an_axis_near_the_float64_limit_is_drawn_by_position(tmp_path):
    """Before: a swept axis holding 1e308 was computed and written, but its line figure
    failed (matplotlib's tick locator overflowed: "arange: cannot compute length"), exit 1.
    Now such an axis is drawn one position per value, labelled with the values."""
    import matplotlib.pyplot as plt

    from moxco_cli.plots.sweep import line_figure

    out = tmp_path / "huge"
    result = invoke("sweep", "beale", "--starts", "random:2", "--steps", "2", "--grid",
                    "tau=1e308", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "sweep-success.png").stat().st_size > 0
    frame = pd.read_csv(out / "sweep.csv")
    three = pd.concat([frame.assign(tau=v) for v in (1e308, 1.0, 1e305)], ignore_index=True)
    fig = line_figure(three, "tau")
    for ax in fig.axes:
        assert list(ax.get_xticks()) == [0, 1, 2]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "1e+305", "1e+308"]
        assert "one position per value" in ax.get_xlabel()
    assert [list(line.get_xdata()) for line in fig.axes[0].lines][0] == [0.0, 1.0, 2.0]
    fig.savefig(tmp_path / "three.png")
    plt.close(fig)
    fig = line_figure(three.assign(tau=three["tau"].clip(upper=1e300)), "tau")
    assert "one position per value" not in fig.axes[0].get_xlabel()  # ordinary axes stay
    fig.savefig(tmp_path / "ordinary.png")  # ticks are computed when drawn
    assert fig.axes[0].get_xlim()[1] >= 1e300
    plt.close(fig)


def test_rerun_of_config_json_gives_identical_csv(small_sweep, tmp_path):
    out, _ = small_sweep
    again = tmp_path / "again"
    result = invoke("rerun", out / "config.json", "--out", again)
    assert result.exit_code == 0, result.output
    assert (again / "sweep.csv").read_bytes() == (out / "sweep.csv").read_bytes()


def test_a_config_asking_sweep_for_jax_is_refused_by_rerun(small_sweep, tmp_path):
    """sweep runs on NumPy only: `--backend jax` is refused on the command line, and so is
    a config.json that records it (written by a sweep before that refusal), instead of a
    NumPy run that writes "backend": "jax" again."""
    out, _ = small_sweep
    doc = json.loads((out / "config.json").read_text())
    assert doc["options"]["backend"] == "numpy"
    doc["options"]["backend"] = "jax"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(doc))
    result = invoke("rerun", config, "--out", tmp_path / "again")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: --backend: jax runs run, escape-count, outcome-map; sweep runs on numpy only")
    assert not (tmp_path / "again").exists()


def _interrupt_after_two_jobs(monkeypatch, sweep_module, calls: list) -> None:
    """One task per engine call, and a Ctrl-C at the third (`calls` counts them)."""
    real = sweep_module.run_job

    def interrupted_after_two(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "ROWS_PER_JOB", 1)
    monkeypatch.setattr(sweep_module, "run_job", interrupted_after_two)


def test_interrupted_sweep_keeps_its_cells_and_resumes_to_the_same_bytes(small_sweep, tmp_path,
                                                                          monkeypatch):
    from moxco_cli.experiments import sweep as sweep_module

    out, _ = small_sweep
    target = tmp_path / "cut"
    real, calls = sweep_module.run_job, []
    _interrupt_after_two_jobs(monkeypatch, sweep_module, calls)
    result = invoke("sweep", *SMALL, "--out", target)
    assert result.exit_code == 130
    work = tmp_path / "cut.incomplete"
    assert not target.exists() and (work / "INCOMPLETE").exists()
    assert "2 of 5 cells (grid cells and plain-optimizer baselines) are saved" in result.output
    assert "--resume" in result.output
    assert len(list((work / "cells").glob("*.json"))) == 2
    # a new sweep to the same place is refused: resume it or start over with --force
    refused = invoke("sweep", *SMALL, "--out", target)
    assert refused.exit_code == 2 and "unfinished sweep" in refused.output
    # resuming takes the options from the folder; giving others is refused
    mixed = invoke("sweep", "--resume", work, "--grid", "alpha=0.1")
    assert mixed.exit_code == 2 and "drop --grid" in mixed.output
    monkeypatch.setattr(sweep_module, "run_job", real)
    calls.clear()
    resumed = invoke("sweep", "--resume", work)
    assert resumed.exit_code == 0, resumed.output
    assert not work.exists()
    assert (target / "sweep.csv").read_bytes() == (out / "sweep.csv").read_bytes()
    finished = invoke("sweep", "--resume", target)
    assert finished.exit_code == 2 and "finished sweep" in finished.output


@pytest.mark.parametrize("args, words", [
    (["--grid", "gamma=0:1:2"], "--grid: unknown axis 'gamma'"),
    (["--grid", "alpha=0:0.9:0"], "COUNT must be >= 1"),
    (["--grid", "alpha=0,1"], "[0, 1)"),
    (["--grid", "lr=-1"], "> 0"),
    (["--grid", "alpha=0.5", "--grid", "alpha=0.6"], "given twice"),
    (["--grid", "alpha=0.5", "--starts", "grid"], "--starts: expects grid:N or random:N"),
    (["--grid", "alpha=0.5", "--metric", "escape"], "--metric: escape needs"),
    (["--grid", "alpha=0.5", "--metric", "accuracy"], "--metric: must be one of"),
    (["--grid", "alpha=0.5", "--optimizer", "sgd"], "--optimizer: unknown optimizer"),
    (["--grid", "alpha=0.5", "--scheduler", "localhost:1"], "--scheduler: expects tcp://"),
    (["--grid", "alpha=0.5", "--lr", "0"], "--lr: must be a number > 0"),
    (["--grid", "alpha=0.5,0.6", "--heatmap", "alpha,beta"], "--heatmap: "),
    ([], "--grid: give at least one axis"),
    (["--grid", "batch=0,1"], "--grid: batch: beale is not a loss over training points"),
    (["--grid", "curvature=1,2"], "--grid: unknown axis 'curvature'"),
    (["--grid", "score_every=1.5,2"], "--grid: score_every: values must be integers, got 1.5"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, words):
    out = tmp_path / "never"
    result = invoke("sweep", "beale", *args, "--out", out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_missing_dask_explains_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    result = invoke("sweep", "beale", "--grid", "alpha=0.5", "--scheduler", "local-cluster:2",
                    "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "pip install 'moxco[distributed]'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_folder_that_is_no_sweep_is_refused(tmp_path):
    result = invoke("sweep", "--resume", tmp_path)
    assert result.exit_code == 2 and "not an unfinished sweep" in result.output
    missing = invoke("sweep")
    assert missing.exit_code == 2 and "LANDSCAPE" in missing.output


def test_one_axis_final_loss_sweep_where_every_median_is_infinite_still_draws(tmp_path):
    # Plain GD on Beale diverges from more than half of the starts at these rates, so every
    # median final loss is +inf; the log axis used to find no data range and crash.
    out = tmp_path / "inf"
    result = invoke("sweep", "beale", "--optimizer", "gd", "--grid", "lr=0.005,0.006",
                    "--starts", "random:200", "--steps", "400", "--metric", "final-loss",
                    "--workers", "1", "--out", out)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert (frame["value"] == float("inf")).all()
    assert (out / "sweep-final-loss.png").stat().st_size > 10_000


def test_ctrl_c_while_publishing_says_the_cells_are_kept_and_how_to_resume(tmp_path, monkeypatch):
    from moxco_cli.commands import sweep as command

    def interrupted(result, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "write_outputs", interrupted)
    target = tmp_path / "s"
    result = invoke("sweep", *SMALL, "--out", target)
    assert result.exit_code == 130
    work = command.work_path(target)
    assert f"--resume {work}" in result.output and not target.exists()
    monkeypatch.undo()
    assert invoke("sweep", "--resume", work).exit_code == 0 and (target / "sweep.csv").exists()


def test_random_starts_of_a_network_are_its_initialization():
    """sweep --starts random:N on a landscape with its own start distribution draws from it
    (two-layer-net: the network initialization), not uniformly on the plotting box."""
    import numpy as np

    import landscapes
    from moxco_cli.experiments.sweep import make_starts

    net = landscapes.get("two-layer-net")
    starts = make_starts(net, "random:50", 3)
    np.testing.assert_array_equal(starts, net.sample_starts(50, np.random.default_rng(3)))
    beale = make_starts(landscapes.get("beale"), "random:50", 3)
    np.testing.assert_array_equal(
        beale, np.random.default_rng(3).uniform([-4.5, -4.5], [4.5, 4.5], size=(50, 2)))


def test_resume_of_a_missing_folder_says_it_does_not_exist(tmp_path):
    """Before: "not an unfinished sweep (no INCOMPLETE file)" for a path that is not there."""
    result = invoke("sweep", "--resume", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: --resume: {tmp_path / 'nowhere'} does not exist"


def _stopped(monkeypatch, args, out: Path, saved: int) -> Path:
    """`moxco sweep ARGS --out OUT` interrupted (Ctrl-C) once `saved` of its tasks are
    saved, one task per job; returns its `OUT.incomplete`."""
    from moxco_cli.experiments import sweep as sweep_module

    real, work = sweep_module.run_job, out.with_name(out.name + ".incomplete")

    def interrupted(*a, **k):
        if len(list((work / "cells").glob("*.json"))) >= saved:
            raise KeyboardInterrupt
        return real(*a, **k)

    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "ROWS_PER_JOB", 1)
        patch.setattr(sweep_module, "run_job", interrupted)
        assert invoke("sweep", *args, "--out", out).exit_code == 130
    return work


def _cut_short(monkeypatch, tmp_path):
    """An interrupted sweep (2 of its 5 tasks saved) in tmp_path / 'cut.incomplete'."""
    return _stopped(monkeypatch, SMALL, tmp_path / "cut", 2)


def test_a_config_edited_before_resume_is_refused_naming_the_option(small_sweep, tmp_path,
                                                                    monkeypatch):
    """Before: cells of the old starts were published beside cells of the new ones."""
    work = _cut_short(monkeypatch, tmp_path)
    config = work / "config.json"
    original = config.read_text()
    config.write_text(original.replace('"grid:4"', '"grid:3"'))
    before = sorted(p.name for p in (work / "cells").iterdir())
    result = invoke("sweep", "--resume", work)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: --resume: {work / 'cells' / 'baseline-000000.json'} was computed with starts "
        f"'grid:4', but {config} now gives 'grid:3'; cells of two different sweeps are never "
        "mixed")
    assert sorted(p.name for p in (work / "cells").iterdir()) == before
    assert not (tmp_path / "cut").exists()
    config.write_text(original)  # put back: the resume finishes, the same bytes as unbroken
    assert invoke("sweep", "--resume", work).exit_code == 0
    out, _ = small_sweep
    assert (tmp_path / "cut" / "sweep.csv").read_bytes() == (out / "sweep.csv").read_bytes()


def test_a_corrupted_cell_under_resume_is_one_line_and_nothing_is_published(tmp_path,
                                                                          monkeypatch):
    """Before: `[1]` in a cell file was an AttributeError traceback."""
    work = _cut_short(monkeypatch, tmp_path)
    cell = sorted((work / "cells").glob("cell-*.json"))[0]
    cell.write_text("[1]\n")
    result = invoke("sweep", "--resume", work)
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --resume: {cell} is not a saved cell (a JSON list, not an object); delete it "
        "to recompute that cell")
    assert not (tmp_path / "cut").exists() and (work / "INCOMPLETE").exists()


def test_a_sweep_over_b1_resumes_and_reruns(tmp_path, monkeypatch):
    """Before: `--grid: unknown axis 'b1'` from --resume and from rerun (config.json knew AXES
    only)."""
    args = ["beale", "--grid", "b1=0.5,0.9", "--starts", "random:8", "--steps", "20",
            "--workers", "1"]
    work = _stopped(monkeypatch, args, tmp_path / "b", 1)
    resumed = invoke("sweep", "--resume", work)
    assert resumed.exit_code == 0, resumed.output
    whole = invoke("sweep", *args, "--out", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    again = invoke("rerun", tmp_path / "b" / "config.json", "--out", tmp_path / "again")
    assert again.exit_code == 0, again.output
    csv = (tmp_path / "whole" / "sweep.csv").read_bytes()
    assert (tmp_path / "b" / "sweep.csv").read_bytes() == csv
    assert (tmp_path / "again" / "sweep.csv").read_bytes() == csv
    assert list(pd.read_csv(tmp_path / "b" / "sweep.csv")["b1"]) == [0.5, 0.9]


def test_ctrl_c_while_removing_the_published_sweeps_folder_blocks_nothing(tmp_path,
                                                                          monkeypatch):
    """Before: a signal during the removal of `<out>.incomplete` after publishing left it
    holding config.json alone; the next sweep said "an unfinished sweep is in it; resume it"
    and --resume said "not an unfinished sweep". Now its INCOMPLETE note goes first, and
    such a leftover is removed by --resume and by the next sweep alike."""
    import shutil

    target, work = tmp_path / "w", tmp_path / "w.incomplete"
    real = shutil.rmtree

    def cut_short(path, *args, **kwargs):  # the signal, once cells/ is gone
        if Path(path) == work:
            real(work / "cells")
            (work / "INCOMPLETE").unlink(missing_ok=True)
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    for step in ("resume", "restart"):
        with monkeypatch.context() as patch:
            patch.setattr(shutil, "rmtree", cut_short)
            result = invoke("sweep", *SMALL, "--out", target, "--force")
        assert result.exit_code == 130 and (target / "sweep.csv").exists()
        assert sorted(p.name for p in work.iterdir()) == ["config.json"]
        if step == "resume":
            resumed = invoke("sweep", "--resume", work)
            assert resumed.exit_code == 2 and resumed.output.count("\n") == 1
            assert "removed it, nothing to resume" in resumed.output
            assert not work.exists()
        else:  # the published folder moved away: the same sweep starts without --force
            target.rename(tmp_path / "kept")
            again = invoke("sweep", *SMALL, "--out", target)
            assert again.exit_code == 0, again.output
            assert not work.exists() and (target / "sweep.csv").exists()


def test_ctrl_c_just_after_the_rename_removes_the_working_folder(tmp_path, monkeypatch):
    """Before: a signal right after publishing left `<out>.incomplete` whole, and the message
    said to resume it, which was refused (`<out>` exists). Now the working folder is removed
    and nothing asks to be resumed."""
    from moxco_cli.report import ResultsFolder

    real = ResultsFolder._publish

    def publish_then_signal(self):
        real(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ResultsFolder, "_publish", publish_then_signal)
    target = tmp_path / "p"
    result = invoke("sweep", *SMALL, "--out", target)
    assert result.exit_code == 130
    assert (target / "sweep.csv").exists() and not (tmp_path / "p.incomplete").exists()
    assert "--resume" not in result.output


def test_nesterov_over_lr_and_alpha_is_one_facet_not_one_per_beta(tmp_path):
    """nesterov ties beta = alpha: a sweep over lr x alpha made one facet per beta value,
    each a single alpha row, titled by beta (four near-empty rows for four alphas)."""
    from moxco_cli.plots.sweep import _facets

    out = tmp_path / "n"
    result = CliRunner().invoke(app, ["sweep", "beale", "--method", "nesterov", "--grid",
                                      "lr=0.001:0.01:3", "--grid", "alpha=0:0.9:4", "--starts",
                                      "grid:2", "--steps", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert frame["beta"].nunique() == 4  # it does vary, with alpha
    facets = _facets(frame, "lr", "alpha")
    assert [name for name, _ in facets] == ["Nesterov"] and len(facets[0][1]) == 12
    wrapped = pd.concat([frame.assign(beta=0.5, optimizer="gd+moxco", threshold=t)
                         for t in (0.8, 0.9)])
    assert [n for n, _ in _facets(wrapped, "lr", "alpha")] == [  # a free axis still facets
        "GD+MoXCo (threshold = 0.8)", "GD+MoXCo (threshold = 0.9)"]


def test_a_method_that_cannot_commit_shows_no_nan_commit_step(tmp_path):
    res = runner.invoke(app, ["sweep", "beale", "--method", "nesterov", "--grid", "lr=1e-3,1e-2",
                              "--starts", "grid:3", "--steps", "20", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert "nan" not in res.output and "median_commit_step" in res.output


@pytest.mark.parametrize("what, how, words", [
    ("cell", "nested", "maximum recursion depth exceeded"),
    ("cell", "fifo", "is not a regular file"),
    ("config", "nested", "maximum recursion depth exceeded"),
    ("config", "fifo", "is not a regular file")])
def test_a_saved_file_that_cannot_be_read_back_is_one_line_not_a_hang(what, how, words,
                                                                     tmp_path, monkeypatch):
    """A JSON nested 100000 deep was a RecursionError traceback; a FIFO in its place blocked
    the resume forever (rerun refused both already)."""
    import os

    from moxco_cli.experiments import sweep as sweep_module

    real = sweep_module.run_job
    _interrupt_after_two_jobs(monkeypatch, sweep_module, [])
    assert invoke("sweep", *SMALL, "--out", tmp_path / "cut").exit_code == 130
    monkeypatch.setattr(sweep_module, "run_job", real)
    work = tmp_path / "cut.incomplete"
    path = (sorted((work / "cells").glob("cell-*.json"))[0] if what == "cell"
            else work / "config.json")
    path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("[" * 100000 + "]" * 100000)
    result = invoke("sweep", "--resume", work)
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"Error: --resume: cannot read {path} (") and words in line, line
    assert "\n" not in line


def test_cells_saved_with_the_old_restart_column_names_resume(small_sweep, tmp_path,
                                                             monkeypatch):
    """Saved cells before 2026-12-03 name their values alpha_restart, beta_restart: a resume
    said they "belong to a different sweep"."""
    import json

    from moxco_cli.experiments import sweep as sweep_module

    out, _ = small_sweep
    real = sweep_module.run_job
    _interrupt_after_two_jobs(monkeypatch, sweep_module, [])
    assert invoke("sweep", *SMALL, "--out", tmp_path / "cut").exit_code == 130
    monkeypatch.setattr(sweep_module, "run_job", real)
    work = tmp_path / "cut.incomplete"
    for path in (work / "cells").glob("*.json"):
        doc = json.loads(path.read_text())
        doc["values"] = {{"restart_alpha": "alpha_restart", "restart_beta": "beta_restart"}
                         .get(k, k): v for k, v in doc["values"].items()}
        path.write_text(json.dumps(doc))
    resumed = invoke("sweep", "--resume", work)
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "cut" / "sweep.csv").read_bytes() == (out / "sweep.csv").read_bytes()
