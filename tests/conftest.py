"""Suite-wide rules: every test leaves the process as it found it, so that any order works.

pytest-randomly (the `dev` extra) shuffles the order on every run; the seed is printed in the
header and again at the end, and `pytest -p randomly --randomly-seed=N` replays an order
(`-p no:randomly` runs the files in their usual order).

Two kinds of state leaked between tests before, and changed what later tests saw: threads
(the renderer does not fork, and `cli._leave` exits the slow way, while any other thread
runs; Dask's process-wide offload thread was one, see `_stop_dask_offload_thread`) and
SIGINT's handler or mask (inherited by every subprocess a later test starts). A test
that leaves either behind now fails itself, in its teardown, instead of a later test. The
process itself starts with Python's usual SIGINT handler, even where its caller ignored
SIGINT (see `pytest_configure`).

Also here: `children`, the child processes a test left (tests/test_faults.py, test_renderer.py,
test_workers.py); and the `full_matrix` marker (`--full-matrix`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

THREAD_GRACE_S = 10.0  # a pool's helper threads may take a moment to end after shutdown


def pytest_addoption(parser):
    parser.addoption("--full-matrix", action="store_true", default=False,
                     help="also run the `full_matrix` cases (every combination of a matrix "
                          "whose other cases already take each code path)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "full_matrix: a combination of a matrix whose code paths its other cases "
                   "already take; skipped unless --full-matrix is given")
    _reset_ignored_sigint()


def pytest_collection_modifyitems(config, items):
    if config.getoption("--full-matrix"):
        return
    skip = pytest.mark.skip(reason="one of a matrix's repeated combinations: --full-matrix")
    for item in items:
        if item.get_closest_marker("full_matrix") is not None:
            item.add_marker(skip)


def _reset_ignored_sigint():
    """Python's own Ctrl-C handling, even when the suite was started with SIGINT ignored
    (`cmd &` in a script, nohup): an ignored SIGINT is inherited through exec by every
    subprocess, so the tests that interrupt a `moxco` child would wait for it in vain. (A
    handled SIGINT is reset to the default in the child, as from a terminal.)"""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _sigint_state():
    return signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, ())


def _stop_dask_offload_thread() -> None:
    """Dask keeps one process-wide pool (`distributed.utils._offload_executor`) whose thread,
    once started by any Dask client, runs until the interpreter exits. Stop it and put a fresh
    pool, thread-less until used, in its place (as a fresh process would have)."""
    utils = sys.modules.get("distributed.utils")
    pool = getattr(utils, "_offload_executor", None)
    if pool is None or not getattr(pool, "_threads", None):
        return
    utils._offload_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="Dask-Offload")
    pool.shutdown(wait=True)


def _threads_left(threads: set) -> list[str]:
    deadline = time.monotonic() + THREAD_GRACE_S
    while True:
        left = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        if not left or time.monotonic() > deadline:
            return [t.name for t in left]
        left[0].join(timeout=0.05)


@pytest.fixture(autouse=True, scope="module")
def _module_leaves_no_thread_behind():
    """The same for what a module's own fixtures start (a Dask cluster, say)."""
    threads = set(threading.enumerate())
    yield
    _stop_dask_offload_thread()
    left = _threads_left(threads)
    assert not left, f"threads this module's fixtures started are still running: {left}"


@pytest.fixture(autouse=True)
def _leaves_no_thread_or_signal_state_behind():
    threads = set(threading.enumerate())
    sigint = _sigint_state()
    yield
    _stop_dask_offload_thread()
    left = _threads_left(threads)
    assert not left, ("threads this test started are still running (later tests would see "
                      f"them): {left}")
    assert _sigint_state() == sigint, "this test changed SIGINT's handler or blocked signals"


def _seed_line(config) -> str | None:
    if not config.pluginmanager.hasplugin("randomly"):
        return None
    seed = config.getoption("randomly_seed", None)
    if not isinstance(seed, int):
        return None
    return (f"Using --randomly-seed={seed} (replay this order: "
            f"pytest -p randomly --randomly-seed={seed})")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """pytest-randomly prints its seed in the header, which `-q` (`make test`) hides."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = _seed_line(session.config)
    if reporter is not None and line and session.config.get_verbosity() < 0:
        reporter.write_line(line)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The seed again where a run ends, next to its failures."""
    line = _seed_line(config)
    if line:
        terminalreporter.write_line(line)


# ------------------------------------------------------------------------- child processes

def children_of(pid: int) -> set[int]:
    """Child processes of `pid`, from /proc (zombies count: they are not reaped yet)."""
    kids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{pid}\n" in status.read_text():
                kids.add(int(status.parent.name))
        except OSError:  # exited meanwhile
            continue
    return kids


@pytest.fixture
def children():
    """`children()`: the child processes of this process that were not there when the test
    began (zombies count). Children from before are not the test's own: in random order an
    earlier test may have started a long-lived helper (multiprocessing's resource tracker, a
    Dask cluster). `children(pid)`: every child of another process `pid` (a command's
    renderer and workers)."""
    before = children_of(os.getpid())

    def children(pid: int | None = None) -> set[int]:
        return children_of(os.getpid()) - before if pid is None else children_of(pid)

    return children
