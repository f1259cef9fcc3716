"""Forked worker processes: both cores for the engine where threads cannot help.

    out = shared_empty((n, d))             # visible to the parent after the workers wrote it
    run_forked([[job0, job2], [job1]], work, progress)

Why processes: the engine makes ~80 short NumPy calls per step. Threads only overlap inside
those calls (NumPy releases the GIL there), and at a few thousand starts per call the GIL
hand-offs cost more than the call: two threads of 5,000 starts each ran slower than one of
10,000 (`benchmarks/bench_engine.py`). Forked children share nothing but the memory they
were born with plus anonymous shared mappings, so they run at full speed on their own core.

Only on Linux, from the main thread (`fork_available`). A child runs plain NumPy code on
state it inherited, writes its results into shared arrays and leaves with `os._exit`, so it
never touches locks, buffers or handlers of threads it did not inherit. It ignores SIGINT
and dies with its parent (`PR_SET_PDEATHSIG`); Ctrl-C in the parent kills every child.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import select
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

J = TypeVar("J")
POLL_SECONDS = 0.1  # how often the parent passes workers' progress on
_PR_SET_PDEATHSIG = 1


def fork_available() -> bool:
    """True where `run_forked` may be used: Linux, `os.fork`, called from the main thread.

    Not from other threads: a Dask worker or a thread pool already parallelizes the caller.
    """
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and threading.current_thread() is threading.main_thread())


def usable_cores() -> int:
    """Cores this process may run on (affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def shared_empty(shape: tuple[int, ...], dtype=float) -> np.ndarray:
    """An uninitialized array in anonymous shared memory: children's writes reach the parent."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape, dtype=np.int64))).reshape(shape)


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child(jobs, work, counter, slot, read_fd, write_fd, parent) -> None:
    code = 1
    try:
        os.close(read_fd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C for all
        _die_with_parent(parent)

        def report(k: int) -> None:
            counter[slot] += k

        for job in jobs:
            work(job, report)
        code = 0
    except BaseException:  # noqa: BLE001 - everything goes back to the parent as text
        try:
            os.write(write_fd, traceback.format_exc()[-8000:].encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def run_forked(assignments: Sequence[Sequence[J]], work: Callable[[J, Callable[[int], None]], None],
               progress: Callable[[int], None] | None = None) -> None:
    """Run `work(job, report)` for every job, worker k doing `assignments[k]` in order.

    `work` must put its results in arrays from `shared_empty`; `report(k)` adds k to the
    worker's progress, which the parent passes to `progress` (from the calling thread).
    Raises RuntimeError with the child's traceback if a worker fails; on any exception in the
    parent (KeyboardInterrupt included) every worker is killed and reaped before it propagates.
    """
    counter = shared_empty((len(assignments),), np.int64)
    counter[:] = 0
    parent = os.getpid()
    children: dict[int, int] = {}  # read end of the child's pipe -> pid
    errors: dict[int, bytes] = {}
    reported = 0
    try:
        for slot, jobs in enumerate(assignments):
            read_fd, write_fd = os.pipe()
            with warnings.catch_warnings():
                # Python >= 3.12 warns on fork() with threads alive (e.g. a progress-bar
                # refresher); the child only runs NumPy code and leaves through os._exit.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                _child(jobs, work, counter, slot, read_fd, write_fd, parent)  # never returns
            os.close(write_fd)
            children[read_fd] = pid
            errors[read_fd] = b""
        pending = set(children)
        while pending:
            ready, _, _ = select.select(list(pending), [], [], POLL_SECONDS)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    errors[fd] += chunk
                else:  # EOF: the child has exited
                    pending.discard(fd)
            if progress is not None:
                done = int(counter.sum())
                if done > reported:
                    progress(done - reported)
                    reported = done
        failed = []
        for fd, pid in list(children.items()):
            _, status = os.waitpid(pid, 0)
            del children[fd]
            os.close(fd)
            if os.waitstatus_to_exitcode(status) != 0:
                failed.append(errors[fd].decode(errors="replace").strip()
                              or f"worker {pid} exited with status {status}")
        if failed:
            raise RuntimeError("engine worker process failed:\n" + failed[0])
    finally:
        for fd, pid in children.items():  # only left on an exception in the parent
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(fd)
