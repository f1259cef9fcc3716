"""`moxco sweep LANDSCAPE`: a metric over a grid of hyperparameters, with resume and Dask.

Folders. A sweep builds its results in a visible sibling folder `<out>.incomplete/` holding
`config.json`, an `INCOMPLETE` note and `cells/` (one small JSON file per finished cell,
written atomically). That folder survives an interrupt, a crash or a kill, and
`moxco sweep --resume <out>.incomplete` continues it without recomputing finished cells. Only
when every cell is done are `sweep.csv`, `config.json` and the heatmap published into `<out>`
at once (the same atomic `ResultsFolder` as every command), and the `.incomplete` folder is
removed. So a folder named `<out>` is always complete, and an incomplete one always carries
both the suffix and the INCOMPLETE note.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from moxco_cli.commands.common import print_table, progress_bar, results_folder, start_renderer
from moxco_cli.errors import STORAGE_ERRNOS, Fault, Interrupted, MoxcoError, storage_fault
from moxco_cli.options import (
    LANDSCAPE_PANEL,
    ExprOption,
    MinimaOption,
    landscape_spec,
    optimizer_options,
    parse_box,
)
from moxco_cli.settings import ALL_METHOD_NAMES, SettingsError

SUFFIX = ".incomplete"
MARKER = "INCOMPLETE"
EPILOG = (
    "Examples:\n\n"
    "  moxco sweep beale --optimizer adam+moxco --grid alpha=0:0.99:12 --grid beta=0:0.95:12\n\n"
    "  moxco sweep beale --optimizer gd+moxco --grid alpha=0:0.9:4 --grid lr=1e-3,5e-3 "
    "--starts random:1000 --metric final-loss\n\n"
    "  moxco sweep two-wells --optimizer gd+moxco --grid alpha=0:0.99:12 --grid beta=0:0.95:12 "
    "--starts random:1000 --steps 1000 --metric escape\n\n"
    "  moxco sweep --resume results/runs/sweep-beale-20261128-101500.incomplete\n\n"
    "  moxco sweep beale --grid alpha=0:0.99:12 --grid beta=0:0.95:12 --scheduler local-cluster:2"
)
# Options that only say how to run, not what: allowed together with --resume.
HOW_ONLY = {"resume", "scheduler", "workers", "force", "ctx"}


def sweep(
    ctx: typer.Context,
    landscape: Annotated[str | None, typer.Argument(help="Landscape spec NAME[:key=value,...]: beale, two-wells, two-wells:s=0.03, ... (omit with --resume).")] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help=f"The method swept, a spec NAME[:key=value,...] (keys as in moxco run --help), e.g. adam+moxco, rmsprop+moxco:rho=0.8, nesterov. NAME: {', '.join(ALL_METHOD_NAMES)}.")] = "adam+moxco",
    method: Annotated[str | None, typer.Option("--method", help="Same as --optimizer (give one of the two).")] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help="NAME=LO:HI:COUNT (inclusive linspace) or NAME=V1,V2,...; repeat per axis. NAME: any numeric key of the method: alpha, beta (exploration momenta of +moxco; a baseline's momentum), lr, threshold, tau, restart_alpha, restart_beta (alpha_restart, beta_restart: the same keys), and e.g. b1, rho, eps, prox_weight. A swept axis overrides its fixed option. Cells that differ only in lr, momenta, threshold, tau or restart values run as one batched engine call (one call each with gradient noise, a curvature estimator or minibatches).")] = None,
    starts: Annotated[str, typer.Option("--starts", help="grid:N (N points per coordinate over the domain: N in 1-D, N x N in 2-D, N^d in d-D, at most 10^6 starts) or random:N (uniform, from --seed).")] = "grid:21",
    steps: Annotated[int, typer.Option("--steps", help="Optimizer steps from every start, >= 1.")] = 800,
    metric: Annotated[str, typer.Option("--metric", help="success (end within --tol of the global minimum) | escape (from a non-global basin to the global minimum) | final-loss (median, IQR).")] = "success",
    tol: Annotated[float | None, typer.Option("--tol", help="Distance to a minimum that counts as reaching it. Default: 1e-2 (2-D), 0.05 (1-D).")] = None,
    heatmap: Annotated[str | None, typer.Option("--heatmap", help="X,Y: the two swept axes of the heatmap (others become facets). Default: alpha,beta if swept, else the first two.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Run cells on Dask: tcp://HOST:PORT, or local-cluster:K to start K local workers. Needs pip install 'moxco\\[distributed]'.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Local processes running cells (without --scheduler). Default: min(2, cores).", min=1, max=64)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/sweep-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder (and an unfinished <out>.incomplete) if it exists.")] = False,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the interrupted sweep in DIR (an <out>.incomplete folder) with its own options.")] = None,
    expr: ExprOption = None,
    domain: Annotated[str | None, typer.Option("--domain", help="With --expr: the formula's domain LO0,HI0[,LO1,HI1] (where starts are placed).", rich_help_panel=LANDSCAPE_PANEL)] = None,
    minima: MinimaOption = None,
    *,
    settings,
) -> None:
    """Run an optimizer over a grid of hyperparameters; metric, CI and heatmaps per cell."""
    start_renderer("moxco_cli.plots.sweep")
    from moxco_cli.experiments.sweep import parse_grid, parse_scheduler

    if scheduler is not None:
        parse_scheduler(scheduler)
    if resume is not None:
        given = [name for name in ctx.params if name not in HOW_ONLY
                 and ctx.get_parameter_source(name).name in ("COMMANDLINE", "ENVIRONMENT")]
        if given:
            flag = "LANDSCAPE" if given[0] == "landscape" else "--" + given[0].replace("_", "-")
            raise MoxcoError(f"--resume: the sweep's options come from its config.json; "
                             f"drop {flag}")
        cfg, folder = resume_target(resume, force)
        execute(cfg, folder, scheduler=scheduler, workers=workers, resume=True)
        return
    if landscape is None and expr is None:
        raise MoxcoError("LANDSCAPE: missing; name a landscape (e.g. beale) or pass --resume DIR")
    if domain is not None and expr is None:
        raise MoxcoError("--domain: only applies together with --expr")
    landscape, params = landscape_spec(
        landscape, expr, minima, parse_box(domain, "--domain") if domain is not None else None)
    if method is not None:
        if ctx.get_parameter_source("optimizer").name == "COMMANDLINE":
            raise MoxcoError("--method: give --method or --optimizer, not both")
        optimizer = method
    axes = tuple(parse_grid(g) for g in grid or [])
    try:
        cfg = _config(landscape, params, optimizer, axes, starts, steps, metric, tol, settings,
                      heatmap)
    except SettingsError as exc:  # name the flag the method came from
        if method is None or exc.option != "--optimizer":
            raise
        raise SettingsError("--method", str(exc).removeprefix("--optimizer: ")) from None
    from moxco_cli import memory

    memory.check("sweep", cfg)
    folder = results_folder(out, force, "sweep", landscape)
    execute(cfg, folder, scheduler=scheduler, workers=workers)  # checks before computing


def _config(landscape, params, optimizer, axes, starts, steps, metric, tol, settings, heatmap):
    from moxco_cli.experiments.sweep import SweepConfig, axis_key

    return SweepConfig(
        landscape=landscape, landscape_params=params, optimizer=optimizer, grid=axes,
        starts=starts, steps=steps, metric=metric, tol=tol, settings=settings,
        plot_axes=(tuple(axis_key(a) for a in heatmap.split(","))
                   if heatmap is not None else None),
    ).validate()


def work_path(target: Path) -> Path:
    """The in-progress folder of a sweep publishing to `target`."""
    return target.with_name(target.name + SUFFIX)


def resume_target(resume: Path, force: bool):
    """`(cfg, ResultsFolder)` for `--resume DIR` (DIR = `<out>.incomplete` or `<out>`)."""
    import json

    from moxco_cli.report import ResultsFolder, read_json_text

    work = resume
    if not work.name.endswith(SUFFIX) and work_path(work).exists():
        work = work_path(work)
    if not os.path.lexists(work):
        raise MoxcoError(f"--resume: {work} does not exist")
    target = work.with_name(work.name.removesuffix(SUFFIX))
    if not (work / MARKER).exists():
        if (work / "sweep.csv").exists():
            raise MoxcoError(f"--resume: {work} is a finished sweep; nothing to resume")
        if is_leftover(work):
            remove_work(work)
            raise MoxcoError(f"--resume: {work} held no unfinished sweep (no {MARKER} note: "
                             f"what a sweep leaves when stopped while removing it after "
                             f"publishing {target}); removed it, nothing to resume")
        raise MoxcoError(f"--resume: {work} is not an unfinished sweep (no {MARKER} file)")
    try:
        doc = json.loads(read_json_text(work / "config.json"))
        options = doc["options"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise MoxcoError(f"--resume: cannot read {work / 'config.json'} ({exc})") from None
    if doc.get("command") != "sweep":
        raise MoxcoError(f"--resume: {work} holds a {doc.get('command')!r} run, not a sweep")
    cfg = config_from_options(options)
    replace = bool(doc.get("replace_existing")) or force
    return cfg, ResultsFolder(target, force=replace, command="sweep")


def sweep_files(work: Path) -> list[str]:
    """What in the unfinished-sweep folder `work` a sweep did not write (empty: all of it is
    a sweep's: config.json, the INCOMPLETE note, cells/*.json and their temporary files)."""
    import re

    from moxco_cli.report import _read_json

    foreign = []
    doc = _read_json(work / "config.json")
    if not (isinstance(doc, dict) and doc.get("command") == "sweep"):
        foreign.append("config.json (not a sweep's)" if (work / "config.json").exists()
                       else "no sweep config.json")
    for entry in sorted(work.iterdir()):
        if entry.name in ("config.json", MARKER) and entry.is_file() and not entry.is_symlink():
            continue
        if entry.name == "cells" and entry.is_dir() and not entry.is_symlink():
            foreign += [f"cells/{c.name}" for c in sorted(entry.iterdir())
                        if not (c.is_file() and not c.is_symlink()
                                and re.fullmatch(r"\.?[\w.+=-]+\.json(\.tmp-\d+)?", c.name))]
            continue
        foreign.append(entry.name + ("/" if entry.is_dir() else ""))
    return foreign


def is_leftover(work: Path) -> bool:
    """`work` is a sweep's working folder that holds nothing to resume: no INCOMPLETE note
    (written last when a sweep starts, removed first when it is published: `remove_work`),
    and nothing in it a sweep did not write. A signal while the folder was being removed
    after publishing left such a folder (config.json alone); the next sweep then said "an
    unfinished sweep is in it; resume it" while `--resume` said "not an unfinished sweep".
    Now `--resume` and the next sweep both remove it."""
    return (work.name.endswith(SUFFIX) and work.is_dir() and not work.is_symlink()
            and not os.path.lexists(work / MARKER) and not sweep_files(work))


def refuse_to_restart(work: Path, force: bool) -> None:
    """Raise MoxcoError unless the unfinished sweep in `work` (if any) may be deleted to start
    over: only with `force`, and only if everything in it is a sweep's. A leftover with
    nothing to resume (`is_leftover`) is deleted without `force`."""
    if not os.path.lexists(work) or is_leftover(work):
        return
    if not force and os.path.lexists(work / MARKER):
        raise MoxcoError(f"--out: an unfinished sweep is in {work}; resume it with "
                         f"--resume {work}, or pass --force to start over")
    if work.is_symlink() or not work.is_dir():
        raise MoxcoError(f"--out: {work} is in the way of the sweep's working folder and is "
                         "not one; move it or choose another --out")
    foreign = sweep_files(work)
    if foreign:  # (without `force`: a folder without the note, so resuming it is refused too)
        raise MoxcoError(f"--out: {work} is not an unfinished sweep as moxco wrote it: it "
                         f"holds {', '.join(foreign[:5])}; it is never deleted, move it or "
                         "choose another --out")


def remove_work(work: Path) -> None:
    """Delete the finished sweep's working folder: only what the sweep wrote; anything else
    (a user's file put there) stays, with a warning. The INCOMPLETE note goes first, so that
    whatever a signal or a crash leaves of the folder is no unfinished sweep, for `--resume`
    and for the next sweep alike (`is_leftover`)."""
    foreign = sweep_files(work) if work.is_dir() else []
    try:
        (work / MARKER).unlink(missing_ok=True)
    except OSError:  # (not a file: then sweep_files named it, and the folder is kept)
        pass
    if not foreign:
        shutil.rmtree(work, ignore_errors=True)
        return
    from moxco_cli.commands.common import warn

    warn(f"kept {work}: it holds {', '.join(foreign[:5])}, which the sweep did not write")


def config_from_options(options: dict):
    """A validated SweepConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.sweep import SweepConfig

    return SweepConfig.from_options(options)


def execute(cfg, folder, *, scheduler: str | None = None, workers: int | None = None,
            resume: bool = False) -> None:
    """Run `cfg` (resuming its `.incomplete` folder if `resume`), publish `folder`, print the
    best cells (shared with `moxco rerun`)."""
    from moxco_cli.experiments.sweep import (
        CellError,
        CellStore,
        make_executor,
        run_sweep,
        tasks_for,
    )
    from moxco_cli.report import atomic_write_bytes, config_document, json_bytes

    work = work_path(folder.path)
    folder.check()  # every check here, before anything is computed or deleted
    if not resume:
        refuse_to_restart(work, folder.force)
    folder.recover()
    executor = make_executor(scheduler, workers)  # a bad scheduler fails before any write
    total = len(tasks_for(cfg))
    aborted = True  # until the cells are done: close() kills the pool's workers
    try:
        if not resume:
            if os.path.lexists(work):  # --force, and all of it is a sweep's: start over
                shutil.rmtree(work)
            try:
                work.mkdir(parents=folder.make_parents)
            except OSError as exc:
                raise MoxcoError(f"--out: cannot write {work} ({exc.strerror or exc})") from None
            try:  # the note last, and atomically: a folder with it is a resumable sweep
                atomic_write_bytes(work / "config.json", json_bytes(config_document(
                    "sweep", cfg.to_options(), {"replace_existing": folder.force})))
                atomic_write_bytes(work / MARKER, (
                    f"This sweep is not finished: {total} cells and plain-optimizer baselines, "
                    "the finished ones in cells/.\n"
                    f"Continue it with:  moxco sweep --resume {work}\n"
                    f"When done, results are published in {folder.path} and this folder is "
                    "removed.\n").encode())
            except BaseException:  # a full disk, a signal: no half-made sweep folder stays
                shutil.rmtree(work, ignore_errors=True)
                raise
        store = CellStore(work / "cells")
        with progress_bar(f"sweep {cfg.landscape} {cfg.optimizer} ({executor.description})",
                          total) as advance:
            result = run_sweep(cfg, store=store, executor=executor, progress=advance)
        aborted = False
    except BaseException as exc:
        if isinstance(exc, CellError):
            raise  # a saved cell that does not fit, found before any cell ran: one line,
            # not followed by "cells are saved, continue with --resume" (that would fail again)
        saved = _saved_message(work, total)
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(saved or "Interrupted: nothing was saved.") from None
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:  # a full disk...
            raise Fault(f"{storage_fault(exc, work)}{'; ' + saved if saved else ''}") from None
        if callable(getattr(exc, "summary", None)):  # a worker died (workers.WorkerFailed)
            raise Fault(f"{exc.summary()}{'; ' + saved if saved else ''}") from None
        if saved:
            print(saved, file=sys.stderr)
        raise
    finally:
        executor.close(abort=aborted)
    try:
        with folder as out:
            write_outputs(result, out)
            out.write_json("config.json", config_document("sweep", cfg.to_options(), {
                "landscape": result.landscape.describe(), "tol_used": result.tol,
                "starts_used": len(result.starts),
                "theorem2_curvatures": _curvatures(result.landscape),
                "confidence": "95% Wilson score intervals (scipy.stats.binomtest); "
                              "final-loss: median and interquartile range",
                "execution": executor.description}))
    except KeyboardInterrupt:  # every cell is still saved: say how to publish them
        if published(folder.path):  # the signal came just after the rename: the cells
            remove_work(work)  # are no longer needed (and resuming them would be refused,
            raise  # the folder exists); the CLI says the results are complete
        raise Interrupted(_saved_message(work, total) or "Interrupted.") from None
    except Fault as exc:  # a full disk while publishing: the cells are still saved
        saved = _saved_message(work, total)
        raise Fault(f"{exc}{'; ' + saved if saved else ''}") from None
    remove_work(work)
    show_summary(result, folder.path)


def published(target: Path) -> bool:
    """Whether this command published `target`: `report.PUBLISHED` records each folder as it
    is renamed into place, with the stopping signals held, so a signal after the rename is
    told apart from one during a replacement (whose cells must be kept for --resume)."""
    from moxco_cli.report import PUBLISHED

    return target in PUBLISHED


def _saved_message(work: Path, total: int) -> str | None:
    """What an interrupted or failed sweep kept in its `.incomplete` folder, if anything."""
    if not (work.exists() and (work / MARKER).exists()):
        return None
    done = len(list((work / "cells").glob("*.json"))) if (work / "cells").exists() else 0
    return (f"Stopped: {done} of {total} cells (grid cells and plain-optimizer baselines) "
            f"are saved in {work}; continue with moxco sweep --resume {work}")


def _curvatures(land):
    from moxco_cli.experiments.sweep import theorem2_curvatures

    return theorem2_curvatures(land)


def write_outputs(result, out) -> None:
    cfg = result.config
    out.write_csv("sweep.csv", result.frame)
    s = cfg.settings
    title = (f"moxco sweep {result.landscape.label}: {cfg.optimizer}, {len(result.starts)} starts "
             f"({cfg.starts}), {cfg.steps} steps, seed {s.seed}")
    out.write_figure(f"sweep-{cfg.metric}.png", "moxco_cli.plots.sweep:sweep_figure",
                     result.frame, cfg.heatmap_axes, boundaries=_curvatures(result.landscape),
                     title=title, tol=result.tol)


def show_summary(result, path) -> None:
    """The five best cells, the plain baseline, and how many cells beat it."""
    frame = result.frame
    cfg = result.config
    ascending = cfg.metric == "final-loss"
    best = frame.sort_values("value", ascending=ascending, kind="stable").head(5).copy()
    best["interval"] = [f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(best["ci_low"], best["ci_high"],
                                                                    strict=True)]
    best["baseline"] = [f"{v:.4g}" for v in best["baseline_value"]]
    # no committed run (a method without a commit rule, or none reached it): "-", as in run
    best["median_commit_step"] = ["-" if not math.isfinite(v) else f"{v:g}"
                                  for v in best["median_commit_step"].astype(float)]
    columns = [*cfg.axis_names, "value", "interval", "baseline", "vs_baseline",
               "diverged_fraction", "median_commit_step"]
    print_table(best, f"moxco sweep {result.landscape.label} {cfg.optimizer}: {cfg.metric}, "
                f"the {len(best)} best of {len(frame)} cells", columns)
    tally = frame["vs_baseline"].value_counts()
    print(f"vs plain {frame['baseline'].iloc[0]}: {tally.get('better', 0)} cells better, "
          f"{tally.get('same', 0)} not distinguishable, {tally.get('worse', 0)} worse "
          + ("(median outside the plain optimizer's IQR)" if cfg.metric == "final-loss"
             else "(95% intervals apart)"))
    print(f"Results: {path}")


def register(app: typer.Typer) -> None:
    app.command("sweep", epilog=EPILOG)(optimizer_options(sweep, methods=False))
