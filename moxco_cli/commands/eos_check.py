"""`moxco eos-check`: Theorem 2's divergence boundary, measured by simulation vs the formula."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from moxco_cli.commands.common import launch, print_table, progress_bar, start_renderer
from moxco_cli.options import parse_floats
from moxco_cli.settings import SettingsError

MAX_COUNT = 1000

EPILOG = (
    "For every (alpha, beta), bisection over the curvature a of f = a x^2/2 with engine runs of "
    "inertial GD finds where it starts to diverge; eos.csv compares that with "
    "2(1+alpha)/(lr(1+2 beta)).\n\n"
    "Examples:\n\n"
    "  moxco eos-check                                  # 6 alphas x 7 betas, lr 0.005\n\n"
    "  moxco eos-check --alphas 0:0.99:12 --betas 0:3:13 --tol 1e-5\n\n"
    "  moxco eos-check --lr 0.01 --alphas 0.9 --betas 0.9 --out results/runs/eos --force"
)


def parse_grid(text: str, option: str) -> tuple[float, ...]:
    """`"0,0.5,0.9"` (a list) or `"START:STOP:COUNT"` (COUNT evenly spaced values, both ends
    included) -> tuple of floats; one-line SettingsError naming `option` otherwise."""
    text = str(text).strip()
    if ":" not in text:
        return parse_floats(text, option)
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise SettingsError(option, f"expects a list A,B,... or START:STOP:COUNT, got "
                            f"{text!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or not 1 <= count <= MAX_COUNT:
        raise SettingsError(option, f"START:STOP:COUNT needs finite ends and COUNT in "
                            f"[1, {MAX_COUNT}], got {text!r}")
    if count == 1:
        return (start,)
    step = (stop - start) / (count - 1)
    return tuple(start + k * step if k < count - 1 else stop for k in range(count))


def eos_check(
    lr: Annotated[float, typer.Option("--lr", help="GD learning rate, in [1e-9, 1e3]. The boundary scales exactly as 1/lr; 0.005 is Figure 1's rate, so a_theory is the 1/eta_eff the goodness score uses.")] = 0.005,
    alphas: Annotated[str, typer.Option("--alphas", help="Step momenta alpha, each in [0, 1): a list A,B,... or START:STOP:COUNT.")] = "0,0.3,0.6,0.9,0.95,0.99",
    betas: Annotated[str, typer.Option("--betas", help="Gradient-query momenta beta, each in [0, 50]: a list or START:STOP:COUNT.")] = "0:3:7",
    steps: Annotated[int, typer.Option("--steps", help="Steps per simulated run, in [100, 20000]. A run counts as diverged if it leaves the 1e6 box or still grows over its last quarter.")] = 1000,
    tol: Annotated[float, typer.Option("--tol", help="Relative width of the final bisection bracket, in [1e-9, 0.1].")] = 1e-6,
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/eos-check-quadratic-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
) -> None:
    """Measure the divergence boundary of inertial GD on a quadratic; compare with Theorem 2."""
    start_renderer("moxco_cli.plots.eos")
    from moxco_cli.experiments.eos_check import EosConfig

    cfg = EosConfig(lr=lr, alphas=parse_grid(alphas, "--alphas"),
                    betas=parse_grid(betas, "--betas"), steps=steps, tol=tol).validate()
    launch(cfg, out, force, "eos-check", execute)


def config_from_options(options: dict):
    """A validated EosConfig from config.json's options (used by `moxco rerun`)."""
    from moxco_cli.experiments.eos_check import EosConfig

    return EosConfig.from_options(options)


def execute(cfg, folder) -> None:
    """Run `cfg`, write its folder, print the table (shared with a future `moxco rerun`)."""
    from moxco_cli.experiments.eos_check import eos_check as run_check
    from moxco_cli.report import config_document

    with progress_bar("eos-check", cfg.total_work()) as advance:
        result = run_check(cfg, progress=advance)
    with folder as out:
        out.write_csv("eos.csv", result.table)
        out.write_csv("eigenpairs.csv", result.eigenpairs)
        out.write_figure("eos.png", "moxco_cli.plots.eos:eos_figure", result.table, lr=cfg.lr,
                         steps=cfg.steps, tol=cfg.tol, max_rel_error=result.max_rel_error)
        out.write_json("config.json", config_document("eos-check", cfg.to_options(), {
            "landscape": "quadratic",
            "formula": "a_theory = 2 (1 + alpha) / (lr (1 + 2 beta))",
            "max_rel_error": result.max_rel_error,
            "worst": {k: (bool(v) if k in ("theory_in_bracket", "monotone") else
                          int(v) if k == "rounds" else float(v))
                      for k, v in result.worst.items()}}))
    show(result, folder.path)


def repr_number(v) -> str:
    """The shortest text that reads back as the float `v` (0.99999, not 1)."""
    return repr(float(v))


def show(result, path) -> None:
    frame = result.table.copy()
    frame["in bracket"] = frame["theory_in_bracket"].map({True: "yes", False: "NO"})
    print_table(frame, f"moxco eos-check: lr={result.config.lr:g}, {result.config.steps} "
                "steps per run", ["alpha", "beta", "a_theory", "a_measured", "rel_error",
                                  "in bracket"],
                # momenta as given (0.99999 at 4 digits read 1, outside [0, 1))
                {"alpha": repr_number, "beta": repr_number,
                 "a_theory": lambda v: f"{v:.7g}", "a_measured": lambda v: f"{v:.7g}",
                 "rel_error": lambda v: f"{v:.1e}"})
    agree, counted, near = result.eigen_agreement()
    dim = int(result.eigenpairs.component.max()) + 1
    print(f"Theorem 2 per eigenpair, a {dim}-D quadratic per (alpha, beta), curvatures "
          f"around its bound, every component started nonzero: predicted and "
          f"measured divergence agree on {agree} of {counted} components ({near} within "
          f"3% of the bound not counted; eigenpairs.csv)")
    w = result.worst
    print(f"Max relative discrepancy {result.max_rel_error:.2e} at alpha={w['alpha']:g}, "
          f"beta={w['beta']:g} (bisection tol {result.config.tol:g}; "
          f"{int(frame['theory_in_bracket'].sum())}/{len(frame)} brackets contain the formula)")
    print(f"Results: {path}")


def register(app: typer.Typer) -> None:
    app.command("eos-check", epilog=EPILOG)(eos_check)
