"""Forked worker processes: same numbers as in-process, progress, failures, interrupts."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import landscapes
from moxco_cli import engine
from moxco_cli.engine import NOISE_BLOCK, simulate
from moxco_cli.settings import BASELINE_NAMES, METHOD_NAMES, OptimizerSettings, build_method
from moxco_cli.workers import run_forked, shared_empty

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork on Linux")

FIELDS = ("final", "final_loss", "commit_step", "diverged_step")


def _assert_same(a, b):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype


def _children_of(pid):
    """Live or unreaped child processes of `pid`, from /proc."""
    kids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            kids.add(int(status.parent.name))
    return kids


@pytest.mark.parametrize("name", METHOD_NAMES + BASELINE_NAMES)
def test_forked_run_equals_in_process_run_bit_for_bit(name):
    beale = landscapes.get("beale")
    starts = np.random.default_rng(4).uniform(-4.5, 4.5, size=(5003, 2))
    method = build_method(name, OptimizerSettings())
    alone = simulate(beale, method, starts, 120, processes=1)
    forked = simulate(beale, method, starts, 120, processes=2)
    _assert_same(alone, forked)
    if name == "gd":  # the Beale box is far outside GD's stable region: divergence is covered
        assert 0 < forked.diverged.sum() < len(starts)


def test_forked_noisy_1d_run_equals_single_chunk_and_reports_all_progress():
    tw = landscapes.get("two-wells")
    starts = np.random.default_rng(1).uniform(-4, 4, size=(2 * NOISE_BLOCK + 9, 1))
    method = build_method("gd+moxco", OptimizerSettings(noise_std=0.2))
    one = simulate(tw, method, starts, 40, noise_std=0.2, seed=7, chunk_size=len(starts),
                   processes=1)
    seen = []
    three = simulate(tw, method, starts, 40, noise_std=0.2, seed=7, processes=3,
                     progress=seen.append)
    _assert_same(one, three)
    assert sum(seen) == len(starts) * 40


def test_default_uses_processes_only_for_large_unrecorded_runs_on_the_main_thread(monkeypatch):
    monkeypatch.setattr(engine, "usable_cores", lambda: 2)
    big = engine.PROCESS_MIN_WORK
    assert engine._default_processes(10_000, big, record=False) == 2
    assert engine._default_processes(10_000, big, record=True) == 1
    assert engine._default_processes(engine.PROCESS_MIN_STARTS * 2 - 1, big, record=False) == 1
    assert engine._default_processes(10_000, 10, record=False) == 1  # not worth a fork
    seen = []
    worker = threading.Thread(target=lambda: seen.append(
        engine._default_processes(10_000, big, record=False)))
    worker.start()
    worker.join()
    assert seen == [1]  # a caller's thread (e.g. a Dask worker) runs in-process


def test_processes_with_records_or_off_the_main_thread_is_refused():
    beale = landscapes.get("beale")
    method = build_method("gd", OptimizerSettings())
    x0 = np.zeros((8, 2))
    with pytest.raises(ValueError, match="records"):
        simulate(beale, method, x0, 5, record=True, processes=2)
    errors = []

    def call():
        try:
            simulate(beale, method, x0, 5, processes=2)
        except ValueError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=call)
    worker.start()
    worker.join()
    assert errors and "main thread" in errors[0]


def test_balanced_deals_every_chunk_once_and_evens_the_load():
    bounds = [(0, 4096), (4096, 8192), (8192, 10000)]
    lists = engine._balanced(bounds, 2)
    assert sorted(c for chunks in lists for c in chunks) == bounds
    assert sorted(sum(hi - lo for lo, hi in chunks) for chunks in lists) == [4096, 5904]


def test_worker_failure_raises_with_the_child_traceback():
    out = shared_empty((2,))

    def work(job, report):
        if job == 1:
            raise ValueError("boom in worker")
        out[job] = 42.0

    before = _children_of(os.getpid())  # other tests' helpers (e.g. a Dask cluster) may be alive
    with pytest.raises(RuntimeError, match="boom in worker"):
        run_forked([[0], [1]], work)
    assert out[0] == 42.0  # the healthy worker's result reached the parent
    assert _children_of(os.getpid()) <= before


def test_interrupt_in_parent_kills_and_reaps_every_worker():
    def work(job, report):
        while True:
            report(1)
            time.sleep(0.01)

    def progress(k):
        raise KeyboardInterrupt

    before = _children_of(os.getpid())
    with pytest.raises(KeyboardInterrupt):
        run_forked([[0], [1]], work, progress)
    assert _children_of(os.getpid()) <= before


def test_sigint_to_the_cli_during_a_forked_sweep_leaves_no_worker_behind(tmp_path):
    target = tmp_path / "never"
    args = ["escape-count", "--inits", "400000", "--steps", "3000", "--out", str(target)]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "moxco_cli", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    deadline = time.monotonic() + 60
    while not _children_of(proc.pid):
        assert proc.poll() is None and time.monotonic() < deadline, "no worker was forked"
        time.sleep(0.05)
    kids = _children_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    time.sleep(0.2)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()
                and "zombie" not in Path(f"/proc/{k}/status").read_text()]
    assert not target.exists()
