"""`moxco generalize LANDSCAPE`: flatter minima, lower test error? Paired, with intervals."""

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
from moxco_cli.options import optimizer_options, parse_floats, parse_landscape
from moxco_cli.stats import p_equals

EPILOG = (
    "Examples:\n\n"
    "  moxco generalize two-layer-net --inits 1000\n\n"
    "  moxco generalize two-layer-net:hidden=16,activation=tanh --lrs 0.02,0.1\n\n"
    "  moxco generalize two-layer-net --methods \"gd:batch=5,gd+moxco:batch=5\"   "
    "# minibatch gradients\n\n"
    "  moxco generalize two-layer-net --thresholds 0.5,0.9,0.99,0.999,0.9999 --tau 1\n\n"
    "  moxco generalize factorization --lrs 0.05,0.2,0.5          # which minimum is selected\n\n"
    "  moxco generalize factorization:depth=3 --inits 4000\n\n"
    "Protocol: the same initializations (the landscape's start distribution from "
    "default_rng(seed); for two-layer-net the network initialization) for every method, lr "
    "and threshold; every method runs at every rate of --lrs (a spec's own lr=... replaces "
    "them) and each +moxco method also at every threshold of --thresholds at --sweep-lr; all "
    "rows of a method run as one batched engine call. Medians with 95% bootstrap intervals "
    "(default_rng(\\[seed, 3])), paired differences X+moxco - X with the exact sign test, "
    "Spearman's rank correlation of test error with final lam_max per lr. See "
    "docs/method.md, 'Networks and factorization'."
)


def generalize(
    landscape: Annotated[str, typer.Argument(help="Landscape spec with per-run metrics: two-layer-net[:hidden=..,activation=relu|tanh|softplus,noise=..,train=..,test=..,target=tent|sine,data_seed=..] or factorization[:depth=..].")] = "two-layer-net",
    inits: Annotated[int, typer.Option("--inits", help="Initializations, the same for every method, lr and threshold.")] = 500,
    steps: Annotated[int, typer.Option("--steps", help="Steps of every run.")] = 500,
    lrs: Annotated[str, typer.Option("--lrs", help="Comma-separated learning rates every method runs at (unless its spec sets lr).")] = "0.01,0.05,0.2",
    thresholds: Annotated[str, typer.Option("--thresholds", help="Comma-separated commit thresholds of the sweep (each +moxco method, at --sweep-lr).")] = "0.85,0.95,0.99,0.999",
    sweep_lr: Annotated[float | None, typer.Option("--sweep-lr", help="The lr of the threshold sweep and of factorization's outcome map; one of --lrs. Default: the middle one.")] = None,
    grid: Annotated[int, typer.Option("--grid", help="factorization at depth 2: starts per axis of the outcome map of final sharpness.")] = 41,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/generalize-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
    *,
    methods,
    settings,
) -> None:
    """Distributions of test error, train loss and final sharpness over paired initializations."""
    start_renderer("moxco_cli.plots.generalize")
    from moxco_cli.experiments.generalize import GeneralizeConfig

    name, params = parse_landscape(landscape)
    cfg = GeneralizeConfig(
        landscape=name, landscape_params=params, methods=methods, inits=inits, steps=steps,
        lrs=parse_floats(lrs, "--lrs"), thresholds=parse_floats(thresholds, "--thresholds"),
        sweep_lr=sweep_lr, grid=grid, settings=settings).validate()
    launch(cfg, out, force, "generalize", execute, scheduler)


def config_from_options(options: dict):
    """A validated GeneralizeConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.generalize import GeneralizeConfig

    return GeneralizeConfig.from_options(options)


def execute(cfg, folder) -> None:
    """Run `cfg`, write its folder, print the verdict tables (shared with `moxco rerun`)."""
    from moxco_cli.allocator import keep_freed_memory
    from moxco_cli.experiments.generalize import (
        progress_total,
        protocol_text,
        run_generalize,
        simulate_methods,
    )
    from moxco_cli.report import config_document

    keep_freed_memory()  # a network's evaluations free many MiB-sized arrays per step

    # two stages, each with its own rate: the runs, then their end points (metrics and the
    # exact Hessian's eigenvalues: for a wide network the longer stage)
    with progress_bar(f"generalize {cfg.landscape}, runs", progress_total(cfg)) as advance:
        simulated = simulate_methods(cfg, progress=advance)
    with progress_bar(f"generalize {cfg.landscape}, end points (metrics, exact Hessian)",
                      simulated.end_points()) as advance:
        result = run_generalize(cfg, measured=advance, simulated=simulated)
    with folder as out:
        write_outputs(result, out)
        out.write_json("config.json", config_document("generalize", cfg.to_options(), {
            "landscape": result.landscape.describe(), "protocol": protocol_text(cfg),
            "sweep_lr_used": cfg.sweep_rate}))
    show_summary(result, folder.path)


def write_outputs(result, out) -> None:
    for name in ("runs", "distributions", "paired", "correlation", "thresholds"):
        # no pairs (X+moxco without X) or no threshold sweep: no table and no figure
        if name not in ("paired", "thresholds") or not getattr(result, name).empty:
            out.write_csv(f"{name}.csv", getattr(result, name))
    if result.outcome_map is not None:
        out.write_csv("outcome_map.csv", result.outcome_map)
    for name, (build, args) in result.figure_args().items():
        out.write_figure(name, build, *args)


def show_summary(result, path) -> None:
    from moxco_cli.experiments.generalize import negative_curvature_cell

    d = result.distributions
    primary = result.primary
    frame = d[d.metric == primary].copy()
    frame[f"median {primary} [95% CI]"] = [f"{r['median']:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}]"
                                           for _, r in frame.iterrows()]
    lam = d[d.metric == "final_lam_max"].set_index(["method", "lr"])
    frame["median final lam_max [95% CI]"] = [
        "{:.4g} [{:.4g}, {:.4g}]".format(*lam.loc[(r.method, r.lr), ["median", "ci_low",
                                                                      "ci_high"]])
        for _, r in frame.iterrows()]
    columns = ["method", "lr", f"median {primary} [95% CI]"]
    if primary != "final_lam_max":
        columns.append("median final lam_max [95% CI]")
    frame["committed"] = [f"{r.committed}/{r.runs}" for _, r in frame.iterrows()]
    # end points that are not minima (negative curvature): the flatness compared is not theirs
    frame["negative curvature"] = [negative_curvature_cell(r) for _, r in frame.iterrows()]
    frame["diverged"] = [f"{r.diverged}/{r.runs}" for _, r in frame.iterrows()]
    print_table(frame, f"moxco generalize {result.landscape.label}: {result.config.inits} paired "
                f"initializations, {result.config.steps} steps",
                [*columns, "committed", "negative curvature", "diverged"])
    paired = result.paired[result.paired.metric.isin([primary, "final_lam_max"])]
    for r in paired.itertuples():
        print(f"{r.method} - {r.against} at lr {r.lr:g}, {r.metric}: median paired difference "
              f"{r.median_difference:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}]; lower on "
              f"{r.method_lower}/{r.pairs}, higher on {r.method_higher}"
              f"{both_diverged_text(r)}; sign test {p_equals(r.sign_test_p)}")
    for r in result.correlation[result.correlation.lr.astype(str) != "all"].itertuples():
        print(f"{r.method} at lr {r.lr:g}: Spearman rho({primary}, final lam_max) = "
              f"{r.rho:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] over {r.runs} runs")
    print(f"Results: {path}")


def both_diverged_text(r) -> str:
    """`; both diverged on K (left out)` for a paired row with such pairs, else ``."""
    k = int(r.both_diverged)
    return f"; both diverged on {k} (left out)" if k else ""


def register(app: typer.Typer) -> None:
    app.command("generalize", epilog=EPILOG)(optimizer_options(generalize, omit=("lr",)))
