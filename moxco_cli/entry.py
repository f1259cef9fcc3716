"""The `moxco` console script: `moxco_cli.cli.main`, imported under a guard.

Importing the CLI (typer, rich, the command modules) takes a tenth of a second, before its
own signal handling exists: a Ctrl-C in that window printed Python's KeyboardInterrupt
traceback (18-36 lines) instead of one line. Nothing has been computed or written then.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    hook = sys.unraisablehook
    # the Ctrl-C can also land in a callback of the import machinery, which Python reports
    # as "Exception ignored in ..." (5 lines) on its own
    sys.unraisablehook = _quiet_interrupts(hook)
    try:
        from moxco_cli.cli import main as run
    except KeyboardInterrupt:
        try:
            print("Interrupted: nothing was started.", file=sys.stderr, flush=True)
        finally:
            os._exit(130)
    finally:
        sys.unraisablehook = hook
    run()


def _quiet_interrupts(hook):
    def unraisable(info) -> None:
        if not issubclass(info.exc_type, KeyboardInterrupt):
            hook(info)
    return unraisable
