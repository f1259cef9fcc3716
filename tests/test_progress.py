"""Plain progress lines where stderr is not a terminal (issue 19: silent batch logs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from moxco_cli.commands.common import PlainProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(steps: list[tuple[float, int]], total: int) -> list[str]:
    """Advance a PlainProgress by `n` at each time `t`; the lines it writes."""
    lines: list[str] = []
    clock = Clock()
    progress = PlainProgress("run beale", total, write=lines.append, clock=clock)
    for t, n in steps:
        clock.now = t
        progress.advance(n)
    return lines


def test_a_short_command_prints_nothing():
    assert feed([(0.1 * k, 10) for k in range(1, 11)], 100) == []  # done within 1 s


def test_a_line_per_tenth_at_most_one_per_five_seconds_and_the_end():
    # 100 units at one per 0.1 s: 10 s in all; tenths are done every second
    lines = feed([(0.1 * k, 1) for k in range(1, 101)], 100)
    assert lines == ["run beale: 50% (50 of 100), 5 s elapsed, about 5 s left",
                     "run beale: 100% (100 of 100), 10 s elapsed"]


def test_slow_work_still_shows_life_once_a_minute():
    # 1% every 30 s: no tenth for 5 minutes, yet a line every minute
    lines = feed([(30.0 * k, 1) for k in range(1, 11)], 100)
    assert [line.split(":")[1].split("(")[0].strip() for line in lines] == [
        "2%", "4%", "6%", "8%", "10%"]
    assert lines[0] == "run beale: 2% (2 of 100), 60 s elapsed, about 2940 s left"


def test_fast_work_is_capped_at_one_line_per_five_seconds():
    lines = feed([(2.0 + 0.01 * k, 1) for k in range(1, 1001)], 1000)  # 2 s to 12 s
    assert lines == ["run beale: 30% (300 of 1,000), 5 s elapsed, about 12 s left",
                     "run beale: 80% (800 of 1,000), 10 s elapsed, about 2 s left",
                     "run beale: 100% (1,000 of 1,000), 12 s elapsed"]  # the end: at once


# The CLI's entry with the rate's thresholds at zero (a line per 10%), so that the test does
# not depend on how fast this machine is; the rate itself is tested above.
EAGER = """
import sys
from moxco_cli.commands import common
common.PlainProgress.FIRST_S = common.PlainProgress.MIN_GAP_S = 0.0
sys.argv = ["moxco", *sys.argv[1:]]
from moxco_cli.cli import main
main()
"""


@pytest.mark.slow
def test_a_command_logs_plain_lines_when_stderr_is_a_pipe(tmp_path):
    done = subprocess.run([sys.executable, "-c", EAGER, "outcome-map", "beale", "--grid", "31",
                           "--steps", "400", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) >= 3 and all(line.startswith("outcome-map beale: ") and "% (" in line
                                   for line in lines), done.stderr
    assert lines[-1].startswith("outcome-map beale: 100% (")
    assert "\r" not in done.stderr and "\x1b" not in done.stderr  # no bar, no escapes


def _record_bars(monkeypatch, command) -> list[dict]:
    """Replace `command.progress_bar` by one that records each bar's description, total and
    units done; returns the list it fills."""
    from contextlib import contextmanager

    bars = []

    @contextmanager
    def recording(description, total, enabled=True):
        bar = {"description": description, "total": total, "done": 0}
        bars.append(bar)
        yield lambda n: bar.__setitem__("done", bar["done"] + n)

    monkeypatch.setattr(command, "progress_bar", recording)
    return bars


def test_escape_count_gives_the_start_basins_their_own_stage(tmp_path, monkeypatch):
    """The gradient flow labelling the starts and the optimizers' steps run at rates far
    apart (Beale, N = 2000: 7 s against 1 s), so one bar for both promised "about 59 s left"
    with 1 s to go. Each stage has its own bar, and every bar's units add up to its total."""
    from moxco_cli.commands import escape_count as command
    from moxco_cli.experiments.escape_count import EscapeConfig, run_escape_count
    from moxco_cli.report import ResultsFolder

    bars = _record_bars(monkeypatch, command)
    cfg = EscapeConfig(landscape="two-wells", inits=40, steps=30).validate()
    folder = ResultsFolder(tmp_path / "out", force=False)
    command.execute(cfg, folder)
    assert [b["description"] for b in bars] == ["escape-count two-wells, N=40, start basins",
                                                "escape-count two-wells, N=40, optimizers"]
    assert [b["total"] for b in bars] == [40, 40 * 30 * len(cfg.methods)]
    assert all(b["done"] == b["total"] for b in bars), bars
    # the same counts as in one call (labelling inside)
    import pandas as pd

    alone = run_escape_count(cfg)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "counts.csv"),
                                  alone.counts.reset_index(drop=True), check_dtype=False,
                                  check_categorical=False)


def test_generalize_reports_its_end_point_measurements_as_a_stage(tmp_path, monkeypatch):
    """After its runs, generalize measures every end point (metrics and an eigvalsh of the
    exact d x d Hessian): for two-layer-net:hidden=256 (d = 769) minutes with no line after
    "100%". Its own bar now, whose units add up; the results are those of one call."""
    import pandas as pd

    from moxco_cli.commands import generalize as command
    from moxco_cli.experiments.generalize import GeneralizeConfig, run_generalize
    from moxco_cli.report import ResultsFolder

    bars = _record_bars(monkeypatch, command)
    cfg = GeneralizeConfig(landscape="two-layer-net", landscape_params={"hidden": 3},
                           methods=("gd", "gd+moxco"), inits=6, steps=10, lrs=(0.05, 50.0),
                           thresholds=(0.9,)).validate()
    command.execute(cfg, ResultsFolder(tmp_path / "out", force=False))
    assert [b["description"] for b in bars] == [
        "generalize two-layer-net, runs",
        "generalize two-layer-net, end points (metrics, exact Hessian)"]
    rows = 6 * 2 + 6 * 3  # gd at 2 lrs; gd+moxco at 2 lrs and the threshold 0.9
    # a step weighs its engine cost in gradients: gd 1; gd+moxco 1 + (1 + 2 d) per scoring
    # (the exact Hessian: d HVPs, two gradients each), d = 10 for hidden = 3
    d = cfg.land().dim
    assert d == 10
    assert [b["total"] for b in bars] == [10 * (6 * 2 + 6 * 3 * (2 + 2 * d)), 2 * rows]
    assert all(b["done"] == b["total"] for b in bars), bars
    alone = run_generalize(cfg)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "runs.csv"),
                                  alone.runs, check_dtype=False)
