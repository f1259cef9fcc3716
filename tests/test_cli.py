"""`moxco_cli/cli.py`: `moxco --help` stays fast (no heavy library is imported before a command
needs it), and `main()` leaves fast once everything is written."""

import os
import subprocess
import sys

import pytest
from ending import ended

HEAVY = ("matplotlib", "pandas", "scipy", "sympy", "dask", "numpy")

_PROBE = """
import sys
from moxco_cli.cli import app
try:
    app(sys.argv[1:], prog_name="moxco")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("\\nLOADED:" + ",".join(m for m in {heavy!r} if m in sys.modules), "CODE:", code)
"""


def _probe(*args, env=None) -> subprocess.Popen:
    """Start `moxco ARGS` in a process that reports the heavy libraries it imported."""
    return subprocess.Popen([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=None if env is None else {**os.environ, **env})


def _reported(proc: subprocess.Popen):
    """What the probe `proc` reports: (heavy libraries loaded, exit code, its stdout)."""
    stdout, _ = ended(proc, timeout=60)
    last = stdout.strip().splitlines()[-1]
    loaded, code = last.removeprefix("LOADED:").split(" CODE: ")
    return [m for m in loaded.split(",") if m], int(code), stdout


def _loaded(*args, env=None):
    return _reported(_probe(*args, env=env))


def test_top_level_help_imports_no_heavy_library_nor_numpy():
    loaded, code, text = _loaded("--help")
    assert code == 0 and "escape-count" in text
    assert loaded == []


@pytest.mark.parametrize("command", ["run", "escape-count", "outcome-map", "eos-check", "sweep",
                                     "reproduce", "rerun"])
def test_command_help_imports_no_heavy_library(command):
    loaded, code, text = _loaded(command, "--help")
    assert code == 0 and "Usage" in text
    assert loaded == [], f"`moxco {command} --help` imported {loaded}"


# escape-count sends its figures through the renderer like run: a full_matrix case
@pytest.mark.parametrize("command", [
    ["run", "beale", "--steps", "5"],
    pytest.param(["escape-count", "--inits", "5", "--steps", "20"],
                 marks=pytest.mark.full_matrix)])
def test_commands_leave_matplotlib_to_the_renderer_process(tmp_path, command):
    # the two runs are independent: both at once
    procs = [_probe(*command, "--out", str(tmp_path / "a")),
             _probe(*command, "--out", str(tmp_path / "b"), env={"MOXCO_RENDERER": "0"})]
    try:
        (loaded, code, _), (loaded_here, code_here, _) = [_reported(p) for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    # also shows that the probe sees heavy imports when a command runs
    assert code == 0 and {"numpy", "pandas"} <= set(loaded) and "matplotlib" not in loaded
    assert code_here == 0 and "matplotlib" in loaded_here  # without it, this process draws
    assert (tmp_path / "a" / "config.json").exists() and (tmp_path / "b" / "config.json").exists()
    pngs = sorted(p.name for p in (tmp_path / "a").glob("*.png"))
    assert pngs and pngs == sorted(p.name for p in (tmp_path / "b").glob("*.png"))
    for name in pngs:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# ---- leaving fast: `main()` skips the interpreter's teardown once everything is written ----


class _Exited(Exception):
    def __init__(self, code):
        self.code = code


@pytest.fixture
def fake_exit(monkeypatch):
    import atexit
    import os

    calls = []
    monkeypatch.setattr(os, "_exit", lambda code: (_ for _ in ()).throw(_Exited(code)))
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: calls.append("atexit"))
    return calls


@pytest.mark.parametrize(("code", "want"), [(None, 0), (0, 0), (2, 2), (130, 130), ("bye", 1)])
def test_leave_runs_atexit_then_exits_with_the_code(fake_exit, code, want, capsys):
    from moxco_cli.cli import _leave

    with pytest.raises(_Exited) as exited:
        _leave(code)
    assert exited.value.code == want and fake_exit == ["atexit"]
    assert ("bye" in capsys.readouterr().err) == (code == "bye")


def test_leave_exits_the_usual_way_while_another_thread_runs(fake_exit):
    import threading

    from moxco_cli.cli import _leave

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with pytest.raises(SystemExit) as exited:
            _leave(3)
    finally:
        stop.set()
        other.join()
    assert exited.value.code == 3 and fake_exit == []  # Python's own exit runs atexit


def test_console_entry_flushes_piped_output_and_keeps_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "moxco_cli", "run", "beale", "--steps", "20",
                         "--out", str(tmp_path / "r")], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    flat = "".join(ok.stdout.split())  # rich may fold a long path over lines
    assert flat.endswith(f"Results:{tmp_path / 'r'}")  # the very last line arrived
    assert (tmp_path / "r" / "config.json").exists()
    bad = subprocess.run([sys.executable, "-m", "moxco_cli", "run", "beale", "--steps", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --steps")


@pytest.mark.parametrize(("closed", "args", "want"), [
    (">&-", "--version", 1), (">&-", "escape-count --inits 0", 2),
    ("2>&-", "escape-count --inits 0", 2), ("2>&-", "--version", 0)])
def test_a_closed_standard_stream_keeps_the_exit_code(closed, args, want):
    # Started with stdout or stderr closed, Python sets sys.stdout / sys.stderr to None.
    # Output nobody can see is a failure to say (1, as with > /dev/full); an earlier
    # failure's code wins; a closed stderr only loses the error line.
    script = f'"{sys.executable}" -m moxco_cli {args} {closed}; echo "rc=$?"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith(f"rc={want}"), (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    if want == 1:
        assert out.stderr == "Error: cannot write to standard output (standard output is " \
                             "closed)\n"


def test_a_run_with_stdout_closed_keeps_its_results_and_says_it_could_not_report(tmp_path):
    script = (f'"{sys.executable}" -m moxco_cli run beale --steps 5 --out "{tmp_path / "r"}"'
              ' >&-; echo "rc=$?"')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MPLBACKEND="Agg"))
    assert out.stdout.strip() == "rc=1", (out.stdout, out.stderr)
    assert out.stderr.strip().splitlines()[-1] == (
        "Error: cannot write to standard output (standard output is closed); every result "
        "was written to its folder")
    assert {"config.json", "summary.csv", "loss.png"} <= {p.name for p in (tmp_path / "r")
                                                          .iterdir()}
