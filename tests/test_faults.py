"""Faults of the environment (issues 19 and 20): a full disk, closed or full output streams,
resource limits, killed workers, a stopped renderer, a figure that cannot be drawn, a
read-only file system under `sweep --resume`, a mount point as `--out --force`.

Each case asserts what the promises say: the exit code, no traceback, one line naming the
cause, no temporary folder left, no process left, an earlier result byte-identical.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ending import ended, stop
from typer.testing import CliRunner

from moxco_cli import report
from moxco_cli.cli import app

runner = CliRunner()
RUN = ["run", "beale", "--steps", "30"]
COMMANDS = {
    "run": RUN,
    "escape-count": ["escape-count", "--inits", "20"],
    "outcome-map": ["outcome-map", "beale", "--grid", "7", "--steps", "30"],
    "eos-check": ["eos-check", "--alphas", "0.5", "--betas", "0,1", "--steps", "200",
                  "--tol", "1e-3"],
    "sweep": ["sweep", "beale", "--optimizer", "gd+moxco", "--grid", "alpha=0,0.5", "--starts",
              "grid:3", "--steps", "10", "--workers", "1"],
    "sweep-workers": ["sweep", "beale", "--optimizer", "gd+moxco", "--grid", "alpha=0,0.5",
                      "--starts", "grid:3", "--steps", "10", "--workers", "2"],
}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def snapshot(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


PROGRESS = re.compile(r"^.+: \d+% \([\d,]+ of [\d,]+\), \d+ s elapsed")  # a slow machine's progress


def one_error_line(result_or_text) -> str:
    text = getattr(result_or_text, "stderr", result_or_text)
    lines = [line for line in text.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert "Traceback" not in text
    assert len(lines) == 1, text
    return lines[0]


def hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------- a full disk

class FullDisk:
    """ENOSPC from the write layer once a file whose name contains `at` is written:
    `report.atomic_write_with` (every CSV, JSON, PNG and manifest, in this process and in
    the renderer child forked after the patch)."""

    def __init__(self, monkeypatch, at: str) -> None:
        original = report.atomic_write_with

        def full(path, write):
            if at in Path(path).name:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return original(path, write)

        monkeypatch.setattr(report, "atomic_write_with", full)


# Where the disk fills: a table, a figure (drawn by the renderer child, then again here),
# the manifest (the last file before publishing).
FILLS_AT = {"run": ("summary.csv", "goodness.png", report.MANIFEST),
            "escape-count": ("counts.csv", "escape_count.png", report.MANIFEST),
            "outcome-map": ("fractions.csv", "outcome_map.png", report.MANIFEST),
            "eos-check": ("eos.csv", "eos.png", report.MANIFEST),
            "sweep": ("config.json", "INCOMPLETE", "sweep.csv", "sweep-success.png",
                      report.MANIFEST),
            "sweep-workers": ("sweep.csv", "cell-", report.MANIFEST)}


def _fill_cases():
    """Every (command, file) of FILLS_AT; the files of the commands that publish through
    the same ResultsFolder path as `run` rotate: one each, the rest `full_matrix`."""
    rotated = ("escape-count", "outcome-map", "eos-check")
    return [pytest.param(c, a, marks=pytest.mark.full_matrix
                         if c in rotated and j != rotated.index(c) else ())
            for c, ats in FILLS_AT.items() for j, a in enumerate(ats)]


@pytest.mark.parametrize(("command", "at"), _fill_cases())
def test_a_full_disk_is_one_line_and_leaves_nothing(command, at, tmp_path, monkeypatch,
                                                   children):
    FullDisk(monkeypatch, at)
    out = tmp_path / "out"
    result = invoke(*COMMANDS[command], "--out", out)
    assert result.exit_code == 1, result.output
    line = one_error_line(result)
    work = out.with_name("out.incomplete")
    where = work if at in ("cell-", "config.json", "INCOMPLETE") else out
    assert line.startswith(f"Error: no space left on device while writing {where}")
    assert not out.exists() and hidden(tmp_path) == []
    if at in ("config.json", "INCOMPLETE"):  # no sweep folder was made: nothing at all
        assert list(tmp_path.iterdir()) == []
    elif command.startswith("sweep"):  # its finished cells stay, and it says how to go on
        assert work.is_dir() and f"--resume {work}" in line
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.incomplete"]
    else:
        assert list(tmp_path.iterdir()) == []
    assert children() == set()


@pytest.mark.parametrize("command", ["run", "outcome-map", "sweep"])
def test_a_full_disk_under_force_leaves_the_earlier_result_byte_identical(command, tmp_path,
                                                                          monkeypatch, children):
    out = tmp_path / "out"
    assert invoke(*COMMANDS[command], "--out", out).exit_code == 0
    before = snapshot(out)
    FullDisk(monkeypatch, report.MANIFEST)
    result = invoke(*COMMANDS[command], "--out", out, "--force")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith(f"Error: no space left on device while writing {out}; the earlier "
                           f"{out} is untouched")
    assert snapshot(out) == before and hidden(tmp_path) == []
    assert children() == set()


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs "
                            "/mnt && echo ok"], capture_output=True, text=True, timeout=30)
    return probe.stdout.strip() == "ok"


CAN_MOUNT_TMPFS = sys.platform.startswith("linux") and _can_mount_tmpfs()


def _full_tmpfs(work: Path) -> list[dict]:
    """A 600 KiB tmpfs in a private mount namespace (nothing outside sees it): an earlier
    run fits, a larger one does not, with and without --force; a sweep's results do not fit
    beside its cells; then the same file system read-only under `sweep --resume` (cells to
    compute and save), and as `--out --force` (a mount point). One script of seven
    commands, started in the background when collection ends (conftest)."""
    moxco = f"{sys.executable} -m moxco_cli"
    mnt = work / "mnt"
    mnt.mkdir()
    script = f"""
set -u
mount -t tmpfs -o size=600k tmpfs {mnt} || exit 99
{moxco} run beale --steps 20 --out {mnt}/earlier >/dev/null 2>&1 || exit 98
sha256sum {mnt}/earlier/* {mnt}/earlier/.moxco-manifest.json > {work}/before.sum
for args in "--out {mnt}/new" "--out {mnt}/earlier --force"; do
  {moxco} run beale --steps 2000 $args >/dev/null 2>{work}/err; echo "rc=$?"
  grep -v "% (" {work}/err; echo "ls: $(ls -A {mnt} | tr '\\n' ' ')"
done
sha256sum --quiet -c {work}/before.sum && echo "earlier: identical"
{moxco} sweep beale --optimizer gd+moxco --grid alpha=0:0.9:40 --starts grid:3 --steps 10 \\
  --workers 2 --out {mnt}/sw >/dev/null 2>{work}/err; echo "rc=$?"; cat {work}/err
rm -rf {mnt}/earlier {mnt}/sw.incomplete/cells/cell-00000*.json  # as if interrupted
mount -o remount,ro {mnt}
{moxco} sweep --resume {mnt}/sw.incomplete >/dev/null 2>{work}/err; echo "rc=$?"
cat {work}/err
{moxco} run beale --steps 20 --out {mnt} --force >/dev/null 2>{work}/err; echo "rc=$?"
cat {work}/err; echo "ls: $(ls -A {mnt} | tr '\\n' ' ')"
"""
    return [{"args": ["unshare", "-rm", "sh", "-c", script], "timeout_s": 300}]


BACKGROUND = {"full_tmpfs": _full_tmpfs} if CAN_MOUNT_TMPFS else {}


@pytest.fixture(scope="module")
def full_tmpfs(background, request) -> tuple[Path, object]:
    """The tmpfs's mount point and how the script ended."""
    work, (done,) = background.result(request)
    return work / "mnt", done


@pytest.mark.slow
@pytest.mark.skipif(not CAN_MOUNT_TMPFS,
                    reason="needs unshare and a tmpfs mount in a private mount namespace")
def test_a_real_full_tmpfs_and_a_read_only_one(full_tmpfs):
    """See `_full_tmpfs`."""
    mnt, out = full_tmpfs
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and len(lines) == 14, out.stdout + out.stderr
    assert lines[0:3] == ["rc=1", f"Error: no space left on device while writing {mnt}/new; "
                                  "nothing was published", "ls: earlier "]
    assert lines[3:6] == ["rc=1", f"Error: no space left on device while writing "
                                  f"{mnt}/earlier; the earlier {mnt}/earlier is untouched",
                          "ls: earlier "]  # no hidden folder, no partial result
    assert lines[6] == "earlier: identical"
    assert lines[7] == "rc=1" and lines[8].startswith(  # publishing: its cells are kept
        f"Error: no space left on device while writing {mnt}/sw; nothing was published")
    assert lines[8].endswith(f"continue with moxco sweep --resume {mnt}/sw.incomplete")
    assert lines[9] == "rc=1" and lines[10].startswith(  # the real error, not the cleanup's
        f"Error: read-only file system while writing {mnt}/sw.incomplete")
    assert lines[11:] == ["rc=2", f"Error: --out: {mnt} is a mount point; it cannot be "
                                  "replaced, name a folder inside it", "ls: sw.incomplete "]


# -------------------------------------------------------- a figure that cannot be drawn

def test_a_figure_that_cannot_be_drawn_never_costs_the_results(tmp_path, monkeypatch):
    import moxco_cli.plots.run as plots

    def broken(*args, **kwargs):
        raise ValueError("Contour levels must be increasing")

    monkeypatch.setattr(plots, "goodness_figure", broken)
    out = tmp_path / "out"
    result = invoke(*RUN, "--out", out)
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "Error: figure goodness.png could not be drawn (ValueError: Contour levels must be "
        f"increasing); every other result is in {out}")
    assert sorted(p.name for p in out.iterdir()) == [
        ".moxco-manifest.json", "config.json", "loss.png", "summary.csv", "trajectories.csv",
        "trajectory.png"]
    assert report.is_results_folder(out) and hidden(tmp_path) == []
    assert "Results:" in result.stdout  # the command went on to its summary


# ------------------------------------------------------------- closed or full stdout

# escape-count and eos-check print through the same path as run: full_matrix cases
STREAM_COMMANDS = ["run", pytest.param("escape-count", marks=pytest.mark.full_matrix),
                   pytest.param("eos-check", marks=pytest.mark.full_matrix), "sweep"]


def _shell_start(command: str, out: Path, redirect: str) -> subprocess.Popen:
    args = " ".join(map(str, COMMANDS[command]))
    script = f'{sys.executable} -m moxco_cli {args} --out {out} {redirect}'
    return subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _shell_end(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = ended(proc, timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _shell(command: str, out: Path, redirect: str) -> subprocess.CompletedProcess:
    return _shell_end(_shell_start(command, out, redirect))


@pytest.mark.slow
@pytest.mark.parametrize("command", STREAM_COMMANDS)
def test_a_full_stdout_keeps_the_results_and_says_so_in_one_line(command, tmp_path):
    out = tmp_path / "out"
    done = _shell(command, out, "> /dev/full")
    assert done.returncode == 1
    assert one_error_line(done.stderr) == ("Error: cannot write to standard output (no space "
                                           "left on device); every result was written to its "
                                           "folder")
    assert report.is_results_folder(out) and hidden(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("command", STREAM_COMMANDS)
def test_a_pipe_closed_by_head_ends_quietly_with_the_commands_own_code(command, tmp_path):
    out = tmp_path / "out"
    # `| head -1` itself (run only, beside the case below): the pipe breaks, or not, by
    # chance; rc 0 both ways
    head = (_shell_start(command, tmp_path / "head", "| head -1 >/dev/null; "
                         "echo \"rc=${PIPESTATUS[0]}\" >&2") if command == "run" else None)
    try:
        # `exec 1>&-` in the reader's place: the pipe is closed before moxco writes anything,
        # so every write breaks (the case `| head -1` hits only by chance)
        done = _shell(command, out, "| (exec 0<&-; true); echo \"rc=${PIPESTATUS[0]}\"")
    finally:
        if head is not None:
            head = _shell_end(head)
    assert done.stdout.strip() == "rc=0"
    assert [line for line in done.stderr.splitlines() if "% (" not in line] == []  # quiet
    assert report.is_results_folder(out)
    assert hidden(tmp_path) == []
    if head is not None:
        assert head.stderr.strip() == "rc=0"


# ----------------------------------------------------------------- limits and workers

def _limited(args, limit, value, cwd) -> subprocess.CompletedProcess:
    def apply():
        resource.setrlimit(limit, value)

    return subprocess.run([sys.executable, "-m", "moxco_cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, preexec_fn=apply)


@pytest.mark.slow
def test_the_file_size_limit_is_named(tmp_path):
    done = _limited([*RUN, "--steps", "5000", "--out", tmp_path / "out"],
                    resource.RLIMIT_FSIZE, (100 * 1024, 100 * 1024), tmp_path)
    assert done.returncode == 1
    assert one_error_line(done.stderr) == (
        f"Error: file too large: the file-size limit (ulimit -f) is 100 KiB while writing "
        f"{tmp_path / 'out'}; nothing was published")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_open_files_limit_is_named(tmp_path):
    done = _limited([*RUN, "--out", tmp_path / "out"], resource.RLIMIT_NOFILE, (12, 12),
                    tmp_path)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith("Error: too many open files: the limit (ulimit -n) is 12")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_soft_cpu_time_limit_ends_the_command_like_a_signal(tmp_path):
    soft = 3
    done = _limited(["run", "beale", "--steps", "2000000", "--optimizers", "gd", "--out",
                     tmp_path / "out"], resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY),
                    tmp_path)
    assert done.returncode == 128 + signal.SIGXCPU
    assert one_error_line(done.stderr) == ("Stopped at the CPU-time limit (SIGXCPU, ulimit -t):"
                                           " unfinished results were discarded.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_low_memory_at_start_is_reported_as_such_not_as_an_interrupt(tmp_path):
    # 150 MB of address space: numpy's import (OpenBLAS's threads) or a later import fails
    done = _limited([*RUN, "--out", tmp_path / "out"], resource.RLIMIT_AS,
                    (150 * 2**20, resource.RLIM_INFINITY), tmp_path)
    assert done.returncode == 1, done.stderr
    line = [s for s in done.stderr.splitlines() if s.startswith("Error:")]
    assert "Traceback" not in done.stderr and "Interrupted" not in done.stderr
    assert len(line) == 1 and "out of memory" in line[0] and "ulimit -v" in line[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("failure", "text", "want"), [
    ("killed by SIGKILL", "", "killed by SIGKILL: out of memory (the kernel's OOM killer) or "
                              "killed by another program"),
    ("killed by SIGXCPU", "", "killed by SIGXCPU: the CPU-time limit (ulimit -t) was reached"),
    ("exit code 1", "Traceback (most recent call last):\n  ...\nMemoryError: x", "exit code 1: "
                    "out of memory (the address-space limit, ulimit -v, is "),
])
def test_a_failed_engine_worker_is_one_line_naming_the_cause(failure, text, want, tmp_path,
                                                             monkeypatch):
    from moxco_cli.experiments import run as run_module
    from moxco_cli.workers import WorkerFailed

    def dies(*args, **kwargs):
        raise WorkerFailed(failure, text)

    monkeypatch.setattr(run_module, "simulate", dies)
    result = invoke(*RUN, "--out", tmp_path / "out")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith(f"Error: an engine worker process failed ({want}")
    assert line.endswith("); nothing was published")
    assert list(tmp_path.iterdir()) == []


def test_a_worker_killed_for_real_is_reported_by_its_signal(children):
    from moxco_cli.workers import WorkerFailed, run_forked

    def work(job, report):
        if job == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(WorkerFailed) as failed:
        run_forked([[0], [1]], work)
    assert failed.value.failure == "killed by SIGKILL"
    assert "OOM killer" in failed.value.summary()
    assert children() == set()


# ------------------------------------------------------------------ a stopped renderer

@pytest.mark.parametrize("payload", [0, 4_000_000], ids=["small", "larger-than-the-pipe"])
def test_a_stopped_renderer_is_given_up_on_and_the_figure_drawn_here(payload, tmp_path,
                                                                      monkeypatch, capsys,
                                                                      children):
    """Small: the wait for its answer gives up. Larger than the pipe: sending it would block
    for good (it did: the parent sat in a pipe write), so the send gives up too."""
    from moxco_cli import renderer

    monkeypatch.setattr(renderer, "STOPPED_S", 0.5)
    monkeypatch.setattr(renderer, "POLL_S", 0.05)

    def hung(*_):
        raise TimeoutError("waited for the stopped renderer for 60 s")

    previous = signal.signal(signal.SIGALRM, hung)  # a regression fails instead of hanging
    signal.setitimer(signal.ITIMER_REAL, 60)
    renderer.start(renderer.PRELOAD)
    child = renderer.current()
    assert child is not None
    pid = child.pid
    try:
        os.kill(pid, signal.SIGSTOP)
        began = time.monotonic()
        with report.ResultsFolder(tmp_path / "out") as out:
            out.write_figure("loss.png", _line_figure, 4, b"x" * payload)
        took = time.monotonic() - began
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        renderer.stop()
    assert took < 0.5 + renderer.STOP_GRACE_S + 5
    line = one_error_line(capsys.readouterr().err)
    assert line == (f"Warning: the figure renderer (process {pid}) has been stopped for 0.5 s "
                    "(SIGSTOP?); ending it and drawing the figures in this process")
    reference = tmp_path / "reference.png"
    report.draw_png(reference, _line_figure, (4,))
    assert (tmp_path / "out" / "loss.png").read_bytes() == reference.read_bytes()
    assert pid not in children() and renderer.current() is None


def _line_figure(n, ballast=b""):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(range(n))
    return fig


# ------------------------------------------- a read-only file system, a mount point

def test_a_read_only_file_system_under_resume_reports_the_real_error(tmp_path, monkeypatch):
    """Before: the failed clean-up of the temporary cell file (unlink: EROFS) replaced the
    error, in a traceback."""
    sweep = COMMANDS["sweep"]
    out = tmp_path / "out"
    work = tmp_path / "out.incomplete"
    from moxco_cli.experiments import sweep as sweep_module

    real_save = sweep_module.CellStore.save
    calls = []

    def save_then_interrupt(self, task, result):
        real_save(self, task, result)
        calls.append(task.key)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module.CellStore, "save", save_then_interrupt)
    assert invoke(*sweep, "--out", out).exit_code == 130
    monkeypatch.undo()
    assert (work / "INCOMPLETE").exists()
    before = snapshot(work)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]))

    monkeypatch.setattr(report, "open", read_only, raising=False)
    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(Path, "mkdir", read_only)
    result = invoke("sweep", "--resume", work)
    monkeypatch.undo()
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith(f"Error: read-only file system while writing {work}; Stopped: 1 of")
    assert line.endswith(f"continue with moxco sweep --resume {work}")
    assert snapshot(work) == before and hidden(tmp_path) == []


def test_a_mount_point_as_out_force_is_refused_and_nothing_is_left(tmp_path):
    mount = next((Path(p) for p in ("/proc", "/sys", "/dev") if os.path.ismount(p)), None)
    if mount is None:
        pytest.skip("no mount point to try")
    before = sorted(os.listdir(mount.parent))
    result = invoke(*RUN, "--out", mount, "--force")
    assert result.exit_code == 2
    assert one_error_line(result) == (f"Error: --out: {mount} is a mount point; it cannot be "
                                      "replaced, name a folder inside it")
    assert sorted(os.listdir(mount.parent)) == before


def test_an_animation_that_cannot_be_made_costs_only_itself(tmp_path, monkeypatch):
    import moxco_cli.plots.animate as animate

    def broken(*args, **kwargs):
        raise MemoryError("frames")

    monkeypatch.setattr(animate, "animation_bytes", broken)
    out = tmp_path / "out"
    result = invoke(*RUN, "--animate", "--out", out)
    assert result.exit_code == 1
    assert one_error_line(result) == ("Error: figure trajectory.gif could not be drawn "
                                      f"(MemoryError: frames); every other result is in {out}")
    assert "trajectory.gif" not in os.listdir(out) and "goodness.png" in os.listdir(out)
    assert report.is_results_folder(out)


REFUSED = [["escape-count", "--sharp-width", "0.1", "--landscape", "beale"],
           ["outcome-map", "beale", "--domain", "1,1"],
           ["run", "--expr", "x**2", "--domain", "1,1"],
           ["run", "beale", "--steps", "0"],
           ["sweep", "beale", "--grid", "alpha=2"],
           ["sweep", "beale", "--workers", "2", "--starts", "grid:0"]]


@pytest.mark.slow
@pytest.mark.parametrize("args", REFUSED, ids=lambda a: " ".join(a[:3]))
def test_no_process_is_left_after_a_one_line_refusal(args, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "moxco_cli", *args, "--out",
                             str(tmp_path / "o")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    _, err = proc.communicate(timeout=60)
    session = _session(proc.pid)  # checked at once: not even for a moment
    for pid in session:
        os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 2 and one_error_line(err).startswith("Error: ")
    assert session == []
    assert list(tmp_path.iterdir()) == []



# The CLI's entry with the stopped-worker limit (workers.STOPPED_S) set from argv[1], and a
# parent that a loaded machine deschedules while it gives up on the pool: each
# ProcessPoolExecutor.shutdown starts 0.5 s late and each Process.kill returns 0.5 s late;
# with argv[2] == "killed", the pool's workers are also SIGKILLed 0.5 s before
# LocalExecutor.close (they die of something else just after the sweep gave up on them).
DESCHEDULED = """
import os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.process import BaseProcess
from moxco_cli import workers
from moxco_cli.experiments.sweep import LocalExecutor

def late(method, before):
    def slow(self, *args, **kwargs):
        if before:
            time.sleep(0.5)
        try:
            return method(self, *args, **kwargs)
        finally:
            if not before:
                time.sleep(0.5)
    return slow

ProcessPoolExecutor.shutdown = late(ProcessPoolExecutor.shutdown, True)
BaseProcess.kill = late(BaseProcess.kill, False)
close = LocalExecutor.close

def killed_first(self, abort=False):
    for pid in list(getattr(self.pool, "_processes", None) or {}):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    close(self, abort)

if sys.argv[2] == "killed":
    LocalExecutor.close = killed_first
workers.STOPPED_S = float(sys.argv[1])
sys.argv = ["moxco", *sys.argv[3:]]
from moxco_cli.cli import main
main()
"""


def _long_pool_sweep(out: Path, *entry: str) -> subprocess.Popen:
    """A sweep on two pool workers long enough to be caught mid-way, in its own session
    (`entry`: instead of `-m moxco_cli`)."""
    return subprocess.Popen([sys.executable, *(entry or ["-m", "moxco_cli"]), "sweep",
                             "beale", "--grid",
                             "alpha=0:0.9:8", "--grid", "beta=0:0.9:8", "--starts", "grid:61",
                             "--steps", "5000", "--workers", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _signal_a_pool_worker(out: Path, sig: int, children, *entry: str, timeout: float = 60,
                          start=_long_pool_sweep):
    """`(proc, stderr)` of a long pool sweep into `out` (or of `start(out, *entry)`) whose
    last-started worker got `sig` once both workers were computing (the command killed if it
    outlives `timeout` s from then)."""
    proc = start(out, *entry)
    try:
        os.kill(_pool_computing(proc, children)[-1], sig)
    except BaseException:
        stop(proc, group=True)
        raise
    _, err = ended(proc, timeout=timeout, group=True)
    return proc, err


def _pool_computing(proc: subprocess.Popen, children) -> list[int]:
    """Wait until both pool workers of the sweep `proc` are computing its cells (0.2 s of CPU
    each); their pids."""
    deadline = time.monotonic() + 60
    while True:
        pool = _pool(proc.pid, children)  # the pool's workers: children running moxco
        if len(pool) >= 2 and all(_cpu_s(pid) >= 0.2 for pid in pool):
            return pool
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)


def _cpu_s(pid: int) -> float:
    """CPU time (user + system) process `pid` has used; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
def test_a_killed_sweep_pool_worker_is_one_line_and_the_cells_are_kept(tmp_path, children):
    """Before: a BrokenProcessPool traceback."""
    proc, err = _signal_a_pool_worker(tmp_path / "sw", signal.SIGKILL, children)
    assert proc.returncode == 1
    assert _pool(proc.pid, children) == [] and _session(proc.pid) == []  # nothing left running
    line = one_error_line(err)
    assert line.startswith("Error: an engine worker process failed (killed by SIGKILL: out of "
                           "memory (the kernel's OOM killer) or killed by another program); "
                           "nothing was published; Stopped: ")
    assert line.endswith(f"--resume {tmp_path / 'sw.incomplete'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw.incomplete"]


def _pool(pid: int, children) -> list[int]:
    """Children of `pid` other than its first (the figure renderer, forked at start), in the
    order they started. Ordered by start time, not pid: pids wrap around (pid_max is 32768
    here, and a suite run starts thousands of processes), and a stopped renderer taken for
    a worker left a sweep running past its test's timeout."""
    return sorted(children(pid), key=_started)[1:]


def _started(pid: int) -> tuple[int, int]:
    """(start time in clock ticks since boot, pid) of process `pid`; a gone one sorts last."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return (1 << 62, pid)
    return (int(fields[19]), pid)


def _session(pgid: int) -> list[int]:
    """Processes in the process group `pgid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_no_process_to_spare_for_the_engine_workers_is_one_line(tmp_path, monkeypatch,
                                                                  children):
    from moxco_cli import workers

    def no_fork():
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    monkeypatch.setattr(workers, "fork_quietly", no_fork)
    result = invoke("outcome-map", "beale", "--grid", "64", "--steps", "500", "--out",
                    tmp_path / "out")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("Error: cannot start another process: the "
                                             "process limit (ulimit -u) is ")
    assert list(tmp_path.iterdir()) == [] and children() == set()


def test_a_stopped_engine_worker_fails_the_run_instead_of_hanging_it(monkeypatch, children):
    from moxco_cli import workers

    monkeypatch.setattr(workers, "STOPPED_S", 0.5)

    def work(job, report):
        if job == 1:
            os.kill(os.getpid(), signal.SIGSTOP)
        time.sleep(0.2)

    began = time.monotonic()
    with pytest.raises(workers.WorkerFailed) as failed:
        workers.run_forked([[0], [1]], work)
    assert time.monotonic() - began < 5
    assert failed.value.failure == "stopped (SIGSTOP?) for 0.5 s"
    assert failed.value.summary() == ("an engine worker process failed (stopped (SIGSTOP?) for "
                                      "0.5 s); nothing was published")
    assert children() == set()


def test_a_pool_worker_stopped_after_the_last_cell_does_not_hang_the_close(children):
    """Every cell done, then a worker stopped before the pool is closed (not an abort):
    `shutdown(wait=True)` waited for that worker for ever (sweep and reproduce alike)."""
    from moxco_cli.experiments.sweep import LocalExecutor

    executor = LocalExecutor(2)  # starts both workers
    pids = [p.pid for p in executor.pool._processes.values()]
    assert len(pids) == 2
    os.kill(pids[-1], signal.SIGSTOP)
    closing = threading.Thread(target=executor.close, daemon=True)
    began = time.monotonic()
    closing.start()
    closing.join(timeout=30)  # before: for ever (a hung close fails here, not the suite)
    took = time.monotonic() - began
    if closing.is_alive():
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        closing.join(timeout=30)
        pytest.fail("LocalExecutor.close() hung on a worker stopped after the last cell")
    assert took < 8  # not the whole 10 s grace: a stopped worker ends the wait at once
    assert children() == set()


@pytest.mark.slow
def test_a_stopped_sweep_pool_worker_is_one_line_and_the_cells_are_kept(tmp_path, children):
    # with the product's own 5 s limit; the 1 s limit, and the hang it once showed in the
    # suite (the parent descheduled while killing the pool: `sweep._kill_pool`), are the
    # tests below
    proc, err = _signal_a_pool_worker(tmp_path / "sw", signal.SIGSTOP, children)
    assert proc.returncode == 1
    assert _pool(proc.pid, children) == [] and _session(proc.pid) == []
    line = one_error_line(err)
    assert line.startswith("Error: an engine worker process failed (stopped (SIGSTOP?) for 5 s)"
                           "; nothing was published; Stopped: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw.incomplete"]


@pytest.mark.slow
def test_a_stopped_pool_worker_given_up_on_a_loaded_machine_is_one_line_and_no_hang(
        tmp_path, children):
    """Before: with the parent descheduled between killing the workers and shutting the pool
    down, the pool's manager thread saw a dead worker while the cancelled cells were still
    queued: an InvalidStateError traceback from it (python/cpython#107219), then a hang at
    exit (a feeder thread blocked on a pipe; every run, here and in the suite under load)."""
    proc, err = _signal_a_pool_worker(tmp_path / "sw", signal.SIGSTOP, children, "-c",
                                      DESCHEDULED, "1", "slow", timeout=20)
    assert proc.returncode == 1, err  # -9: it hung, and was killed 20 s after the signal
    assert _pool(proc.pid, children) == [] and _session(proc.pid) == []
    assert one_error_line(err).startswith("Error: an engine worker process failed (stopped "
                                          "(SIGSTOP?) for 1 s); nothing was published; "
                                          "Stopped: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw.incomplete"]


@pytest.mark.slow
def test_pool_workers_dying_after_the_sweep_gave_up_on_them_do_not_hang_it(tmp_path,
                                                                          children):
    """Two faults: the workers die (SIGKILL) after the sweep cancelled its queued cells,
    before it kills them itself. Python 3.11's pool manager thread then raises an
    InvalidStateError (python/cpython#107219), which was printed as a traceback above the
    error line (4 of 4 runs); the sweep must end at once with that one line. Before the
    pool's shutdown order was fixed: a hang at exit."""
    proc, err = _signal_a_pool_worker(tmp_path / "sw", signal.SIGSTOP, children, "-c",
                                      DESCHEDULED, "1", "killed", timeout=20)
    assert proc.returncode == 1, err  # -9: it hung, and was killed after 20 s
    assert _pool(proc.pid, children) == [] and _session(proc.pid) == []
    assert one_error_line(err).startswith("Error: an engine worker process failed (stopped "
                                          "(SIGSTOP?) for 1 s); nothing was published; ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw.incomplete"]


# `moxco reproduce` with only its phase-diagram step (the one that runs a process pool), on
# 2 pool workers, with phase_starts = argv[1] (enough for the cells to be caught mid-way);
# `moxco` arguments from argv[2:].
PHASE_ONLY = """
import functools, sys
from moxco_cli.experiments import reproduce, sweep
reproduce.QUICK = {**reproduce.QUICK, "phase_starts": int(sys.argv[1])}
reproduce.STEPS = [s for s in reproduce.STEPS if s.name == "phase"]
sweep.make_executor = functools.partial(sweep.make_executor, workers=2)
sys.argv = ["moxco", *sys.argv[2:]]
from moxco_cli.cli import main
main()
"""


def _phase_reproduce(out: Path, starts: str = "61") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PHASE_ONLY, starts, "reproduce", "--quick",
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_a_stopped_pool_worker_fails_reproduce_and_keeps_the_earlier_figures(tmp_path,
                                                                            children):
    """Before: the phase step closed its pool without `abort`, so after `run` gave up on the
    stopped worker, `shutdown(wait=True)` waited for it for ever (a Ctrl-C there too)."""
    out = tmp_path / "r"
    earlier = _phase_reproduce(out, "5")
    ended(earlier, timeout=60, group=True)
    assert earlier.returncode == 0
    before = snapshot(out)
    assert "figures/phase_beale.csv" in before and "REPRODUCTION.md" in before
    proc, err = _signal_a_pool_worker(out, signal.SIGSTOP, children, timeout=20,
                                      start=_phase_reproduce)
    assert proc.returncode == 1, err  # -9: it hung, and was killed 20 s after the signal
    assert _pool(proc.pid, children) == [] and _session(proc.pid) == []
    progress, *rest = err.splitlines()  # then no traceback, and one line saying why
    assert progress.startswith("[1/1] Phase diagram: ")
    assert one_error_line("\n".join(rest)) == ("Error: an engine worker process failed "
                                               "(stopped (SIGSTOP?) for 5 s); nothing was "
                                               "published")
    assert snapshot(out) == before and hidden(out) == []  # no temporary folder left


@pytest.mark.slow
def test_sweep_pool_workers_die_with_a_sigkilled_parent(tmp_path, children):
    """SIGKILL of the command (what the out-of-memory killer sends): its pool workers lived
    on under pid 1, ignoring INT, TERM and HUP and holding the caller's stdout open (so
    `moxco sweep ... | cat` never ended). They now die with it (PR_SET_PDEATHSIG)."""
    proc = _long_pool_sweep(tmp_path / "sw")
    try:
        pool = _pool_computing(proc, children)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool and _session(proc.pid) == []  # workers, renderer: none left
    finally:
        stop(proc, group=True)
