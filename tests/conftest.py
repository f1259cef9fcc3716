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
test_workers.py); the `full_matrix` marker (`--full-matrix`); and `background`, the long
subprocesses of a few module fixtures, started in the background when collection ends.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
    _build_each_typer_app_once()


def pytest_collection_modifyitems(config, items):
    if config.getoption("--full-matrix"):
        return
    skip = pytest.mark.skip(reason="one of a matrix's repeated combinations: --full-matrix")
    for item in items:
        if item.get_closest_marker("full_matrix") is not None:
            item.add_marker(skip)


def _build_each_typer_app_once() -> None:
    """`CliRunner.invoke(app, ...)` builds the click command of the whole Typer app on every
    call (7 ms: every option of every command read from its signature), about 2500 times in
    this suite. The app is declared at import and never changed by a test, so the command is
    built once per app; what it runs is the same object either way."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # another typer: each call builds it, as before
        return
    typer.testing._get_command = functools.cache(build)  # keyed by the app object


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
    Dask cluster), and `background` commands run beside the tests. `children(pid)`: every
    child of another process `pid` (a command's renderer and workers)."""
    before = children_of(os.getpid())

    def children(pid: int | None = None) -> set[int]:
        return children_of(os.getpid()) - before if pid is None else children_of(pid)

    return children


# ------------------------------------------------------------- commands run in the background
#
# The suite runs mostly on one core; CI has two. A module fixture that is one long subprocess
# (the JAX child of test_backend_jax.py, `moxco reproduce --quick` and its rerun in
# test_reproduce.py, ...) is declared in its module as
#
#     BACKGROUND = {"fixture_name": make}  # make(work: Path) -> [{"args": [...]}, ...]
#
# and its commands are started when collection ends, if a selected test uses the fixture:
# one declaration at a time (in the order the tests will need them), each command in a
# session of its own, while the tests run. The fixture takes the outcome with
# `background.result(request)`, which starts the commands at once if they are still queued,
# and waits for them (meanwhile the next queued declaration runs beside them).
#
# The queue moves on before a test's fixtures are set up (`pytest_runtest_setup`), so a test
# that counts its own children (the `children` fixture) never sees one; only `result()`, in
# the fixture that needs it, starts a command during a test. The commands get the environment
# the suite had when collection ended (plus their own `env`), and are killed when it ends.

BACKGROUND_TIMEOUT_S = 900.0


@dataclass
class Command:
    """One command of a background declaration, from its dict (`args`, and optionally `env`,
    `cwd`, `timeout_s`); started once the one before it ended with 0."""
    args: list
    env: dict = field(default_factory=dict)  # on top of the suite's environment
    cwd: Path | None = None  # the declaration's own folder if None
    timeout_s: float = BACKGROUND_TIMEOUT_S


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class _Job:
    make: object
    env: dict
    work: Path | None = None
    commands: list = field(default_factory=list)
    done: list = field(default_factory=list)
    proc: subprocess.Popen | None = None
    began: float = 0.0
    streams: tuple = ()

    @property
    def started(self) -> bool:
        return self.work is not None

    @property
    def running(self) -> bool:
        return self.proc is not None

    def start(self, root: Path, name: str) -> None:
        self.work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        self.commands = [Command(**c) for c in self.make(self.work)]
        self._next()

    def _next(self) -> None:
        k = len(self.done)
        if k == len(self.commands) or (self.done and self.done[-1].returncode != 0):
            return  # all done, or one failed: that ends the declaration
        command = self.commands[k]
        out, err = (open(self.work / f"command-{k}.{s}", "w+") for s in ("out", "err"))
        self.streams, self.began = (out, err), time.monotonic()
        self.proc = subprocess.Popen([str(a) for a in command.args],
                                     cwd=command.cwd or self.work,
                                     env={**self.env, **command.env}, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, text=True,
                                     start_new_session=True)

    def poll(self, wait_s: float = 0.0) -> None:
        """Reap the running command if it ended (waiting up to `wait_s` for it), or kill it
        once it has run for its `timeout_s` (it ends with -9 and says so on stderr); start
        the next one."""
        while self.proc is not None:
            command = self.commands[len(self.done)]
            left = command.timeout_s - (time.monotonic() - self.began)
            late = ""
            try:
                self.proc.wait(timeout=max(min(wait_s, left), 0.0))
            except subprocess.TimeoutExpired:
                if left > wait_s:
                    return
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                late = f"\n(killed: ran for more than {command.timeout_s:g} s)"
            texts = []
            for stream in self.streams:
                stream.seek(0)
                texts.append(stream.read())
                stream.close()
            self.done.append(Done(self.proc.returncode, texts[0], texts[1] + late,
                                  time.monotonic() - self.began))
            self.proc = None
            self._next()

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
            for stream in self.streams:
                stream.close()


class Background:
    def __init__(self) -> None:
        self.jobs: dict[str, _Job] = {}
        self.root: Path | None = None
        self.env = dict(os.environ)

    @staticmethod
    def _key(module, name: str) -> str:
        return f"{module.__name__}.{name}"

    def plan(self, items) -> None:
        """Queue every declaration a selected test uses, in the order of first use."""
        self.env = dict(os.environ)
        for item in items:
            module = getattr(item, "module", None)
            for name, make in (getattr(module, "BACKGROUND", None) or {}).items():
                if name in item.fixturenames and self._key(module, name) not in self.jobs:
                    self.jobs[self._key(module, name)] = _Job(make, self.env)

    def advance(self, running: int = 1) -> None:
        """Reap what ended; start queued declarations while fewer than `running` run."""
        for job in self.jobs.values():
            job.poll()
        for key, job in self.jobs.items():
            if sum(j.running for j in self.jobs.values()) >= running:
                return
            if not job.started:
                self._start(key, job)

    def _start(self, key: str, job: _Job) -> None:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="moxco-background-"))
        job.start(self.root, key.rsplit(".", 1)[-1])

    def result(self, request) -> tuple[Path, list[Done]]:
        """For the fixture asking (`request`): the folder its commands ran in and how each
        ended, waiting for them. A failed command ends its declaration: it is the last."""
        key = self._key(request.module, request.fixturename)
        if key not in self.jobs:  # not planned (reached another way): run it now
            self.jobs[key] = _Job(request.module.BACKGROUND[request.fixturename], self.env)
        job = self.jobs[key]
        if not job.started:
            self._start(key, job)
        while job.running:  # meanwhile the core the tests ran on can take the next one
            self.advance(running=2)
            job.poll(wait_s=0.25)
        return job.work, list(job.done)

    def close(self) -> None:
        for job in self.jobs.values():
            job.kill()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


_BACKGROUND = Background()


def pytest_collection_finish(session):
    if not session.config.option.collectonly:
        _BACKGROUND.plan(session.items)
        _BACKGROUND.advance()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _BACKGROUND.advance()


def pytest_sessionfinish(session, exitstatus):
    _BACKGROUND.close()


@pytest.fixture(scope="session")
def background() -> Background:
    """Commands started beside the tests (see above): `background.result(request)`."""
    return _BACKGROUND
