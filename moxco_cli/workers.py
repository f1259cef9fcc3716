"""Forked worker processes: both cores for the engine where threads cannot help.

    out = shared_empty((n, d))             # visible to the parent after the workers wrote it
    run_forked([[job0, job2], [job1]], work, progress)

Why processes: the engine makes ~80 short NumPy calls per step. Threads only overlap inside
those calls (NumPy releases the GIL there), and at a few thousand starts per call the GIL
hand-offs cost more than the call: two threads of 5,000 starts each ran slower than one of
10,000 (`benchmarks/bench_engine.py`). Forked children share nothing but the memory they
were born with plus anonymous shared mappings, so they run at full speed on their own core.

Only on Linux, from the main thread of a process that is not itself a `multiprocessing`
worker (`fork_available`): a thread pool, a Dask worker or a process pool already keeps the
cores busy. A child runs the engine's NumPy code on state it inherited, writes its results
into shared arrays and leaves through `os._exit` (no atexit handlers, no stdio flush). SIGINT
is blocked from before the fork until the parent has registered the child, the child ignores
it and dies with its parent (`PR_SET_PDEATHSIG`); a Ctrl-C or any exception in the parent
kills and reaps every child, and so does the first failed child.
"""

from __future__ import annotations

import ctypes
import math
import mmap
import os
import selectors
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

J = TypeVar("J")
POLL_SECONDS = 0.1  # how often the parent passes workers' progress on
_PR_SET_PDEATHSIG = 1


def fork_available() -> bool:
    """True where `run_forked` may be used (see the module docstring)."""
    if not (sys.platform.startswith("linux") and hasattr(os, "fork")):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    mp = sys.modules.get("multiprocessing")
    return mp is None or mp.parent_process() is None


def usable_cores() -> int:
    """Cores this process may use: the affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def shared_empty(shape: tuple[int, ...], dtype=float) -> np.ndarray:
    """An uninitialized array in anonymous shared memory: children's writes reach the parent."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    buf = mmap.mmap(-1, max(count * dtype.itemsize, 1),
                    flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)


def libc_prctl():
    """libc's `prctl`, looked up in the parent (a child should not dlopen), or None."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def settle_child(parent: int, prctl, death_signal: int = signal.SIGKILL,
                 ignore_term: bool = True) -> bool:
    """First steps of a forked child entered with the stopping signals blocked: ignore
    Ctrl-C, SIGHUP and (unless `ignore_term` is False) SIGTERM, which the parent handles for
    all (`signals.reset_in_child`), and receive `death_signal` when the parent dies. False if
    the parent is already gone."""
    from moxco_cli import signals

    signals.reset_in_child(ignore_term)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(signals.STOPPING))
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
    return os.getppid() == parent  # else the parent died before prctl took effect


@contextmanager
def sigint_held():
    """Hold SIGINT and the other stopping signals (SIGTERM, SIGHUP, SIGXCPU) back; they are
    delivered at the end of the block: for a fork and the registration of its child, or for
    reaping a child, which a second signal must not cut."""
    from moxco_cli.signals import STOPPING

    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOPPING))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def fork_quietly() -> int:
    """`os.fork()`. Python >= 3.12 warns on fork with threads alive (e.g. a progress bar's
    refresher); our children only run NumPy or matplotlib code and leave by `os._exit`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _child(jobs, work, counter, finished, slot, read_fd, write_fd, parent, prctl) -> None:
    """Body of a forked worker; never returns. SIGINT is blocked on entry."""
    code = 1
    try:
        os.close(read_fd)
        if not settle_child(parent, prctl):
            return

        def report(k: int) -> None:
            counter[slot] += k

        for job in jobs:
            work(job, report)
            finished[slot] += 1
        code = 0
    except BaseException:  # noqa: BLE001 - everything goes back to the parent as text
        try:
            os.write(write_fd, traceback.format_exc()[-8000:].encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


class WorkerFailed(RuntimeError):
    """A worker failed: `failure` says how ('killed by SIGKILL', 'exit code 1', ...), `text`
    is its traceback (empty if it died without one). `summary()` is one line for the CLI."""

    def __init__(self, failure: str, text: str = "") -> None:
        self.failure, self.text = failure, text.strip()
        super().__init__(f"engine worker process failed ({failure})"
                         + (f":\n{self.text}" if self.text else ""))

    def summary(self) -> str:
        """One line naming the cause: the signal and what usually sends it, or the worker's
        own last error line."""
        hints = {"SIGKILL": "out of memory (the kernel's OOM killer) or killed by another "
                            "program",
                 "SIGXCPU": "the CPU-time limit (ulimit -t) was reached",
                 "SIGSEGV": "a crash in native code, often memory exhausted under ulimit -v",
                 "SIGTERM": "terminated by another program"}
        hint = next((h for name, h in hints.items() if self.failure.endswith(name)), None)
        last = self.text.splitlines()[-1] if self.text else ""
        if "MemoryError" in last:
            from moxco_cli.errors import out_of_memory

            hint = out_of_memory()
        elif last:
            hint = last
        return (f"an engine worker process failed ({self.failure}"
                + (f": {hint}" if hint else "") + "); nothing was published")


def _describe(status: int) -> str:
    return describe_exit(os.waitstatus_to_exitcode(status))


def describe_exit(code: int) -> str:
    """'exit code N' or 'killed by SIGNAME' for an exit code as `multiprocessing` gives it
    (minus the signal's number for a process a signal ended)."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:  # a real-time or unnamed signal
        return f"killed by signal {-code}"


STOPPED_S = 5.0  # a worker stopped this long (SIGSTOP) fails the run instead of hanging it


def check_not_stopped(pids, stopped_since: dict[int, float]) -> None:
    """Raise WorkerFailed if a worker has been stopped (state T, SIGSTOP) for STOPPED_S:
    the parent would otherwise wait for it for ever. (Ctrl-Z stops the parent too, and
    SIGCONT resumes them together: that never lasts STOPPED_S here.)"""
    import time

    now = time.monotonic()
    for pid in pids:
        if not is_stopped(pid):
            stopped_since.pop(pid, None)
        elif now - stopped_since.setdefault(pid, now) >= STOPPED_S:
            raise WorkerFailed(f"stopped (SIGSTOP?) for {STOPPED_S:g} s")


def is_stopped(pid: int) -> bool:
    """Whether process `pid` is stopped: state T (a signal) or t (a tracer) in /proc; False
    where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:][:1] in ("T", "t")


def _kill_all(children: dict[int, int]) -> None:
    """SIGKILL every child first, then reap them and close their pipes."""
    for pid in children.values():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for fd, pid in list(children.items()):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(fd)
        del children[fd]


def run_forked(assignments: Sequence[Sequence[J]], work: Callable[[J, Callable[[int], None]], None],
               progress: Callable[[int], None] | None = None) -> None:
    """Run `work(job, report)` for every job, worker k doing `assignments[k]` in order.

    `work` must put its results in arrays from `shared_empty`; `report(k)` adds k to the
    worker's progress, which the parent passes to `progress` (from the calling thread).
    Returns when every worker has finished all its jobs. The first worker that fails (an
    exception, a signal, an exit before its last job) stops the others and raises
    RuntimeError with its traceback or exit status; any exception in the parent
    (KeyboardInterrupt included) kills and reaps every worker before it propagates.
    """
    slots = len(assignments)
    counter, finished = shared_empty((slots,), np.int64), shared_empty((slots,), np.int64)
    counter[:] = 0
    finished[:] = 0
    parent, prctl = os.getpid(), libc_prctl()
    children: dict[int, int] = {}  # read end of the child's pipe -> pid
    slot_of: dict[int, int] = {}  # read end of the child's pipe -> its slot in `assignments`
    messages: dict[int, bytes] = {}
    reported = 0
    stopped_since: dict[int, float] = {}  # pid -> when it was first seen stopped
    with selectors.DefaultSelector() as selector:
        try:
            for slot, jobs in enumerate(assignments):
                read_fd, write_fd = os.pipe()
                pid = None
                # SIGINT waits until the child is registered (it may still be handled by
                # another thread; then the except clause below reaps an unregistered child).
                with sigint_held():
                    try:
                        pid = fork_quietly()
                        if pid == 0:
                            _child(jobs, work, counter, finished, slot, read_fd, write_fd,
                                   parent, prctl)
                        children[read_fd] = pid
                        slot_of[read_fd], messages[read_fd] = slot, b""
                        selector.register(read_fd, selectors.EVENT_READ)
                    except BaseException:
                        if read_fd not in children:
                            if pid:
                                children[read_fd] = pid  # reaped with the others below
                            else:
                                os.close(read_fd)
                        raise
                    finally:
                        os.close(write_fd)
            while children:
                for key, _ in selector.select(POLL_SECONDS):
                    fd = key.fd
                    chunk = os.read(fd, 65536)
                    if chunk:
                        messages[fd] += chunk
                        continue
                    selector.unregister(fd)  # EOF: the child has exited
                    try:
                        _, status = os.waitpid(children[fd], 0)
                        failure = (None if os.waitstatus_to_exitcode(status) == 0
                                   else _describe(status))
                    except ChildProcessError:  # reaped elsewhere: trust the job counter
                        failure = None
                    del children[fd]
                    os.close(fd)
                    slot = slot_of[fd]
                    if failure is None and finished[slot] != len(assignments[slot]):
                        failure = (f"exited after {finished[slot]} of "
                                   f"{len(assignments[slot])} jobs")
                    if failure is not None:
                        raise WorkerFailed(failure, messages[fd].decode(errors="replace"))
                check_not_stopped(children.values(), stopped_since)
                if progress is not None:
                    done = int(counter.sum())
                    if done > reported:
                        progress(done - reported)
                        reported = done
        finally:
            _kill_all(children)  # empty unless something went wrong
