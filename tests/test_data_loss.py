"""The paths that lost data (issue 20): every safety check where the deletion happens, a
crash-safe `--force`, orphaned hidden folders, `reproduce`'s folder rule, and what counts as
moxco's own results (its manifest)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moxco_cli.cli import app
from moxco_cli.report import config_digest

runner = CliRunner()
RUN = ["run", "beale", "--steps", "5", "--optimizers", "gd"]
SWEEP = ["sweep", "beale", "--optimizer", "gd+moxco", "--grid", "alpha=0,0.5", "--starts",
         "grid:3", "--steps", "10", "--workers", "1"]
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def snapshot(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def one_result(tmp_path, name="earlier") -> Path:
    target = tmp_path / name
    result = invoke(*RUN, "--out", target)
    assert result.exit_code == 0, result.output
    return target


# ------------------------------------------ sweep: the check lives where the deletion is


@pytest.fixture(scope="module")
def sweep_config(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "done"
    result = invoke(*SWEEP, "--out", out)
    assert result.exit_code == 0, result.output
    return out / "config.json"


def test_rerun_of_a_sweep_never_deletes_an_unfinished_sweep_without_force(sweep_config,
                                                                          tmp_path):
    work = tmp_path / "again.incomplete"
    (work / "cells").mkdir(parents=True)
    (work / "INCOMPLETE").write_text("not finished\n")
    (work / "cells" / "cell-0.json").write_text("{}\n")
    (work / "notes.md").write_text("my notes\n")
    before = snapshot(work)
    result = invoke("rerun", sweep_config, "--out", tmp_path / "again")
    assert result.exit_code == 2, result.output
    assert "unfinished sweep" in result.output and result.output.count("\n") == 1
    assert snapshot(work) == before and not (tmp_path / "again").exists()


def test_rerun_of_a_sweep_with_force_never_deletes_a_foreign_incomplete_folder(sweep_config,
                                                                              tmp_path):
    work = tmp_path / "again.incomplete"
    work.mkdir()
    (work / "thesis.tex").write_text("three years\n")
    result = invoke("rerun", sweep_config, "--out", tmp_path / "again", "--force")
    assert result.exit_code == 2, result.output
    assert "again.incomplete" in result.output and "thesis.tex" in result.output
    assert (work / "thesis.tex").read_text() == "three years\n"


def test_sweep_execute_itself_refuses_to_delete_an_unfinished_sweep(sweep_config, tmp_path):
    from moxco_cli.commands import sweep as command
    from moxco_cli.errors import MoxcoError
    from moxco_cli.report import ResultsFolder

    cfg = command.config_from_options(json.loads(sweep_config.read_text())["options"])
    work = tmp_path / "x.incomplete"
    work.mkdir()
    (work / "INCOMPLETE").write_text("")
    with pytest.raises(MoxcoError, match="unfinished sweep"):
        command.execute(cfg, ResultsFolder(tmp_path / "x"))
    assert (work / "INCOMPLETE").exists()


def test_sweep_force_restarts_its_own_unfinished_sweep(sweep_config, tmp_path):
    """What --force is for: an unfinished sweep moxco wrote is started over."""
    from moxco_cli.experiments import sweep as sweep_module

    target = tmp_path / "cut"
    real = sweep_module.run_job

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    sweep_module.run_job = interrupted
    try:
        assert invoke(*SWEEP, "--out", target).exit_code == 130
    finally:
        sweep_module.run_job = real
    assert (tmp_path / "cut.incomplete" / "INCOMPLETE").exists()
    result = invoke("rerun", sweep_config, "--out", target, "--force")
    assert result.exit_code == 0, result.output
    assert (target / "sweep.csv").exists() and not (tmp_path / "cut.incomplete").exists()


# ------------------------------------------------------------ --force: crash-safe replace

CRASH = textwrap.dedent("""
    import os, sys
    import moxco_cli.report as report
    mode = sys.argv[1]
    real_replace, real_rename = os.replace, os.rename

    def dies_after_hiding(real):
        def wrapper(src, dst, *args, **kwargs):
            real(src, dst, *args, **kwargs)
            if ".replaced-" in os.fspath(dst) and os.path.isdir(dst):
                os._exit(9)  # killed between the two renames
        return wrapper

    if mode == "fallback":  # no renameat2: the two renames
        report._exchange = lambda a, b: False
        os.replace, os.rename = dies_after_hiding(real_replace), dies_after_hiding(real_rename)
    else:  # renameat2(RENAME_EXCHANGE): killed right after the exchange
        real_exchange = report._exchange

        def exchange_then_die(a, b):
            if real_exchange(a, b):
                os._exit(9)
            return False
        report._exchange = exchange_then_die
    from moxco_cli.cli import main
    sys.argv = ["moxco", *sys.argv[2:]]
    main()
""")


@pytest.mark.parametrize("mode", ["fallback", "exchange"])
def test_a_kill_inside_force_loses_nothing_and_the_next_run_recovers(tmp_path, mode):
    from moxco_cli import report

    if mode == "exchange" and not report.exchange_supported(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    target = one_result(tmp_path)
    earlier = snapshot(target)
    env = dict(os.environ, MPLBACKEND="Agg", MOXCO_RENDERER="0")
    proc = subprocess.run([sys.executable, "-c", CRASH, mode, *RUN, "--steps", "7", "--out",
                           target, "--force"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr  # it died where the test stopped it
    hidden = {p.name.rsplit("-", 1)[0]: snapshot(p) for p in tmp_path.iterdir()
              if p.name.startswith(".")}
    if mode == "exchange":  # the new result is in place; the earlier one is the hidden folder
        assert target.exists() and snapshot(target) != earlier
        assert hidden == {".earlier.incomplete": earlier}
    else:  # nothing at --out: the earlier result hidden, the new one not yet in place
        assert not target.exists() and hidden[".earlier.replaced"] == earlier
        assert set(hidden) == {".earlier.replaced", ".earlier.incomplete"}
    result = invoke(*RUN, "--out", tmp_path / "next")  # any run into the same parent
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if ".earlier" in line]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "next"]
    if mode == "fallback":  # put back as it was; the unpublished new result removed
        assert len(lines) == 2 and "restored" in lines[0] and "removed" in lines[1], lines
        assert snapshot(target) == earlier
    else:
        assert len(lines) == 1 and "removed" in lines[0], lines
        assert snapshot(target) != earlier


def test_force_replaces_a_result_and_leaves_nothing_hidden(tmp_path):
    target = one_result(tmp_path)
    result = invoke(*RUN, "--steps", "6", "--out", target, "--force")
    assert result.exit_code == 0, result.output
    assert json.loads((target / "config.json").read_text())["options"]["steps"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]


# ---------------------------------------------------------------- orphaned hidden folders


def test_orphans_of_dead_processes_are_recovered_or_removed_with_one_line_each(tmp_path):
    from moxco_cli.report import OWNER, _owner_file

    target = one_result(tmp_path)
    earlier = snapshot(target)
    dead = dead_pid()
    # a half-written result of a dead process (moxco's: its owner file names the process)
    (tmp_path / f".lost{'.incomplete-'}{dead}").mkdir()
    (tmp_path / f".lost.incomplete-{dead}" / "summary.csv").write_text("half\n")
    (tmp_path / f".lost.incomplete-{dead}" / OWNER).write_bytes(_owner_file(dead))
    # a user's own files that only look like leftovers: never touched
    mine = tmp_path / f".backup.incomplete-{dead}"
    mine.mkdir()
    (mine / "data.csv").write_text("mine\n")
    (tmp_path / f".copy.incomplete-{dead}").mkdir()  # no owner file: not moxco's either
    (tmp_path / f".copy.incomplete-{dead}" / OWNER).write_bytes(_owner_file(dead + 1))
    (tmp_path / f".paper.tex.tmp-{dead}").write_text("draft\n")
    (tmp_path / f".notes.replaced-{dead}").mkdir()
    (tmp_path / f".notes.replaced-{dead}" / "todo.txt").write_text("mine\n")
    (tmp_path / f".REPRODUCTION.md.tmp-{dead}").write_text("cut short\n")  # moxco's
    # a replaced result whose replacement never arrived: put back
    shutil.copytree(target, tmp_path / f".gone.replaced-{dead}")
    # a replaced result whose replacement is in place: removed
    shutil.copytree(target, tmp_path / f".earlier.replaced-{dead}")
    # pid alive but not a moxco process (a reused pid): its folder is an orphan too
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / f".other.incomplete-{sleeper.pid}").mkdir()
        (tmp_path / f".other.incomplete-{sleeper.pid}" / OWNER).write_bytes(
            _owner_file(sleeper.pid))
        result = invoke(*RUN, "--out", tmp_path / "next")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if ".lost" in line or ".gone" in line
            or ".earlier" in line or ".other" in line or "REPRODUCTION" in line]
    assert len(said) == 5, result.output
    assert not any(name in result.output for name in (".backup", ".copy", ".paper", ".notes"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        "earlier", "gone", "next", f".backup.incomplete-{dead}", f".copy.incomplete-{dead}",
        f".paper.tex.tmp-{dead}", f".notes.replaced-{dead}"])
    assert (mine / "data.csv").read_text() == "mine\n"
    assert (tmp_path / f".notes.replaced-{dead}" / "todo.txt").read_text() == "mine\n"
    assert snapshot(tmp_path / "gone") == earlier and snapshot(target) == earlier


def test_the_folder_of_a_live_moxco_run_is_never_touched(tmp_path):
    from moxco_cli.report import ResultsFolder

    with ResultsFolder(tmp_path / "busy") as out:  # this process: alive, holding its folder
        out.write_text("a.txt", "x\n")
        hidden = out.tmp
        result = invoke(*RUN, "--out", tmp_path / "next")
        assert result.exit_code == 0, result.output
        assert (hidden / "a.txt").read_text() == "x\n"
    assert (tmp_path / "busy" / "a.txt").exists()


# ------------------------------------------------------------------ reproduce's folders


def _stub_pipeline(out, quick=False, progress=None, only=None):
    out.write_text("stub.txt", "stub\n")
    out.write_json("config.json", {"command": "reproduce", "quick": quick, "sizes": {},
                                   "steps": []})


@pytest.fixture
def stub_reproduce(monkeypatch):
    import moxco_cli.experiments.reproduce as pipeline

    monkeypatch.setattr(pipeline, "reproduce", _stub_pipeline)


def test_reproduce_refuses_the_filesystem_root(stub_reproduce):
    existed = {name: Path("/", name).exists() for name in ("figures", "REPRODUCTION.md")}
    try:
        result = invoke("reproduce", "--out", "/")
        assert result.exit_code == 2 and "root" in result.output, result.output
        assert result.output.count("\n") == 1
    finally:
        if not existed["figures"] and Path("/figures").exists():
            shutil.rmtree("/figures")
        if not existed["REPRODUCTION.md"]:
            Path("/REPRODUCTION.md").unlink(missing_ok=True)
    assert {n: Path("/", n).exists() for n in existed} == existed


def test_reproduce_never_overwrites_a_users_report(tmp_path, stub_reproduce):
    (tmp_path / "REPRODUCTION.md").write_text("my own write-up\n")
    result = invoke("reproduce", "--out", tmp_path)
    assert result.exit_code == 2 and "REPRODUCTION.md" in result.output, result.output
    assert (tmp_path / "REPRODUCTION.md").read_text() == "my own write-up\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPRODUCTION.md"]


def test_reproduce_regenerates_its_own_output_without_force(tmp_path, stub_reproduce):
    """`make reproduce-figures` (`moxco reproduce --out results`) runs again and again."""
    (tmp_path / "runs").mkdir()  # results/ holds other things, kept
    (tmp_path / "runs" / "mine.txt").write_text("kept\n")
    for _ in range(2):
        result = invoke("reproduce", "--out", tmp_path)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "mine.txt").read_text() == "kept\n"
    assert (tmp_path / "figures" / "stub.txt").exists()
    assert (tmp_path / "REPRODUCTION.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_reproduce_regenerates_the_committed_folder_written_before_manifests(tmp_path,
                                                                             stub_reproduce):
    committed = ROOT / "results"
    shutil.copytree(committed / "figures", tmp_path / "figures",
                    ignore=shutil.ignore_patterns(".moxco-manifest.json"))
    shutil.copy(committed / "REPRODUCTION.md", tmp_path / "REPRODUCTION.md")
    result = invoke("reproduce", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "figures" / "stub.txt").exists()
    assert not (tmp_path / "figures" / "fig1a.png").exists()  # replaced as a whole


def test_reproduce_refuses_figures_holding_a_users_file(tmp_path, stub_reproduce):
    assert invoke("reproduce", "--out", tmp_path).exit_code == 0
    (tmp_path / "figures" / "draft.tex").write_text("mine\n")
    before = snapshot(tmp_path)
    result = invoke("reproduce", "--out", tmp_path)
    assert result.exit_code == 2 and "draft.tex" in result.output, result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", [RUN, ["eos-check", "--alphas", "0", "--betas", "0",
                                           "--steps", "100"]])
def test_no_other_command_replaces_reproduce_figures_even_with_force(tmp_path, stub_reproduce,
                                                                      command):
    assert invoke("reproduce", "--out", tmp_path).exit_code == 0
    before = snapshot(tmp_path)
    result = invoke(*command, "--out", tmp_path / "figures", "--force")
    assert result.exit_code == 2 and "moxco reproduce" in result.output, result.output
    assert snapshot(tmp_path) == before


def test_the_committed_figures_are_refused_to_other_commands():
    from moxco_cli.errors import MoxcoError
    from moxco_cli.report import refuse_to_replace

    with pytest.raises(MoxcoError, match="moxco reproduce"):
        refuse_to_replace(ROOT / "results" / "figures", command="run")


# ---------------------------------------------------- what counts as moxco's own results


def test_a_users_folder_with_a_moxco_looking_config_is_never_replaced(tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "config.json").write_text('{"command": "run"}')
    (thesis / "chapter1.tex").write_text("years of work\n")
    result = invoke(*RUN, "--out", thesis, "--force")
    assert result.exit_code == 2, result.output
    assert "chapter1.tex" in result.output and result.output.count("\n") == 1
    assert (thesis / "chapter1.tex").read_text() == "years of work\n"


def test_force_refuses_a_result_a_user_added_files_to_and_names_them(tmp_path):
    target = one_result(tmp_path)
    (target / "notes.md").write_text("what I saw\n")
    (target / "drafts").mkdir()
    result = invoke(*RUN, "--out", target, "--force")
    assert result.exit_code == 2, result.output
    assert "notes.md" in result.output and "drafts" in result.output
    assert (target / "notes.md").read_text() == "what I saw\n"


def test_force_refuses_a_result_whose_files_a_user_edited(tmp_path):
    target = one_result(tmp_path)
    with open(target / "summary.csv", "a") as fh:
        fh.write("my extra row\n")
    result = invoke(*RUN, "--out", target, "--force")
    assert result.exit_code == 2 and "summary.csv" in result.output, result.output
    assert (target / "summary.csv").read_text().endswith("my extra row\n")
    (target / "summary.csv").unlink()  # a file moxco wrote, deleted: nothing of the user's
    (target / "config.json").write_text('{"my": "own notes"}')
    result = invoke(*RUN, "--out", target, "--force")
    assert result.exit_code == 2 and "config.json" in result.output, result.output


def test_two_identical_runs_write_the_same_manifest(tmp_path):
    from moxco_cli.report import MANIFEST

    a, b = one_result(tmp_path, "a"), one_result(tmp_path, "b")
    assert (a / MANIFEST).read_bytes() == (b / MANIFEST).read_bytes()


def test_every_result_carries_a_manifest_of_what_moxco_wrote(tmp_path):
    from moxco_cli.report import MANIFEST

    target = one_result(tmp_path)
    doc = json.loads((target / MANIFEST).read_text())
    files = {p.name for p in target.iterdir()} - {MANIFEST}
    assert set(doc["files"]) == files and doc["command"] == "run"
    for name, entry in doc["files"].items():
        if name == "config.json":  # holds when it ran: hashed without that (same manifest
            assert entry == {"run_specific": True,  # bytes for two identical runs)
                             "content_sha256": config_digest(read_json(target / name))}
        else:
            assert entry["size"] == (target / name).stat().st_size


def test_a_hand_edited_config_json_is_named_and_never_replaced(tmp_path):
    target = one_result(tmp_path)
    config = read_json(target / "config.json")
    config["my_notes"] = "the run I showed at the seminar"
    (target / "config.json").write_text(json.dumps(config))
    result = invoke(*RUN, "--steps", "6", "--out", target, "--force")
    assert result.exit_code == 2 and "config.json (changed since" in result.output, \
        result.output
    assert read_json(target / "config.json")["my_notes"] == "the run I showed at the seminar"
    # its run-specific fields may differ (another run's `created`): still moxco's
    config = read_json(target / "config.json")
    del config["my_notes"]
    config["created"] = "2020-01-01T00:00:00"
    (target / "config.json").write_text(json.dumps(config))
    result = invoke(*RUN, "--steps", "6", "--out", target, "--force")
    assert result.exit_code == 0, result.output


def test_a_config_json_alone_never_makes_a_folder_moxcos(tmp_path):
    mine = tmp_path / "c"
    mine.mkdir()
    (mine / "config.json").write_text('{"command": "eos-check", "mine": 1}')
    result = invoke(*RUN, "--steps", "6", "--out", mine, "--force")
    assert result.exit_code == 2 and "not" in result.output, result.output
    assert read_json(mine / "config.json") == {"command": "eos-check", "mine": 1}
    # a user's CSV beside a config.json naming the command that writes it: not moxco's
    (mine / "config.json").write_text('{"command": "run"}')
    (mine / "summary.csv").write_text("mine\n")
    result = invoke(*RUN, "--steps", "6", "--out", mine, "--force")
    assert result.exit_code == 2, result.output
    assert (mine / "summary.csv").read_text() == "mine\n"


def test_a_result_is_never_written_inside_an_earlier_one(tmp_path):
    target = one_result(tmp_path)
    before = snapshot(target)
    result = invoke(*RUN, "--steps", "6", "--out", target / "sub")
    assert result.exit_code == 2 and "inside the moxco result" in result.output, result.output
    assert snapshot(target) == before


def test_results_written_before_manifests_are_replaced_only_if_every_file_is_moxcos(tmp_path):
    from moxco_cli.report import MANIFEST

    target = one_result(tmp_path)
    (target / MANIFEST).unlink()  # as written by an earlier version
    result = invoke(*RUN, "--steps", "6", "--out", target, "--force")
    assert result.exit_code == 0, result.output
    (target / MANIFEST).unlink()
    (target / "notes.md").write_text("mine\n")
    result = invoke(*RUN, "--out", target, "--force")
    assert result.exit_code == 2, result.output
    assert "no moxco manifest" in result.output and "notes.md" in result.output
    assert (target / "notes.md").exists()


def test_a_rerun_writes_the_same_bytes_in_every_file_but_config_json_time(tmp_path):
    """docs/method.md 'What a rerun reproduces': every file but config.json's `created`."""
    first = tmp_path / "first"
    assert invoke(*RUN, "--out", first).exit_code == 0
    again = tmp_path / "again"
    assert invoke("rerun", first / "config.json", "--out", again).exit_code == 0
    a, b = snapshot(first), snapshot(again)
    assert set(a) == set(b)
    for name in a:
        if name == "config.json":
            x, y = (json.loads(d) for d in (a[name], b[name]))
            x.pop("created"), y.pop("created")
            assert x == y
        else:
            assert a[name] == b[name], name


def test_a_dangling_link_or_a_name_too_long_is_one_line_and_leaves_nothing_hidden(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    result = invoke(*RUN, "--out", tmp_path / "link")
    assert result.exit_code == 2 and "symbolic link" in result.output
    result = invoke(*RUN, "--out", tmp_path / ("a" * 250))
    most = 255 - (1 + len(".incomplete-") + 7)  # the same limit whatever the PID
    assert result.exit_code == 2 and "too long" in result.output and f"{most} fit" in result.output
    assert result.output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]
    assert invoke(*RUN, "--out", tmp_path / ("a" * most)).exit_code == 0
    # over NAME_MAX (the OS refuses even to look the name up), and a folder of the path over it
    for out in (tmp_path / ("b" * 300), tmp_path / ("c" * 300) / "run"):
        result = invoke(*RUN, "--out", out)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith("Error: --out: ")
        assert "too long" in result.output.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a" * most, "link"]


# ------------------------------------------------- the last instant: publishing, same names


@pytest.mark.parametrize("other_thread", [False, True])
def test_a_signal_just_after_publishing_says_the_results_are_complete(tmp_path, monkeypatch,
                                                                      other_thread):
    """The tester's case: Ctrl-C the moment the folder appears (after the rename). Exit 130,
    but the message must not say "discarded" of results that are published, complete.
    With another thread alive (a pool's, JAX's) the kernel delivers the signal to that
    thread, and Python runs the handler in the main thread even though the main thread
    blocks the signal: the hold must not rely on the mask alone (CI failed so)."""
    import signal
    import threading
    import time

    from moxco_cli import report

    rename = report._rename_new

    def rename_then_ctrl_c(src, dst):
        rename(src, dst)
        os.kill(os.getpid(), signal.SIGINT)  # held until the rename is recorded
        time.sleep(0.05)  # time for another thread to take it

    stop = threading.Event()
    if other_thread:
        threading.Thread(target=stop.wait, daemon=True).start()
    monkeypatch.setattr(report, "_rename_new", rename_then_ctrl_c)
    try:
        result = invoke(*RUN, "--out", tmp_path / "new")
    finally:
        stop.set()
    assert result.exit_code == 130, result.output
    assert "discarded" not in result.output, result.output
    assert f"after the results were published: {tmp_path / 'new'} is complete" in result.output
    assert report.is_results_folder(tmp_path / "new")


def test_two_runs_taking_the_same_default_folder_both_publish(tmp_path, monkeypatch):
    """Two commands without --out in the same second: the one that finishes second publishes
    as NAME-2 (it used to discard its results with exit 2, naming --force)."""
    from moxco_cli import report

    monkeypatch.chdir(tmp_path)
    taken = tmp_path / report.RUNS_DIR / "run-beale-20261202-000000"
    monkeypatch.setattr(report, "default_folder", lambda command, landscape: taken)
    model = one_result(tmp_path, "model")
    write = report.ResultsFolder.write_manifest

    def meanwhile(self):  # the other run publishes the same name while this one computes
        if not taken.exists():
            shutil.copytree(model, taken)
        write(self)

    monkeypatch.setattr(report.ResultsFolder, "write_manifest", meanwhile)
    second = invoke(*RUN, "--steps", "6")
    assert second.exit_code == 0, second.output
    other = taken.with_name(taken.name + "-2")
    assert f"Results: {other}" in second.output, second.output
    assert snapshot(taken) == snapshot(model)
    assert read_json(other / "config.json")["options"]["steps"] == 6


def test_reproduce_into_an_existing_folder_it_cannot_write_is_one_line_naming_out(
        tmp_path, monkeypatch):
    """An existing --out on a read-only file system was "read-only file system while
    writing ...", exit 1, not naming --out (every other command: --out, exit 2)."""
    from moxco_cli import report
    from moxco_cli.errors import MoxcoError

    out = tmp_path / "existing"
    out.mkdir()
    monkeypatch.setattr(report.os, "access", lambda path, mode: Path(path) != out)
    monkeypatch.setattr(report, "_read_only", lambda path: True)
    with pytest.raises(MoxcoError) as err:
        report.figures_folder(out)
    assert str(err.value) == f"--out: cannot write to {out} (Read-only file system)"
    assert err.value.exit_code == 2
