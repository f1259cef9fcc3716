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
            rv = fail(_usage_message(exc.format_message()),
                      code=2 if exc.exit_code != 0 else 0).exit_code
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
    app()
