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


def _children():
    kids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{os.getpid()}\n" in status.read_text():
                kids.add(int(status.parent.name))
        except OSError:
            continue
    return kids


@pytest.fixture
def child():
    """A running renderer (fails loudly if this process cannot have one)."""
    assert threading.active_count() == 1, "a thread left running by an earlier test"
    renderer.start(renderer.PRELOAD)
    running = renderer.current()
    assert running is not None and running.pid in _children()
    yield running
    renderer.stop()


def _in_process_png(tmp_path, build, *args):
    path = tmp_path / "reference.png"
    draw_png(path, build, args)
    return path.read_bytes()


def test_figures_drawn_by_the_child_equal_in_process_ones(child, tmp_path):
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", line_figure, 5)
        out.write_figure("b.png", "tests.test_renderer:line_figure", 9, title="nine")
        tickets = [entry[0] for entry in out._figures]
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


def test_a_dead_child_leaves_its_figures_to_the_parent(child, tmp_path):
    pid = child.pid
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("a.png", dies_in_child, 3)
        out.write_figure("b.png", line_figure, 7)
    assert (tmp_path / "out/a.png").read_bytes() == _in_process_png(tmp_path, line_figure, 3)
    assert (tmp_path / "out/b.png").read_bytes() == _in_process_png(tmp_path, line_figure, 7)
    assert renderer.current() is None and pid not in _children()  # reaped
    with ResultsFolder(tmp_path / "later") as out:  # without a child: drawn here
        out.write_figure("c.png", line_figure, 2)
    assert (tmp_path / "later/c.png").exists()


def test_arguments_that_do_not_pickle_are_drawn_here(child, tmp_path):
    with ResultsFolder(tmp_path / "out") as out:
        out.write_figure("b.png", lambda n: line_figure(n), 5)
        assert out._figures == []
    assert (tmp_path / "out/b.png").read_bytes() == _in_process_png(tmp_path, line_figure, 5)
    assert renderer.current() is child


def test_a_failing_figure_raises_its_own_error_and_publishes_nothing(child, tmp_path):
    with pytest.raises(ValueError, match="bad figure 3"):
        with ResultsFolder(tmp_path / "out") as out:
            out.write_figure("a.png", always_fails, 3)
    assert os.listdir(tmp_path) == []  # neither the folder nor its temporary twin


def test_an_error_while_figures_are_pending_stops_the_child(child, tmp_path):
    pid = child.pid
    with pytest.raises(KeyboardInterrupt):
        with ResultsFolder(tmp_path / "out") as out:
            out.write_figure("a.png", slow_figure, 3)
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    assert renderer.current() is None and pid not in _children()


def test_start_replaces_the_previous_child(child):
    first = child.pid
    renderer.start()
    assert renderer.current().pid != first and first not in _children()


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
    outs = {}
    for name, env in [("child", {}), ("here", {renderer.DISABLE_ENV: "0"})]:
        out = tmp_path / name
        run = subprocess.run([str(MOXCO), "escape-count", "--inits", "20", "--steps", "300",
                              "--out", str(out)], capture_output=True, text=True,
                             env={**os.environ, **env}, timeout=120)
        assert run.returncode == 0, run.stderr
        outs[name] = out
    for name in ("escape_count.png", "counts.csv", "outcomes.csv"):
        assert (outs["child"] / name).read_bytes() == (outs["here"] / name).read_bytes(), name
