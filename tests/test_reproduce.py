"""The reproduction pipeline end to end in quick mode (small grids), as CI runs it."""

import re

import pytest
from typer.testing import CliRunner

from moxco_cli.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    outs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"repro{k}")
        result = runner.invoke(app, ["reproduce", "--quick", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(out)
    return outs


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
