"""`moxco reproduce`: regenerate every paper figure and the written verdict (REPRODUCTION.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from moxco_cli.commands.common import start_renderer

EPILOG = (
    "Examples:\n\n"
    "  moxco reproduce                 # results/figures/ and results/REPRODUCTION.md\n\n"
    "  moxco reproduce --quick --out /tmp/repro   # small grids, for a smoke test"
)


def reproduce(
    out: Annotated[Path, typer.Option("--out", help="Folder receiving figures/ and REPRODUCTION.md.")] = Path("results"),
    quick: Annotated[bool, typer.Option("--quick", help="Small grids and samples (a smoke test; numbers are not the paper's).")] = False,
) -> None:
    """Regenerate all paper figures into OUT/figures and the claim-by-claim report OUT/REPRODUCTION.md.

    Both are replaced only if an earlier `moxco reproduce` wrote them (and nothing else is in
    OUT/figures); anything else in OUT is left alone."""
    start_renderer()
    from moxco_cli.experiments.report_md import write_report
    from moxco_cli.experiments.reproduce import reproduce as run_pipeline
    from moxco_cli.report import figures_folder

    figures, report = figures_folder(out)  # every check, before anything is computed
    started = time.perf_counter()

    def progress(description: str, k: int, total: int) -> None:
        print(f"[{k + 1}/{total}] {description} ({time.perf_counter() - started:.0f} s)",
              file=sys.stderr, flush=True)

    # The figures folder and the report beside it are replaced as a pair: the figures
    # atomically, then the report (see moxco_cli.report.PendingReport).
    with report:
        with figures:
            run_pipeline(figures, quick=quick, progress=progress)
            write_report(figures.tmp, report.new)
            report.prepare(figures)
        report.publish()
    print(f"Figures: {out / 'figures'}\nReport: {report.path}")
    print(f"Done in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("reproduce", epilog=EPILOG)(reproduce)
