"""Stopping signals (issues 19 and 20): SIGTERM and SIGHUP at compute, figure and publish time
for run, escape-count, outcome-map and sweep; double and repeated Ctrl-C; a cleanup that
hangs. Each case runs `moxco` in a process of its own session and asserts: exit code 128 +
the signal, no traceback, one line saying how it ended (sweep: how to resume), no temporary
folder, an earlier result byte-identical, and no process of the session left.

The phase is reached deterministically: a small wrapper (`HOOK`) patches the point where a
phase begins to send the signal to its own process (or to touch a file the test waits for,
for signals sent from outside with real gaps between them).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moxco_cli import signals
from moxco_cli.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()
SMALL = {
    "run": ["run", "beale", "--steps", "50"],
    "escape-count": ["escape-count", "--inits", "20", "--steps", "50"],
    "outcome-map": ["outcome-map", "beale", "--grid", "7", "--steps", "50"],
    "sweep": ["sweep", "beale", "--optimizer", "gd+moxco", "--grid", "alpha=0,0.3,0.6",
              "--starts", "grid:3", "--steps", "20", "--workers", "2"],
}
LONG = {  # minutes of work, to be interrupted
    "escape-count": ["escape-count", "--inits", "200000"],
    "outcome-map": ["outcome-map", "beale", "--grid", "501", "--steps", "5000"],
    "sweep": ["sweep", "beale", "--grid", "alpha=0:0.9:8", "--grid", "beta=0:0.9:8",
              "--starts", "grid:61", "--steps", "5000", "--workers", "2"],
}

# Runs the CLI's console entry after patching where a phase begins:
#   compute  the first progress report of the computation
#   figure   the first wait for a figure from the renderer
#   publish  the manifest, the first step of publishing (before the rename into place)
# ACTION is a signal number (sent to this process), `del:` and a signal number (sent while a
# finalizer runs, where Python cannot raise) or a path (touched, for the test to act).
HOOK = """
import os, signal, sys
from pathlib import Path
phase, action, *args = sys.argv[1:]
from moxco_cli import report, renderer, signals
from moxco_cli.commands import common
signals.CLEANUP_S = float(os.environ.get("CLEANUP_S", signals.CLEANUP_S))

def hit():
    if action.startswith("del:"):
        class Dropped:
            def __del__(self):
                signal.raise_signal(int(action[4:]))
        Dropped()
    elif action.isdigit():
        os.kill(os.getpid(), int(action))
    else:
        Path(action).touch()

def once(owner, name):
    original = getattr(owner, name)
    def patched(*a, **k):
        setattr(owner, name, original)
        hit()
        return original(*a, **k)
    setattr(owner, name, patched)

once(*{"compute": (common.PlainProgress, "advance"), "figure": (renderer.Ticket, "drawn"),
       "publish": (report.ResultsFolder, "write_manifest")}[phase])
if os.environ.get("HANG_CLEANUP"):  # a cleanup that never ends: the watchdog must end it
    import shutil, time
    shutil.rmtree = lambda *a, **k: time.sleep(3600)
sys.argv = ["moxco", *args]
from moxco_cli.cli import main
main()
"""


def session_left(pgid: int) -> list[int]:
    """Processes still in the session/process group `pgid` (zombies included)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            left.append(int(stat.parent.name))
    return left


def start(phase: str, action: str, args: list, cwd: Path, env: dict | None = None):
    return subprocess.Popen([sys.executable, "-c", HOOK, phase, action, *map(str, args)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("the command did not end after its signal") from None
    finally:
        deadline = time.monotonic() + 5  # a child that outlived its parent: fail, then kill
        while session_left(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = session_left(proc.pid)
        if left:
            os.killpg(proc.pid, signal.SIGKILL)
    assert left == [], f"processes left behind: {left}"
    return proc.returncode, out, err


def snapshot(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def last_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and "% (" not in line]
    assert len(lines) == 1, err
    return lines[0]


_EARLIER: dict[str, Path] = {}


def earlier(command: str, factory) -> Path:
    """A finished result of `command` (made once per session, copied by each test)."""
    if command not in _EARLIER:
        where = factory.mktemp("earlier") / command
        assert runner.invoke(app, [*SMALL[command], "--out", str(where)]).exit_code == 0
        _EARLIER[command] = where
    return _EARLIER[command]


ENDED = {signal.SIGINT: "Interrupted", signal.SIGTERM: "Terminated (SIGTERM)",
         signal.SIGHUP: "Hung up (SIGHUP)"}


PHASES = ["compute", "figure", "publish"]
SIGNALS = [signal.SIGTERM, signal.SIGHUP]


def signal_cases():
    """Every command in every phase, with SIGTERM or SIGHUP in turn, so that each command
    gets both signals and each phase both signals. The two signals take one code path
    (`signals._on_signal`: only the exit code and the line's first words differ, from
    `signals.WHAT`), so the other signal in each (command, phase) adds no path: those cases
    are `full_matrix` (run with --full-matrix)."""
    cases = []
    for i, command in enumerate(SMALL):
        for j, phase in enumerate(PHASES):
            for k, signum in enumerate(SIGNALS):
                marks = () if (i + j) % len(SIGNALS) == k else pytest.mark.full_matrix
                cases.append(pytest.param(command, phase, signum, marks=marks,
                                          id=f"{command}-{phase}-{signum.name}"))
    return cases


@pytest.mark.parametrize(("command", "phase", "signum"), signal_cases())
def test_sigterm_and_sighup_clean_up_like_ctrl_c(command, phase, signum, tmp_path,
                                                  tmp_path_factory):
    out = tmp_path / "out"
    force = []
    if phase == "publish":  # replacing an earlier result: it must stay as it was
        shutil.copytree(earlier(command, tmp_path_factory), out)
        force = ["--force"]
    before = snapshot(out) if out.exists() else None
    code, _, err = finish(start(phase, str(int(signum)), [*SMALL[command], "--out", out,
                                                          *force], tmp_path))
    assert code == 128 + signum, err
    line = last_line(err)
    work = tmp_path / "out.incomplete"
    if command == "sweep":  # every finished cell is kept for --resume
        assert line.startswith("Stopped: ") and line.endswith(f"--resume {work}")
        assert (work / "INCOMPLETE").exists()
    else:
        assert line == f"{ENDED[signum]}: unfinished results were discarded."
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        (["out"] if before is not None else []) + (["out.incomplete"] if command == "sweep"
                                                   else []))
    if before is not None:
        assert snapshot(out) == before
    if command == "sweep":  # and it can be resumed
        done = runner.invoke(app, ["sweep", "--resume", str(work)])
        assert done.exit_code == 0, done.output
        assert (out / "sweep.csv").exists() and not work.exists()


def test_a_signal_during_a_finalizer_stops_the_command_at_once_and_quietly(tmp_path):
    """A Ctrl-C that lands while Python runs a finalizer (here a `__del__`; in the wild the
    weakref callback of an import's module lock) raises where Python cannot raise. It was
    printed as "Exception ignored in ..." with a traceback, and the command computed on
    until the cleanup bound (15 s) ended it."""
    began = time.monotonic()
    code, _, err = finish(start("compute", f"del:{int(signal.SIGINT)}",
                                [*LONG["escape-count"], "--out", tmp_path / "out"], tmp_path))
    assert time.monotonic() - began < signals.CLEANUP_S / 2, "ended by the cleanup bound"
    assert code == 130
    assert last_line(err) == "Interrupted: unfinished results were discarded."
    assert os.listdir(tmp_path) == []


class Dropped:
    """An object whose finalizer sends `signum` to this process (its handler runs in there)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self):
        signal.raise_signal(self.signum)


def stop_after_dropping(signum: int) -> tuple[list[int], float]:
    """Inside `signals.handled()`, a `Dropped(signum)`, then up to 5 s of waiting: the signal
    numbers of the Stops that got out, and the seconds until then."""
    raised_in, began = [], time.monotonic()
    try:
        with signals.handled():
            Dropped(signum)
            while time.monotonic() - began < 5:
                time.sleep(0.001)
    except signals.Stop as stop:
        raised_in.append(stop.signum)
    return raised_in, time.monotonic() - began


@pytest.fixture
def bound_fails_the_test(monkeypatch):
    """In this process the cleanup bound fails the test instead of ending the process."""
    def ended():
        raise AssertionError("the cleanup bound ended the block (a command would exit now)")
    monkeypatch.setattr(signals, "_on_cleanup_timeout", ended)


def test_a_stop_swallowed_by_a_finalizer_is_raised_again_in_the_main_thread(
        monkeypatch, bound_fails_the_test):
    unraisable = []  # what Python's hook is given: it would print "Exception ignored in"
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    raised_in, seconds = stop_after_dropping(signal.SIGTERM)
    assert raised_in == [signal.SIGTERM]
    assert seconds < 1
    assert unraisable == []
    assert sys.unraisablehook == unraisable.append  # the block put it back


def test_a_signal_during_the_hook_that_takes_a_swallowed_stop_loses_nothing(
        monkeypatch, bound_fails_the_test):
    """A second signal while the hook itself runs raises the Stop again in there, where it
    is swallowed too: it is raised again later all the same."""
    original = signals._on_unraisable

    def with_a_signal(*args):
        original(*args)
        signal.raise_signal(signal.SIGHUP)

    monkeypatch.setattr(signals, "_on_unraisable", with_a_signal)
    raised_in, seconds = stop_after_dropping(signal.SIGINT)
    assert raised_in == [signal.SIGINT]  # the first signal decides
    assert seconds < 1


SECOND_SIGNAL = """
import os, signal, sys, time
from moxco_cli import signals
class Dropped:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)
with signals.handled():
    try:
        Dropped()
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal before the redelivery
        time.sleep(5)
    except signals.Stop as stop:
        time.sleep(0.3)  # the command's cleanup, as in the CLI: inside the block
        print("cleaned up after", stop.signum)
"""


def test_a_second_signal_after_a_swallowed_stop_keeps_the_cleanup_bound():
    """The redelivery arms the timer sooner than the bound; a second signal that raises the
    Stop first must not leave the bound at that sooner time (it ended the cleanup at once)."""
    done = subprocess.run([sys.executable, "-c", SECOND_SIGNAL], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).parent.parent)
    assert (done.returncode, done.stdout, done.stderr) == (0, "cleaned up after 2\n", "")


def test_a_swallowed_stop_waits_while_the_stopping_signals_are_held_back(bound_fails_the_test):
    """A replacement, once begun, runs to its end (signals.held): the Stop that a
    finalizer swallowed just before is raised after it, not inside."""

    held_to_the_end = False
    with pytest.raises(signals.Stop):
        with signals.handled():
            Dropped(signal.SIGINT)  # the Stop is due again in REDELIVER_S
            with signals.held():
                began = time.monotonic()
                while time.monotonic() - began < 50 * signals.REDELIVER_S:
                    pass
                held_to_the_end = True
            time.sleep(1)
    assert held_to_the_end
    assert time.monotonic() - began < 1


# sweep 0.02 and outcome-map (the path of escape-count) are full_matrix cases
@pytest.mark.parametrize(("command", "gap_s"), [
    ("sweep", 0.002), pytest.param("sweep", 0.02, marks=pytest.mark.full_matrix),
    ("sweep", 0.05), ("escape-count", 0.02),
    pytest.param("outcome-map", 0.02, marks=pytest.mark.full_matrix)])
def test_a_double_ctrl_c_ends_promptly_and_quietly(command, gap_s, tmp_path):
    marker = tmp_path / "computing"
    proc = start("compute", str(marker), [*LONG[command], "--out", tmp_path / "out"], tmp_path)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the computation (workers forked)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap_s)
    proc.send_signal(signal.SIGINT)
    began = time.monotonic()
    code, _, err = finish(proc, timeout=30)
    assert time.monotonic() - began < 10, "not prompt"
    assert code == 130
    line = last_line(err)
    if command == "sweep":
        assert line.startswith("Stopped: ")
    else:
        assert line == "Interrupted: unfinished results were discarded."
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["computing", "out.incomplete"] if command == "sweep" else ["computing"])


@pytest.mark.parametrize("seed", [0, 1])
def test_any_sequence_of_stopping_signals_ends_the_command(seed, tmp_path):
    """Five to ten signals (SIGINT mostly, some SIGTERM and SIGHUP), 0-40 ms apart: the
    first one decides the exit code, the rest change nothing."""
    rng = random.Random(seed)
    sequence = [rng.choice([signal.SIGINT] * 3 + [signal.SIGTERM, signal.SIGHUP])
                for _ in range(rng.randint(5, 10))]
    marker = tmp_path / "computing"
    proc = start("compute", str(marker), [*LONG["sweep"], "--out", tmp_path / "out"], tmp_path)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(0.3)
    for signum in sequence:
        proc.send_signal(signum)
        time.sleep(rng.uniform(0, 0.04))
    code, _, err = finish(proc, timeout=30)
    assert code == 128 + sequence[0]
    assert last_line(err).startswith("Stopped: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["computing", "out.incomplete"]


def test_a_cleanup_that_hangs_is_ended_by_the_watchdog_and_recovered_next_time(tmp_path):
    out = tmp_path / "out"
    began = time.monotonic()
    code, _, err = finish(start("publish", str(int(signal.SIGTERM)),
                                [*SMALL["run"], "--out", out], tmp_path,
                                env={"HANG_CLEANUP": "1", "CLEANUP_S": "1"}))
    assert time.monotonic() - began < 30
    assert code == 128 + signal.SIGTERM
    assert last_line(err) == ("Terminated (SIGTERM): cleaning up took more than 1 s; exiting "
                              "now (the next run into the same folder removes what is left "
                              "hidden)")
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".out.incomplete-")
    again = runner.invoke(app, [*SMALL["run"], "--out", str(out)])
    assert again.exit_code == 0
    assert "moxco: removed" in again.stderr and left[0] in again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_signal_ignored_at_start_stays_ignored(tmp_path):
    """`nohup moxco ...`: SIGHUP was ignored when the process started, and stays so."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", HOOK, "compute", str(int(signal.SIGHUP)),
                             *SMALL["run"], "--out", str(out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    code, _, err = finish(proc)
    assert code == 0, err
    assert (out / "summary.csv").exists()
