"""`moxco compare`: the protocol is what it claims, and the export reads back the same."""

import json

import numpy as np
import pytest

import landscapes
from moxco_cli import stats
from moxco_cli.engine import simulate
from moxco_cli.experiments import compare as cmp
from moxco_cli.settings import OptimizerSettings, SettingsError, build_method

SMALL = cmp.CompareConfig(landscapes=(("beale", {}),), methods=("adam", "adam+moxco", "gd"),
                          trials=5, tuning_starts=24, eval_starts=40, steps=120)


@pytest.fixture(scope="module")
def small():
    return cmp.run_compare(SMALL)


def test_tuning_and_evaluation_starts_are_disjoint_streams():
    beale = landscapes.get("beale")
    box = beale.bounds.astype(float)
    ev = np.random.default_rng([0, 0]).uniform(box[:, 0], box[:, 1], (40, 2))
    tu = np.random.default_rng([0, 1]).uniform(box[:, 0], box[:, 1], (24, 2))
    assert not (ev[:, None, :] == tu[None, :, :]).all(axis=2).any()
    from moxco_cli.starts import start_box, uniform_starts

    np.testing.assert_array_equal(uniform_starts(start_box(beale), 40, [0, 0]), ev)


def test_every_method_gets_the_same_trials_starts_and_steps(small):
    counts = small.tuning.groupby("method").size()
    assert set(counts) == {5} and set(counts.index) == {"adam", "adam+moxco", "gd"}
    np.testing.assert_allclose(small.tuning[small.tuning.method == "gd"].lr,
                               10.0 ** (np.linspace(-12, 0, 5) / 3))
    assert set(small.cost.steps) == {120}
    assert set(small.cost.tuning_runs) == {5 * 24} and set(small.cost.eval_runs) == {40}
    assert (small.success.groupby("method").runs.unique().map(list) == [[40]] * 3).all()


def test_the_chosen_trial_is_the_argmin_of_the_written_objective(small):
    for method, part in small.tuning.groupby("method"):
        best = part.sort_values(["objective", "lr"], kind="stable").iloc[0]
        assert bool(best.chosen) and part.chosen.sum() == 1, method
        chosen = small.chosen[small.chosen.method == method].iloc[0]
        assert chosen.chosen_lr == best.lr
    # and the objective is the median final f - f* of direct engine runs on the tuning starts
    beale = landscapes.get("beale")
    starts = np.random.default_rng([0, 1]).uniform(-4.5, 4.5, (24, 2))
    row = small.tuning[(small.tuning.method == "adam") & (small.tuning.trial == 2)].iloc[0]
    method = build_method(f"adam:lr={float(row.lr)!r}", OptimizerSettings())
    traj = simulate(beale, method, starts, 120)
    gap = np.where(traj.diverged, np.inf, traj.final_loss - beale.f_target)
    assert row.objective == stats.quantile_with_inf(gap, 0.5)


def test_evaluation_numbers_follow_from_direct_runs_on_the_evaluation_starts(small):
    beale = landscapes.get("beale")
    starts = np.random.default_rng([0, 0]).uniform(-4.5, 4.5, (40, 2))
    lr = float(small.chosen[small.chosen.method == "adam"].chosen_lr.iloc[0])
    traj = simulate(beale, build_method(f"adam:lr={lr!r}", OptimizerSettings()), starts, 120,
                    record=True)
    gap = traj.records.loss[1:] - beale.f_target
    rt = stats.runtimes(gap, cmp.TARGETS)
    ert = small.ert[small.ert.method == "adam"].ert.to_numpy()
    np.testing.assert_array_equal(ert, stats.ert(rt, 120))
    k = cmp.TARGETS.index(1e-4) if 1e-4 in cmp.TARGETS else 30
    hits = small.success[(small.success.method == "adam")].successes.to_numpy()
    np.testing.assert_array_equal(hits, np.isfinite(rt).sum(axis=0))
    assert small.headline[small.headline.method == "adam"].successes.iloc[0] == hits[k]


def test_mcnemar_pairs_each_moxco_method_with_its_inner_optimizer(small):
    assert list(zip(small.mcnemar.method, small.mcnemar.against, strict=True)) == [
        ("adam+moxco", "adam")]
    assert cmp.moxco_pairs(["gd", "adam:lr=1", "adam+moxco:lr=0.01", "rmsprop+moxco"]) == [
        ("adam+moxco:lr=0.01", "adam:lr=1")]


def test_every_moxco_label_is_tested_against_every_label_of_its_inner_optimizer():
    """Labels, not names: the second `adam+moxco` variant was never tested (the pairs were
    keyed by method name, keeping the first label of each)."""
    names = ["adam", "adam+moxco", "adam+moxco:commit=none", "gd", "adam:lr=1"]
    assert cmp.moxco_pairs(names) == [
        ("adam+moxco", "adam"), ("adam+moxco", "adam:lr=1"),
        ("adam+moxco:commit=none", "adam"), ("adam+moxco:commit=none", "adam:lr=1")]


def test_the_default_lr_grid_is_ten_to_the_k_thirds_exactly():
    grid = cmp.trial_values(cmp.CompareConfig(landscapes=(("beale", {}),), methods=("gd",)),
                            "gd")["lr"]
    assert len(grid) == 13
    assert list(grid) == [10.0 ** (k / 3) for k in range(-12, 1)]  # was 1-2 ulps off 5 values


def test_cost_is_what_the_engine_counts_for_each_method():
    """Estimators, score_every and commit=none change the cost (it was `2 T` gradients and
    `d T` HVPs for every +moxco label); a plain method's monitor goodness is free. On
    `quadratic:a=1` no trial diverges, so every run takes all T = 100 steps."""
    cfg = cmp.CompareConfig(landscapes=(("quadratic", {"a": 1.0}),), steps=100, trials=3,
                            tuning_starts=8, eval_starts=16, methods=(
                                "gd", "gd+moxco", "gd+moxco:curvature=power:2,score_every=4",
                                "gd+moxco:commit=none"))
    cost = cmp.run_compare(cfg).cost.set_index("method")
    want = {"gd": (100, 0), "gd+moxco": (200, 100),  # d = 1: one HVP's worth per scoring
            "gd+moxco:curvature=power:2,score_every=4": (125, 50),
            "gd+moxco:commit=none": (100, 0)}
    runs = 3 * 8 + 16
    for method, (grads, hvps) in want.items():
        row = cost.loc[method]
        assert (row.gradients_per_run, row.hvps_per_run) == (grads, hvps), method
        assert (row.total_gradients, row.total_hvps) == (grads * runs, hvps * runs), method


def test_targets_are_the_51_decades_from_100_to_1e_minus_8():
    assert len(cmp.TARGETS) == 51 and cmp.TARGETS[0] == 100.0 and cmp.TARGETS[-1] == 1e-8
    assert cmp.TARGET_EXPONENTS[:3] == (2.0, 1.8, 1.6)


def test_iohinspector_reads_the_export_with_our_best_so_far_values(small, tmp_path):
    DataManager = pytest.importorskip("iohinspector").DataManager
    for name, data in cmp.ioh_files(small).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manager = DataManager()
    manager.add_folder(str(tmp_path))
    frame = manager.load(monotonic=True, include_meta_data=True).to_pandas()
    assert set(frame.algorithm_name) == {"adam", "adam+moxco", "gd"}
    for method in ("adam", "gd"):
        best_gap, best_step, _, (run_ids, t_log, y_log), steps = small.runs[("beale", method)]
        mine = frame[frame.algorithm_name == method]
        assert mine.run_id.nunique() == 40
        first = mine[mine.run_id == 1]
        ours = y_log[run_ids == 0]
        # what iohinspector keeps (monotonic: where the best so far improves) is ours
        np.testing.assert_array_equal(first.raw_y.to_numpy(), np.minimum.accumulate(ours)[
            np.r_[True, np.diff(np.minimum.accumulate(ours)) != 0]])
        overview = manager.overview.to_pandas()
        best = overview[overview.algorithm_name == method].sort_values("run_id").best_y
        np.testing.assert_array_equal(best.to_numpy(), best_gap)


def test_compare_command_writes_its_tables_and_the_same_bytes_on_dask(tmp_path):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    args = ["compare", "beale", "two-wells", "--methods", "gd,gd+moxco", "--trials", "3",
            "--tuning-starts", "8", "--eval-starts", "12", "--steps", "60"]
    local = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert local.exit_code == 0, local.output
    assert "gd+moxco vs gd" in local.output and "McNemar" in local.output
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    for name in ("tuning.csv", "chosen.csv", "ert.csv", "ecdf.csv", "success.csv",
                 "fixed_budget.csv", "mcnemar.csv", "cost.csv", "profile.csv", "ecdf.png",
                 "ert.png", "profile.png", "tuning.png", "ioh"):
        assert name in names
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["options"]["trials"] == 3 and "Tuning objective" in config["protocol"]
    pytest.importorskip("distributed")
    dask = CliRunner().invoke(app, [*args, "--scheduler", "local-cluster:2",
                                    "--out", str(tmp_path / "b")])
    assert dask.exit_code == 0, dask.output
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file() and path.name != "config.json":
            other = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert path.read_bytes() == other.read_bytes(), path.name
    bad = CliRunner().invoke(app, ["compare", "beale", "--tune", "gamma"])
    assert bad.exit_code == 2 and "--tune: cannot tune 'gamma'" in bad.output


def test_tuning_more_keys_uses_the_same_sobol_trials_count_for_every_method():
    from scipy.stats import qmc

    cfg = cmp.CompareConfig(landscapes=(("beale", {}),), methods=("gd", "gd+moxco"),
                            tune=("lr", "alpha"), trials=8, tuning_starts=6, eval_starts=6,
                            steps=30)
    plain, wrapped = cmp.trial_values(cfg, "gd"), cmp.trial_values(cfg, "gd+moxco")
    assert set(plain) == {"lr"} and set(wrapped) == {"lr", "alpha"}  # each its own keys
    assert len(plain["lr"]) == len(wrapped["lr"]) == 8
    unit = qmc.Sobol(d=2, scramble=True, seed=0).random(8)
    np.testing.assert_allclose(wrapped["lr"], 10.0 ** (-4 + 4 * unit[:, 0]))
    np.testing.assert_allclose(wrapped["alpha"], 0.99 * unit[:, 1])
    result = cmp.run_compare(cfg)
    assert set(result.tuning.groupby("method").size()) == {8}
    chosen = result.chosen.set_index("method")
    assert np.isnan(chosen.loc["gd", "chosen_alpha"]) and 0 <= chosen.loc["gd+moxco",
                                                                          "chosen_alpha"] < 1


def test_tuning_without_lr_draws_and_a_tuned_key_in_a_spec_is_refused(tmp_path):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    ok = CliRunner().invoke(app, ["compare", "beale", "--methods", "gd+moxco", "--tune", "alpha",
                                  "--trials", "3", "--tuning-starts", "4", "--eval-starts", "4",
                                  "--steps", "20", "--out", str(tmp_path / "a")])
    assert ok.exit_code == 0, ok.output  # the tuning figure's x axis is alpha then
    assert (tmp_path / "a" / "tuning.png").exists()
    bad = CliRunner().invoke(app, ["compare", "beale", "--methods", "adam:lr=0.1,adam+moxco"])
    assert bad.exit_code == 2 and "--methods: adam:lr=0.1: lr is tuned by compare" in bad.output
    assert cmp.CompareConfig(landscapes=(("beale", {}), ("two-wells", {}))).landscape == (
        "beale-two-wells")


@pytest.mark.parametrize(("args", "message"), [
    (["--lr", "0.01"], "--lr: sets lr of gd, which compare tunes (--tune lr)"),
    (["--tune", "lr,alpha", "--gd-moxco", "0.5,0.5"],
     "--gd-moxco: sets alpha of gd+moxco, which compare"),
    (["--tune", "lr,threshold", "--threshold", "0.9"],
     "--threshold: sets threshold of gd+moxco, which compare tunes"),
    (["--tune", "lr,restart_alpha", "--restart", "0.2,0.1"],
     "--restart: sets restart_alpha of gd+moxco, which compare tunes"),
])
def test_a_shorthand_option_for_a_tuned_key_is_refused_not_ignored(args, message, tmp_path):
    """`compare --methods gd --lr 0.01` ran, tuning lr and never using 0.01, and said nothing."""
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    bad = CliRunner().invoke(app, ["compare", "beale", "--methods", "gd,gd+moxco", *args,
                                   "--out", str(tmp_path / "a")])
    assert bad.exit_code == 2 and message in bad.output, bad.output
    assert not (tmp_path / "a").exists()
    fixed = cmp.CompareConfig(landscapes=(("beale", {}),), methods=("gd",), tune=("alpha",),
                              settings=OptimizerSettings(lr=0.01))
    with pytest.raises(SettingsError, match="--tune"):  # gd has no alpha: lr may be set then
        fixed.validate()
    cmp.CompareConfig(landscapes=(("beale", {}),), methods=("gd+moxco",), tune=("alpha",),
                      settings=OptimizerSettings(lr=0.01)).validate()
    # --adam-moxco sets nothing of gd+moxco: allowed with alpha tuned (it was refused)
    cmp.CompareConfig(landscapes=(("beale", {}),), methods=("gd", "gd+moxco"),
                      tune=("lr", "alpha"),
                      settings=OptimizerSettings(adam_moxco=(0.5, 0.5))).validate()
    with pytest.raises(SettingsError, match="--adam-moxco: sets beta of adam"):
        cmp.CompareConfig(landscapes=(("beale", {}),), methods=("adam+moxco",),
                          tune=("lr", "beta"),
                          settings=OptimizerSettings(adam_moxco=(0.95, 0.1))).validate()


def test_compare_refuses_a_landscape_without_a_known_minimum_value():
    """two-layer-net's f_target is the noise variance (a goodness target); training losses go
    below it, so a target gap measured against it would mean nothing: refused, one line."""
    from moxco_cli.settings import SettingsError

    net = landscapes.get("two-layer-net")
    assert net.f_target == pytest.approx(0.64) and net.f_star is None
    assert landscapes.get("beale").f_star == 0.0
    cfg = cmp.CompareConfig(landscapes=(("two-layer-net", {}),), methods=("gd", "adam"))
    with pytest.raises(SettingsError, match="no known minimum value"):
        cfg.validate()


def test_one_landscape_twice_is_refused_and_parameters_tell_landscapes_apart():
    """`beale beale` made every table's rows collide (a traceback from the profile's pivot
    after all the runs); two-wells at two widths are two landscapes, named by their labels
    in every table and file."""
    twice = cmp.CompareConfig(landscapes=(("beale", {}), ("beale", {})), methods=("gd",))
    with pytest.raises(SettingsError, match="LANDSCAPE: beale is given twice"):
        twice.validate()
    cfg = cmp.CompareConfig(landscapes=(("two-wells", {"s": 0.1}), ("two-wells", {"s": 0.03})),
                            methods=("gd", "gd+moxco"), trials=2, tuning_starts=4,
                            eval_starts=8, steps=30)
    result = cmp.run_compare(cfg)
    assert list(result.headline.landscape.unique()) == ["two-wells:s=0.1", "two-wells:s=0.03"]
    assert set(result.profile.method) == {"gd", "gd+moxco"}
    assert "gd/IOHprofiler_f2_two-wells_s_0.03.json" in cmp.ioh_files(result)


def test_tuning_trials_with_indexed_draws_each_draw_the_streams_of_their_starts():
    """Stacked in one call, trial i's start j was start i S + j and drew other noise (or
    another curvature start vector, or other minibatches): the trials were not run from the
    same tuning starts' streams."""
    cfg = cmp.CompareConfig(landscapes=(("beale", {}),), methods=("gd:noise_std=0.1",),
                            trials=4, tuning_starts=20, eval_starts=8, steps=100)
    beale = landscapes.get("beale")
    starts = np.random.default_rng([0, 1]).uniform(-4.5, 4.5, (20, 2))
    table = cmp.tune_method(cfg, beale, cfg.methods[0], starts)[0]
    for row in table.itertuples():
        method = build_method(f"gd:noise_std=0.1,lr={float(row.lr)!r}", OptimizerSettings())
        traj = simulate(beale, method, starts, 100)
        gap = np.where(traj.diverged, np.inf, traj.final_loss - beale.f_target)
        assert row.objective == stats.quantile_with_inf(gap, 0.5), row.trial


def test_every_run_diverged_still_draws_the_fixed_budget_figure(tmp_path):
    """Every median +inf: the fixed-budget panel had no finite point, matplotlib refused its
    log axes, and compare exited 1 ("figure could not be drawn")."""
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    out = tmp_path / "c"
    result = CliRunner().invoke(app, ["compare", "beale", "--tune", "alpha", "--methods",
                                      "gd+moxco", "--lr", "1e308", "--trials", "2",
                                      "--tuning-starts", "3", "--eval-starts", "3", "--steps",
                                      "5", "--no-export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "fixed_budget.png").stat().st_size > 0
