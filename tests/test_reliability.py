"""Nothing lost: interrupts, folder rules, config round trips, numerical edge cases."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ending import ended
from typer.testing import CliRunner

import landscapes
from moxco_cli.cli import app
from moxco_cli.engine import simulate
from moxco_cli.errors import MoxcoError
from moxco_cli.report import ResultsFolder
from moxco_cli.settings import METHOD_NAMES, OptimizerSettings, build_method

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _start_and_interrupt(args, cwd, wait_for_s=2.5):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "moxco_cli", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(wait_for_s)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = ended(proc, timeout=60)
    return proc.returncode, out, err


LONG_RUN = ["run", "beale", "--steps", "2000000", "--optimizers", "gd"]


def test_sigint_mid_run_exits_130_and_leaves_nothing(tmp_path):
    target = tmp_path / "never"
    code, out, err = _start_and_interrupt([*LONG_RUN, "--out", target], tmp_path)
    assert code == 130
    assert "Interrupted" in err and "Traceback" not in err
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no hidden half-written folder either


def test_sigint_during_forced_rerun_keeps_the_earlier_folder_intact(tmp_path):
    target = tmp_path / "earlier"
    assert invoke("run", "beale", "--steps", "20", "--out", target).exit_code == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    code, _, err = _start_and_interrupt([*LONG_RUN, "--out", target, "--force"], tmp_path)
    assert code == 130
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_force_replaces_only_empty_folders_and_earlier_results(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "code.py").write_text("keep me\n")
    monkeypatch.chdir(project)
    before = _tree(tmp_path)
    for out, why in [(".", "working directory"), ("..", "working directory"), ("/", "root"),
                     ("src", "not a moxco results folder"), (str(Path.home()), "home")]:
        result = invoke("run", "beale", "--steps", "5", "--out", out, "--force")
        assert result.exit_code == 2 and why in result.output, (out, result.output)
        assert len(result.output.strip().splitlines()) == 1
    (project / "notes").mkdir()
    (project / "notes" / "config.json").write_text('{"mine": 1}')  # JSON, but not moxco's
    result = invoke("run", "beale", "--steps", "5", "--out", "notes", "--force")
    assert result.exit_code == 2 and "not a moxco results folder" in result.output
    assert _tree(tmp_path) == sorted([*before, "project/notes", "project/notes/config.json"])
    assert (project / "src" / "code.py").read_text() == "keep me\n"
    (project / "empty").mkdir()
    for _ in range(2):  # an empty folder, then the moxco result now in it
        assert invoke("run", "beale", "--steps", "5", "--out", "empty", "--force").exit_code == 0
        assert (project / "empty" / "config.json").exists()


def test_force_checks_again_at_publish_time_and_refuses_symlinks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("run", "beale", "--steps", "5", "--out", "r").exit_code == 0
    with pytest.raises(MoxcoError, match="not a moxco results folder"):
        with ResultsFolder(tmp_path / "r", force=True) as out:
            out.write_text("a.txt", "new\n")
            (tmp_path / "r" / "config.json").write_text('{"command": "not-moxco"}')
    assert sorted(os.listdir(tmp_path)) == ["r"]  # the folder stays, nothing half-written
    assert "a.txt" not in os.listdir(tmp_path / "r")
    (tmp_path / "link").symlink_to(tmp_path / "r")
    result = invoke("run", "beale", "--steps", "5", "--out", "link", "--force")
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert (tmp_path / "link").is_symlink()


def test_reproduce_replaces_its_own_figures_from_earlier_versions(tmp_path):
    from moxco_cli.report import is_results_folder

    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "config.json").write_text(
        json.dumps({"quick": True, "sizes": {}, "steps": []}))  # before "command" was written
    assert is_results_folder(tmp_path / "figures")


def test_reproduce_never_replaces_a_foreign_figures_folder(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "mine.txt").write_text("x")
    result = invoke("reproduce", "--quick", "--out", tmp_path)
    assert result.exit_code == 2 and "not a moxco results folder" in result.output
    assert _tree(tmp_path) == ["figures", "figures/mine.txt"]


def test_interrupt_while_writing_removes_the_partial_folder(tmp_path):
    target = tmp_path / "partial"
    with pytest.raises(KeyboardInterrupt), ResultsFolder(target) as out:
        out.write_text("a.csv", "x\n")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_results_folder_refuses_existing_and_reports_missing_or_readonly_parent(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(MoxcoError, match="--force"):
        ResultsFolder(tmp_path / "exists").check()
    with pytest.raises(MoxcoError, match="does not exist"):
        ResultsFolder(tmp_path / "no" / "such").check()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits: simulate with a file parent
            parent = tmp_path / "file"
            parent.write_text("")
            result = invoke("run", "beale", "--steps", "3", "--out", parent / "x")
        else:
            result = invoke("run", "beale", "--steps", "3", "--out", ro / "x")
        assert result.exit_code == 2
        assert result.output.count("\n") == 1 and "--out" in result.output
    finally:
        ro.chmod(0o700)


def test_rerun_reproduces_csvs_byte_for_byte(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    args = ["run", "two-wells", "--start", "2.3", "--steps", "200", "--noise-std", "0.3",
            "--seed", "7", "--commit", "reversible"]
    assert invoke(*args, "--out", first).exit_code == 0
    result = invoke("rerun", first / "config.json", "--out", second)
    assert result.exit_code == 0, result.output
    for name in ("summary.csv", "trajectories.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    a, b = (json.loads((p / "config.json").read_text()) for p in (first, second))
    a.pop("created"), b.pop("created")
    assert a == b


@pytest.fixture(scope="module")
def beale_config(tmp_path_factory):
    """The config.json of one `moxco run beale --steps 5` (read, never changed, by each case)."""
    first = tmp_path_factory.mktemp("beale") / "first"
    assert invoke("run", "beale", "--steps", "5", "--out", first).exit_code == 0
    return first / "config.json"


@pytest.mark.parametrize(("key", "value", "option"), [
    ("lr", -1, "--lr"), ("gd_moxco", [1.5, 0.1], "--gd-moxco"), ("threshold", 2, "--threshold"),
    ("commit", "sometimes", "--commit"), ("steps", 0, "--steps"), ("steps", True, "--steps"),
    ("start", [1], "--start"),
    ("landscape", "nope", "LANDSCAPE"), ("bogus_key", 1, "--bogus-key"),
])
def test_hand_edited_config_gets_the_same_message_as_the_cli_option(tmp_path, key, value, option,
                                                                   beale_config):
    doc = json.loads(beale_config.read_text())
    doc["options"][key] = value
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    result = invoke("rerun", edited, "--out", tmp_path / "second")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {option}") and result.output.count("\n") == 1
    assert not (tmp_path / "second").exists()


def test_different_seed_changes_noisy_results(tmp_path):
    outs = []
    for seed in (1, 2):
        out = tmp_path / f"s{seed}"
        assert invoke("run", "beale", "--steps", "50", "--noise-std", "0.5", "--seed", seed,
                      "--out", out).exit_code == 0
        outs.append((out / "summary.csv").read_bytes())
    assert outs[0] != outs[1]


EDGE_STARTS = {
    "saddle": (0.0, 1.0), "minimum": (3.0, 0.5), "domain-edge": (4.5, -4.5),
    "far-outside": (1e5, 1e5),
}


@pytest.mark.parametrize("where", list(EDGE_STARTS))
def test_numerical_edge_starts_are_silent_and_well_formed(where, tmp_path):
    start = ",".join(repr(v) for v in EDGE_STARTS[where])
    out = tmp_path / where
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = invoke("run", "beale", "--start", start, "--steps", "100", "--out", out)
    assert result.exit_code == 0, result.output
    s = pd.read_csv(out / "summary.csv")
    numeric = ["final_x0", "final_x1", "final_loss", "distance_to_nearest"]
    assert s[numeric].notna().all().all()
    assert set(s.outcome) <= {"minimum:global", "none", "diverged"}
    assert ((s.outcome == "diverged") == (s.diverged_step >= 0)).all()
    if where == "minimum":  # a fixed point of every method
        assert (s.outcome == "minimum:global").all() and (s.final_loss == 0).all()
    if where == "saddle":  # the gradient vanishes: plain GD and Adam never move
        plain = s[s.optimizer.isin(["gd", "adam"])]
        assert (plain.final_x0 == 0).all() and (plain.final_x1 == 1).all()


def test_lr_so_large_that_every_optimizer_diverges_in_one_step(tmp_path):
    out = tmp_path / "huge"
    result = invoke("run", "beale", "--start", "1,1", "--lr", "1e7", "--steps", "10",
                    "--out", out)
    assert result.exit_code == 0, result.output
    s = pd.read_csv(out / "summary.csv")
    assert (s.outcome == "diverged").all() and (s.diverged_step == 0).all()
    assert (s.final_x0 == 1.0).all() and (s.final_x1 == 1.0).all()  # frozen at the start
    t = pd.read_csv(out / "trajectories.csv")
    assert t[["x0", "x1", "loss", "goodness"]].notna().all().all()


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_single_start_engine_run_is_silent(name):
    beale = landscapes.get("beale")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = simulate(beale, build_method(name, OptimizerSettings(lr=10.0)),
                      np.array([[4.5, 4.5]]), 30, record=True)
    assert np.isfinite(tr.records.x).all()


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_out_naming_the_current_or_parent_folder_is_refused_not_a_crash(name, tmp_path,
                                                                         monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = invoke("run", "beale", "--steps", "2", "--out", name)
    assert result.exit_code == 2 and "already exists" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


# Traced peaks (NumPy and pandas allocations, plus streaming outcomes.csv) of escape-count at
# two sizes, in a process of their own; prints them as JSON.
TRACED_PEAKS = """
import json, sys, tracemalloc
from pathlib import Path
from moxco_cli.experiments.escape_count import EscapeConfig, run_escape_count
from moxco_cli.report import write_csv_file

def traced_peak(n):
    tracemalloc.start()
    try:
        result = run_escape_count(EscapeConfig(inits=n, steps=20).validate())
        write_csv_file(Path(sys.argv[1]) / f"outcomes-{n}.csv", result.outcomes)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

traced_peak(2_000)  # one-time allocations (imports, caches) out of the way
print(json.dumps({n: traced_peak(n) for n in map(int, sys.argv[2:])}))
"""
# Above a few chunks of starts the engine's working set is fixed (chunk buffers x threads);
# what grows with N is the per-start data: starts, finals, outcome tables.
SMALL_N, LARGE_N = 30_000, 60_000


def _traced_peaks(work):
    """Started in the background when collection ends (conftest), while the other tests run."""
    return [{"args": [sys.executable, "-c", TRACED_PEAKS, work, SMALL_N, LARGE_N],
             "env": {"MPLBACKEND": "Agg"}, "timeout_s": 600}]


BACKGROUND = {"escape_count_traced_peaks": _traced_peaks}


@pytest.fixture(scope="module")
def escape_count_traced_peaks(background, request) -> dict[int, int]:
    _, (done,) = background.result(request)
    assert done.returncode == 0, done.stderr[-3000:]
    return {int(n): peak for n, peak in json.loads(done.stdout).items()}


def test_escape_count_memory_grows_linearly_and_a_million_starts_fit_in_1_gib(
        escape_count_traced_peaks):
    """Memory model of `escape-count` without per-step recording: traced peak (NumPy and
    pandas allocations, plus streaming outcomes.csv) at two sizes gives bytes per start;
    extrapolated to 10^6 starts it must stay under 1 GiB. (The real 10^6 run's whole-process
    peak RSS is reported in the issue note.)"""
    small, large = SMALL_N, LARGE_N
    p_small, p_large = escape_count_traced_peaks[small], escape_count_traced_peaks[large]
    per_start = (p_large - p_small) / (large - small)
    assert 0 < per_start < 1_000, f"{per_start:.0f} bytes per start"
    assert p_small + per_start * (1_000_000 - small) < 2**30


def test_rerun_names_the_options_config_json_lacks_instead_of_using_defaults_silently(tmp_path):
    import json

    from typer.testing import CliRunner

    from moxco_cli.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["run", "beale", "--steps", "20", "--lr", "0.01",
                                "--optimizers", "gd", "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["rerun", str(tmp_path / "a" / "config.json"),
                                "--out", str(tmp_path / "b")])
    assert again.exit_code == 0 and "Warning" not in again.output, again.output
    doc = json.loads((tmp_path / "a" / "config.json").read_text())
    del doc["options"]["lr"], doc["options"]["tau"]
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    edited = runner.invoke(app, ["rerun", str(tmp_path / "edited.json"),
                                 "--out", str(tmp_path / "c")])
    assert edited.exit_code == 0, edited.output
    assert ("Warning: config.json has no value for --lr, --tau; the defaults are used"
            in edited.output)
