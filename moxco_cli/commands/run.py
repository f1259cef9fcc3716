"""`moxco run LANDSCAPE`: the paper's Figure 1 as a command."""

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
    warn,
)
from moxco_cli.options import (
    LANDSCAPE_PANEL,
    ExprOption,
    MinimaOption,
    landscape_spec,
    optimizer_options,
    parse_box,
    parse_point,
)
from moxco_cli.settings import SettingsError

EPILOG = (
    "Examples:\n\n"
    "  moxco run beale                      # Figure 1 settings\n\n"
    "  moxco run beale --start 1,1 --optimizers gd,gd+moxco --steps 2000\n\n"
    "  moxco run two-wells --start 2.3 --commit reversible --out results/runs/tw --force\n\n"
    "  moxco run beale --animate            # also trajectory.gif\n\n"
    "  moxco run --expr \"(1-x)**2 + 100*(y-x**2)**2\" --domain -2,2,-1,3"
)


def run(
    landscape: Annotated[str | None, typer.Argument(help="Landscape spec NAME[:key=value,...]: beale, two-wells, two-wells:s=0.03, quadratic:a=1;50 (a list is separated by ;), ... Default: beale (not with --expr).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Start point X,Y (one number for 1-D). Default: beale -2.5,1.2 (Figure 1); two-wells 2.3.")] = None,
    steps: Annotated[int, typer.Option("--steps", help="Number of optimizer steps, >= 1.")] = 800,
    tol: Annotated[float | None, typer.Option("--tol", help="Distance to a named minimum that counts as reaching it. Default: 1e-2 (2-D), 0.05 (1-D).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/run-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
    animate: Annotated[bool, typer.Option("--animate", help="Also write trajectory.gif: all optimizers moving together.")] = False,
    expr: ExprOption = None,
    domain: Annotated[str | None, typer.Option("--domain", help="With --expr: the formula's domain LO0,HI0[,LO1,HI1] (plot box, default start).", rich_help_panel=LANDSCAPE_PANEL)] = None,
    minima: MinimaOption = None,
    *,
    methods,
    settings,
) -> None:
    """Run GD, Adam, GD+MoXCo and Adam+MoXCo from one start; write tables and figures."""
    start_renderer("moxco_cli.plots.run")
    from moxco_cli.experiments.run import RunConfig

    if domain is not None and expr is None:
        raise SettingsError("--domain", "only applies together with --expr")
    landscape, params = landscape_spec(
        landscape, expr, minima, parse_box(domain, "--domain") if domain is not None else None)
    cfg = RunConfig(
        landscape=landscape, landscape_params=params,
        start=parse_point(start, "--start") if start is not None else None,
        steps=steps, methods=methods, settings=settings, tol=tol, animate=animate,
    ).validate()
    launch(cfg, out, force, "run", execute, scheduler)


def config_from_options(options: dict):
    """A validated RunConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.run import RunConfig

    return RunConfig.from_options(options)


def execute(cfg, folder) -> None:
    """Run `cfg`, write its folder, print the summary (shared with `moxco rerun`)."""
    from moxco_cli.backends import config_entry
    from moxco_cli.experiments.run import run_experiment
    from moxco_cli.report import config_document

    total = cfg.steps * len(cfg.methods)
    with progress_bar(f"run {cfg.landscape}", total) as advance:
        result = run_experiment(cfg, progress=advance)
    for message in result.warnings:
        warn(message)
    with folder as out:
        write_outputs(result, out)
        out.write_json("config.json", config_document("run", cfg.to_options(), {
            "landscape": result.landscape.describe(), "start_used": result.start.tolist(),
            "tol_used": result.tol, **config_entry(cfg.settings.backend)}))
    show_summary(result, folder.path)


def write_outputs(result, out) -> None:
    from moxco_cli.backends import caption
    from moxco_cli.settings import build_method

    land, cfg = result.landscape, result.config
    out.write_csv("trajectories.csv", result.steps_table)
    out.write_csv("summary.csv", result.summary)
    methods = {name: build_method(name, cfg.settings) for name in cfg.methods}
    lrs = {name: m.lr for name, m in methods.items()}
    where = ", ".join(f"{v:g}" for v in result.start)
    # the lr every method ran with; where they differ, each label says its own
    lr = (f"lr={next(iter(lrs.values())):g}" if len(set(lrs.values())) == 1
          else "lr per method")
    title = f"{land.label}: from ({where}), {cfg.steps} steps, {lr}{caption(cfg.settings.backend)}"
    paths = result.trajectories
    out.write_figure("trajectory.png", "moxco_cli.plots.run:trajectory_figure", land, paths, title)
    out.write_figure("loss.png", "moxco_cli.plots.run:loss_figure", land, paths, title)
    inv_eta = {name: m.inv_eta_eff for name, m in methods.items()  # the MoXCo ones
               if m.rule.mode != "none" or m.rule.alpha or m.rule.beta}
    out.write_figure("goodness.png", "moxco_cli.plots.run:goodness_figure", paths, inv_eta,
                     cfg.settings.threshold, lrs, title)
    if hasattr(land, "predict"):  # a network: its fitted function and test error too
        bounds = {name: (m.inv_eta_eff if name in inv_eta else 2.0 / m.lr)
                  for name, m in methods.items()}
        out.write_figure("fit.png", "moxco_cli.plots.generalize:fit_figure", land, paths, title)
        out.write_figure("curves.png", "moxco_cli.plots.generalize:curves_figure", land, paths,
                         bounds, cfg.settings.threshold, title)
    if cfg.animate:
        from moxco_cli.plots.animate import animation_bytes

        out.write_rendered("trajectory.gif", animation_bytes, land, result.trajectories, title)


def show_summary(result, path) -> None:
    frame = result.summary.copy()
    d = result.landscape.dim
    frame["final"] = [
        "(" + ", ".join(f"{row[f'final_x{j}']:.4g}" for j in range(d)) + ")"
        for _, row in frame.iterrows()]
    frame["commit_step"] = frame["commit_step"].map(lambda v: "-" if v < 0 else str(v))
    frame["diverged_step"] = frame["diverged_step"].map(lambda v: "-" if v < 0 else str(v))
    metrics = list(result.landscape.METRICS)  # a network's test error, final sharpness
    columns = ["optimizer", "final", "final_loss", "distance_to_nearest", "outcome"]
    if metrics:  # no named minima to be near; a d = 3H + 1 point says little
        columns = ["optimizer", "final_loss", *[m for m in metrics if m != "train_loss"],
                   *(["outcome"] if result.landscape.minima else [])]
    print_table(frame, f"moxco run {result.landscape.label}: {result.config.steps} steps",
                [*columns, "commit_step", "diverged_step"])
    print(f"Results: {path}")


def register(app: typer.Typer) -> None:
    app.command("run", epilog=EPILOG)(optimizer_options(run))
