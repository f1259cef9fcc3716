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
            eos_alphas=12, eos_betas=13, phase_axis=12, phase_starts=21,
            compare_trials=13, compare_tuning=256, compare_eval=1024,
            curvature_starts=1000, curvature_error_starts=64,
            net_inits=400, net_steps=500, factorization_inits=400, factorization_grid=41)
QUICK = dict(fig2_small=50, fig2_large=400, fig3_grid=15, map_grid=21, ablation_grid=15,
             eos_alphas=3, eos_betas=3, phase_axis=3, phase_starts=5,
             compare_trials=4, compare_tuning=16, compare_eval=32,
             curvature_starts=40, curvature_error_starts=8,
             net_inits=8, net_steps=30, factorization_inits=8, factorization_grid=5)
# MoXCo against tuned baselines: the paper's two landscapes, and two of the zoo chosen for
# what they test: rastrigin (a lattice of local minima: the case exploration is meant for) and
# six-hump-camel (two global and four local minima of different depths and curvatures).
COMPARE_LANDSCAPES = ("beale", "two-wells", "rastrigin", "six-hump-camel")
COMPARE_METHODS = ("gd", "adam", "gd+moxco", "adam+moxco", "nesterov")
# The curvature study: the paper's Beale, and a 10-D ill-conditioned quadratic (Theorem 2's
# setting; curvatures log-spaced from 1 to 100). The 10-D zoo landscapes were tried and left
# out: from uniform starts, runs on rastrigin, ackley and styblinski-tang end in local minima
# whose |f - f*| keeps goodness far below the threshold, so nothing commits to compare.
CURVATURE_LANDSCAPES = ("beale", "quadratic:dim=10,condition=100")
PHASE_TOL = 0.1  # "reached (3, 0.5)": within 1e-2 almost nothing arrives in 800 steps
# Flat minima that generalize (issue 16): the authors' network (two-layer-net defaults), the
# default rates of `moxco generalize`, and factorization at rates up to GD's stability limit
# at its flattest minima (2/lr = 4 at lr 0.5, depth 2: lam_max = 2 there).
NET_LRS = (0.01, 0.05, 0.2)
FACTORIZATION_LRS = (0.05, 0.2, 0.5)


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    run: Callable  # run(out: ResultsFolder, sizes: dict) -> None


def _fig1(variant: str):
    def run(out, sizes):
        from moxco_cli.experiments import paper_figures as pf

        runs = pf.figure1(variant)
        moxco = {"a": "GD+MoXCo", "b": "Adam+MoXCo"}[variant]
        out.write_csv(f"fig1{variant}_summary.csv", runs.summary(tol=1e-2))
        out.write_csv(f"fig1{variant}_trajectories.csv", runs.steps_table())
        title = (f"Figure 1{variant}: {moxco} vs GD and Adam on Beale "
                 f"(lr {pf.FIG1_SETTINGS.lr:g}, {pf.FIG1_STEPS} steps)")
        out.write_figure(f"fig1{variant}.png", "moxco_cli.plots.paper:figure1", runs, title)
    return run


def _fig1_baselines(out, sizes):
    """The named baselines (not in the paper) from Figure 1's start and settings."""
    from moxco_cli.experiments import paper_figures as pf
    from moxco_cli.settings import BASELINE_NAMES

    runs = pf.run_from_figure1_start(BASELINE_NAMES)
    out.write_csv("fig1_baselines_summary.csv", runs.summary(tol=1e-2))


def _fig2(out, sizes):
    from moxco_cli.experiments.escape_count import EscapeConfig, run_escape_count

    for n in (sizes["fig2_small"], sizes["fig2_large"]):
        cfg = EscapeConfig(inits=n, steps=1000).validate()
        result = run_escape_count(cfg)
        out.write_csv(f"fig2_n{n}_counts.csv", result.counts)
        out.write_csv(f"fig2_n{n}_escape.csv", result.escape)
        title = (f"Figure 2: escape count on two-wells, N = {n} starts, {cfg.steps} steps, "
                 f"seed {cfg.settings.seed}, lr {cfg.settings.lr:g}")
        out.write_figure(f"fig2_n{n}.png", "moxco_cli.plots.escape:escape_count_figure",
                         *result.figure_args(title))


def _fig3(out, sizes):
    import numpy as np
    import pandas as pd

    from moxco_cli.experiments import paper_figures as pf

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
    out.write_figure("fig3.png", "moxco_cli.plots.paper:figure3", runs, title)
    n = sizes["fig3_grid"]
    out.write_figure("fig3_starts.png", "moxco_cli.plots.paper:figure3_map", choice,
                     f"Figure 3 start rule on a {n}x{n} grid (Figure 3 settings)")


def _outcome_map(out, sizes):
    from moxco_cli.experiments.outcome_map import OutcomeMapConfig, outcome_map

    result = outcome_map(OutcomeMapConfig(landscape="beale", grid=sizes["map_grid"]).validate())
    out.write_csv("outcome_map_fractions.csv", result.fractions)
    out.write_figure("outcome_map.png", "moxco_cli.plots.outcome_map:outcome_map_figure",
                     **result.figure_inputs())


def _theorem1(out, sizes):
    from moxco_cli.experiments import paper_figures as pf

    table, scan = pf.theorem1_table(), pf.theorem1_quadratic_scan()
    out.write_csv("theorem1.csv", table)
    out.write_csv("theorem1_quadratic.csv", scan)
    out.write_figure("theorem1.png", "moxco_cli.plots.paper:theorem1_figure", scan, table,
                     "Theorem 1: goodness at minima vs the claimed lower bound")


def _theorem2(out, sizes):
    import numpy as np

    from moxco_cli.experiments.eos_check import EosConfig, eos_check

    cfg = EosConfig(lr=0.005, alphas=tuple(np.linspace(0, 0.99, sizes["eos_alphas"]).round(4)),
                    betas=tuple(np.linspace(0, 3, sizes["eos_betas"]).round(4))).validate()
    result = eos_check(cfg)
    out.write_csv("theorem2.csv", result.table)
    out.write_figure("theorem2.png", "moxco_cli.plots.eos:eos_figure", result.table,
                     **result.figure_kwargs())


ABLATION_RULES = [  # (family, rule, method, commit mode)
    ("GD inside", "latch", "gd+moxco", "latch"),
    ("GD inside", "reversible", "gd+moxco", "reversible"),
    ("GD inside", "none (= Nesterov)", "gd+moxco", "none"),
    ("GD inside", "restart: function", "nesterov+restart-fn", "latch"),
    ("GD inside", "restart: gradient", "nesterov+restart-grad", "latch"),
    ("Adam inside", "latch", "adam+moxco", "latch"),
    ("Adam inside", "reversible", "adam+moxco", "reversible"),
    ("Adam inside", "none", "adam+moxco", "none"),
]


def _ablation(out, sizes):
    """Outcome fractions per stopping rule: the paper's commit modes against O'Donoghue and
    Candes' adaptive restart of the same Nesterov momentum (alpha = beta = 0.9)."""
    import dataclasses

    import pandas as pd

    from moxco_cli.experiments.outcome_map import OutcomeMapConfig, outcome_map
    from moxco_cli.settings import OptimizerSettings

    frames = []
    for family, rule, method, mode in ABLATION_RULES:
        settings = dataclasses.replace(OptimizerSettings(), commit=mode)
        cfg = OutcomeMapConfig(landscape="beale", grid=sizes["ablation_grid"], methods=(method,),
                               settings=settings).validate()
        frames.append(outcome_map(cfg).fractions.assign(family=family, rule=rule))
    table = pd.concat(frames, ignore_index=True)[["family", "rule", "optimizer", "class",
                                                  "count", "fraction"]]
    out.write_csv("ablation.csv", table)
    n = sizes["ablation_grid"]
    out.write_figure("ablation.png", "moxco_cli.plots.paper:ablation_figure", table,
                     f"Stopping rules on Beale: {n}x{n} starts, Figure 1 settings, 800 steps")


def _phase(out, sizes):
    import numpy as np
    import pandas as pd

    import landscapes
    from moxco_cli.experiments.sweep import make_executor, phase_diagram, theorem2_curvatures

    k = sizes["phase_axis"]
    axes = dict(alphas=tuple(np.linspace(0, 0.99, k).round(4)),
                betas=tuple(np.linspace(0, 0.95, k).round(4)),
                starts=f"grid:{sizes['phase_starts']}", tol=PHASE_TOL)
    executor = make_executor()
    aborted = True  # until the cells are done: close() kills the pool's workers (a stopped
    # one, an interrupt: a plain close would wait for them, for ever if one is stopped)
    try:
        frame = pd.concat([phase_diagram("beale", name, executor=executor, **axes)
                           for name in ("gd+moxco", "adam+moxco")], ignore_index=True)
        aborted = False
    finally:
        executor.close(abort=aborted)
    out.write_csv("phase_beale.csv", frame)
    n = sizes["phase_starts"]
    out.write_figure(
        "phase_beale.png", "moxco_cli.plots.sweep:heatmap_figure", frame,
        boundaries=theorem2_curvatures(landscapes.get("beale")), tol=PHASE_TOL,
        title=(f"Phase diagram on Beale: success (within {PHASE_TOL:g} of (3, 0.5)) over "
               f"(alpha, beta), {n}x{n} starts, lr 0.005, 800 steps"))


def _compare(out, sizes):
    from moxco_cli.experiments.compare import CompareConfig, run_compare

    cfg = CompareConfig(landscapes=tuple((n, {}) for n in COMPARE_LANDSCAPES),
                        methods=COMPARE_METHODS, trials=sizes["compare_trials"],
                        tuning_starts=sizes["compare_tuning"],
                        eval_starts=sizes["compare_eval"]).validate()
    result = run_compare(cfg)
    for name in ("headline", "tuning", "mcnemar", "ert"):
        out.write_csv(f"compare_{name}.csv", getattr(result, name))
    for name, (build, args) in result.figure_args().items():
        if name in ("ecdf.png", "ert.png", "tuning.png", "profile.png"):
            out.write_figure(f"compare_{name}", build, *args)


def _curvature(out, sizes):
    from moxco_cli.experiments.curvature_study import run_study

    table, errors = run_study(CURVATURE_LANDSCAPES, starts=sizes["curvature_starts"],
                              error_starts=sizes["curvature_error_starts"])
    out.write_csv("curvature_study.csv", table)
    out.write_csv("curvature_errors.csv", errors)
    out.write_figure("curvature_study.png", "moxco_cli.plots.curvature:study_figure", table,
                     f"Curvature estimators and scoring frequency: {sizes['curvature_starts']} "
                     "starts per variant (the same for all), Figure 1 settings otherwise")


def _generalize(prefix: str, landscape: str, lrs, inits_key: str, steps: int, grid: int = 41):
    def run(out, sizes):
        from moxco_cli.experiments.generalize import GeneralizeConfig, run_generalize

        cfg = GeneralizeConfig(landscape=landscape, inits=sizes[inits_key],
                               steps=sizes[steps] if isinstance(steps, str) else steps,
                               lrs=lrs, grid=sizes.get(grid, grid)).validate()
        result = run_generalize(cfg)
        for name in ("distributions", "paired", "correlation", "thresholds"):
            out.write_csv(f"{prefix}_{name}.csv", getattr(result, name))
        for name, (build, args) in result.figure_args().items():
            out.write_figure(f"{prefix}_{name}", build, *args)
        if prefix == "net":  # one initialization, run and drawn: the fitted functions
            _net_fit(out, cfg)
    return run


def _net_fit(out, gen_cfg):
    from moxco_cli.experiments.run import RunConfig, run_experiment
    from moxco_cli.settings import OptimizerSettings, build_method

    lr = gen_cfg.sweep_rate
    cfg = RunConfig(landscape="two-layer-net", steps=gen_cfg.steps,
                    settings=OptimizerSettings(lr=lr)).validate()
    result = run_experiment(cfg)
    out.write_csv("net_fit_summary.csv", result.summary)
    title = (f"two-layer-net: one network initialization (default_rng(0)), {cfg.steps} steps, "
             f"lr {lr:g}")
    bounds = {}
    for name in cfg.methods:
        m = build_method(name, cfg.settings)
        bounds[name] = float(m.inv_eta_eff)
    out.write_figure("net_fit.png", "moxco_cli.plots.generalize:fit_figure", result.landscape,
                     result.trajectories, title)
    out.write_figure("net_curves.png", "moxco_cli.plots.generalize:curves_figure",
                     result.landscape, result.trajectories, bounds, cfg.settings.threshold,
                     title)


STEPS = [
    Step("fig1a", "Figure 1a: GD+MoXCo vs GD, Adam on Beale", _fig1("a")),
    Step("fig1b", "Figure 1b: Adam+MoXCo vs GD, Adam on Beale", _fig1("b")),
    Step("fig1-baselines", "Baselines from Figure 1's start", _fig1_baselines),
    Step("fig2", "Figure 2: escape count on two-wells (50 and many starts)", _fig2),
    Step("fig3", "Figure 3: Adam vs Adam+MoXCo from trapped starts", _fig3),
    Step("outcome-map", "Outcome map: Figure 1 over a grid of starts", _outcome_map),
    Step("theorem1", "Theorem 1: goodness at minima vs its lower bound", _theorem1),
    Step("theorem2", "Theorem 2: divergence boundary measured vs formula", _theorem2),
    Step("ablation", "Ablation: commit modes latch / reversible / none", _ablation),
    Step("phase", "Phase diagram: success over (alpha, beta) for both MoXCo variants", _phase),
    Step("compare", "MoXCo against tuned baselines (moxco compare)", _compare),
    Step("curvature", "Curvature estimators and scoring frequency (appendix A.3)", _curvature),
    Step("generalize-net", "Flat minima that generalize? two-layer-net (moxco generalize)",
         _generalize("net", "two-layer-net", NET_LRS, "net_inits", "net_steps")),
    Step("generalize-factorization", "Which minimum is selected? factorization",
         _generalize("factorization", "factorization", FACTORIZATION_LRS,
                     "factorization_inits", "net_steps", "factorization_grid")),
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
    out.write_json("config.json", {"command": "reproduce", "quick": quick, "sizes": sizes,
                                   "steps": [s.name for s in steps]})
