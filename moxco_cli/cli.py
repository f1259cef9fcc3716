"""The `moxco` command line: Typer commands only; work happens in `moxco_cli.experiments`.

Every error a user can cause prints one line on stderr and exits with code 2; a failure of
the environment while a command runs (a full disk, a resource limit, a killed worker, a
figure that could not be drawn) prints one line and exits with 1; Ctrl-C exits with 130 and
SIGTERM, SIGHUP or SIGXCPU with 128 + the signal's number, after discarding unfinished
results (`moxco_cli.signals`). Standard output that cannot be written (`> /dev/full`, a pipe
closed by `head`) never costs the results: a reader that stopped early is no error (quiet,
the command's own exit code, whether or not the pipe broke before the last line), any other
failure says so in one line and exits with 1. Heavy libraries are
imported inside the commands, so `moxco --help` stays fast.
"""

from __future__ import annotations

import errno
import os
import sys
from contextlib import contextmanager

import typer
from typer.core import TyperGroup

from moxco_cli import signals
from moxco_cli.errors import (
    PROCESS_ERRNOS,
    STORAGE_ERRNOS,
    Fault,
    Interrupted,
    MoxcoError,
    os_cause,
    out_of_memory,
    take_deferred,
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `Error: message` as one line on stderr; return the Exit to raise."""
    print(f"Error: {_one_line(message)}", file=sys.stderr)
    return typer.Exit(code)


def _usage_message(text: str) -> str:
    """Click's message, with stray arguments quoted so that even an empty one is visible."""
    import re
    import shlex

    found = re.fullmatch(r"Got unexpected extra argument(?:\(s\)|s)? \((.*)\)", text.strip(), re.S)
    if found:
        return (f"unexpected extra argument(s): {shlex.quote(found.group(1))}; each command "
                "takes its arguments first, then --options (see --help)")
    return text


class _Guarded:
    """A standard stream whose write failures are recorded instead of raised: output that
    cannot be shown (`> /dev/full`, `| head -1`) must not cost results still being written.
    After the first failure the descriptor is pointed at /dev/null, so that nothing (a later
    flush, the interpreter's exit) fails on it again."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.error: OSError | None = None

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text):
        if self.error is None:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._failed(exc)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.error is None:
            try:
                self._stream.flush()
            except OSError as exc:
                self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.error = exc
        try:
            fd = self._stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)
            self._stream.flush()  # what the buffer held goes to /dev/null now
        except (OSError, ValueError, AttributeError):
            pass


class _Closed:
    """Standard output started closed (`>&-`: Python's sys.stdout is None). A write fails
    as on a closed descriptor (EBADF), so that the guard records it: output nobody can see
    is a failure to say (exit 1, as with `> /dev/full`), not a silent success."""

    encoding = "utf-8"

    def write(self, text):
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


@contextmanager
def _guarded_output():
    """sys.stdout and sys.stderr as `_Guarded` streams inside the block; yields the stdout
    guard (over `_Closed` where stdout is closed)."""
    saved = sys.stdout, sys.stderr
    out = _Guarded(sys.stdout if sys.stdout is not None else _Closed())
    sys.stdout = out
    sys.stderr = _Guarded(sys.stderr) if sys.stderr is not None else None
    try:
        yield out
    finally:
        sys.stdout, sys.stderr = saved


def _fault_for(exc: BaseException) -> Fault | None:
    """The one-line Fault for an exception the environment caused (out of memory, a full
    disk or a limit outside a results folder, a killed worker); None for anything else."""
    if isinstance(exc, MemoryError):
        return Fault(f"{out_of_memory()}; nothing was published")
    if isinstance(exc, ImportError) and any(
            text in str(exc) for text in ("failed to map segment", "annot allocate memory")):
        # the dynamic loader could not map a compiled module (pandas, scipy) under ulimit -v
        module = (exc.name or "a compiled module").split(".")[0]
        return Fault(f"{out_of_memory()} at start: {module} could not be loaded; nothing "
                     "was computed")
    workers = sys.modules.get("moxco_cli.workers")
    if workers is not None and isinstance(exc, workers.WorkerFailed):
        return Fault(exc.summary())
    if isinstance(exc, OSError) and exc.errno in PROCESS_ERRNOS:
        return Fault(f"{os_cause(exc)}; nothing was published")
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        where = f" while writing {os.path.dirname(exc.filename) or exc.filename}" \
            if isinstance(exc.filename, str) else ""
        return Fault(f"{os_cause(exc)}{where}")
    return None


class OneLineErrors(TyperGroup):
    """A Typer group whose usage errors are one line (no rich panel, no traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (MemoryError, RuntimeError, OSError, ImportError) as exc:
            fault = _fault_for(exc)
            if fault is None:
                raise
            raise fault from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        with signals.handled(), _guarded_output() as stdout:
            rv = self._main(args, prog_name, complete_var, **extra)
            try:
                stdout.flush()
                rv = _after_output(rv, stdout)
            except KeyboardInterrupt:  # a first signal just now: the command is over anyway
                rv = rv or signals.exit_code(130)
            _stop_children()
        if not standalone_mode:
            return rv
        sys.exit(rv)

    def _main(self, args, prog_name, complete_var, **extra) -> int:
        interrupted = None
        _published().clear()  # what this command publishes (in-process callers run many)
        try:
            try:
                rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
            except MoxcoError as exc:
                rv = fail(str(exc), exc.exit_code).exit_code
            except Interrupted as exc:  # the command says what it kept
                rv, interrupted = 130, _one_line(str(exc))
            except KeyboardInterrupt:  # outside typer's own handling
                rv = 130
            except Exception as exc:
                if not (hasattr(exc, "exit_code") and hasattr(exc, "format_message")):
                    raise  # a bug: let it show
                # click's usage errors (bad type, unknown option, missing argument)
                message = exc.format_message()
                code = 2 if exc.exit_code != 0 else 0
                # `moxco` alone: the help is already printed and says it all
                rv = fail(_usage_message(message), code).exit_code if message.strip() else code
            rv = rv if isinstance(rv, int) else 0
            for message in take_deferred():  # a figure not drawn: the rest is published
                rv = fail(message, 1).exit_code if rv == 0 else rv
            if rv == 130:
                rv = signals.exit_code(130)
                published = _published()
                if published:  # the signal came after the last rename: nothing was lost
                    interrupted = (f"{signals.what()} after the results were published: "
                                   f"{', '.join(map(str, published))} is complete.")
                print(interrupted or f"{signals.what()}: unfinished results were discarded.",
                      file=sys.stderr)
        except KeyboardInterrupt:  # a first signal while saying how the command ended
            rv = signals.exit_code(130)
        return rv


def _published() -> list:
    """`report.PUBLISHED` (the folders this command published), without importing report
    for a command that never wrote one (`moxco --help` stays light)."""
    report = sys.modules.get("moxco_cli.report")
    return report.PUBLISHED if report is not None else []


def _stop_children() -> None:
    """End the figure renderer now, while stopping signals are still handled: a command
    leaves no process behind, whichever way it ended (in-process callers too)."""
    renderer = sys.modules.get("moxco_cli.renderer")
    if renderer is not None:
        try:
            renderer.stop()
        except KeyboardInterrupt:  # a first signal just now: it is stopped all the same
            renderer.stop()


def _after_output(rv: int, stdout: _Guarded) -> int:
    """The exit code once standard output has been flushed: a broken pipe ends quietly with
    the command's own code (`| head -1` read what it wanted; whether the pipe broke before
    the last line is chance, so it cannot decide the code); any other write failure is one
    line on stderr (1). An earlier failure's code wins."""
    error = stdout.error
    if error is None or error.errno == errno.EPIPE:
        return rv
    if rv == 0:
        kept = "; every result was written to its folder" if _published() else ""
        fail(f"cannot write to standard output ({os_cause(error)}){kept}", 1)
        return 1
    return rv


app = typer.Typer(
    cls=OneLineErrors,
    name="moxco",
    help="Explore-then-commit optimizers (MoXCo) on toy landscapes: run, count, reproduce.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from moxco_cli import __version__

        print(f"moxco {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 callback=_version, is_eager=True),
) -> None:
    """Explore-then-commit optimizers (MoXCo) on toy landscapes: run, count, reproduce."""


from moxco_cli.commands import register  # noqa: E402  (commands attach themselves to `app`)

register(app)


def main() -> None:
    """Console-script entry point. Stopping signals are handled for the whole process, so
    that a second Ctrl-C during the exit below cannot raise in an atexit handler."""
    with signals.handled():
        try:
            app()
        except SystemExit as exc:
            code = exc.code
        except KeyboardInterrupt:  # a first signal just as the command returned
            code = signals.exit_code(130)
        else:
            code = 0
        _leave(code)


def _leave(code) -> None:
    """Exit with `code`, skipping the interpreter's teardown when it is safe to.

    With numpy, pandas, scipy.stats and matplotlib loaded, freeing every module at exit took
    0.33-0.41 s of each command's wall time (measured: `moxco escape-count --inits 50` spent
    1.9-2.1 s in `main()` and 0.3-0.4 s more before the process ended). By now every result is
    written, closed and renamed into place, so after running the atexit handlers and flushing
    the standard streams the process ends with `os._exit`. With other threads alive, or where
    the atexit hook is missing, it exits the usual way.
    """
    import atexit
    import os
    import threading

    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): print it, exit 1, as Python does
        if sys.stderr is not None:
            print(code, file=sys.stderr)
        code = 1
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or threading.active_count() > 1:
        sys.exit(code)
    import signal

    # Everything is written: a signal now would only cut the exit handlers short
    held = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals.STOPPING))
    try:
        run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is None:  # started with the descriptor closed (`>&-`)
                continue
            try:
                stream.flush()
            except (OSError, ValueError):  # closed or broken pipe: nothing more can be said
                pass
        os._exit(code)
    finally:  # reached only where os._exit is replaced (tests)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
