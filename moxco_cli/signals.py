"""Stopping signals: SIGINT, SIGTERM, SIGHUP and SIGXCPU end a command the same way.

    with signals.handled():      # around a command (the CLI does this)
        ...                      # a stopping signal raises Stop (a KeyboardInterrupt)

Why one path: every piece that cleans up (ResultsFolder removes its temporary folder, the
engine kills its workers, sweep keeps its cells for --resume) already does so on
KeyboardInterrupt; SIGTERM (a batch scheduler's time limit), SIGHUP (a closed terminal) and
SIGXCPU (the soft CPU-time limit, `ulimit -St`) used to kill the process without any of it.
The exit code is 128 + the signal's number, as a shell reports a process the signal killed.

Only the first signal raises (a later one raises the first one's Stop again only where a
finalizer swallowed it, below). Later ones (a double Ctrl-C 2-50 ms apart, SIGTERM then SIGHUP
from a closing terminal) are ignored while the first one's cleanup runs, which a second
KeyboardInterrupt used to cut short (leaving workers behind, or an `atexit` traceback). That
cleanup is bounded: if it has not finished CLEANUP_S seconds after the first signal, SIGALRM
ends the process (children die with it: PR_SET_PDEATHSIG, closed pipes), and the next run
into the same folder recovers what it left hidden (`report.recover_hidden`).

A signal that arrives while Python runs a finalizer (a `__del__`, or a weakref callback such
as the one the import system runs when it drops a module lock) raises Stop inside it, and
there Python cannot raise: it printed "Exception ignored in ..." with a traceback and went
on, and the command ran until the cleanup bound ended it (a Ctrl-C during a forked sweep
did so). While `handled()` holds, Python's hook for such exceptions (`sys.unraisablehook`)
takes a Stop, prints nothing, and REDELIVER_S later (SIGALRM) sends the first signal again,
which raises the Stop wherever the main thread then is (or once the stopping signals are no
longer held back), until one gets out; the cleanup bound still counts from the first signal.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGXCPU)
WHAT = {signal.SIGINT: "Interrupted", signal.SIGTERM: "Terminated (SIGTERM)",
        signal.SIGHUP: "Hung up (SIGHUP)",
        signal.SIGXCPU: "Stopped at the CPU-time limit (SIGXCPU, ulimit -t)"}
CLEANUP_S = 15.0
REDELIVER_S = 1e-3  # after a finalizer swallowed the Stop (module docstring)


class Stop(KeyboardInterrupt):
    """A stopping signal, raised where the main thread was. A KeyboardInterrupt, so that
    every cleanup path written for Ctrl-C runs for it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: list[int] = []  # the first stopping signal of this command
_depth = [0]  # nested `handled()` blocks (the console entry holds one for the whole process)
_swallowed: list[bool] = []  # [True]: a finalizer swallowed the Stop; SIGALRM raises it again
_deadline = [0.0]  # time.monotonic() when the cleanup bound ends the process
_holding = [0]  # nested `held()` blocks
_pending: list[int] = []  # a signal that arrived while held: delivered when the hold ends


def received() -> int | None:
    """The stopping signal this command received first, if any."""
    return _received[0] if _received else None


def exit_code(default: int = 130) -> int:
    """128 + the first stopping signal's number (`default` if none was received)."""
    return 128 + _received[0] if _received else default


def what(default: str = "Interrupted") -> str:
    """'Interrupted', 'Terminated (SIGTERM)', ...: how the command ended."""
    return WHAT.get(received(), default)


def _on_signal(signum, frame) -> None:
    if _holding[0]:  # `held()`: delivered when the block ends
        _pending[:] = _pending[:1] or [signum]
        return
    if _received:  # the first one's cleanup is running: let it finish (bounded, see below)
        if _swallowed:  # ... unless a finalizer swallowed the first one's Stop (_on_alarm)
            _swallowed.clear()
            raise Stop(_received[0])
        return
    _received.append(signum)
    _deadline[0] = time.monotonic() + CLEANUP_S
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CLEANUP_S)
    raise Stop(signum)


def _on_unraisable(unraisable, previous) -> None:
    """`sys.unraisablehook` while `handled()` holds: a Stop that a finalizer swallowed is
    raised again shortly (SIGALRM); anything else goes to `previous`."""
    if isinstance(unraisable.exc_value, Stop) and _received:
        _redeliver_soon()
        return
    previous(unraisable)


def _redeliver_soon() -> None:
    """The first signal's Stop did not get out: SIGALRM sends the signal again shortly."""
    _swallowed[:] = [True]
    signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)


def _on_alarm(*_) -> None:
    """SIGALRM after the first signal: the cleanup bound once it is reached; before, the
    bound re-armed for what is left of it (the redelivery below armed the timer sooner) and,
    while a finalizer's swallowed Stop is pending, the first signal sent again to the main
    thread, which `_on_signal` then raises. As a signal it waits while the stopping signals
    are held back (a replacement runs to its end, `held`)."""
    if not _depth[0]:  # `handled()` is ending: its own cleanup clears the timer
        return
    left = _deadline[0] - time.monotonic()
    if left <= 0:
        _on_cleanup_timeout()
    signal.setitimer(signal.ITIMER_REAL, left)
    if _swallowed:
        signal.pthread_kill(threading.main_thread().ident, _received[0])


def _on_cleanup_timeout() -> None:
    try:
        os.write(2, (f"{what()}: cleaning up took more than {CLEANUP_S:g} s; exiting now "
                     "(the next run into the same folder removes what is left hidden)\n"
                     ).encode())
    finally:
        os._exit(exit_code())


@contextmanager
def held():
    """Hold the stopping signals back in the block (main thread only): one that arrives
    meanwhile takes effect when the block ends. For a few renames that must run to their end
    together (`report.ResultsFolder.publish`).

    Why both a flag and the signal mask: the mask alone is per thread, and a signal sent to
    the process is delivered to any thread that does not block it (a worker pool's, JAX's);
    Python then runs the handler in the main thread inside the block anyway. So the handler
    itself defers while the flag is up; the mask covers code with Python's default handler
    (the API, outside `handled()`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOPPING))
    _holding[0] += 1
    try:
        yield
    finally:
        _holding[0] -= 1
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # one held in the kernel: now
        if not _holding[0] and _pending:
            _on_signal(_pending.pop(), None)


def reset_in_child(ignore_term: bool = True) -> None:
    """In a forked child: the parent stops everyone, so the child ignores SIGINT and SIGHUP
    (and SIGTERM unless it handles it itself, as the renderer does), and takes the default
    action of SIGXCPU (its own CPU-time limit) and SIGALRM."""
    for signum in (signal.SIGINT, signal.SIGHUP) + ((signal.SIGTERM,) if ignore_term else ()):
        signal.signal(signum, signal.SIG_IGN)
    for signum in (signal.SIGXCPU, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, 0)


@contextmanager
def handled():
    """Turn stopping signals into `Stop` inside the block (main thread only; a signal the
    process was started with ignored, e.g. SIGHUP under nohup, stays ignored). Restores the
    earlier handlers after, except while an outer block holds them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth[0]:
        _depth[0] += 1
        try:
            yield
        finally:
            _depth[0] -= 1
        return
    saved = {s: signal.getsignal(s) for s in (*STOPPING, signal.SIGALRM)}
    _received.clear()
    _swallowed.clear()
    _pending.clear()
    for signum in STOPPING:
        if saved[signum] is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)
    previous_hook = sys.unraisablehook

    def hook(unraisable):
        try:
            _on_unraisable(unraisable, previous_hook)
        except Stop:  # a signal during this hook: its Stop is lost here too, so again later
            _redeliver_soon()
    sys.unraisablehook = hook
    _depth[0] = 1
    try:
        yield
    finally:
        _depth[0] = 0
        signal.setitimer(signal.ITIMER_REAL, 0)
        _swallowed.clear()
        if sys.unraisablehook is hook:  # not replaced by someone else meanwhile
            sys.unraisablehook = previous_hook
        for signum, handler in saved.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
