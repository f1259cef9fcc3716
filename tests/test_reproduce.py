"""The reproduction pipeline end to end in quick mode (small grids), as CI runs it."""

import re
import sys

import pytest
from typer.testing import CliRunner

from moxco_cli.cli import app

runner = CliRunner()


def _reproduce_then_rerun(work):
    """`moxco reproduce --quick`, then `moxco rerun` of the config.json it wrote: two runs of
    the pipeline (a rerun is the pipeline again, from the config), which the tests below
    compare file by file. Started in the background when collection ends (conftest)."""
    moxco = [sys.executable, "-m", "moxco_cli"]
    return [{"args": [*moxco, "reproduce", "--quick", "--out", work / "repro"],
             "env": {"MPLBACKEND": "Agg"}},
            {"args": [*moxco, "rerun", work / "repro" / "figures" / "config.json", "--out",
                      work / "again"], "env": {"MPLBACKEND": "Agg"}}]


BACKGROUND = {"two_runs": _reproduce_then_rerun}


@pytest.fixture(scope="module")
def two_runs(background, request):
    """[the `reproduce --quick` folder, the folder its rerun wrote]."""
    work, done = background.result(request)
    assert len(done) == 2 and all(d.returncode == 0 for d in done), done[-1].stderr[-3000:]
    return [work / "repro", work / "again"]


def test_pipeline_writes_every_figure_and_the_report(two_runs):
    out = two_runs[0]
    names = {p.name for p in (out / "figures").iterdir()}
    for stem in ("fig1a", "fig1b", "fig3", "fig3_starts"):
        assert f"{stem}.png" in names
    assert {"fig1a_summary.csv", "fig3_summary.csv", "fig3_grid.csv", "config.json"} <= names
    report = (out / "REPRODUCTION.md").read_text()
    assert "Quick mode" in report
    for link in re.findall(r"\]\((figures/[^)]+)\)", report):
        assert (out / link).exists(), link


def test_every_claim_gets_a_computed_verdict(two_runs):
    report = (two_runs[0] / "REPRODUCTION.md").read_text()
    verdicts = re.findall(r"\*\*Verdict: ([^*]+)\*\*", report)
    assert len(verdicts) >= 2
    for v in verdicts:
        assert v.startswith(("holds", "does not hold")), v


def test_two_runs_give_byte_identical_csvs_and_pngs(two_runs):
    a, b = (o / "figures" for o in two_runs)
    for path in sorted(a.iterdir()):
        if path.suffix in (".csv", ".png"):
            assert path.read_bytes() == (b / path.name).read_bytes(), path.name
    assert (two_runs[0] / "REPRODUCTION.md").read_text() == \
        (two_runs[1] / "REPRODUCTION.md").read_text()


# ---- `moxco rerun` of a reproduce config (results/figures/config.json has no 'options') ----


def test_rerun_of_a_reproduce_config_writes_the_same_files_into_a_new_folder(two_runs):
    source, again = two_runs  # `again`: `moxco rerun source/figures/config.json --out again`
    assert (again / "REPRODUCTION.md").read_text() == (source / "REPRODUCTION.md").read_text()
    assert sorted(p.name for p in (again / "figures").iterdir()) == \
        sorted(p.name for p in (source / "figures").iterdir())
    for path in sorted((source / "figures").iterdir()):
        assert path.read_bytes() == (again / "figures" / path.name).read_bytes(), path.name
    # the copy of the config at the top makes it a moxco results folder: rerun-able, --force-able
    assert (again / "config.json").read_bytes() == (source / "figures" / "config.json").read_bytes()
    from moxco_cli.report import is_results_folder

    assert is_results_folder(again) and not is_results_folder(source)


def test_rerun_of_a_reproduce_config_keeps_the_out_and_force_rules(two_runs, tmp_path):
    config = str(two_runs[0] / "figures" / "config.json")
    before = {p.name: p.read_bytes() for p in (two_runs[0] / "figures").iterdir()}
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    cases = [
        (["--out", str(taken)], "already exists; pass --force"),
        (["--out", str(taken), "--force"], "is not a moxco results folder"),
        (["--out", str(two_runs[0]), "--force"], "is not a moxco results folder"),
        (["--out", str(two_runs[0] / "figures"), "--force"], "holds CONFIG itself"),
        (["--force"], "--force: only applies together with --out DIR"),
    ]
    for args, words in cases:
        result = runner.invoke(app, ["rerun", config, *args])
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output, (args, result.output)
    assert (taken / "notes.txt").read_text() == "mine"
    assert {p.name: p.read_bytes() for p in (two_runs[0] / "figures").iterdir()} == before


def test_rerun_accepts_the_committed_reproduce_config_into_the_default_folder(tmp_path,
                                                                              monkeypatch):
    import json
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "results" / "figures" / "config.json"
    doc = json.loads(committed.read_text())
    assert doc["command"] == "reproduce" and "options" not in doc
    doc["steps"] = ["theorem1"]  # the committed config, cut to its quickest step
    config = tmp_path / "config.json"
    config.write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["rerun", str(config)])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "results" / "runs").iterdir()
    assert folder.name.startswith("reproduce-paper-")
    assert json.loads((folder / "config.json").read_text()) == doc
    assert {"theorem1.csv", "theorem1.png", "config.json"} <= \
        {p.name for p in (folder / "figures").iterdir()}
    assert "Theorem 1" in (folder / "REPRODUCTION.md").read_text()


@pytest.mark.parametrize(("change", "words"), [
    ({"quick": "yes"}, "'quick' must be true or false"),
    ({"steps": ["fig9"]}, "'steps' must be a list of reproduce steps"),
    ({"steps": []}, "'steps' must be a list of reproduce steps"),
    ({"sizes": {"fig2_small": 7}}, "cannot be re-run exactly"),
    ({"seed": 3}, "unknown key 'seed' (a reproduce config holds command, quick, sizes and "
                  "steps)"),  # an extra key was silently ignored
])
def test_rerun_refuses_a_reproduce_config_it_cannot_run_exactly(tmp_path, change, words):
    import json

    doc = {"command": "reproduce", "quick": True, "steps": ["theorem1"]}
    from moxco_cli.experiments.reproduce import QUICK

    doc = {**doc, "sizes": QUICK, **change}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(doc))
    result = runner.invoke(app, ["rerun", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and words in result.output, result.output
    assert not (tmp_path / "o").exists()


def test_the_reports_links_to_the_method_reference_lead_to_it_from_any_out(tmp_path):
    """`reproduce --out /tmp/x` wrote REPRODUCTION.md with `../docs/method.md` links, right
    only for results/; they are made relative to where the report is written."""
    import os
    from pathlib import Path

    from moxco_cli.experiments.report_md import _docs_links

    repo = Path(__file__).resolve().parents[1]
    text = "see [Goodness](../docs/method.md#goodness-score) and [ref](../docs/method.md)"
    assert _docs_links(text, repo / "results") == text  # the committed report: same bytes
    where = tmp_path / "deep" / "x"
    where.mkdir(parents=True)
    moved = _docs_links(text, where)
    links = [part.split(")")[0].split("#")[0] for part in moved.split("](")[1:]]
    assert len(links) == 2 and all(link != "../docs/method.md" for link in links)
    assert all((where / link).resolve() == repo / "docs" / "method.md" for link in links)
    assert os.path.exists(where / links[0])
