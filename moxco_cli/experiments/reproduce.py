"""`make reproduce-figures`: every figure of the paper plus our stricter versions of them.

Each step computes its tables with the experiments API, writes CSVs and PNGs into the figures
folder, and returns nothing else: the report (`report_md.py`) reads its numbers back from those
CSVs, so the text can never disagree with the committed data. `quick=True` shrinks every grid
and sample so that the test suite can run the whole pipeline end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

FULL = dict(fig2_small=50, fig2_large=10_000, fig3_grid=41, map_grid=101, ablation_grid=101,
            eos_alphas=12, eos_betas=13)
QUICK = dict(fig2_small=50, fig2_large=400, fig3_grid=15, map_grid=21, ablation_grid=15,
             eos_alphas=3, eos_betas=3)


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    run: Callable  # run(out: ResultsFolder, sizes: dict) -> None


def _fig1(variant: str):
    def run(out, sizes):
        from moxco_cli.experiments import paper_figures as pf
        from moxco_cli.plots import paper

        runs = pf.figure1(variant)
        moxco = {"a": "GD+MoXCo", "b": "Adam+MoXCo"}[variant]
        out.write_csv(f"fig1{variant}_summary.csv", runs.summary(tol=1e-2))
        out.write_csv(f"fig1{variant}_trajectories.csv", runs.steps_table())
        title = (f"Figure 1{variant}: {moxco} vs GD and Adam on Beale "
                 f"(lr {pf.FIG1_SETTINGS.lr:g}, {pf.FIG1_STEPS} steps)")
        out.write_figure(f"fig1{variant}.png", paper.figure1(runs, title))
    return run


def _fig3(out, sizes):
    import numpy as np
    import pandas as pd

    from moxco_cli.experiments import paper_figures as pf
    from moxco_cli.plots import paper

    choice = pf.choose_figure3_starts(grid_n=sizes["fig3_grid"])
    runs = pf.figure3(choice)
    out.write_csv("fig3_summary.csv", runs.summary(tol=pf.REACHED))
    g = choice.grid
    out.write_csv("fig3_grid.csv", pd.DataFrame({
        "start_x0": g[:, 0], "start_x1": g[:, 1], "adam_final_loss": choice.adam_final_loss,
        "adam_stuck": choice.adam_stuck, "adam_trapped": choice.adam_trapped,
        "adam_moxco_reached": choice.moxco_reached,
        "chosen": np.isin(np.arange(len(g)), choice.chosen)}))
    s = pf.FIG3_SETTINGS
    title = (f"Figure 3: Adam (top) vs Adam+MoXCo (bottom) from three trapped starts "
             f"(lr {s.lr:g}, alpha,beta {s.adam_moxco[0]:g},{s.adam_moxco[1]:g}, "
             f"restart {s.restart[0]:g},{s.restart[1]:g}, {pf.FIG3_STEPS} steps)")
    out.write_figure("fig3.png", paper.figure3(runs, title))
    n = sizes["fig3_grid"]
    out.write_figure("fig3_starts.png", paper.figure3_map(
        choice, f"Figure 3 start rule on a {n}x{n} grid (Figure 3 settings)"))


STEPS = [
    Step("fig1a", "Figure 1a: GD+MoXCo vs GD, Adam on Beale", _fig1("a")),
    Step("fig1b", "Figure 1b: Adam+MoXCo vs GD, Adam on Beale", _fig1("b")),
    Step("fig3", "Figure 3: Adam vs Adam+MoXCo from trapped starts", _fig3),
]


def reproduce(out, quick: bool = False, progress: Callable[[str, int, int], None] | None = None,
              only: tuple[str, ...] | None = None) -> None:
    """Run every step (or `only` those named) writing into the ResultsFolder `out`."""
    sizes = QUICK if quick else FULL
    steps = [s for s in STEPS if only is None or s.name in only]
    for k, step in enumerate(steps):
        if progress is not None:
            progress(step.description, k, len(steps))
        step.run(out, sizes)
    out.write_json("config.json", {"quick": quick, "sizes": sizes,
                                   "steps": [s.name for s in steps]})
