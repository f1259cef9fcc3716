"""`moxco escape-count`: the paper's Figure 2 (where N random starts end) as a command."""

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
    parse_landscape,
)
from moxco_cli.settings import SettingsError

EPILOG = (
    "Examples:\n\n"
    "  moxco escape-count                          # Figure 2: 50 starts on two-wells, seed 0\n\n"
    "  moxco escape-count --inits 10000 --sharp-width 0.03 --out results/runs/ec --force\n\n"
    "  moxco escape-count --landscape beale --inits 2000 --steps 800"
)


def escape_count(
    inits: Annotated[int, typer.Option("--inits", help="Number of random starts N, >= 1.")] = 50,
    steps: Annotated[int, typer.Option("--steps", help="Optimizer steps from every start, >= 1.")] = 1000,
    landscape: Annotated[str | None, typer.Option("--landscape", help="Any landscape with named minima, as a spec NAME[:key=value,...]: two-wells, two-wells:s=0.03, beale, quadratic:a=1;50, ... Default: two-wells (not with --expr).")] = None,
    sharp_width: Annotated[float | None, typer.Option("--sharp-width", help="Width s of the two-wells sharp well, in [1e-12, 1]. Default: 0.055.")] = None,
    domain: Annotated[str | None, typer.Option("--domain", help="LO,HI: starts are uniform on [LO, HI] in every coordinate. Default: the landscape's domain (two-wells: -4,4).")] = None,
    tol: Annotated[float | None, typer.Option("--tol", help="Distance to a named minimum that counts as ending in it. Default: 0.05 (1-D), 1e-2 (2-D).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/escape-count-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
    expr: ExprOption = None,
    minima: MinimaOption = None,
    *,
    methods,
    settings,
) -> None:
    """Run every optimizer from N uniform random starts; count where each ends (Wilson 95% CIs)."""
    start_renderer("moxco_cli.plots.escape")
    from moxco_cli.experiments.escape_count import EscapeConfig

    box = parse_box(domain, "--domain", 2) if domain is not None else None
    if expr is not None and sharp_width is not None:
        raise SettingsError("--sharp-width", "applies to two-wells, not to --expr")
    if expr is not None:  # the formula's domain is [LO, HI] per coordinate, as for the starts
        from landscapes.expression import ExpressionError, formula_dim

        try:
            dim = formula_dim(expr)
        except ExpressionError as exc:
            raise SettingsError("--expr", str(exc)) from None
        landscape, params = landscape_spec(landscape, expr, minima,
                                           None if box is None else list(box) * dim,
                                           option="--landscape")
    else:
        landscape, params = parse_landscape("two-wells" if landscape is None else landscape,
                                             "--landscape")
        if sharp_width is not None:  # an alias of the landscape spec's two-wells:s=...
            if landscape != "two-wells":
                raise SettingsError("--sharp-width", "only applies to --landscape two-wells")
            if "s" in params:
                raise SettingsError("--sharp-width", "s is already set by --landscape")
            params = {**params, "s": _sharp_width(sharp_width)}
    cfg = EscapeConfig(
        landscape=landscape,
        landscape_params=params,
        inits=inits, steps=steps,
        domain=box,
        methods=methods, settings=settings, tol=tol,
    ).validate()
    launch(cfg, out, force, "escape-count", execute, scheduler)


def _sharp_width(value):
    from landscapes.two_wells import TwoWells
    from moxco_cli.params import SpecError

    try:
        return TwoWells.PARAMS[0].check(value)
    except SpecError as exc:
        raise SettingsError("--sharp-width", exc.reason) from None


def config_from_options(options: dict):
    """A validated EscapeConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.escape_count import EscapeConfig

    return EscapeConfig.from_options(options)


def execute(cfg, folder) -> None:
    """Run `cfg`, write its folder, print the counts (shared with `moxco rerun`)."""
    from moxco_cli.backends import config_entry
    from moxco_cli.experiments.escape_count import (
        flow_description,
        label_starts,
        methods_total,
        run_escape_count,
    )
    from moxco_cli.report import config_document

    # two stages, each with its own rate (`label_starts`)
    what = f"escape-count {cfg.landscape}, N={cfg.inits}"
    with progress_bar(f"{what}, start basins", cfg.inits) as advance:
        labelled = label_starts(cfg, progress=advance)
    with progress_bar(f"{what}, optimizers", methods_total(cfg)) as advance:
        result = run_escape_count(cfg, progress=advance, labelled=labelled)
    with folder as out:
        write_outputs(result, out)
        out.write_json("config.json", config_document("escape-count", cfg.to_options(), {
            "landscape": result.landscape.describe(), "domain_used": result.box.tolist(),
            "tol_used": result.tol,
            "start_basin": {**flow_description(), "steps_taken": result.flow_steps},
            "confidence": "95% Wilson score intervals (scipy.stats.binomtest)",
            **config_entry(cfg.settings.backend)}))
    show_counts(result, folder.path)


def write_outputs(result, out) -> None:
    from moxco_cli.backends import caption

    out.write_csv("outcomes.csv", result.outcomes)
    out.write_csv("counts.csv", result.counts)
    out.write_csv("escape.csv", result.escape)
    cfg = result.config
    title = (f"Escape count on {result.landscape.label}: N = {cfg.inits} starts, {cfg.steps} "
             f"steps, seed {cfg.settings.seed}, lr {cfg.settings.lr:g}"
             f"{caption(cfg.settings.backend)}")
    out.write_figure("escape_count.png", "moxco_cli.plots.escape:escape_count_figure",
                     *result.figure_args(title))


def _p(v: float) -> str:
    """A proportion to 3 decimals, with enough digits not to show a bound as 0 or 1."""
    if 0 < v < 1e-3:
        return f"{v:.1e}"
    return f"{v:.6f}".rstrip("0") if 1 - 1e-3 < v < 1 else f"{v:.3f}"


def show_counts(result, path) -> None:
    """Rows: end bins, then escape rates; columns: optimizers. Cells: count (fraction)
    and the 95% Wilson interval."""
    import pandas as pd

    counts, escape = result.counts, result.escape
    methods = list(dict.fromkeys(counts["optimizer"]))
    rows = []
    for b in dict.fromkeys(counts["bin"]):
        row = {"ended in": b}
        for _, c in counts[counts["bin"] == b].iterrows():
            row[c["optimizer"]] = (f"{c['count']} ({_p(c['fraction'])})\n"
                                   f"[{_p(c['ci_low'])}, {_p(c['ci_high'])}]")
        rows.append(row)
    for b in dict.fromkeys(escape["from_basin"]):
        row = {}
        for _, e in escape[escape["from_basin"] == b].iterrows():
            row["ended in"] = f"escaped\n{b}\u2192{e['to_minimum']}"
            row[e["optimizer"]] = ("no start in basin" if e["starts"] == 0 else
                                   f"{e['escaped']}/{e['starts']} ({_p(e['rate'])})\n"
                                   f"[{_p(e['ci_low'])}, {_p(e['ci_high'])}]")
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["ended in", *methods]).astype(object)
    cfg = result.config
    print_table(frame, f"moxco escape-count {result.landscape.label}: N = {cfg.inits} starts, "
                f"{cfg.steps} steps, seed {cfg.settings.seed}", list(frame.columns))
    print("Cells: count (fraction) and [95% Wilson interval]." + (
        " escaped A\u2192B: of the starts in A's basin (where gradient flow takes them), how "
        "many ended in B." if any(str(r["ended in"]).startswith("escaped") for r in rows)
        else ""))
    print(f"Results: {path}")


def register(app: typer.Typer) -> None:
    app.command("escape-count", epilog=EPILOG)(optimizer_options(escape_count))
