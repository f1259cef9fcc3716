"""The `moxco` command line: Typer commands only; work happens in `moxco_cli.experiments`.

Every error a user can cause prints one line on stderr and exits with code 2; an interrupt
(Ctrl-C) exits with 130 after discarding unfinished results. Heavy libraries are imported
inside the commands, so `moxco --help` stays fast.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from moxco_cli.errors import Interrupted, MoxcoError


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


class OneLineErrors(TyperGroup):
    """A Typer group whose usage errors are one line (no rich panel, no traceback)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        interrupted = "Interrupted: unfinished results were discarded."
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except MoxcoError as exc:
            rv = fail(str(exc)).exit_code
        except Interrupted as exc:  # the command says what it kept
            rv, interrupted = 130, _one_line(str(exc))
        except Exception as exc:
            if not (hasattr(exc, "exit_code") and hasattr(exc, "format_message")):
                raise  # a bug: let it show
            # click's usage errors (bad type, unknown option, missing argument)
            message = exc.format_message()
            code = 2 if exc.exit_code != 0 else 0
            # `moxco` alone: the help is already printed and says it all
            rv = fail(_usage_message(message), code).exit_code if message.strip() else code
        rv = rv if isinstance(rv, int) else 0
        if rv == 130:
            print(interrupted, file=sys.stderr)
        if not standalone_mode:
            return rv
        sys.exit(rv)


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
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        code = exc.code
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
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with the descriptor closed (`>&-`)
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more can be said
            pass
    os._exit(code)
