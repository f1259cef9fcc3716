"""`moxco_cli.experiments.sweep`: grid parsing, metrics against direct engine calls, resume,
and byte-identical tables from every executor (in-process, process pool, Dask LocalCluster)."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

import landscapes
from moxco_cli.engine import simulate
from moxco_cli.experiments.sweep import (
    Axis,
    CellStore,
    LocalExecutor,
    SweepConfig,
    make_starts,
    parse_grid,
    parse_scheduler,
    parse_starts,
    quantile_with_inf,
    reduce_metric,
    require_dask,
    run_sweep,
    tasks_for,
)
from moxco_cli.report import csv_bytes
from moxco_cli.settings import OptimizerSettings, SettingsError, build_method

TINY = SweepConfig(landscape="beale", optimizer="gd+moxco",
                   grid=(Axis("alpha", (0.0, 0.9)), Axis("beta", (0.0, 0.5))),
                   starts="grid:5", steps=60, tol=0.5)


def test_grid_range_is_inclusive_linspace_rounded_to_12_digits():
    axis = parse_grid("alpha=0:0.99:12")
    assert axis.name == "alpha" and len(axis.values) == 12
    assert axis.values[0] == 0.0 and axis.values[-1] == 0.99 and axis.values[4] == 0.36
    assert parse_grid("lr=1e-3,5e-3") == Axis("lr", (0.001, 0.005))
    assert parse_grid("threshold=0.7:0.7:1").values == (0.7,)


@pytest.mark.parametrize("spec, words", [
    ("gamma=0:1:3", "unknown axis 'gamma'"),
    ("alpha", "NAME=LO:HI:COUNT"),
    ("alpha=0:0.9", "LO:HI:COUNT"),
    ("alpha=0:0.9:0", "COUNT must be >= 1"),
    ("alpha=0:0.9:x", "COUNT must be an integer"),
    ("alpha=0:0.9:1", "COUNT 1 would drop HI"),
    ("alpha=0.9:0:3", "LO <= HI"),
    ("alpha=0:1:3", "[0, 1)"),
    ("beta=-0.1,0.2", "[0, 1)"),
    ("lr=0,1e-3", "> 0"),
    ("threshold=0.5,1", "(0, 1)"),
    ("tau=a,b", "comma-separated numbers"),
    ("lr=1e-3,1e-3", "twice"),
])
def test_bad_grid_specs_give_one_line_errors_naming_the_option(spec, words):
    with pytest.raises(SettingsError) as info:
        parse_grid(spec)
    message = str(info.value)
    assert message.startswith("--grid: ") and words in message and "\n" not in message


def test_starts_grid_has_x0_fastest_and_random_uses_default_rng():
    beale = landscapes.get("beale")
    grid = make_starts(beale, "grid:3", seed=0)
    assert grid.shape == (9, 2)
    assert np.array_equal(grid[:3, 0], [-4.5, 0.0, 4.5]) and np.all(grid[:3, 1] == -4.5)
    rand = make_starts(beale, "random:7", seed=3)
    expected = np.random.default_rng(3).uniform([-4.5, -4.5], [4.5, 4.5], size=(7, 2))
    assert np.array_equal(rand, expected)
    assert make_starts(landscapes.get("two-wells"), "grid:5", 0).shape == (5, 1)
    for bad in ("grid", "mesh:4", "grid:0", "random:x"):
        with pytest.raises(SettingsError, match="^--starts: "):
            parse_starts(bad)


def test_config_validation_rejects_what_cannot_run():
    with pytest.raises(SettingsError, match="^--grid: give at least one axis"):
        SweepConfig(grid=()).validate()
    with pytest.raises(SettingsError, match="^--grid: alpha has no effect on plain gd"):
        SweepConfig(optimizer="gd", grid=(Axis("alpha", (0.5,)),)).validate()
    with pytest.raises(SettingsError, match="^--metric: escape needs"):
        SweepConfig(metric="escape", grid=(Axis("alpha", (0.5,)),)).validate()
    with pytest.raises(SettingsError, match="^--heatmap: "):
        SweepConfig(grid=(Axis("alpha", (0.5,)),), plot_axes=("alpha", "beta")).validate()


def test_config_round_trips_through_options():
    cfg = SweepConfig(landscape="beale", optimizer="adam+moxco",
                      grid=(Axis("lr", (0.001, 0.005)), Axis("tau", (0.1, 0.2))),
                      metric="final-loss",
                      settings=OptimizerSettings(seed=4, threshold=0.7), plot_axes=("tau", "lr"))
    assert SweepConfig.from_options(cfg.to_options()) == cfg.validate()


def test_success_metric_and_wilson_interval_match_direct_engine_calls():
    result = run_sweep(TINY)
    frame = result.frame
    beale = landscapes.get("beale")
    starts = make_starts(beale, "grid:5", 0)
    goal = beale.minimum("global").x
    assert list(frame[["alpha", "beta"]].itertuples(index=False, name=None)) == [
        (0.0, 0.0), (0.0, 0.5), (0.9, 0.0), (0.9, 0.5)]
    plain = simulate(beale, build_method("gd", OptimizerSettings()), starts, 60)
    base_k = int(np.sum((np.linalg.norm(plain.final - goal, axis=1) <= 0.5) & ~plain.diverged))
    for _, row in frame.iterrows():
        settings = OptimizerSettings(gd_moxco=(row["alpha"], row["beta"]))
        traj = simulate(beale, build_method("gd+moxco", settings), starts, 60)
        ok = (np.linalg.norm(traj.final - goal, axis=1) <= 0.5) & ~traj.diverged
        k = int(ok.sum())
        ci = binomtest(k, 25).proportion_ci(method="wilson")
        assert (row["n"], row["k"], row["value"]) == (25, k, k / 25)
        assert (row["ci_low"], row["ci_high"]) == (ci.low, ci.high)
        assert row["diverged_fraction"] == traj.diverged.mean()
        assert row["baseline_value"] == base_k / 25
        assert row["baseline_diverged_fraction"] == plain.diverged.mean()
        assert row["inv_eta_eff"] == 2 * (1 + row["alpha"]) / (0.005 * (1 + 2 * row["beta"]))


def test_final_loss_is_median_and_iqr_with_diverged_runs_as_inf():
    cfg = SweepConfig(landscape="beale", optimizer="gd+moxco", grid=(Axis("alpha", (0.9,)),),
                      starts="grid:4", steps=40, metric="final-loss")
    row = run_sweep(cfg).frame.iloc[0]
    beale = landscapes.get("beale")
    traj = simulate(beale, build_method("gd+moxco", OptimizerSettings()),
                    make_starts(beale, "grid:4", 0), 40)
    loss = np.where(traj.diverged, np.inf, traj.final_loss)
    assert row["value"] == quantile_with_inf(loss, 0.5)
    assert (row["ci_low"], row["ci_high"]) == (quantile_with_inf(loss, 0.25),
                                               quantile_with_inf(loss, 0.75))
    assert math.isinf(quantile_with_inf(np.array([1.0, np.inf, np.inf]), 0.75))
    assert quantile_with_inf(np.array([3.0, 1.0, 2.0, 4.0]), 0.5) == 2.5


def test_escape_counts_sharp_basin_starts_that_end_in_the_flat_minimum():
    start_basins = pytest.importorskip("moxco_cli.experiments.escape_count").start_basins

    cfg = SweepConfig(landscape="two-wells", optimizer="gd+moxco",
                      grid=(Axis("alpha", (0.0, 0.99)), Axis("beta", (0.0,))),
                      starts="random:60", steps=1000, metric="escape")
    frame = run_sweep(cfg).frame
    tw = landscapes.get("two-wells")
    starts = make_starts(tw, "random:60", 0)
    basin, _ = start_basins(tw, starts, 0.05)
    sharp = basin == "sharp"
    flat = tw.minimum("flat").x
    for _, row in frame.iterrows():
        settings = OptimizerSettings(gd_moxco=(row["alpha"], row["beta"]))
        traj = simulate(tw, build_method("gd+moxco", settings), starts, 1000)
        ok = (np.abs(traj.final[:, 0] - flat[0]) <= 0.05) & ~traj.diverged
        assert (row["n"], row["k"]) == (sharp.sum(), ok[sharp].sum())
    assert frame["k"].iloc[1] > frame["k"].iloc[0] == 0  # alpha 0.99 escapes, alpha 0 cannot


class Interrupt(Exception):
    pass


def test_interrupted_and_resumed_sweep_gives_the_same_csv_bytes(tmp_path):
    whole = csv_bytes(run_sweep(TINY).frame)
    store = CellStore(tmp_path / "cells")
    calls = []

    def stop_after_three(n):
        calls.append(n)
        if len(calls) == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_sweep(TINY, store=store, progress=stop_after_three)
    assert len(list((tmp_path / "cells").glob("*.json"))) == 3
    seen = []
    resumed = run_sweep(TINY, store=store, progress=seen.append)
    assert resumed.computed == len(tasks_for(TINY)) - 3 and seen[0] == 3
    assert csv_bytes(resumed.frame) == whole


def test_store_refuses_cells_of_another_sweep(tmp_path):
    from moxco_cli.errors import MoxcoError

    store = CellStore(tmp_path / "cells")
    run_sweep(TINY, store=store)
    other = SweepConfig(**{**TINY.__dict__, "grid": (Axis("alpha", (0.1, 0.9)),
                                                     Axis("beta", (0.0, 0.5)))})
    with pytest.raises(MoxcoError, match="different sweep"):
        run_sweep(other, store=store)


def test_process_pool_gives_the_same_csv_bytes_as_in_process():
    one = csv_bytes(run_sweep(TINY, executor=LocalExecutor(1)).frame)
    pool = LocalExecutor(2)
    try:
        two = csv_bytes(run_sweep(TINY, executor=pool).frame)
    finally:
        pool.close()  # its manager thread must not outlive the test (tests/conftest.py)
    assert one == two


def test_scheduler_specs_are_checked_and_missing_dask_names_the_extra(monkeypatch):
    assert parse_scheduler("tcp://127.0.0.1:8786") == ("address", "tcp://127.0.0.1:8786")
    assert parse_scheduler("local-cluster:2") == ("local", 2)
    for bad in ("127.0.0.1:8786", "tcp://host", "local-cluster:0", "local-cluster:x"):
        with pytest.raises(SettingsError, match="^--scheduler: "):
            parse_scheduler(bad)
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(SettingsError, match=r"pip install 'moxco\[distributed\]'"):
        require_dask()


def test_dask_local_cluster_gives_the_same_csv_bytes_as_a_local_run():
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from moxco_cli.experiments.sweep import DaskExecutor

    local = csv_bytes(run_sweep(TINY).frame)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    executor = None
    try:
        executor = DaskExecutor(cluster.scheduler_address)
        assert len(executor.client.scheduler_info()["workers"]) == 2
        assert csv_bytes(run_sweep(TINY, executor=executor).frame) == local
    finally:
        if executor is not None:
            executor.close()
        cluster.close()


def test_success_counts_every_global_minimum_and_escape_needs_a_non_global_one():
    # Himmelblau has four global minima: a run ending at any of them is a success, none of
    # them is an "other" minimum (the metric used to count only the first).
    himmelblau = landscapes.get("himmelblau")
    glob, other = himmelblau.split_minima()
    assert len(glob) == 4 and other == ()
    final = np.stack([m.x for m in glob] + [np.array([0.0, 0.0])])  # 4 minima + a miss
    out = reduce_metric("success", himmelblau, final, himmelblau.f(final),
                        np.zeros(5, dtype=bool), 0.05, None)
    assert (out["k"], out["n"], out["other_minimum_fraction"]) == (4, 5, 0.0)
    with pytest.raises(SettingsError, match="every named minimum of himmelblau is global"):
        SweepConfig(landscape="himmelblau", metric="escape",
                    grid=(Axis("alpha", (0.5,)),)).validate()
    wells = landscapes.get("two-wells")
    assert [m.name for m in wells.split_minima()[0]] == ["flat"]
    assert [m.name for m in wells.split_minima()[1]] == ["sharp"]
    out = reduce_metric("success", wells, np.array([[wells.minimum("sharp").x[0]]]),
                        np.zeros(1), np.zeros(1, dtype=bool), 0.05, None)
    assert (out["k"], out["other_minimum_fraction"]) == (0, 1.0)


def test_integer_keys_reach_the_method_as_ints_and_batch_needs_training_points():
    """Before: `--grid batch=0,5` gave the method batch 5.0, and the minibatch sampler failed
    in a worker (TypeError: slice indices must be integers); `batch` on beale (no training
    points) was accepted and every cell failed. Now integer keys are ints from --grid and
    from config.json, and a batch that does not fit the landscape is refused up front."""
    axis = parse_grid("batch=0,5")
    assert axis.values == (0, 5) and all(type(v) is int for v in axis.values)
    assert [type(v) for v in Axis("score_every", (2.0, 4.0)).values] == [int, int]
    cfg = SweepConfig(landscape="two-layer-net", optimizer="gd+moxco", grid=(axis,),
                      starts="random:6", steps=5, metric="final-loss")
    frame = run_sweep(cfg).frame
    assert list(frame["batch"]) == [0, 5]
    net = landscapes.get("two-layer-net")
    starts = make_starts(net, "random:6", 0)
    for row, batch in zip(frame.itertuples(), (0, 5), strict=True):
        traj = simulate(net, build_method(f"gd+moxco:batch={batch}", OptimizerSettings()),
                        starts, 5)
        loss = np.where(traj.diverged, np.inf, traj.final_loss)
        assert row.value == quantile_with_inf(loss, 0.5)
    assert SweepConfig.from_options(cfg.to_options()) == cfg
    for bad, words in (
            (SweepConfig(grid=(Axis("batch", (0, 1)),)), "--grid: batch: beale is not a loss"),
            (SweepConfig(optimizer="adam+moxco:batch=2", grid=(Axis("alpha", (0.5,)),)),
             "--optimizer: batch: beale is not a loss"),
            (SweepConfig(landscape="two-layer-net", metric="final-loss",
                         grid=(Axis("batch", (0, 31)),)),
             "--grid: batch: must be at most the 30 training points")):
        with pytest.raises(SettingsError) as info:
            bad.validate()
        assert str(info.value).startswith(words)


def test_only_numeric_keys_are_axes_and_integer_keys_need_integers():
    """Before: `--grid curvature=1,2` (a text key) was accepted and every cell failed in a
    worker; `score_every=1.5` was refused as out of range, which it is not."""
    with pytest.raises(SettingsError) as info:
        parse_grid("curvature=1,2")
    message = str(info.value)
    assert message.startswith("--grid: unknown axis 'curvature'; choose from: alpha, beta")
    assert "score_every" in message and "curvature" not in message.partition("from:")[2]
    with pytest.raises(SettingsError, match=r"^--grid: score_every: values must be integers, "
                                            r"got 1\.5 "):
        parse_grid("score_every=1.5,2")


@pytest.mark.parametrize("optimizer, axis", [
    ("adam+moxco", Axis("b1", (0.5, 0.95))), ("rmsprop+moxco", Axis("rho", (0.8, 0.9))),
    ("gd+moxco", Axis("prox_weight", (0.0, 0.1))), ("gd+moxco", Axis("score_every", (1, 3))),
    ("gd+moxco", Axis("restart_alpha", (0.1, 0.2)))])
def test_a_config_over_any_sweepable_key_loads_again(optimizer, axis):
    """Before: from_options knew AXES only, so a sweep over b1 or rho could be started but
    neither resumed nor rerun (`--grid: unknown axis 'b1'`)."""
    import json

    cfg = SweepConfig(optimizer=optimizer, grid=(axis,), starts="random:3", steps=3).validate()
    assert SweepConfig.from_options(json.loads(json.dumps(cfg.to_options()))) == cfg


def test_restart_columns_are_named_as_the_method_keys_and_old_names_still_parse():
    """SPEC: restart_alpha, restart_beta everywhere (sweep.csv said alpha_restart)."""
    frame = run_sweep(TINY).frame
    assert {"restart_alpha", "restart_beta"} <= set(frame.columns)
    assert not {"alpha_restart", "beta_restart"} & set(frame.columns)
    assert parse_grid("alpha_restart=0.1,0.2") == parse_grid("restart_alpha=0.1,0.2")
    assert parse_grid("beta-restart=0.1").name == "restart_beta"
    old = {**TINY.to_options(), "grid": [{"name": "alpha_restart", "values": [0.1, 0.2]},
                                         {"name": "beta_restart", "values": [0.1, 0.2]}],
           "heatmap": ["alpha_restart", "beta_restart"]}
    cfg = SweepConfig.from_options(old)  # an old config.json: rerun and --resume read it
    assert cfg.grid == (Axis("restart_alpha", (0.1, 0.2)), Axis("restart_beta", (0.1, 0.2)))
    assert cfg.plot_axes == ("restart_alpha", "restart_beta")


@pytest.mark.parametrize("change, words", [
    ({"starts": "grid:4"}, "starts 'grid:5', but "),
    ({"steps": 61}, "steps 60, but "),
    ({"tol": 0.4}, "tol 0.5, but "),
    ({"settings": OptimizerSettings(seed=1)}, "seed 0, but "),
    ({"settings": OptimizerSettings(commit="none")}, "commit 'latch', but "),  # not gd's
])
def test_store_refuses_cells_computed_with_other_options(tmp_path, change, words):
    """Before: only a cell's optimizer and swept values were checked, so a config.json edited
    before a resume (starts random:500 -> random:50) published cells of both sweeps."""
    from moxco_cli.errors import MoxcoError

    store = CellStore(tmp_path / "cells")
    run_sweep(TINY, store=store)
    other = SweepConfig(**{**TINY.__dict__, **change})
    with pytest.raises(MoxcoError) as info:
        run_sweep(other, store=store)
    message = str(info.value)
    first = "cell-000000" if "commit" in words else "baseline-000000"
    assert message.startswith(f"--resume: {tmp_path / 'cells' / first}.json was "
                              f"computed with {words}") and "never mixed" in message
    assert "\n" not in message
    assert run_sweep(TINY, store=store).computed == 0  # the store itself is untouched


def _corrupt(doc, how):
    if how == "list":
        return [1]
    if how == "result text":
        return {**doc, "result": "x"}
    if how == "no values":
        return {k: v for k, v in doc.items() if k != "values"}
    if how == "no inputs":
        return {k: v for k, v in doc.items() if k != "inputs"}
    key, value = how.split("=")
    return {**doc, "result": {**doc["result"], key: float(value)}}


@pytest.mark.parametrize("how, words", [
    ("list", "is not a saved cell (a JSON list, not an object)"),
    ("result text", "holds a result that is not an object (str)"),
    ("no values", "is not a saved cell (no 'values')"),
    ("no inputs", "does not record the options it was computed with"),
    ("diverged_fraction=7.5", "holds diverged_fraction = 7.5, not a fraction in [0, 1]"),
    ("committed_fraction=-0.5", "holds committed_fraction = -0.5, not a fraction"),
    ("n=-3", "holds n = -3.0, but the sweep runs 25 starts"),
    ("value=nan", "holds success nan, but k / n = "),
    ("ci_high=1.5", "holds the interval ["),
])
def test_a_corrupted_or_impossible_cell_is_one_line_naming_the_file(tmp_path, how, words):
    """Before: `[1]` was an AttributeError, a text result a TypeError, a missing key a
    KeyError; a fraction 7.5, n = -3 or a NaN rate was published as it was."""
    import json

    from moxco_cli.errors import MoxcoError

    store = CellStore(tmp_path / "cells")
    run_sweep(TINY, store=store)
    path = tmp_path / "cells" / "cell-000003.json"
    path.write_text(json.dumps(_corrupt(json.loads(path.read_text()), how)))
    with pytest.raises(MoxcoError) as info:
        run_sweep(TINY, store=store)
    message = str(info.value)
    assert message.startswith(f"--resume: {path} {words}") and "\n" not in message
    assert message.endswith("delete it to recompute that cell")
    path.unlink()  # as the line says: that cell alone is computed again
    assert run_sweep(TINY, store=store).computed == 1


def test_a_plain_file_in_place_of_the_cells_folder_is_one_line(tmp_path):
    """Before: FileExistsError from the first save, after computing."""
    from moxco_cli.errors import MoxcoError

    (tmp_path / "cells").write_text("not a folder\n")
    with pytest.raises(MoxcoError, match=f"^--resume: {tmp_path / 'cells'} is not a folder"):
        run_sweep(TINY, store=CellStore(tmp_path / "cells"))
    assert (tmp_path / "cells").read_text() == "not a folder\n"


def test_minima_of_one_curvature_share_one_theorem2_edge_and_note():
    """rastrigin:dim=10 has 21 named minima of lam_max 397: the footer listed 42 notes
    (21 per lr) over the panels; one per distinct curvature now."""
    from moxco_cli.plots.sweep import _same_curvature

    groups = _same_curvature({"global": 397.0, "local-x0+": 397.0 * (1 + 1e-12),
                              "sharp": 330.0, **{f"m{k}": 397.0 for k in range(3)}})
    assert groups == [("the global and 4 other minima", 397.0), ("the sharp minimum", 330.0)]
    assert _same_curvature({"a": 1.0, "b": 1.0}) == [("the a and b minima", 1.0)]


def test_matplotlib_warnings_while_drawing_do_not_reach_stderr(tmp_path):
    """A log axis over 1e300 made matplotlib warn (overflow in exp) from the renderer: lines
    about its internals, not the results."""
    import matplotlib.pyplot as plt

    from moxco_cli.report import draw_png

    def build():
        fig, ax = plt.subplots()
        ax.plot([1e-3, 1e300], [1.0, 2.0])
        ax.set_xscale("log")
        np.exp(1000.0)  # a RuntimeWarning of NumPy's, as matplotlib's scale code raises
        fig.tight_layout(rect=(0, 0.99, 1, 0.991))  # "Tight layout not applied"
        return fig

    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw_png(tmp_path / "f.png", build)
    assert (tmp_path / "f.png").stat().st_size > 0
    assert [str(w.message) for w in caught] == []


def test_only_empty_panels_of_points_are_said_empty_not_colour_bars():
    """The guard for log axes with nothing finite must leave a log colour bar (no lines,
    its own scale) alone: it once wrote "nothing finite to draw" over every contour
    figure's colour bar and reset its scale to 1..10."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from moxco_cli.report import _say_empty_log_axes

    fig, (ax, empty) = plt.subplots(1, 2)
    g = np.linspace(1, 2, 20)
    cs = ax.contourf(g, g, np.outer(g, g) ** 9, norm=LogNorm())
    bar = fig.colorbar(cs, ax=ax)
    bar.ax.set_yscale("log")
    limits = bar.ax.get_ylim()
    empty.plot([1.0, 2.0], [np.nan, np.nan])
    empty.set_yscale("log")
    _say_empty_log_axes(fig)
    assert bar.ax.get_ylim() == limits and not bar.ax.texts
    assert [t.get_text() for t in empty.texts] == [
        "nothing finite to draw\n(every run here diverged)"]
    assert empty.get_ylim() == (1.0, 10.0) and empty.get_xlim()[0] < 1.0 < empty.get_xlim()[1]
    plt.close(fig)


def test_cells_with_indexed_streams_give_the_numbers_of_the_cell_run_alone():
    """A curvature estimator's start vector (like noise and minibatches) is drawn by the
    start's index in the batch: stacked with other cells, cell k's start j was start k S + j
    and drew another vector, so a cell's numbers depended on which cells shared its job
    (and so on the worker count). Such cells run alone."""
    from moxco_cli.experiments import sweep as sweep_module

    cfg = SweepConfig(landscape="beale", optimizer="gd+moxco:curvature=lanczos:1",
                      grid=(Axis("alpha", (0.5, 0.7, 0.9)), Axis("beta", (0.5, 0.7, 0.9))),
                      starts="random:200", steps=400, metric="success")
    tasks = [t for t in tasks_for(cfg) if t.kind == "cell"]
    assert all(len(job) == 1 for job in sweep_module.plan_jobs(cfg, tasks, 200))
    starts, group = make_starts(cfg.build_landscape(), cfg.starts, cfg.settings.seed), None
    together = sweep_module.run_job(cfg, tasks, starts, group)  # what a stacked job gives
    alone = [sweep_module.run_task(cfg, t, starts, group) for t in tasks]
    frame = run_sweep(cfg).frame
    assert list(frame["committed_fraction"]) == [r["committed_fraction"] for r in alone]
    assert list(frame["median_commit_step"]) == [r["median_commit_step"] for r in alone]
    # the reason for running alone is real: stacked, some cell's numbers change
    assert together != alone
