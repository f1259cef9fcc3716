"""Figure details a reader relies on, each once drawn wrong (a new-user pass, 2026-12-03)."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from moxco_cli.cli import app

runner = CliRunner()


def test_a_log_strip_axis_over_many_decades_still_has_ticks():
    """LogLocator with subs 1, 2, 5 returned no tick over 0.03 .. 6.6e7: a panel without a
    single y label."""
    import matplotlib.pyplot as plt

    from moxco_cli.plots.generalize import _log

    for lo, hi in ((0.03, 6.6e7), (0.5, 40.0), (1e-9, 1e9)):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [lo, hi])
        _log(ax)
        fig.canvas.draw()
        ticks = [t for t in ax.get_yticks() if lo <= t <= hi]
        plt.close(fig)
        assert 2 <= len(ticks) <= 12, (lo, hi, ticks)


def test_tuning_over_several_keys_draws_trials_as_dots_not_a_line():
    import matplotlib.pyplot as plt

    from moxco_cli.plots.compare import tuning_figure

    rng = np.random.default_rng(0)
    tuning = pd.DataFrame({"landscape": "beale", "method": "gd+moxco", "trial": range(8),
                           "lr": 10 ** rng.uniform(-4, 0, 8), "alpha": rng.uniform(0, 1, 8),
                           "objective": rng.uniform(0.1, 1, 8), "diverged_fraction": 0.0,
                           "chosen": [True] + [False] * 7})
    fig = tuning_figure(tuning, None, ["beale"], ["gd+moxco"], "protocol")
    ax = fig.axes[0]
    trials = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert trials and all(line.get_linestyle() == "None" for line in trials)
    assert "alpha varies too" in ax.get_xlabel()
    plt.close(fig)


def test_thresholds_band_is_the_plain_method_given_as_a_spec(tmp_path):
    """With `--methods gd:tau=0.15,gd+moxco:tau=0.15` the plain method's band was missing
    (looked up as `gd`)."""
    out = tmp_path / "g"
    result = runner.invoke(app, ["generalize", "two-layer-net", "--methods",
                                 "gd:tau=0.15,gd+moxco:tau=0.15", "--inits", "20",
                                 "--steps", "50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import matplotlib.pyplot as plt

    from moxco_cli.plots.generalize import thresholds_figure

    table = pd.read_csv(out / "thresholds.csv")
    dist = pd.read_csv(out / "distributions.csv")
    lr = float(json.loads((out / "config.json").read_text())["options"]["lrs"][1])
    fig = thresholds_figure(table[table.lr == lr] if "lr" in table else table, dist,
                            "test_mse", lr, "t")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
    assert "gd:tau=0.15 (no commit rule), median and CI" in labels


def test_d_above_two_distance_is_to_the_nearest_of_several_global_minima(tmp_path):
    import matplotlib.pyplot as plt

    from moxco_cli import landscapes
    from moxco_cli.engine import simulate
    from moxco_cli.plots.run import trace_figure
    from moxco_cli.settings import OptimizerSettings, build_method

    land = landscapes.get("factorization", depth=3)
    start = np.array([[0.9, -0.9, -1.1]])  # next to flat+-- (1, -1, -1), far from (1, 1, 1)
    runs = {"gd": simulate(land, build_method("gd", OptimizerSettings()), start, 5,
                           record=True)}
    fig = trace_figure(land, runs, "t")
    ax = [a for a in fig.axes if "distance" in a.get_title()][0]
    dist = ax.get_lines()[0].get_ydata()
    plt.close(fig)
    assert "nearest global minimum" in ax.get_title()
    assert dist[0] == np.linalg.norm(start[0] - [1, -1, -1])


def test_no_floating_point_warning_from_a_zero_gradient_start_or_an_lr_near_the_limit():
    """rastrigin's origin (gradient 0) warned "divide by zero" from the gradient flow that
    labels start basins; an array of lrs near 1e308 warned "overflow" from Theorem 2's
    bound (its limit, 0, is right)."""
    import warnings

    from moxco_cli import landscapes
    from moxco_cli.experiments.escape_count import gradient_flow
    from moxco_cli.goodness import inv_eta_eff

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        end, _ = gradient_flow(landscapes.get("rastrigin", dim=2), np.zeros((1, 2)))
        assert np.all(end == 0)
        assert inv_eta_eff(np.array([1e308, 0.1]), 0.9, 0.9).tolist() == [
            0.0, 2 * 1.9 / (0.1 * 2.8)]


def test_a_home_that_cannot_hold_matplotlibs_config_says_nothing(tmp_path):
    """HOME a file (or read-only): matplotlib logged "mkdir -p failed ..." and "Matplotlib
    created a temporary cache directory ..." on every command."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home-is-a-file"
    home.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME")}
    code = ("from moxco_cli.mplconfig import use_writable_config; use_writable_config(); "
            "import os, matplotlib.pyplot; print(os.environ['MPLCONFIGDIR'])")
    done = subprocess.run([sys.executable, "-c", code], env={**env, "HOME": str(home)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    folder = done.stdout.strip()
    # one folder per user, kept: a fresh one per command piled up in /tmp
    assert os.path.basename(folder) == f"moxco-matplotlib-{os.getuid()}"
    again = subprocess.run([sys.executable, "-c", code], env={**env, "HOME": str(home)},
                           capture_output=True, text=True, timeout=120)
    assert again.stdout.strip() == folder and again.stderr == ""
