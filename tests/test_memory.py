"""Memory estimates (moxco_cli/memory.py): refuse up front, naming the option and the estimate.

Issue 19's case: `moxco run beale --steps 10000000` under a 2 GiB address-space limit
computed for six minutes and ended in a MemoryError traceback.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from moxco_cli import memory
from moxco_cli.cli import app

runner = CliRunner()
TWO_GIB = 2 * 2**30


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (TWO_GIB, TWO_GIB))


def test_run_that_cannot_fit_under_ulimit_v_is_refused_before_computing(tmp_path):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "moxco_cli", "run", "beale", "--steps", "10000000", "--out",
         str(tmp_path / "never")], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        preexec_fn=_limit_address_space, env=dict(os.environ, MPLBACKEND="Agg"))
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("Error: --steps: 10,000,000 steps x 4 methods")
    assert "GiB of memory" in lines[0] and "(ulimit -v)" in lines[0]
    assert elapsed < 60  # it took six minutes to fail before
    assert list(tmp_path.iterdir()) == []


# A size each command takes that is far beyond 300 MiB, and the option it is named by.
TOO_BIG = [
    (["run", "beale", "--steps", "10000000"], "--steps"),
    (["escape-count", "--inits", "1000000"], "--inits"),
    (["outcome-map", "beale", "--grid", "501"], "--grid"),
    (["sweep", "beale", "--grid", "alpha=0,0.5", "--starts", "random:1000000"], "--starts"),
    (["compare", "beale", "--eval-starts", "100000", "--steps", "4000", "--methods", "gd"],
     "--eval-starts"),
    (["eos-check", "--alphas", "0:0.99:100", "--betas", "0:3:100"], "--alphas"),
    (["generalize", "two-layer-net:hidden=16", "--inits", "20000", "--steps", "1"], "--inits"),
]


@pytest.mark.parametrize("line,option", TOO_BIG, ids=lambda v: v[0] if isinstance(v, list)
                         else v)
def test_every_command_refuses_what_exceeds_the_memory_limit(line, option, tmp_path,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOXCO_MEMORY_LIMIT", "300M")
    result = runner.invoke(app, [*line, "--out", str(tmp_path / "never")])
    message = result.output.strip()
    assert result.exit_code == 2, message
    assert message.startswith(f"Error: {option}: ") and "\n" not in message, message
    assert "would need about" in message and "(MOXCO_MEMORY_LIMIT)" in message, message
    assert list(tmp_path.iterdir()) == []


def test_the_same_sizes_run_without_a_limit_below_them(monkeypatch):
    """The estimates are not a blanket refusal: the defaults fit in 2 GiB."""
    from moxco_cli.experiments.run import RunConfig

    monkeypatch.setenv("MOXCO_MEMORY_LIMIT", "2G")
    need = memory.check("run", RunConfig().validate())
    assert need is not None and need.bytes < 2**30
    assert need.option == "--steps"


PEAK_SCRIPT = (
    "import resource, subprocess, sys\n"
    "subprocess.run([sys.executable, '-m', 'moxco_cli', 'run', 'beale', '--steps',"
    " '50000', '--out', sys.argv[1]], check=True, capture_output=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n")


def _measure_peak(work):
    """The run whose peak RSS is measured: started in the background when collection ends
    (conftest), while the other tests run."""
    return [{"args": [sys.executable, "-c", PEAK_SCRIPT, work / "r"], "env": {"MPLBACKEND": "Agg"},
             "timeout_s": 300}]


BACKGROUND = {"measured_peak": _measure_peak}


@pytest.fixture(scope="module")
def measured_peak(background, request) -> int:
    _, (done,) = background.result(request)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_estimate_is_above_the_measured_peak_and_not_far_above(measured_peak):
    """Peak RSS (the largest process of the command) of a run with 50,000 steps of records
    x 4 methods, against the estimate: below it, by less than 3x."""
    peak = measured_peak
    from moxco_cli.experiments.run import RunConfig

    estimate = memory.estimate("run", RunConfig(steps=50_000).validate()).bytes
    assert peak < estimate < 3 * peak, (peak, estimate)


def test_memory_limit_variable_is_read_and_a_bad_one_is_one_line(monkeypatch):
    monkeypatch.setenv("MOXCO_MEMORY_LIMIT", "100.5M")  # below any machine's free memory
    assert memory.available_bytes() == (int(100.5 * 2**20), "MOXCO_MEMORY_LIMIT")
    monkeypatch.setenv("MOXCO_MEMORY_LIMIT", "lots")
    result = runner.invoke(app, ["run", "beale", "--steps", "2"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: MOXCO_MEMORY_LIMIT: expects bytes or a size like "
                                     "2G, got 'lots'")


def test_format_bytes_says_gib_and_mib():
    assert memory.format_bytes(3 * 2**30) == "3.0 GiB"
    assert memory.format_bytes(300 * 2**20) == "300 MiB"


def test_generalize_estimate_counts_every_run_and_fits_the_issue_size():
    """generalize holds every (initialization, rate, threshold, method) run: 18 per
    initialization with the defaults; 10,000 initializations of hidden=16 (measured 1.54 GiB
    summed over its processes) are estimated above that and under 2 GiB."""
    from moxco_cli.experiments.generalize import GeneralizeConfig

    cfg = GeneralizeConfig(landscape="two-layer-net", landscape_params={"hidden": 16},
                           inits=10_000).validate()
    need = memory.estimate("generalize", cfg)
    assert need.option == "--inits" and "180,000 runs" in need.what
    assert 1.54 * 2**30 < need.bytes < 2 * 2**30
