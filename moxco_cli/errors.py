"""User-facing errors: printed as one line by the CLI (exit code 2), never as a traceback."""


class MoxcoError(Exception):
    """Bad input or an unusable environment (e.g. a read-only output folder)."""
