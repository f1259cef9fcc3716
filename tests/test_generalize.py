"""`moxco generalize`: paired initializations, one batched call per method whose rows equal
runs alone, the statistics it reports, the files, rerun, and one-line errors."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import landscapes
from moxco_cli import methods, stats
from moxco_cli.cli import app
from moxco_cli.engine import simulate
from moxco_cli.experiments.generalize import GeneralizeConfig, run_generalize
from moxco_cli.settings import OptimizerSettings, SettingsError

runner = CliRunner()
SMALL = dict(inits=12, steps=40, lrs=(0.05, 0.2), thresholds=(0.85, 0.99))


@pytest.fixture(scope="module")
def result():
    return run_generalize(GeneralizeConfig(**SMALL))


def test_every_method_starts_from_the_same_initializations_and_rows_equal_runs_alone(result):
    land = landscapes.get("two-layer-net")
    starts = land.sample_starts(12, np.random.default_rng(0))
    runs = result.runs
    for spec, lr, th, role in (("gd", 0.2, None, "lr"), ("adam+moxco", 0.05, 0.85, "lr"),
                               ("gd+moxco", 0.05, 0.99, "threshold")):
        keys = {"lr": lr} if th is None else {"lr": lr, "threshold": th}
        alone = simulate(land, methods.build(methods.MethodSpec(spec, tuple(keys.items()))),
                         starts, 40)
        rows = runs[(runs.method == spec) & (runs.lr == lr) & (runs.role == role)]
        if th is not None:
            rows = rows[rows.threshold == th]
        np.testing.assert_array_equal(rows.test_mse, land.metrics(alone.final)["test_mse"])
        np.testing.assert_array_equal(rows.commit_step, alone.commit_step)


def test_tables_hold_what_the_protocol_says(result):
    d, runs = result.distributions, result.runs
    assert set(d.metric) == {"train_loss", "test_mse", "test_mse_noisy", "final_lam_max"}
    assert len(d) == 4 * 2 * 4  # methods x lrs x metrics
    cell = runs[(runs.method == "gd") & (runs.lr == 0.05)].test_mse.to_numpy()
    row = d[(d.method == "gd") & (d.lr == 0.05) & (d.metric == "test_mse")].iloc[0]
    assert row["median"] == np.median(cell) and row.ci_low <= row["median"] <= row.ci_high
    p = result.paired
    assert set(zip(p.method, p.against, strict=True)) == {("gd+moxco", "gd"),
                                                          ("adam+moxco", "adam")}
    one = p[(p.method == "gd+moxco") & (p.lr == 0.2) & (p.metric == "test_mse")].iloc[0]
    a = runs[(runs.method == "gd+moxco") & (runs.lr == 0.2) & (runs.role == "lr")].test_mse
    b = runs[(runs.method == "gd") & (runs.lr == 0.2)].test_mse
    diff = a.to_numpy() - b.to_numpy()
    assert one.median_difference == np.median(diff)
    assert one.method_lower == (diff < 0).sum() and one.method_higher == (diff > 0).sum()
    c = result.correlation
    assert set(c.lr.astype(str)) == {"0.05", "0.2", "all"}
    assert c.rho.between(-1, 1).all()
    t = result.thresholds
    assert sorted(t[t.method == "adam+moxco"].threshold) == [0.85, 0.99]
    assert (t.lr == 0.05).all()  # the sweep lr: the middle rate (of two: the first)


def test_end_points_carry_their_smallest_curvature_and_the_negative_ones_are_counted(result):
    """Whether an end point is a minimum at all: final_lam_min is the exact Hessian's smallest
    eigenvalue (eigvalsh of the landscape's own Hessian), final_grad_norm its gradient's norm;
    distributions count the end points below -NEGATIVE_CURVATURE |lam_max| per (method, lr).
    40 steps of GD on the network end on slopes (lam_min < 0), not at minima."""
    from moxco_cli.experiments.generalize import NEGATIVE_CURVATURE, negative_curvature

    land = landscapes.get("two-layer-net")
    starts = land.sample_starts(12, np.random.default_rng(0))
    alone = simulate(land, methods.build(methods.MethodSpec("gd", (("lr", 0.2),))), starts, 40)
    runs = result.runs
    rows = runs[(runs.method == "gd") & (runs.lr == 0.2)]
    hess = land.hess(alone.final)
    np.testing.assert_array_equal(rows.final_lam_min, np.linalg.eigvalsh(hess)[:, 0])
    np.testing.assert_array_equal(rows.final_grad_norm,
                                  np.linalg.norm(land.grad(alone.final), axis=1))
    assert (rows.final_lam_min <= rows.final_lam_max).all()
    d = result.distributions
    for (method, lr), part in runs[runs.role == "lr"].groupby(["method", "lr"]):
        want = int((part.final_lam_min < -NEGATIVE_CURVATURE * part.final_lam_max.abs()).sum())
        got = d[(d.method == method) & (d.lr == lr)].negative_curvature
        assert (got == want).all() and len(got) == 4
    assert int(d[(d.method == "gd") & (d.metric == "test_mse")].negative_curvature.sum()) > 12
    # a diverged run: NaN, never counted
    dead = pd.DataFrame({"final_lam_min": [np.nan, -1.0, -1e-6], "final_lam_max": [np.inf, 2.0,
                                                                                   2.0]})
    assert list(negative_curvature(dead)) == [False, True, False]
    # a Hessian of about zero (every relu unit dead): rounding is not negative curvature
    flat = pd.DataFrame({"final_lam_min": [-1e-18, -1e-14], "final_lam_max": [0.0, 1e-17]})
    assert list(negative_curvature(flat)) == [False, True]


def test_the_report_says_how_many_compared_end_points_are_not_minima(result, tmp_path):
    """REPRODUCTION.md's flatness section counts the end points with negative curvature and
    says so in its verdict; a table without the column (an older CSV) gives no sentence."""
    from moxco_cli.experiments import report_generalize as rg

    d = result.distributions
    text, negative, finite = rg._not_minima(d, "two-layer-net")
    rows = d[d.metric == "final_lam_max"]
    assert negative == int(rows.negative_curvature.sum()) > 0
    assert finite == int((rows.runs - rows.diverged).sum()) == 4 * 2 * 12
    assert text.startswith(f"two-layer-net, {negative} of {finite} finite end points (at most")
    assert rg._not_minima(d.drop(columns="negative_curvature"), "x") == ("", 0, 0)
    # ties are all named; no negative end point, or every run diverged: no arbitrary cell
    tied = pd.DataFrame({"method": ["gd", "gd+moxco", "adam"], "lr": [0.01] * 3,
                         "metric": ["final_lam_max"] * 3, "runs": [4] * 3,
                         "diverged": [0, 0, 4], "negative_curvature": [4, 4, 0]})
    assert rg._not_minima(tied, "n")[0] == ("n, 8 of 8 finite end points (at most 4/4: GD at "
                                            "lr 0.01, GD+MoXCo at lr 0.01)")
    none = tied.assign(negative_curvature=0, diverged=4)
    assert rg._not_minima(none, "n") == ("n, 0 of 0 finite end points", 0, 0)


def test_the_middle_rate_is_the_default_sweep_rate():
    assert GeneralizeConfig(lrs=(0.01, 0.05, 0.2)).sweep_rate == 0.05
    assert GeneralizeConfig(lrs=(0.01, 0.05, 0.2), sweep_lr=0.2).sweep_rate == 0.2


def test_a_diverged_run_counts_inf_in_every_metric():
    res = run_generalize(GeneralizeConfig(methods=("gd",), inits=6, steps=30, lrs=(50.0,)))
    assert (res.runs.diverged_step >= 0).all()
    assert np.isinf(res.runs[["test_mse", "train_loss", "final_lam_max"]].to_numpy()).all()
    assert math.isinf(res.distributions["median"].iloc[0])


def test_factorization_depth_two_has_its_outcome_map_and_depth_three_none():
    two = run_generalize(GeneralizeConfig(landscape="factorization", methods=("gd", "gd+moxco"),
                                          inits=8, steps=30, lrs=(0.1,), grid=5))
    grid = two.outcome_map
    assert len(grid) == 2 * 25 and set(grid.role) == {"grid"}
    assert two.primary == "final_lam_max" and two.correlation.empty
    assert "outcome_map.png" in two.figure_args()
    three = run_generalize(GeneralizeConfig(landscape="factorization",
                                            landscape_params={"depth": 3}, methods=("gd",),
                                            inits=8, steps=30, lrs=(0.1,)))
    assert three.outcome_map is None


def test_statistics_by_hand():
    values = np.array([3.0, 1.0, 2.0, np.inf])
    resamples = np.array([[0, 1, 2, 3], [1, 1, 1, 1], [3, 3, 3, 0]])
    med, lo, hi = stats.bootstrap_median(values, resamples)
    assert med == 2.5 and lo == pytest.approx(1.0 + 0.025 * 2 * (2.5 - 1.0)) and hi == math.inf
    assert stats.sign_test([-1, -2, 0, 3]) == (2, 1, 1.0)
    rho, lo, hi, p, n = stats.spearman(np.arange(20.0), np.arange(20.0) ** 3)
    assert rho == pytest.approx(1.0) and n == 20 and p < 1e-10
    rho, lo, hi, p, n = stats.spearman([1, 2, 3, 4, 5, np.inf], [5, 4, 3, 2, 1, 0])
    assert rho == pytest.approx(-1.0) and n == 5


def test_a_pair_where_both_runs_diverged_is_left_out_not_a_zero_difference():
    # 3 pairs both diverged (NaN = inf - inf), 2 where only MoXCo did (+inf), 1 finite:
    # as zeros the median was 0 [0, 0]; left out, the median of (-0.5, inf, inf) is inf
    diff = np.array([np.nan, np.nan, np.nan, np.inf, np.inf, -0.5])
    resamples = np.array([[0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 1, 5], [0, 0, 0, 0, 0, 0],
                          [5, 5, 3, 0, 0, 0]])
    med, lo, hi = stats.bootstrap_median(diff, resamples, omit_nan=True)
    # per resample: median(inf, inf, -0.5) = inf; median(-0.5) = -0.5; all NaN: skipped;
    # median(-0.5, -0.5, inf) = -0.5
    assert med == math.inf and lo == -0.5 and hi == math.inf
    assert stats.bootstrap_median(diff, resamples[[1, 3]], omit_nan=True) == (math.inf, -0.5,
                                                                              -0.5)
    # without omit_nan the old definition is unchanged (bit for bit: a sorted middle)
    values = np.array([3.0, 1.0, 2.0, np.inf])
    assert stats.bootstrap_median(values, np.array([[0, 1, 2, 3]]), omit_nan=True) == \
        stats.bootstrap_median(values, np.array([[0, 1, 2, 3]]))


def test_paired_rows_count_both_diverged_pairs_apart():
    from moxco_cli.experiments.generalize import _paired

    inf = math.inf
    mox = [inf, inf, inf, inf, 1.0, 2.0]
    gd = [inf, inf, 5.0, 6.0, 3.0, 1.0]
    runs = pd.DataFrame({"method": ["gd+moxco"] * 6 + ["gd"] * 6, "lr": 0.5, "role": "lr",
                         "final_lam_max": mox + gd})

    class Cfg:
        methods = ("gd", "gd+moxco")

    resamples = np.random.default_rng(0).integers(0, 6, (200, 6))
    row = _paired(runs, Cfg, ["final_lam_max"], resamples).iloc[0]
    assert (row.pairs, row.both_diverged, row.method_lower, row.method_higher, row.ties) == \
        (6, 2, 1, 3, 0)
    # the four informative differences: inf, inf, -2, 1 -> median (1 + inf) / 2 = inf
    assert row.median_difference == math.inf
    assert row.sign_test_p == stats.sign_test([inf, inf, -2.0, 1.0])[2]


def test_cli_writes_the_folder_and_rerun_gives_the_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["generalize", "two-layer-net:hidden=3", "--inits", "10", "--steps", "25",
            "--lrs", "0.05,0.2", "--thresholds", "0.9,0.99", "--methods", "gd,gd+moxco",
            "--out", str(a)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Spearman rho" in res.output and "sign test p" in res.output
    assert "negative curvature" in res.output
    files = {p.name for p in a.iterdir()}
    assert {"runs.csv", "distributions.csv", "paired.csv", "correlation.csv", "thresholds.csv",
            "distributions.png", "paired.png", "sharpness.png", "thresholds.png",
            "config.json"} <= files
    runs = pd.read_csv(a / "runs.csv")
    assert len(runs) == 10 * (2 + 2 + 2)  # gd: 2 lrs; gd+moxco: 2 lrs + 2 thresholds
    assert {"final_lam_min", "final_grad_norm"} <= set(runs.columns)
    assert "negative_curvature" in pd.read_csv(a / "distributions.csv").columns
    config = json.loads((a / "config.json").read_text())
    assert config["options"]["lrs"] == [0.05, 0.2] and config["command"] == "generalize"
    again = runner.invoke(app, ["rerun", str(a / "config.json"), "--out", str(b)])
    assert again.exit_code == 0, again.output
    for name in files - {"config.json"}:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("args, message", [
    (["beale"], "LANDSCAPE: beale declares no per-run metrics"),
    (["--lr", "0.1"], "No such option: --lr (Possible options: --help, --lrs"),  # not offered
    (["--lrs", "0.05,0.2", "--sweep-lr", "0.3"], "--sweep-lr: must be one of --lrs"),
    (["--lrs", "0.05,-1"], "--lrs: expects numbers in (0, inf)"),
    (["--thresholds", "0.5,1"], "--thresholds: expects numbers in (0, 1)"),
    (["--methods", "gd:batch=40"], "--methods: gd:batch=40: batch: must be at most the 30"),
    (["--inits", "1"], "--inits: must be an integer in [2, 100000]"),
])
def test_bad_options_are_one_line_errors_naming_the_option(args, message, tmp_path):
    res = runner.invoke(app, ["generalize", *args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x").exists()


def test_the_help_does_not_offer_lr_which_generalize_refuses():
    res = runner.invoke(app, ["generalize", "--help"], terminal_width=200)
    assert "--lrs" in res.output and "--lr " not in res.output and "--tau" in res.output
    with pytest.raises(SettingsError, match="--lr: generalize runs every rate of --lrs"):
        GeneralizeConfig(landscape="factorization", settings=OptimizerSettings(lr=0.1)).validate()


def test_config_round_trips():
    cfg = GeneralizeConfig(landscape="factorization", landscape_params={"depth": 2},
                           methods=("gd", "adam+moxco:tau=1"), inits=30, lrs=(0.1, 0.3),
                           thresholds=(0.9,), sweep_lr=0.3, grid=9,
                           settings=OptimizerSettings(seed=4))
    assert GeneralizeConfig.from_options(json.loads(json.dumps(cfg.to_options()))) == cfg


def test_help_shows_examples_and_the_protocol():
    res = runner.invoke(app, ["generalize", "--help"])
    assert res.exit_code == 0
    assert "moxco generalize two-layer-net --inits 1000" in res.output
    assert "--thresholds" in res.output and "paired" in res.output.lower()


def test_run_two_layer_net_draws_the_fit_and_the_curves_and_reports_the_metrics(tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "two-layer-net:hidden=2", "--steps", "15", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {"fit.png", "curves.png", "loss.png", "goodness.png"} <= {p.name for p in out.iterdir()}
    summary = pd.read_csv(out / "summary.csv")
    assert {"train_loss", "test_mse", "test_mse_noisy", "final_lam_max"} <= set(summary.columns)
    np.testing.assert_array_equal(summary.train_loss, summary.final_loss)
    land = landscapes.get("two-layer-net", hidden=2)
    start = land.sample_starts(1, np.random.default_rng(0))[0]  # the default start
    np.testing.assert_array_equal(summary.filter(like="start_x").to_numpy()[0], start)
    assert "test_mse" in res.output


@pytest.mark.parametrize("methods_arg", ["gd,adam", "gd+moxco:threshold=0.9"])
def test_no_pairs_or_no_threshold_sweep_write_no_empty_table_or_figure(tmp_path, methods_arg):
    """Without X+moxco beside X there are no pairs, and without a +moxco method (or with the
    sweep's only threshold the one in use) no threshold sweep: those tables and figures are
    left out (thresholds.png failed with KeyError 'method', paired.png was four empty axes;
    found by the review); the run succeeds."""
    out = tmp_path / "g"
    result = CliRunner().invoke(app, ["generalize", "two-layer-net", "--methods", methods_arg,
                                      "--inits", "8", "--steps", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"runs.csv", "distributions.csv", "distributions.png", "sharpness.png"} <= names
    assert not names & {"paired.csv", "paired.png", "thresholds.csv", "thresholds.png"}


FIGURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "results" / "figures"


def _overlapping_tick_labels(fig) -> list[tuple[str, str]]:
    """Pairs of neighbouring x tick labels (drawn, non-empty) whose boxes intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pairs = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        shown = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        boxes = sorted(((t.get_window_extent(renderer), t.get_text()) for t in shown),
                       key=lambda bt: bt[0].x0)
        for (a, ta), (b, tb) in zip(boxes, boxes[1:], strict=False):
            if a.overlaps(b):
                pairs.append((ta, tb))
    return pairs


@pytest.mark.parametrize("thresholds", [None, (0.9, 0.91, 0.92, 0.93),
                                        (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 0.999,
                                         0.9999)])
def test_paired_and_threshold_figures_keep_their_tick_labels_apart(thresholds):
    # from the committed two-layer-net tables: paired differences of 1e-3 drew nine
    # seven-character labels into one another; close thresholds put theirs on top
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from moxco_cli.plots.generalize import paired_figure, thresholds_figure

    paired = pd.read_csv(FIGURES / "net_paired.csv")
    table = pd.read_csv(FIGURES / "net_thresholds.csv")
    dist = pd.read_csv(FIGURES / "net_distributions.csv")
    if thresholds is not None:
        rows = []
        for k, t in enumerate(thresholds):
            part = table[table.threshold == table.threshold.unique()[k % 4]].copy()
            part["threshold"] = t
            rows.append(part)
        table = pd.concat(rows, ignore_index=True)
    figs = [thresholds_figure(table, dist, "test_mse", 0.05, "two-layer-net")]
    if thresholds is None:
        figs.append(paired_figure(paired, list(paired.metric.unique()), "two-layer-net"))
    try:
        for fig in figs:
            assert _overlapping_tick_labels(fig) == []
        # every threshold's label is there, or (crowded) at least every other one
        labels = [t.get_text() for t in figs[0].axes[0].get_xticklabels() if t.get_text()]
        assert len(labels) >= math.ceil(table.threshold.nunique() / 2)
    finally:
        for fig in figs:
            plt.close(fig)


def test_every_run_diverged_still_draws_every_figure(tmp_path):
    """At lr 1e300 every run diverges: the log axes had nothing positive to show and
    matplotlib refused sharpness.png (exit 1, "could not be drawn"); the panel says so now."""
    out = tmp_path / "f"
    res = runner.invoke(app, ["generalize", "two-layer-net:hidden=3", "--inits", "4",
                              "--steps", "5", "--lrs", "1e300", "--thresholds", "0.9",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {"sharpness.png", "distributions.png", "paired.png"} <= {p.name for p in
                                                                    out.iterdir()}
    runs = pd.read_csv(out / "runs.csv")
    assert (runs.diverged_step >= 0).all()


def test_an_impossible_size_is_refused_before_the_landscape_is_checked(monkeypatch):
    """Building two-layer-net:hidden=256 checks lam_max over its domain (5.5 s); a study of
    1e12 trajectory-steps is refused without waiting for it."""
    def never(self):
        raise AssertionError("the landscape was built and checked first")

    monkeypatch.setattr(GeneralizeConfig, "land", never)
    cfg = GeneralizeConfig(landscape="two-layer-net", landscape_params={"hidden": 256},
                           methods=("gd",), inits=100_000, steps=10_000_000, lrs=(0.1,))
    with pytest.raises(SettingsError, match="--inits: 1e\\+12 trajectory-steps"):
        cfg.validate()
