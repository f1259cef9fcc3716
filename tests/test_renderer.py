"""The figure renderer child: same bytes as in-process, and every failure falls back cleanly."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from moxco_cli import renderer  # noqa: E402
from moxco_cli.report import ResultsFolder, draw_png  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork on Linux")

PARENT = os.getpid()
MOXCO = Path(sys.executable).with_name("moxco")


def line_figure(n, title="line"):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(range(n), [k * k for k in range(n)])
    ax.set_title(title)
    return fig


def fails_in_child(n):
    if os.getpid() != PARENT:
        raise RuntimeError("only the renderer child fails")
    return line_figure(n)


def leaves_a_partial_file_in_child(path, n):
    if os.getpid() != PARENT:  # as if killed while writing: a temporary file stays behind
        Path(path).with_name(f".{Path(path).name}.tmp-{os.getpid()}").write_bytes(b"partial")
        raise RuntimeError("died while writing")
    return line_figure(n)


def dies_in_child(n):
    if os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return line_figure(n)


def always_fails(n):
    raise ValueError(f"bad figure {n}")


def slow_figure(n):
    import time

    time.sleep(0.5)
    return line_figure(n)


@pytest.fixture
def child(children):
    """A running renderer (fails loudly if this process cannot have one)."""
    assert threading.active_count() == 1, "a thread left running by an earlier test"
    renderer.start(renderer.PRELOAD)
    running = renderer.current()
    assert running is not None and running.pid in children()
    yield running
    renderer.stop()


def _in_process_png(tmp_path, build, *args):
    path = tmp_path / "reference.png"
    draw_png(path, build, args)
    return path.read_bytes()


def test_figures_drawn_by_the_child_equal_in_process_ones(child, tmp_path):
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", line_figure, 5)
        out.write_figure("b.png", f"{__name__}:line_figure", 9, title="nine")
        tickets = [entry.ticket for entry in out._figures]
        assert len(tickets) == 2  # both went to the child
    assert [t.ok for t in tickets] == [True, True]  # and the child drew both
    assert (tmp_path / "out/a.png").read_bytes() == _in_process_png(tmp_path, line_figure, 5)
    reference = tmp_path / "nine.png"
    draw_png(reference, line_figure, (9,), {"title": "nine"})
    assert (tmp_path / "out/b.png").read_bytes() == reference.read_bytes()
    assert renderer.current() is child  # still serving


def test_a_figure_the_child_cannot_draw_is_drawn_here(child, tmp_path):
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", fails_in_child, 4)
        out.write_figure("b.png", line_figure, 6)  # the child goes on after a failure
    assert (tmp_path / "out/a.png").read_bytes() == _in_process_png(tmp_path, line_figure, 4)
    assert (tmp_path / "out/b.png").read_bytes() == _in_process_png(tmp_path, line_figure, 6)
    assert renderer.current() is child


def test_a_redrawn_figure_leaves_no_partial_file_behind(child, tmp_path):
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", leaves_a_partial_file_in_child, str(out.tmp / "a.png"), 4)
    assert sorted(os.listdir(tmp_path / "out")) == [".moxco-manifest.json", "a.png"]


def test_a_users_own_temporary_matplotlib_dir_is_kept(tmp_path):
    import tempfile

    mine = Path(tempfile.mkdtemp(prefix="matplotlib-"))  # where matplotlib puts its own
    try:
        (mine / "matplotlibrc").write_text("lines.linewidth: 3\n")
        run = subprocess.run([str(MOXCO), "run", "beale", "--steps", "5", "--out",
                              str(tmp_path / "r")], capture_output=True, text=True,
                             env={**os.environ, "MPLCONFIGDIR": str(mine)}, timeout=120)
        assert run.returncode == 0, run.stderr
        assert (mine / "matplotlibrc").read_text() == "lines.linewidth: 3\n"
    finally:
        import shutil

        shutil.rmtree(mine, ignore_errors=True)


def test_a_dead_child_leaves_its_figures_to_the_parent(child, tmp_path, children):
    pid = child.pid
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", dies_in_child, 3)
        out.write_figure("b.png", line_figure, 7)
    assert (tmp_path / "out/a.png").read_bytes() == _in_process_png(tmp_path, line_figure, 3)
    assert (tmp_path / "out/b.png").read_bytes() == _in_process_png(tmp_path, line_figure, 7)
    assert renderer.current() is None and pid not in children()  # reaped
    with ResultsFolder(tmp_path / "later") as out:  # without a child: drawn here
        out.write_figure("c.png", line_figure, 2)
    assert (tmp_path / "later/c.png").exists()


def test_arguments_that_do_not_pickle_are_drawn_here(child, tmp_path):
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("b.png", lambda n: line_figure(n), 5)
        assert out._figures == []
    assert (tmp_path / "out/b.png").read_bytes() == _in_process_png(tmp_path, line_figure, 5)
    assert renderer.current() is child


def test_a_failing_figure_costs_only_itself_and_says_which(child, tmp_path):
    from moxco_cli.errors import take_deferred

    take_deferred()
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", always_fails, 3)
        out.write_figure("b.png", line_figure, 6)
        out.write_text("table.csv", "x\n1\n")
    assert os.listdir(tmp_path) == ["out"]  # no temporary twin left
    assert sorted(os.listdir(tmp_path / "out")) == [".moxco-manifest.json", "b.png", "table.csv"]
    assert take_deferred() == [f"figure a.png could not be drawn (ValueError: bad figure 3); "
                               f"every other result is in {tmp_path / 'out'}"]


def test_an_error_while_figures_are_pending_stops_the_child(child, tmp_path, children):
    pid = child.pid
    with pytest.raises(KeyboardInterrupt):
        with ResultsFolder(tmp_path / "out") as out:
            out.write_figure("a.png", slow_figure, 3)
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    assert renderer.current() is None and pid not in children()


def test_an_interrupt_while_waiting_for_a_figure_stops_the_child(child, tmp_path, monkeypatch,
                                                                 children):
    pid = child.pid
    monkeypatch.setattr(renderer.Ticket, "drawn", lambda self: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        with ResultsFolder(tmp_path / "out") as out:
            out.write_figure("a.png", slow_figure, 3)
    assert os.listdir(tmp_path) == []
    assert renderer.current() is None and pid not in children()


class _InterruptedPipe:
    """Takes half of the first message, then Ctrl-C."""

    def __init__(self, real):
        self.real = real

    def write(self, data):
        self.real.write(data[: len(data) // 2])
        self.real.flush()
        raise KeyboardInterrupt

    def fileno(self):
        return self.real.fileno()

    def close(self):
        self.real.close()


def test_an_interrupted_submit_ends_the_child_instead_of_derailing_it(child, tmp_path, children):
    pid = child.pid
    child._requests = _InterruptedPipe(child._requests)
    with pytest.raises(KeyboardInterrupt):
        with ResultsFolder(tmp_path / "out") as out:
            out.write_figure("a.png", line_figure, 3)
    assert os.listdir(tmp_path) == []
    assert renderer.current() is None and pid not in children()


def held_lock(path, seconds):
    """Stands in for matplotlib writing its font cache under a lock file."""
    import time

    Path(path).write_text("locked")
    try:
        time.sleep(seconds)
    finally:
        Path(path).unlink()
    return line_figure(2)


def test_stop_ends_a_busy_child_in_order(child, tmp_path, children):
    import time

    lock = tmp_path / "cache.lock"
    assert child.submit(tmp_path / "a.png", held_lock, (str(lock), 30)) is not None
    deadline = time.monotonic() + 20
    while not lock.exists():  # the child is inside the `try`
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pid, started = child.pid, time.monotonic()
    renderer.stop()
    assert time.monotonic() - started < renderer.STOP_GRACE_S  # SIGTERM sufficed
    assert not lock.exists()  # its `finally` ran: no stale lock left behind
    assert pid not in children() and not (tmp_path / "a.png").exists()


def test_start_replaces_the_previous_child(child, children):
    first = child.pid
    renderer.start()
    assert renderer.current().pid != first and first not in children()


def test_no_child_with_threads_running_or_when_disabled(monkeypatch):
    renderer.stop()
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        renderer.start()
        assert renderer.current() is None
    finally:
        release.set()
        thread.join()
    monkeypatch.setenv(renderer.DISABLE_ENV, "0")
    renderer.start()
    assert renderer.current() is None


def test_escape_count_png_is_the_same_with_and_without_the_renderer(tmp_path):
    outs, runs = {}, []
    try:
        for name, env in [("child", {}), ("here", {renderer.DISABLE_ENV: "0"})]:  # both at once
            outs[name] = tmp_path / name
            runs.append(subprocess.Popen([str(MOXCO), "escape-count", "--inits", "20", "--steps",
                                          "300", "--out", str(outs[name])],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, env={**os.environ, **env}))
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.communicate()
    for name in ("escape_count.png", "counts.csv", "outcomes.csv"):
        assert (outs["child"] / name).read_bytes() == (outs["here"] / name).read_bytes(), name


SMALL_COMMANDS = {
    "run": ["run", "beale", "--steps", "30"],
    "escape-count": ["escape-count", "--inits", "6", "--steps", "30"],
    "outcome-map": ["outcome-map", "beale", "--grid", "4", "--steps", "30"],
    "eos-check": ["eos-check", "--alphas", "0.5", "--betas", "0,1", "--steps", "200"],
    "sweep": ["sweep", "beale", "--optimizer", "gd+moxco", "--grid", "alpha=0,0.9", "--starts",
              "grid:3", "--steps", "30", "--workers", "1"],
}


@pytest.mark.parametrize("command", list(SMALL_COMMANDS))
def test_every_figure_of_every_command_is_drawn_by_the_child(command, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    assert threading.active_count() == 1, "a thread left running by an earlier test"
    tickets = []
    submit = renderer.Renderer.submit

    def spy(self, *args, **kwargs):
        tickets.append(submit(self, *args, **kwargs))
        return tickets[-1]

    monkeypatch.setattr(renderer.Renderer, "submit", spy)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*SMALL_COMMANDS[command], "--out", str(out)])
    assert result.exit_code == 0, result.output
    pngs = list(out.glob("*.png"))
    assert pngs and len(tickets) == len(pngs)
    assert all(t is not None and t.ok for t in tickets)  # pickled, sent, drawn there
    renderer.stop()
