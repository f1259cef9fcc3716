"""Figures drawn in a forked child process, so drawing overlaps the command's own work.

    renderer.start()                 # first thing in a command, before the heavy imports
    ...
    with ResultsFolder(path) as out:
        out.write_figure("loss.png", "moxco_cli.plots.run:loss_figure", land, paths, title)
    # the folder waits for its figures before it is published

Why: a short command is mostly imports and drawing. `moxco escape-count --inits 50` spends
~0.75 s importing pandas and scipy.stats and ~0.2 s simulating, then ~0.75 s importing
matplotlib and drawing. Forked before the heavy imports, the child imports matplotlib while
the parent imports the rest, and draws while the parent writes tables; on two cores both
halves run at once (`make bench` times the command both ways).

The child inherits only what the parent had imported when `start()` forked it (numpy,
typer, rich, moxco's own modules), imports `PRELOAD`, then takes figures one at a time in
submission order: the parent sends `(path, build, args, kwargs)` pickled, the child calls
`report.draw_png` (the same code as in-process, so the same bytes) and answers one byte.
One-byte answers cannot fill the answer pipe, so neither side can block the other for good.

It is an accelerator only. Where fork is unavailable (`workers.fork_available`), for
arguments that do not pickle (e.g. a formula landscape's compiled functions), after the
child failed on a figure or died, the parent draws the figure itself: the same file, or the
same exception with its real traceback. The child ignores Ctrl-C and ends with its parent;
`stop()` (also at exit) ends it in order (SIGTERM, which unwinds matplotlib's lock files),
then by SIGKILL if it does not go, and reaps it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import shutil
import signal
import struct
import sys
import threading
import time
import warnings
from collections import deque
from pathlib import Path

from moxco_cli.workers import (
    fork_available,
    fork_quietly,
    is_stopped,
    libc_prctl,
    settle_child,
    sigint_held,
)

PRELOAD = ("matplotlib.pyplot", "moxco_cli.plots")  # every figure needs these
DISABLE_ENV = "MOXCO_RENDERER"  # "0" (or false/no/off): draw every figure in-process
_HEADER = struct.Struct("<Q")
_OK, _FAILED = b"\x01", b"\x00"


class Ticket:
    """One submitted figure. `drawn()` waits for the child's answer: True if the file is
    written, False if the caller must draw it itself."""

    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer
        self.ok: bool | None = None

    def drawn(self) -> bool:
        while self.ok is None:
            self._renderer._read_answer()
        return self.ok


class Renderer:
    """One forked child drawing figures to PNG files (see the module docstring). Use
    `start()`, which forks it with SIGINT held back until it is registered."""

    def __init__(self, preload=PRELOAD) -> None:
        for stream in (sys.stdout, sys.stderr):  # or the child's copy may print it again
            if stream is not None:
                stream.flush()
        parent, prctl = os.getpid(), libc_prctl()
        req_read, req_write = os.pipe()
        ans_read, ans_write = os.pipe()
        pid = None
        try:
            pid = fork_quietly()
            if pid == 0:
                _serve(req_read, ans_write, (req_write, ans_read), parent, prctl, preload)
        finally:
            os.close(req_read)
            os.close(ans_write)
            if pid is None:
                os.close(req_write)
                os.close(ans_read)
        self.pid, self.owner = pid, parent
        self._requests = os.fdopen(req_write, "wb")
        self._answers = ans_read
        self._waiting: deque[Ticket] = deque()

    @property
    def alive(self) -> bool:
        return self.pid is not None

    def submit(self, path: Path, build, args: tuple = (),
               kwargs: dict | None = None) -> Ticket | None:
        """Queue `build(*args, **kwargs)` to be drawn to `path`; None if the caller must draw
        it (no child, or the arguments do not pickle). The arguments are pickled now: the
        child draws them as they are at this call."""
        if not self.alive:
            return None
        try:
            payload = pickle.dumps((os.path.abspath(path), build, args, kwargs or {}),
                                   protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - lambdas, compiled formulas, open files...
            return None
        ticket = Ticket(self)
        self._waiting.append(ticket)
        try:  # waits while the child draws, if the payload is larger than the pipe
            sent = self._send(_HEADER.pack(len(payload)) + payload)
        except OSError:  # the child is gone
            sent = False
        except BaseException:  # half a message would derail the child: end it
            self.stop()
            raise
        if not sent:  # gone, stopped or silent: half a message would derail it, end it
            self.stop()
            return None
        return ticket

    def _send(self, data: bytes) -> bool:
        """Write `data` to the child in pieces the pipe has room for (select says writable:
        at least PIPE_BUF bytes free), so that a stopped child cannot block this process
        for good; False if it gave up (`_give_up`)."""
        import select

        view, since, stopped_since = memoryview(data), time.monotonic(), None
        while view:
            _, ready, _ = select.select([], [self._requests], [], POLL_S)
            if ready:
                self._requests.write(view[:select.PIPE_BUF])
                self._requests.flush()
                view, since = view[select.PIPE_BUF:], time.monotonic()
                continue
            stopped_since, give_up = self._give_up(since, stopped_since)
            if give_up:
                return False
        return True

    def _read_answer(self) -> None:
        """Settle the oldest waiting ticket (all of them if the child has died, or has been
        stopped or silent too long: `_wait_for_answer`)."""
        try:
            answer = os.read(self._answers, 1) if self.alive and self._wait_for_answer() else b""
        except OSError:
            answer = b""
        if not answer:
            self.stop()
            return
        self._waiting.popleft().ok = answer == _OK

    def _wait_for_answer(self) -> bool:
        """Wait until an answer can be read: True, or False (after one line on stderr) once
        the child has been stopped (SIGSTOP, a job-control stop) for STOPPED_S seconds or
        has not answered for ANSWER_TIMEOUT_S; the caller then draws the figure itself."""
        import select

        start, stopped_since = time.monotonic(), None
        while True:
            ready, _, _ = select.select([self._answers], [], [], POLL_S)
            if ready:
                return True
            stopped_since, give_up = self._give_up(start, stopped_since)
            if give_up:
                return False

    def _give_up(self, since: float, stopped_since: float | None) -> tuple[float | None, bool]:
        """One look at a child that has not answered since `since`: `(stopped_since, True)`
        with one line on stderr if it has been stopped for STOPPED_S or silent for
        ANSWER_TIMEOUT_S seconds, else `(stopped_since, False)`."""
        now = time.monotonic()
        stopped = is_stopped(self.pid)
        stopped_since = (stopped_since or now) if stopped else None
        if stopped and now - stopped_since >= STOPPED_S:
            why = f"has been stopped for {STOPPED_S:g} s (SIGSTOP?)"
        elif now - since >= ANSWER_TIMEOUT_S:
            why = f"has not answered for {ANSWER_TIMEOUT_S:g} s"
        else:
            return stopped_since, False
        print(f"Warning: the figure renderer (process {self.pid}) {why}; ending it and "
              "drawing the figures in this process", file=sys.stderr)
        return stopped_since, True

    def stop(self) -> None:
        """End the child: at once if idle (end of input), else SIGTERM, which it turns into
        an orderly exit (matplotlib releases its font-cache lock), then SIGKILL after
        `STOP_GRACE_S`. Figures not drawn yet are left to their callers."""
        while self._waiting:
            self._waiting.popleft().ok = False
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        if os.getpid() != self.owner:  # a forked copy of the parent must not touch the child
            return
        for close in (self._requests.close, lambda: os.close(self._answers)):
            try:
                close()
            except OSError:
                pass
        _end_child(pid)


STOP_GRACE_S = 2.0
POLL_S = 0.5  # how often a wait for a figure looks at the child's state
STOPPED_S = 5.0  # a child stopped this long is given up on
ANSWER_TIMEOUT_S = 600.0  # no figure takes this long; a silent child is given up on


def _end_child(pid: int) -> None:
    """SIGTERM `pid`, wait up to STOP_GRACE_S for it to exit, then SIGKILL; reap it. A
    second Ctrl-C meanwhile waits until the child is gone."""
    with sigint_held(), contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)  # a stopped child acts on SIGTERM only once resumed
        deadline = time.monotonic() + STOP_GRACE_S
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.002)


def _exits_unreported(hook):
    def unraisable(info) -> None:
        if not issubclass(info.exc_type, (SystemExit, KeyboardInterrupt)):
            hook(info)
    return unraisable


def _on_sigterm(*_) -> None:
    signal.alarm(int(STOP_GRACE_S) + 1)  # if the orderly exit hangs, SIGALRM ends it
    sys.exit(1)


def _serve(requests: int, answers: int, parent_ends: tuple[int, int], parent: int, prctl,
           preload) -> None:
    """Body of the renderer child; never returns. SIGINT is blocked on entry."""
    code = 1
    temporary_dirs = _temporary_matplotlib_dirs() if "matplotlib" not in sys.modules else None
    try:
        # SIGTERM (from `stop()`, or the parent's death) unwinds like an exception, so that
        # `with` blocks in matplotlib (the font cache's lock file) clean up.
        signal.signal(signal.SIGTERM, _on_sigterm)
        for fd in parent_ends:
            os.close(fd)
        if not settle_child(parent, prctl, signal.SIGTERM, ignore_term=False):
            return
        # A SIGTERM while importing (the command refused its input at once) unwinds from
        # wherever it lands: inside a callback of the import machinery Python printed
        # "Exception ignored in ... SystemExit: 1", and an interrupted matplotlib import
        # warned "Unable to import Axes3D", after the command's one-line error. Neither says
        # anything to the user: an exit is not reported, and no warning while preloading.
        sys.unraisablehook = _exits_unreported(sys.unraisablehook)
        from moxco_cli.mplconfig import use_writable_config

        use_writable_config()  # a read-only HOME: matplotlib said so on every command
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in preload:
                importlib.import_module(name)
        from moxco_cli.report import draw_png

        with os.fdopen(requests, "rb") as reader:
            while header := reader.read(_HEADER.size):
                payload = reader.read(_HEADER.unpack(header)[0])
                try:
                    path, build, args, kwargs = pickle.loads(payload)
                    draw_png(Path(path), build, args, kwargs)
                    answer = _OK
                except Exception:  # noqa: BLE001 - the parent redraws it and raises there
                    answer = _FAILED
                os.write(answers, answer)
        code = 0
    except BaseException:  # noqa: BLE001 - SystemExit from SIGTERM, a closed pipe...
        pass
    finally:
        try:
            if temporary_dirs is not None:
                _remove_new_matplotlib_dir(temporary_dirs)
        finally:
            os._exit(code)


def _temporary_matplotlib_dirs() -> set[Path]:
    import tempfile

    return set(Path(tempfile.gettempdir()).glob("matplotlib-*"))


def _remove_new_matplotlib_dir(before: set[Path]) -> None:
    """Matplotlib makes a temporary config dir when the usual one is not writable, and
    removes it at exit, which `os._exit` skips: remove it if this child made it (one that
    existed before, e.g. a user's own MPLCONFIGDIR, is left alone)."""
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    where = Path(mpl.get_configdir())
    if where in _temporary_matplotlib_dirs() - before:
        shutil.rmtree(where, ignore_errors=True)


_current: Renderer | None = None


def start(preload=PRELOAD) -> None:
    """Fork a fresh renderer for this command (stopping any earlier one), where possible.

    A fresh child per command sees the state the command starts from (in tests: monkeypatched
    functions); the fork costs a few milliseconds. Not from a process with other threads
    running: the child imports and draws, and could inherit a lock held by another thread."""
    global _current
    stop()
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return
    if not fork_available() or threading.active_count() > 1:
        return  # a child of a threaded parent may inherit a lock another thread held
    # A Ctrl-C arriving meanwhile waits until the child is registered (so `stop()` finds it)
    with sigint_held():
        try:
            _current = Renderer(preload)
        except Exception:  # noqa: BLE001 - no fork or pipe today (limits): draw in-process
            _current = None


def current() -> Renderer | None:
    """The running renderer of this process, if any."""
    if _current is not None and _current.alive and _current.owner == os.getpid():
        return _current
    return None


def stop() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None


atexit.register(stop)
