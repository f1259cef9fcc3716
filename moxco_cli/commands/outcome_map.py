"""`moxco outcome-map LANDSCAPE`: the outcome of every start of a grid (rigorous Figure 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from moxco_cli.commands.common import (
    SCHEDULER_HELP,
    launch,
    print_table,
    progress_bar,
    start_renderer,
)
from moxco_cli.options import (
    ExprOption,
    MinimaOption,
    landscape_spec,
    optimizer_options,
    parse_box,
)

CLASSES_HELP = (
    "Classes are exclusive: global-1e-2 (ended within 1e-2 of a global minimum), global-0.1 "
    "(1e-2 to 0.1 away; the figure's 'within 0.1' counts both), other-minimum (within 0.1 of "
    "a non-global named minimum), stuck (finite, elsewhere), diverged (left |x| <= 1e6).")
EPILOG = (
    f"{CLASSES_HELP}\n\n"
    "Examples:\n\n"
    "  moxco outcome-map beale                      # 101 x 101 starts, Figure 1 settings\n\n"
    "  moxco outcome-map beale --grid 201 --optimizers gd,gd+moxco\n\n"
    "  moxco outcome-map two-wells --grid 400       # 1-D: one strip per optimizer\n\n"
    "  moxco outcome-map beale --domain -4.5,4.5,-2,2 --out results/runs/om --force"
)


def outcome_map(
    landscape: Annotated[str | None, typer.Argument(help="Landscape spec NAME[:key=value,...] (1-D or 2-D, with named minima): beale, two-wells, two-wells:s=0.03, ... Default: beale (not with --expr).")] = None,
    grid: Annotated[int, typer.Option("--grid", help="Starts per coordinate: N x N starts in 2-D (N in [2, 501]), N in 1-D (N in [2, 100000]); endpoints included.")] = 101,
    steps: Annotated[int, typer.Option("--steps", help="Number of optimizer steps, >= 1.")] = 800,
    domain: Annotated[str | None, typer.Option("--domain", help="Start box LO0,HI0[,LO1,HI1]. Default: the landscape's domain (beale: -4.5,4.5,-4.5,4.5).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/outcome-map-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
    expr: ExprOption = None,
    minima: MinimaOption = None,
    *,
    methods,
    settings,
) -> None:
    """Run every optimizer from a grid of starts at once; map and count where they end."""
    start_renderer("moxco_cli.plots.outcome_map")
    from moxco_cli.experiments.outcome_map import OutcomeMapConfig

    box = parse_box(domain, "--domain") if domain is not None else None
    landscape, params = landscape_spec(landscape, expr, minima, box)
    cfg = OutcomeMapConfig(
        landscape=landscape, landscape_params=params, grid=grid, steps=steps, methods=methods,
        settings=settings, domain=box,
    ).validate()
    launch(cfg, out, force, "outcome-map", execute, scheduler)


def config_from_options(options: dict):
    """A validated OutcomeMapConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.outcome_map import OutcomeMapConfig

    return OutcomeMapConfig.from_options(options)


def execute(cfg, folder) -> None:
    """Run `cfg`, write its folder, print the fractions (shared with a future `moxco rerun`)."""
    from moxco_cli.backends import config_entry
    from moxco_cli.experiments.outcome_map import outcome_map as run_map
    from moxco_cli.report import config_document

    total = cfg.steps * len(cfg.methods) * cfg.n_starts()
    with progress_bar(f"outcome-map {cfg.landscape}", total) as advance:
        result = run_map(cfg, progress=advance)
    with folder as out:
        write_outputs(result, out)
        out.write_json("config.json", config_document("outcome-map", cfg.to_options(), {
            "landscape": result.landscape.describe(),
            "domain_used": [[float(a[0]), float(a[-1])] for a in result.axes],
            "classes": list(result.classes),
            "class_tolerances": {"global-1e-2": 1e-2, "global-0.1": 0.1, "other-minimum": 0.1},
            **config_entry(cfg.settings.backend)}))
    show_fractions(result, folder.path)


def write_outputs(result, out) -> None:
    out.write_csv("outcomes.csv", result.outcomes)
    out.write_csv("fractions.csv", result.fractions)
    out.write_figure("outcome_map.png", "moxco_cli.plots.outcome_map:outcome_map_figure",
                     **result.figure_inputs())


def show_fractions(result, path) -> None:
    frame = result.fractions.pivot(index="optimizer", columns="class", values="fraction")
    frame = frame.reindex(index=list(result.config.methods), columns=list(result.classes))
    frame = frame.reset_index()
    formats = {c: (lambda v: f"{v:.2%}") for c in result.classes}
    n = len(result.starts)
    print_table(frame, f"moxco outcome-map {result.landscape.label}: fractions of {n} starts, "
                f"{result.config.steps} steps", ["optimizer", *result.classes], formats)
    print(CLASSES_HELP)
    print(f"Results: {path}")


def register(app: typer.Typer) -> None:
    app.command("outcome-map", epilog=EPILOG)(optimizer_options(outcome_map))
