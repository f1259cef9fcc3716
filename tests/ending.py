"""Ending a test's subprocess: its output, and never a process left running.

    out, err = ended(proc, timeout=60)              # proc: subprocess.Popen with pipes
    out, err = ended(proc, timeout=60, group=True)  # proc leads its own session
    stop(proc, group=True)                          # now, without waiting

A process still running after `timeout` seconds (or when anything else goes wrong) is
killed, its whole process group with `group`, and reaped before the error propagates: a
command left running would slow every later test of the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess


def ended(proc: subprocess.Popen, timeout: float, *, group: bool = False):
    """`proc.communicate(timeout=timeout)`; `subprocess.TimeoutExpired` when it runs longer."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        stop(proc, group=group)


def stop(proc: subprocess.Popen, *, group: bool = False) -> None:
    """Kill `proc` (its process group with `group`) if it still runs, and reap it."""
    if proc.poll() is None:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.communicate()
