"""`moxco compare LANDSCAPE...`: MoXCo against tuned baselines, with the protocol stated."""

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
from moxco_cli.options import optimizer_options, parse_landscape
from moxco_cli.settings import SettingsError
from moxco_cli.stats import p_equals

EPILOG = (
    "Examples:\n\n"
    "  moxco compare beale --methods gd,adam,gd+moxco,adam+moxco,nesterov\n\n"
    "  moxco compare beale two-wells rastrigin --methods adam,adam+moxco --eval-starts 4096\n\n"
    "  moxco compare beale --methods gd+moxco,nesterov --tune lr,alpha --trials 32\n\n"
    "A tuned key (--tune) may not be set in a method spec; --lr and the other shorthand "
    "options set the keys that are not tuned.\n\n"
    "  moxco compare beale --methods adam,adam+moxco --scheduler local-cluster:2\n\n"
    "Protocol: every method gets the same number of tuning trials on tuning starts "
    "(default_rng(\\[seed, 1])), the best trial (median final f - f*, diverged = inf; ties to "
    "the smaller lr) is evaluated on separate evaluation starts (default_rng(\\[seed, 0])), "
    "every method on the same starts and step budget. See docs/method.md, 'Fair comparison'."
)


def compare(
    landscapes: Annotated[list[str] | None, typer.Argument(help="Landscape specs NAME[:key=value,...] (several: a performance profile too). Default: beale.")] = None,
    tune: Annotated[str, typer.Option("--tune", help="Comma-separated keys tuned for every method that has them: lr (default; log grid 1e-4..1), or more (e.g. lr,alpha,beta: scrambled Sobol trials over a fixed box).")] = "lr",
    trials: Annotated[int, typer.Option("--trials", help="Tuning trials per method (the same for every method). Default 13: lr = 10^(k/3), k = -12..0.")] = 13,
    tuning_starts: Annotated[int, typer.Option("--tuning-starts", help="Starts every trial is scored on (default_rng(\\[seed, 1])).")] = 256,
    eval_starts: Annotated[int, typer.Option("--eval-starts", help="Starts the chosen settings are evaluated on (default_rng(\\[seed, 0])), the same for every method.")] = 1024,
    steps: Annotated[int | None, typer.Option("--steps", help="Step budget of every run. Default: the landscape's usual budget (beale 800, two-wells 1000, else 1000).")] = None,
    target: Annotated[float, typer.Option("--target", help="The headline target f - f* <= TARGET (summary, McNemar test, profile), taken as the nearest of the 51 targets 10^2 .. 10^-8 (log scale), which are all reported.")] = 1e-4,
    export: Annotated[bool, typer.Option("--export/--no-export", help="Also write the IOHprofiler format under ioh/ (IOHanalyzer: upload the folder as a zip; iohinspector: DataManager().add_folder).")] = True,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/compare-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
    *,
    methods,
    settings,
) -> None:
    """Tune every method with the same budget on separate starts, then compare them fairly."""
    start_renderer("moxco_cli.plots.compare")
    from moxco_cli.experiments.compare import CompareConfig

    specs = tuple(parse_landscape(text) for text in (landscapes or ["beale"]))
    keys = tuple(k.strip() for k in tune.split(",") if k.strip())
    if not keys:
        raise SettingsError("--tune", "name at least one key to tune, e.g. lr")
    cfg = CompareConfig(landscapes=specs, methods=methods, tune=keys, trials=trials,
                        tuning_starts=tuning_starts, eval_starts=eval_starts, steps=steps,
                        target=target, settings=settings, export=export).validate()
    launch(cfg, out, force, "compare", execute, scheduler)


def config_from_options(options: dict):
    """A validated CompareConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.compare import CompareConfig

    return CompareConfig.from_options(options)


def execute(cfg, folder) -> None:
    """Run `cfg`, write its folder, print the verdict table (shared with `moxco rerun`)."""
    import sys

    from moxco_cli.experiments.compare import ioh_files, protocol_text, run_compare
    from moxco_cli.report import config_document

    work = cfg.work()
    seconds = work / 1.5e7  # about the engine's rate here: said up front when it is long
    if seconds > 60:
        print(f"moxco compare: {work:.3g} trajectory-steps, about {seconds / 60:.0f} minutes "
              "on 2 cores", file=sys.stderr)
    with progress_bar("compare: tuning and evaluation", work) as advance:
        result = run_compare(cfg, progress=advance)
    with folder as out:
        write_outputs(result, out)
        if cfg.export:
            for name, data in ioh_files(result).items():
                out.write_bytes(f"ioh/{name}", data)
        out.write_json("config.json", config_document("compare", cfg.to_options(), {
            "landscapes": [land.describe() for land in result.landscapes],
            "protocol": protocol_text(cfg)}))
    show_summary(result, folder.path)


def write_outputs(result, out) -> None:
    for name in ("tuning", "chosen", "headline", "success", "ert", "ecdf", "fixed_budget",
                 "mcnemar", "cost"):
        out.write_csv(f"{name}.csv", getattr(result, name))
    for name, (build, args) in result.figure_args().items():
        out.write_figure(name, build, *args)
    if result.profile is not None:
        out.write_csv("profile.csv", result.profile)


def show_summary(result, path) -> None:
    frame = result.headline.copy()
    target = float(frame.target.iloc[0])
    chosen = [c for c in frame.columns if c.startswith("chosen_")]
    frame["tuned"] = [", ".join(f"{c.removeprefix('chosen_')}={row[c]:.3g}" for c in chosen
                                if row[c] == row[c]) + (" (edge)" if row.on_edge else "")
                      for _, row in frame.iterrows()]
    frame["success"] = [f"{r.successes}/{r.runs} ({r.rate:.3f})" for r in frame.itertuples()]
    frame["ERT [95% CI]"] = [f"{r.ert:.4g} [{r.ert_ci_low:.4g}, {r.ert_ci_high:.4g}]"
                             for r in frame.itertuples()]
    print_table(frame, f"moxco compare: f - f* <= {target:g} after tuning on separate starts",
                ["landscape", "method", "tuned", "success", "ERT [95% CI]", "median_final_gap"])
    for row in result.mcnemar.itertuples():
        print(f"{row.landscape}: {row.method} vs {row.against} at f - f* <= {row.target:g}: "
              f"{row.only_method} starts only {row.method} reached, {row.only_against} only "
              f"{row.against}; exact McNemar {p_equals(row.p_value)}")
    print(f"Results: {path}")


def register(app: typer.Typer) -> None:
    app.command("compare", epilog=EPILOG)(optimizer_options(compare))
