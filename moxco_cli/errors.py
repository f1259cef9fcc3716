"""User-facing errors: printed as one line by the CLI, never as a traceback.

Exit codes (README "Exit status"): 2 for bad input or an unusable output location, refused
before anything is computed (`MoxcoError`); 1 when the environment fails while a command runs
(`Fault`: a full disk, a resource limit, a killed worker, a figure that could not be drawn);
130 for Ctrl-C and 128 + N for the other stopping signals (`Interrupted`, `signals.Stop`).
"""

from __future__ import annotations

import errno

try:  # now: importing it needs a free file descriptor, which EMFILE says there is none of
    import resource
except ImportError:  # not on every platform
    resource = None


class MoxcoError(Exception):
    """Bad input or an unusable environment (e.g. a read-only output folder)."""

    exit_code = 2


class Fault(MoxcoError):
    """The environment failed while a command ran (a full disk, a limit, a killed worker):
    one line, exit code 1. What was published before stays; unfinished results are removed."""

    exit_code = 1


class Interrupted(Exception):
    """Ctrl-C, with a message saying what was kept. The CLI prints it and exits with 130;
    a bare KeyboardInterrupt gets the default message (unfinished results discarded)."""


# Failures of the storage or of a per-process limit, as opposed to a bug or bad input.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EMFILE,
                            errno.ENFILE, errno.EROFS, errno.EIO, errno.ENOMEM})


def _limit(resource_name: str, unit: int = 1, suffix: str = "") -> str:
    """The soft limit `resource_name` of this process as text ('unlimited' if none)."""
    try:
        soft = resource.getrlimit(getattr(resource, resource_name))[0]
    except (AttributeError, OSError, ValueError):
        return "unknown"
    if soft == resource.RLIM_INFINITY:
        return "unlimited"
    return f"{soft // unit}{suffix}"


def os_cause(exc: OSError) -> str:
    """What went wrong in words, naming the limit where one was reached."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return "no space left on device"
    if code == errno.EDQUOT:
        return "disk quota exceeded"
    if code == errno.EFBIG:
        return ("file too large: the file-size limit (ulimit -f) is "
                f"{_limit('RLIMIT_FSIZE', 1024, ' KiB')}")
    if code == errno.EMFILE:
        return f"too many open files: the limit (ulimit -n) is {_limit('RLIMIT_NOFILE')}"
    if code == errno.ENFILE:
        return "too many open files in the system"
    if code == errno.EROFS:
        return "read-only file system"
    if code == errno.ENOMEM:
        return out_of_memory()
    if code == errno.EAGAIN:  # from fork() or a thread's creation: the process limit
        return ("cannot start another process: the process limit (ulimit -u) is "
                f"{_limit('RLIMIT_NPROC')}")
    text = getattr(exc, "strerror", None) or str(exc)
    return text[:1].lower() + text[1:]


# Failures to start a process or thread (fork: EAGAIN), reported like STORAGE_ERRNOS.
PROCESS_ERRNOS = frozenset({errno.EAGAIN})


def out_of_memory() -> str:
    return ("out of memory (the address-space limit, ulimit -v, is "
            f"{_limit('RLIMIT_AS', 1024, ' KiB')})")


def storage_fault(exc: OSError, where) -> Fault:
    """`Fault('<cause> while writing WHERE')` for an OSError raised while writing `where`."""
    return Fault(f"{os_cause(exc)} while writing {where}")


_deferred: list[str] = []  # failures that did not stop the command (a figure not drawn)


def defer(message: str) -> None:
    """Record a failure that cost part of the results but not the rest: the CLI prints it
    as the command's last line and exits with 1 (`Fault`'s code)."""
    _deferred.append(message)


def take_deferred() -> list[str]:
    """The deferred failures so far, forgetting them."""
    taken = list(_deferred)
    _deferred.clear()
    return taken
