"""User-facing errors: printed as one line by the CLI (exit code 2), never as a traceback."""


class MoxcoError(Exception):
    """Bad input or an unusable environment (e.g. a read-only output folder)."""


class Interrupted(Exception):
    """Ctrl-C, with a message saying what was kept. The CLI prints it and exits with 130;
    a bare KeyboardInterrupt gets the default message (unfinished results discarded)."""
