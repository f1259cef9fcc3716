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
from moxco_cli.workers import fork_available, run_forked, shared_empty, usable_cores

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork on Linux")

FIELDS = ("final", "final_loss", "commit_step", "diverged_step")


def _assert_same(a, b):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype


def _running(pid):
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _open_fds():
    return set(os.listdir("/proc/self/fd"))


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
    # with noise, a worker needs a whole noise block of its own
    assert engine._default_processes(NOISE_BLOCK, big, record=False, noisy=True) == 1
    assert engine._default_processes(2 * NOISE_BLOCK, big, record=False, noisy=True) == 2
    seen = []
    worker = threading.Thread(target=lambda: seen.append(
        engine._default_processes(10_000, big, record=False)))
    worker.start()
    worker.join()
    assert seen == [1]  # a caller's thread (e.g. a Dask worker) runs in-process


def test_a_process_pool_worker_does_not_fork_workers_of_its_own():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    assert fork_available()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(fork_available).result() is False


def test_sweep_pool_tasks_keep_the_engine_in_their_process(monkeypatch):
    from moxco_cli.experiments import sweep

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        raise StopIteration  # the spy only needs the call

    monkeypatch.setattr(sweep, "simulate", spy)
    cfg = sweep.SweepConfig(landscape="beale", optimizer="gd+moxco",
                            grid=(sweep.Axis("alpha", (0.5,)),), steps=10).validate()
    task = sweep.tasks_for(cfg)[-1]
    with pytest.raises(StopIteration):
        sweep.run_task(cfg, task, np.zeros((4, 2)), None, threads=1)  # as the pool calls it
    assert seen["threads"] == 1 and seen["processes"] == 1
    with pytest.raises(StopIteration):
        sweep.run_task(cfg, task, np.zeros((4, 2)), None)  # in the caller's process
    assert seen["threads"] is None and seen["processes"] is None


def test_fewer_starts_than_processes_and_an_uneven_noisy_split_still_agree():
    beale = landscapes.get("beale")
    method = build_method("adam+moxco", OptimizerSettings())
    few = np.array([[-2.5, 1.2], [1.0, 1.0], [3.0, 0.5]])
    _assert_same(simulate(beale, method, few, 50, processes=1),
                 simulate(beale, method, few, 50, processes=8))
    odd = np.random.default_rng(9).uniform(-4.5, 4.5, (NOISE_BLOCK + 904, 2))
    _assert_same(simulate(beale, method, odd, 30, noise_std=0.05, seed=1, processes=1),
                 simulate(beale, method, odd, 30, noise_std=0.05, seed=1, processes=4))


def test_forked_results_are_private_copies():
    beale = landscapes.get("beale")
    method = build_method("gd", OptimizerSettings())
    tr = simulate(beale, method, np.zeros((5000, 2)), 10, processes=2)
    for name in FIELDS:
        arr = getattr(tr, name)
        assert arr.flags.owndata and arr.flags.writeable, name


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


def test_worker_failure_raises_with_the_child_traceback(children):
    out = shared_empty((2,))

    def work(job, report):
        if job == 1:
            raise ValueError("boom in worker")
        out[job] = 42.0

    fds = _open_fds()
    with pytest.raises(RuntimeError, match="boom in worker"):
        run_forked([[0], [1]], work)
    assert out[0] == 42.0  # the healthy worker's result reached the parent
    assert children() == set()
    assert _open_fds() == fds


def test_a_worker_killed_by_a_signal_stops_the_others_at_once(children):
    def work(job, report):
        if job == 1:
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # the healthy worker would take a minute

    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="SIGKILL"):
        run_forked([[0], [1]], work)
    assert time.monotonic() - t0 < 20
    assert children() == set()


def test_a_worker_that_exits_before_its_last_job_is_an_error_not_zeros():
    def work(job, report):
        if job == 2:
            os._exit(0)

    with pytest.raises(RuntimeError, match="after 1 of 2 jobs"):
        run_forked([[0], [1, 2]], work)


def test_interrupt_in_parent_kills_and_reaps_every_worker(children):
    def work(job, report):
        while True:
            report(1)
            time.sleep(0.01)

    def progress(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_forked([[0], [1]], work, progress)
    assert children() == set()


@pytest.mark.skipif(usable_cores() < 2, reason="workers are forked only with 2+ cores")
def test_ctrl_c_to_the_cli_during_a_forked_sweep_leaves_no_worker_behind(tmp_path, children):
    target = tmp_path / "never"
    args = ["escape-count", "--inits", "400000", "--steps", "3000", "--out", str(target)]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "moxco_cli", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)

    deadline = time.monotonic() + 60
    while not children(proc.pid):
        assert proc.poll() is None and time.monotonic() < deadline, "no worker was forked"
        time.sleep(0.05)
    time.sleep(0.3)
    kids = children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # else it runs on, slowing every later test
        proc.communicate()
        raise
    assert proc.returncode == 130 and "Interrupted" in err and "Traceback" not in err
    time.sleep(0.2)
    assert kids and not [k for k in kids if _running(k)]
    assert not target.exists()


def test_exit_statuses_are_described_in_words():
    from moxco_cli.workers import _describe

    assert _describe(1 << 8) == "exit code 1"  # wait status of exit(1)
    assert _describe(int(signal.SIGKILL)) == "killed by SIGKILL"
    assert _describe(int(signal.SIGRTMIN) + 3) == f"killed by signal {int(signal.SIGRTMIN) + 3}"
