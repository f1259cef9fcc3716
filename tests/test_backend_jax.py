"""The JAX backend (`--backend jax`, moxco_cli/backends) against the NumPy engine.

JAX runs in child processes only: this process never imports it (JAX's threads would make
every later `os.fork` of the suite warn), and the tests that need JAX skip cleanly where the
`jax` extra is not installed. One child (`jax_results`, module scope) runs every case below
on the JAX backend; the NumPy engine runs them here.

Agreement is asserted where it can be expected: on *non-chaotic* rows, the finite
trajectories whose NumPy final point moves less than 1e-9 when the start moves by one ulp
AND when it moves by 1e-11 (a one-ulp move is often rounded away within a few steps, so it
alone does not show that a row is insensitive to rounding; JAX's autodiff gradients differ
from the hand-written ones in the last bits). There final points agree to 1e-9 and the
discrete outcomes (commit, divergence, costs) are equal. Whole commands agree in
distribution: every fraction escape-count and outcome-map report lies in the other
backend's 95% Wilson interval.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import landscapes
from moxco_cli import methods
from moxco_cli.engine import simulate
from moxco_cli.stats import wilson

ROOT = Path(__file__).resolve().parents[1]
HAVE_JAX = importlib.util.find_spec("jax") is not None
needs_jax = pytest.mark.skipif(not HAVE_JAX, reason="the jax extra is not installed")
TOL = 1e-9
STEPS = 300
N = 200

# (landscape spec, method spec): every commit mode, restart, prox, scoring cadence and
# curvature estimator, a d > 2 landscape and a formula landscape
CASES = [
    ("beale", "adam+moxco"),
    ("beale", "gd+moxco"),
    ("beale", "adam+moxco:commit=reversible"),
    ("beale", "gd"),
    ("beale", "nesterov"),
    ("beale", "heavy-ball"),
    ("beale", "nesterov+restart-fn"),
    ("beale", "nesterov+restart-grad"),
    ("beale", "rmsprop+moxco:lr=0.002"),
    ("beale", "adam+moxco:prox=l1,prox_weight=0.3"),
    ("beale", "gd+moxco:prox=binary,prox_weight=0.5,commit=none"),
    ("beale", "adam+moxco:score_every=5"),
    ("beale", "adam+moxco:curvature=power:3"),
    ("beale", "adam+moxco:curvature=power:2:cold,score_every=3"),
    ("beale", "adam+moxco:curvature=lanczos:2"),
    ("rastrigin:dim=5", "adam+moxco:curvature=power:1"),
    ("rastrigin:dim=5", "adam+moxco"),
    ("rosenbrock:dim=4", "gd+moxco:lr=0.001,curvature=lanczos:4"),
    ("two-wells", "gd+moxco"),
    ("himmelblau", "adam+moxco"),
    ("quadratic:dim=10,condition=100", "adam+moxco"),
    ("expr", "adam+moxco"),
    ("two-layer-net:hidden=3,activation=tanh", "gd+moxco:lr=0.05"),
]
# Which programs skip the scoring of a batch whose rows have all latched (the engine's fused
# path does): exact curvature beyond d = 2, latch, no records, no restart
SKIPS = {("two-layer-net:hidden=3,activation=tanh", "gd+moxco:lr=0.05", False): True,
         ("two-layer-net:hidden=3,activation=tanh", "gd+moxco:lr=0.05", True): False,
         ("rastrigin:dim=5", "adam+moxco", False): True,
         ("rastrigin:dim=5", "adam+moxco:commit=reversible", False): False,
         ("rastrigin:dim=5", "adam+moxco:curvature=power:1", False): False,
         ("beale", "adam+moxco", False): False}
# One-start runs whose Hessian at the start is a multiple of the identity (`moxco run`'s
# default starts of styblinski-tang and rastrigin; an isotropic quadratic)
IDENTITY_STARTS = [("styblinski-tang", (-2.5, -2.5)), ("rastrigin", (-2.56, -2.56)),
                   ("quadratic:a=2;2", (1.0, -0.5))]
FORMULA = "(1 - x)**2 + 5*(y - x**2)**2 + 0.3*sin(3*x)"
OVERFLOW, OVERFLOW_METHOD = "exp(x**2) - 2*x**2 + y**2", "gd:lr=0.5"


KINK = "abs(x) + 2*abs(y - 1) + 0.1*(x**2 + y**2)"
KINK_STARTS = np.array([[0.0, 0.0], [0.0, 1.0], [0.5, 1.0], [-0.3, 0.2]])


def build_kink(minima=((0.0, 1.0),)):
    return landscapes.from_expression(KINK, "-2,2,-1,3", minima=[list(m) for m in minima])


# f_target = f at the first minimum: 0.1 and 0.625 (goodness reads |f - f_target|)
TARGET_MINIMA = (((0.0, 1.0),), ((0.5, 1.0),))
TARGET_METHOD = "gd+moxco:lr=0.01,threshold=0.5"


def build_overflow():
    return landscapes.from_expression(OVERFLOW, "-2,2,-2,2")
LANDSCAPES = ["beale", "two-wells", "quadratic:a=1;50", "rosenbrock", "rosenbrock:dim=4",
              "himmelblau", "rastrigin", "rastrigin:dim=5", "ackley", "ackley:dim=3",
              "ackley:smooth=0.1", "goldstein-price", "six-hump-camel", "styblinski-tang",
              "styblinski-tang:dim=3", "expr", "two-layer-net:hidden=3",
              "two-layer-net:hidden=3,activation=tanh",
              "two-layer-net:hidden=2,activation=softplus"]


def build(spec: str):
    if spec == "expr":
        return landscapes.from_expression(FORMULA, "-2,2,-1,3")
    name, params = landscapes.parse_spec(spec)
    return landscapes.get(name, **params)


def starts(land, n: int = N, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(land.bounds[:, 0], land.bounds[:, 1],
                                               size=(n, land.dim))


def per_row_lr(n: int) -> np.ndarray:
    return np.repeat([0.002, 0.005, 0.01, 0.02], n // 4)


# Runs in the child: every case on the JAX backend, and the lowered landscapes' value,
# gradient and Hessian at random points.
WORKER = r"""
import pickle, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
import test_backend_jax as cases
from moxco_cli import methods
from moxco_cli.backends import jax_engine, jax_landscapes, jax_pieces
from moxco_cli.backends.jax_setup import load
jax, jnp = load()
out = {"runs": {}, "landscapes": {}, "columns": {}, "devices": len(jax.devices())}
keys = ("final", "final_loss", "commit_step", "diverged_step", "grad_evals", "hvps",
        "restart_count")
for lspec, mspec in cases.CASES:
    land = cases.build(lspec)
    m = methods.build(methods.parse_spec(mspec))
    t = jax_engine.simulate(land, m, cases.starts(land), cases.STEPS)
    out["runs"][lspec, mspec] = {k: getattr(t, k) for k in keys}
land = cases.build("beale")
values = methods.resolve(methods.parse_spec("adam+moxco"))
values["lr"] = cases.per_row_lr(cases.N)
m = methods.build_from_values("adam+moxco", values)
t = jax_engine.simulate(land, m, cases.starts(land), cases.STEPS)
out["runs"]["per-row"] = {k: getattr(t, k) for k in keys}
m = methods.build(methods.parse_spec("adam+moxco:curvature=power:3"))
t = jax_engine.simulate(land, m, np.array([[-2.5, 1.2]]), 800, record=True, check=True)
out["records"] = vars(t.records)
m = methods.build(methods.parse_spec("gd+moxco:noise_std=0.5"))
t = jax_engine.simulate(land, m, cases.starts(land, 4000), 400, seed=3)
out["noise"] = {"commit_step": t.commit_step, "diverged_step": t.diverged_step}
for spec in cases.LANDSCAPES:
    land = cases.build(spec)
    x = cases.starts(land, 64, seed=5).T
    x[:, 0] = 0.0  # the origin: ackley's apex
    f = jax_landscapes.lower(land)
    grad = jax.grad(lambda x: jnp.sum(f(x)))
    cols = [jax.jvp(grad, (x,), (jnp.zeros_like(x).at[j].set(1.0),))[1]
            for j in range(land.dim)]
    out["landscapes"][spec] = (np.asarray(f(x)), np.asarray(grad(x)).T,
                               np.stack([np.asarray(c).T for c in cols], axis=2))
    # the same expression over the other layout: a tuple of (n,) columns
    xc = jax_pieces.split(jnp.asarray(x), True)
    out["columns"][spec] = (np.asarray(f(xc)), np.asarray(jax_pieces.as_array(grad(xc))).T)
# a diverging formula: frozen rows whose f overflows, with every warning an error (the suite's
# setting): their final loss is inf, as on the engine, not a RuntimeWarning
import warnings
land = cases.build_overflow()
m = methods.build(methods.parse_spec(cases.OVERFLOW_METHOD))
with warnings.catch_warnings():
    warnings.simplefilter("error")
    t = jax_engine.simulate(land, m, cases.starts(land, 64), 50)
out["overflow"] = {"final_loss": t.final_loss, "diverged_step": t.diverged_step}
out["declared"] = {name: jax_pieces.inner(name).keys for name in jax_pieces.INNER}
# one formula, two sets of minima (two f_targets), in one process
out["f_target"] = {}
for minima in cases.TARGET_MINIMA:
    land = cases.build_kink(minima)
    m = methods.build(methods.parse_spec(cases.TARGET_METHOD))
    t = jax_engine.simulate(land, m, cases.starts(land, 256), 200)
    out["f_target"][minima] = t.commit_step
# eigenvalues alone: symmetric matrices of two sizes, a NaN one among them
import re
rng = np.random.default_rng(7)
mats = {}
for n, d in ((300, 7), (40, 49)):
    a = rng.standard_normal((n, d, d)) * rng.uniform(0.01, 100.0, (n, 1, 1))
    mats[d] = a + a.transpose(0, 2, 1)
mats[7][3] = np.nan
target = jax_pieces.prepare_eigvalsh()
eig = jax.jit(jax_pieces.eigvalsh)
out["eigvalsh"] = {"target": target, "values": {d: np.asarray(eig(h)) for d, h in mats.items()},
                   "mats": mats, "modes": re.findall(r"mode = (\d+) : ui8",
                                                     eig.lower(mats[7]).as_text())}
land = cases.build("rastrigin:dim=3")
m = methods.build(methods.parse_spec("adam+moxco:curvature=power:2"))
plain = methods.build(methods.parse_spec("gd"))
out["eigvalsh"]["one_device"] = (
    jax_engine.structure(land, m, 0.0, True, True).eigvalsh,
    jax_engine.structure(land, m, 0.0, False, False).eigvalsh,
    jax_engine.structure(land, plain, 0.0, False, False).eigvalsh)
# a compiled program of exact lam_max at d = 3 asks LAPACK for the eigenvalues alone
land = cases.build("rosenbrock:dim=4")
m = methods.build(methods.parse_spec("adam+moxco"))
st = jax_engine.structure(land, m, 0.0, False, False)
program = jax_engine._Program(st, land, 1)
rows, shared = jax_engine.parameters(m, 0.0)
x0 = cases.starts(land, 8)
s0 = program.initial(x0, rows, shared, np.zeros((8, 0)), np.arange(8), 0)
text = jax.jit(program._local["advance"]).lower(s0, shared, np.int64(0), np.int64(3)).as_text()
out["eigvalsh"]["program_modes"] = re.findall(r"mode = (\d+) : ui8", text)
t = jax_engine.simulate(land, m, x0, 40, record=True)
out["eigvalsh"]["records"] = (t.records.x, t.records.lam_max)
out["eigvalsh"]["solver"] = jax_pieces.eigensolver()
# the 2 x 2 closed form's radius against hypot over the normal range, and its edges
rng = np.random.default_rng(11)
e = rng.uniform(-300, 300, 200_000)
h = rng.standard_normal(e.size) * 10.0**e
b = np.clip(h * 10.0**rng.uniform(-17, 17, e.size), -1e308, 1e308)
normal = (np.abs(h) > 2.3e-308) & (np.abs(b) > 2.3e-308)
h, b = h[normal], b[normal]
edges = (np.array([np.inf, 1e308, 3e-200, np.nan, 0.0]), np.array([1.0, 1e308, 4e-200, 1.0, 0.0]))
radius = jax.jit(jax_pieces.radius)
out["radius"] = {"h": h, "b": b, "r": np.asarray(radius(h, b)), "edges": edges,
                 "edge_r": np.asarray(radius(*edges))}
# one row per device, Hessians c I (a mixed partial that is a compile-time zero): lam_max
# must be c, also where XLA regroups the scaled squares (it made lam_max NaN)
out["scalar_identity"] = {}
for lspec, start in cases.IDENTITY_STARTS:
    land = cases.build(lspec)
    m = methods.build(methods.parse_spec("gd+moxco"))
    t = jax_engine.simulate(land, m, np.array([start]), 30, record=True)
    out["scalar_identity"][lspec] = (t.records.lam_max, t.commit_step, t.final)
# a formula's kink: |x| has slope sign(0) = 0 at 0 on the engine (sympy's derivative)
land = cases.build_kink()
m = methods.build(methods.parse_spec("gd+moxco"))
t = jax_engine.simulate(land, m, cases.KINK_STARTS, 20, record=True)
out["kink"] = (t.final, t.commit_step, t.records.grad_norm)
zero = jax.jit(lambda h: jax_pieces.radius(h, jnp.zeros_like(h)))
out["radius_constant"] = [np.asarray(zero(jnp.zeros(1))), np.asarray(zero(jnp.full(1, 2e-100))),
                          np.asarray(jax.jit(lambda: jax_pieces.radius(jnp.zeros(1),
                                                                       jnp.zeros(1)))()),
                          np.asarray(jax.jit(lambda: jax_pieces.radius(jnp.full(1, 3e-70),
                                                                       jnp.zeros(1)))())]
# lam_max of [[-1e155, 0], [0, 1]] is 1 (the cancellation-free branch, a square overflowing)
a_, c_ = np.array([-1e155, 4.0]), np.array([1.0, 2.0])
z = np.zeros(2)
out["lam_2x2"] = np.asarray(jax.jit(lambda a, c, z: jax_pieces.lam_max_exact(
    [(a, z), (z, c)]))(a_, c_, z))
out["chunks"] = {(n, dev): jax_engine._chunks(n, dev, False)
                 for n in (1, 3, 63, 200, 8334, 100_000, 1_097_997, 8_585_467)
                 for dev in (1, 2, 8)}
exact = methods.build(methods.parse_spec("gd+moxco:lr=0.05"))
out["chunk_rows"] = [jax_engine._chunk_rows(jax_engine.structure(cases.build(spec), exact,
                                                                 0.0, False, False))
                     for spec in ("two-layer-net:hidden=3", "beale", "quadratic:dim=8")]
out["hessian_chunks"] = jax_engine._chunks(5000, 1, False, jax_engine.HESSIAN_CHUNK)
out["skips"] = {(lspec, mspec, record): jax_engine.structure(
    cases.build(lspec), methods.build(methods.parse_spec(mspec)), 0.0, record, False
).skips_latched for lspec, mspec, record in cases.SKIPS}
# a jaxlib that does not know a compile option: the program compiles without it
from moxco_cli.backends import jax_setup
out["options"] = jax_setup.compiler_options()
jax_setup._OPTIONS = {"xla_cpu_no_such_option": 512}  # whatever this CPU would choose
jax_engine._PROGRAMS.clear()
land, m = cases.build("beale"), methods.build(methods.parse_spec("adam+moxco"))
t = jax_engine.simulate(land, m, cases.starts(land), cases.STEPS)
out["fallback"] = (jax_setup.compiler_options(), t.final)
with open(sys.argv[2], "wb") as fh:
    pickle.dump(out, fh)
"""


def child_env(tmp: Path) -> dict:
    env = dict(os.environ, MOXCO_JAX_CACHE=str(tmp / "jax-cache"), MPLBACKEND="Agg",
               MOXCO_RENDERER="0")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _jax_worker(work: Path) -> list[dict]:
    """The JAX child (WORKER), started in the background when collection ends (conftest):
    it compiles and runs every case while the other tests run."""
    script = work / "worker.py"
    script.write_text(WORKER)
    return [{"args": [sys.executable, script, "run", work / "results.pkl", ROOT / "tests"],
             "env": child_env(work), "cwd": ROOT, "timeout_s": 600}]


BACKGROUND = {"jax_results": _jax_worker} if HAVE_JAX else {}


@pytest.fixture(scope="module")
def jax_results(background, request):
    if not HAVE_JAX:
        pytest.skip("the jax extra is not installed")
    work, (done,) = background.result(request)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(work / "results.pkl", "rb") as fh:
        return pickle.load(fh)


def non_chaotic(land, m, x0) -> tuple[np.ndarray, object]:
    """Rows whose NumPy final point moves < 1e-9 under both start perturbations, and the
    NumPy trajectory."""
    base = simulate(land, m, x0, STEPS)
    ulp = simulate(land, m, np.nextafter(x0, np.inf), STEPS)
    nudged = simulate(land, m, x0 + 1e-11, STEPS)
    finite = np.isfinite(base.final).all(axis=1) & (base.diverged_step < 0)
    moved = np.maximum(np.abs(ulp.final - base.final).max(axis=1),
                       np.abs(nudged.final - base.final).max(axis=1))
    return finite & (moved < TOL), base


@needs_jax
@pytest.mark.parametrize("case", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_final_points_agree_on_non_chaotic_rows(jax_results, case):
    land = build(case[0])
    m = methods.build(methods.parse_spec(case[1]))
    x0 = starts(land)
    stable, base = non_chaotic(land, m, x0)
    assert stable.sum() >= 20, f"only {stable.sum()} non-chaotic rows: the case tests nothing"
    got = jax_results["runs"][case]
    diff = np.abs(got["final"] - base.final).max(axis=1)
    assert diff[stable].max() <= TOL, f"{np.count_nonzero(diff[stable] > TOL)} rows differ"
    for key in ("commit_step", "diverged_step", "grad_evals", "hvps", "restart_count"):
        ours = getattr(base, key)
        if ours is None:
            assert got[key] is None
        else:
            np.testing.assert_array_equal(got[key][stable], ours[stable], err_msg=key)
    # the discrete outcomes agree on most rows, chaotic ones included
    assert np.mean(got["diverged_step"] == base.diverged_step) >= 0.9
    # the final loss is the landscape's own NumPy f at the final point, as the engine's
    np.testing.assert_allclose(got["final_loss"][stable], base.final_loss[stable], rtol=1e-9,
                               atol=1e-12)


@needs_jax
def test_batches_whose_rows_all_latched_skip_their_scoring(jax_results):
    assert jax_results["skips"] == SKIPS
    # the agreement case of two-layer-net above runs that branch: every start latches within
    # the first few of its 300 steps (its final points, commit steps and costs agree there)
    land = build("two-layer-net:hidden=3,activation=tanh")
    base = simulate(land, methods.build(methods.parse_spec("gd+moxco:lr=0.05")), starts(land),
                    STEPS)
    assert (base.commit_step >= 0).all() and base.commit_step.max() < STEPS // 10


@needs_jax
def test_a_frozen_row_whose_loss_overflows_has_an_infinite_final_loss(jax_results):
    land = build_overflow()
    base = simulate(land, methods.build(methods.parse_spec(OVERFLOW_METHOD)),
                    starts(land, 64), 50)
    got = jax_results["overflow"]
    assert np.isinf(base.final_loss).sum() >= 1  # the case: some frozen row's f overflows
    np.testing.assert_array_equal(got["diverged_step"] >= 0, base.diverged_step >= 0)
    np.testing.assert_array_equal(np.isinf(got["final_loss"]), np.isinf(base.final_loss))


@needs_jax
def test_per_row_hyperparameters_agree(jax_results):
    land = build("beale")
    values = methods.resolve(methods.parse_spec("adam+moxco"))
    values["lr"] = per_row_lr(N)
    m = methods.build_from_values("adam+moxco", values)
    stable, base = non_chaotic(land, m, starts(land))
    assert stable.sum() >= 100
    got = jax_results["runs"]["per-row"]
    assert np.abs(got["final"] - base.final)[stable].max() <= TOL
    np.testing.assert_array_equal(got["commit_step"][stable], base.commit_step[stable])


@needs_jax
def test_records_agree_along_the_figure_1_run(jax_results):
    land = build("beale")
    m = methods.build(methods.parse_spec("adam+moxco:curvature=power:3"))
    rec = simulate(land, m, np.array([[-2.5, 1.2]]), 800, record=True, check=True).records
    got = jax_results["records"]
    assert got["x"].shape == rec.x.shape == (801, 1, 2)
    np.testing.assert_allclose(got["x"], rec.x, rtol=0, atol=1e-9)
    for key in ("loss", "grad_norm", "goodness", "lam_max_exact"):
        np.testing.assert_allclose(got[key], getattr(rec, key), rtol=1e-9, atol=1e-12,
                                   err_msg=key)
    for key in ("alpha", "beta", "committed", "restarted"):
        np.testing.assert_array_equal(got[key], getattr(rec, key), err_msg=key)
    assert rec.committed[-1, 0] and not rec.committed[0, 0]  # the run commits


@needs_jax
def test_gradient_noise_agrees_in_distribution(jax_results):
    """Noise comes from JAX's generator (documented), so only the distribution agrees."""
    land = build("beale")
    m = methods.build(methods.parse_spec("gd+moxco:noise_std=0.5"))
    base = simulate(land, m, starts(land, 4000), 400, seed=3)
    got = jax_results["noise"]
    assert not np.array_equal(got["commit_step"], base.commit_step)  # another stream
    for name, ours, theirs in (("committed", base.commit_step >= 0, got["commit_step"] >= 0),
                               ("diverged", base.diverged_step >= 0, got["diverged_step"] >= 0)):
        lo, hi = wilson(int(ours.sum()), len(ours))
        assert lo <= theirs.mean() <= hi, name


@needs_jax
@pytest.mark.parametrize("spec", LANDSCAPES)
def test_lowered_landscapes_match_value_gradient_and_hessian(jax_results, spec):
    land = build(spec)
    x = starts(land, 64, seed=5)
    x[0] = 0.0  # the origin, where ackley's cone has its apex (finite gradient 0 there)
    f, g, h = jax_results["landscapes"][spec]
    scale = 1.0 + np.abs(land.f(x))
    np.testing.assert_allclose(f, land.f(x), rtol=1e-12, atol=1e-12 * scale.max())
    np.testing.assert_allclose(g, land.grad(x), rtol=1e-10, atol=1e-10 * scale.max())
    # at the apex NumPy's Hessian adds the cone's one-sided limit (docs: Backends)
    rows = slice(1, None) if spec.startswith("ackley") and "smooth" not in spec else slice(None)
    np.testing.assert_allclose(h[rows], land.hess(x)[rows], rtol=1e-9, atol=1e-9 * scale.max())


@needs_jax
@pytest.mark.parametrize("spec", LANDSCAPES)
def test_lowered_landscapes_agree_across_the_two_layouts(jax_results, spec):
    """Small d runs as a tuple of columns, large d as one (d, n) array (jax_pieces): the
    one expression gives the same value and gradient over both."""
    f, g, _ = jax_results["landscapes"][spec]
    fc, gc = jax_results["columns"][spec]
    scale = 1.0 + np.abs(f).max()
    np.testing.assert_allclose(fc, f, rtol=1e-13, atol=1e-13 * scale)
    np.testing.assert_allclose(gc, g, rtol=1e-12, atol=1e-12 * scale)


@needs_jax
def test_chunks_cover_the_starts_in_aligned_equal_pieces(jax_results):
    from moxco_cli.backends.jax_engine import ROW_ALIGN

    for (n, dev), (count, size) in jax_results["chunks"].items():
        assert count * size >= n > (count - 1) * size, (n, dev)
        assert size % dev == 0, (n, dev, size)
        if n >= ROW_ALIGN * dev:
            assert size % (ROW_ALIGN * dev) == 0, (n, dev, size)
        else:  # a few starts are not padded to 64 rows each
            assert size < ROW_ALIGN * dev, (n, dev, size)
    # a batched exact Hessian (d > 8: two-layer-net:hidden=3 has d = 10) takes small chunks
    from moxco_cli.backends.jax_engine import CHUNK, HESSIAN_CHUNK

    assert jax_results["chunk_rows"] == [HESSIAN_CHUNK, CHUNK, CHUNK]
    assert jax_results["hessian_chunks"] == (5, 1024)


@needs_jax
def test_an_unknown_compile_option_is_dropped_not_fatal(jax_results):
    options, final = jax_results["fallback"]
    assert options == {}
    # the vector width changes no bit of the results (the same IEEE operations per lane)
    np.testing.assert_array_equal(final, jax_results["runs"]["beale", "adam+moxco"]["final"])


@needs_jax
def test_eigenvalues_come_from_lapack_without_eigenvectors(jax_results):
    """On the CPU the exact lam_max for d > 2 and Lanczos call LAPACK's dsyevd for the
    eigenvalues alone (mode 'N', 78), as NumPy's eigvalsh does (jnp.linalg.eigvalsh asks for
    the eigenvectors too, twice the time); the values are NumPy's to rounding, and a matrix
    with NaN gives NaN."""
    got = jax_results["eigvalsh"]
    assert got["target"] is not None and got["target"].endswith("syevd_ffi")
    assert got["modes"] == ["78"]
    for d, h in got["mats"].items():
        finite = np.isfinite(h).all(axis=(1, 2))
        want = np.linalg.eigvalsh(np.where(finite[:, None, None], h, 0.0))
        err = np.abs(got["values"][d] - want).max(axis=1) / np.abs(want).max(axis=1)
        assert err[finite].max() < 1e-12, err[finite].max()
        assert np.isnan(got["values"][d][~finite]).all() and (~finite).sum() == (d == 7)
    # a run that records the exact lam_max beside an estimate calls the eigensolver too, so
    # it runs on one device, as exact runs do; a method that never scores calls none
    assert got["one_device"] == (True, False, False)
    # the engine's own program asks for the eigenvalues alone, and records lam_max as NumPy
    assert got["program_modes"] == ["78"]
    assert got["solver"].startswith("LAPACK dsyevd, eigenvalues only")
    x, lam = got["records"]
    land = build("rosenbrock:dim=4")
    want = land.lam_max(x.reshape(-1, land.dim)).reshape(lam.shape)
    np.testing.assert_allclose(lam, want, rtol=1e-10, atol=1e-10)


@needs_jax
def test_the_2x2_radius_is_hypot_within_an_ulp_without_its_division(jax_results):
    got = jax_results["radius"]
    want = np.hypot(got["h"], got["b"])
    big = np.maximum(np.abs(got["h"]), np.abs(got["b"]))
    # drawn: squares that overflow, squares below the normal range, and the plain middle
    assert min((big > 2.0**512).sum(), (big < 2.0**-511).sum(), (np.abs(np.log2(big)) < 400)
               .sum()) > 10_000
    rel = np.abs(got["r"] - want) / want
    assert np.isfinite(want).all() and rel.max() <= 2.0**-52 * 1.01, rel.max()
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got["edge_r"][[0, 2, 3, 4]],
                                      np.hypot(*got["edges"])[[0, 2, 3, 4]])
    assert np.isclose(got["edge_r"][1], np.hypot(1e308, 1e308), rtol=1e-15)
    np.testing.assert_allclose(jax_results["lam_2x2"], [1.0, 4.0], rtol=1e-15)


@needs_jax
def test_one_start_runs_score_hessians_that_are_multiples_of_the_identity(jax_results):
    """XLA regrouped `(0 s)(0 s)` into `(s s)(0 0)` with s = 2^600 in a one-row program: 0 inf,
    lam_max NaN, goodness 0, no commit (styblinski-tang's `moxco run`: NumPy committed at 11)."""
    np.testing.assert_array_equal(jax_results["radius_constant"][0], [0.0])
    np.testing.assert_array_equal(jax_results["radius_constant"][1], [2e-100])
    np.testing.assert_array_equal(jax_results["radius_constant"][2], [0.0])
    np.testing.assert_array_equal(jax_results["radius_constant"][3], [3e-70])
    commits = []
    for lspec, start in IDENTITY_STARTS:
        land = build(lspec)
        m = methods.build(methods.parse_spec("gd+moxco"))
        want = simulate(land, m, np.array([start]), 30, record=True)
        commits.append(int(want.commit_step[0]))
        lam, commit, final = jax_results["scalar_identity"][lspec]
        assert np.isfinite(lam).all(), lspec
        np.testing.assert_allclose(lam, want.records.lam_max, rtol=1e-9, err_msg=lspec)
        np.testing.assert_array_equal(commit, want.commit_step, err_msg=lspec)
        np.testing.assert_allclose(final, want.final, atol=TOL, err_msg=lspec)
    assert commits == [11, -1, 15]  # the NumPy engine's (a NaN lam_max never commits)


@needs_jax
def test_a_formulas_kink_has_the_engines_slope_sign_0_equal_0(jax_results):
    """JAX's abs has slope 1 at 0: starts on an axis of |x| + 2|y - 1| moved off it on this
    backend and stayed on the engine. The lowering's abs has the engine's derivative."""
    m = methods.build(methods.parse_spec("gd+moxco"))
    want = simulate(build_kink(), m, KINK_STARTS, 20, record=True)
    final, commit, grad_norm = jax_results["kink"]
    np.testing.assert_allclose(grad_norm, want.records.grad_norm, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(final, want.final, atol=TOL)
    np.testing.assert_array_equal(commit, want.commit_step)
    assert final[0, 0] == 0.0 and final[1, 0] == 0.0  # never left x = 0


@needs_jax
def test_lowered_optimizers_read_exactly_their_declared_keys(jax_results):
    from moxco_cli.optim import REGISTRY

    assert set(jax_results["declared"]) == set(REGISTRY)
    for name, keys in jax_results["declared"].items():
        assert set(keys) == {p.name for p in REGISTRY[name].params}


def test_divergence_box_is_the_engines():
    from moxco_cli.backends import jax_engine
    from moxco_cli.engine import DIVERGENCE_LIMIT

    assert jax_engine.DIVERGENCE_LIMIT == DIVERGENCE_LIMIT


# ------------------------------------------------------------------------ whole commands


def moxco(args, tmp: Path, backend: str):
    return subprocess.run([sys.executable, "-m", "moxco_cli", *args, "--backend", backend],
                          env=child_env(tmp), cwd=tmp, capture_output=True, text=True,
                          timeout=600)


def within_each_others_interval(ours: pd.DataFrame, theirs: pd.DataFrame, keys, count,
                                total) -> None:
    """Every fraction of each table lies in the other's 95% Wilson interval."""
    merged = ours.merge(theirs, on=keys, suffixes=("_np", "_jax"))
    assert len(merged) == len(ours) == len(theirs)
    for _, row in merged.iterrows():
        for a, b in (("np", "jax"), ("jax", "np")):
            n = row[f"{total}_{a}"] if isinstance(total, str) else total
            lo, hi = wilson(int(row[f"{count}_{a}"]), int(n))
            p = row[f"{count}_{b}"] / (row[f"{total}_{b}"] if isinstance(total, str) else total)
            assert lo - 1e-12 <= p <= hi + 1e-12, (dict(row), a, b)


def moxco_command(args, work: Path, backend: str) -> dict:
    """`moxco ARGS --backend BACKEND`, as a background command (conftest) in `work`."""
    return {"args": [sys.executable, "-m", "moxco_cli", *args, "--backend", backend],
            "env": child_env(work), "cwd": work, "timeout_s": 600}


def _escape_count_10000(work: Path) -> list[dict]:
    return [moxco_command(["escape-count", "--inits", "10000", "--out", work / backend], work,
                          backend) for backend in ("numpy", "jax")]


def _outcome_map_101(work: Path) -> list[dict]:
    """Both backends, then a rerun of the JAX folder."""
    runs = [moxco_command(["outcome-map", "beale", "--out", work / backend], work, backend)
            for backend in ("numpy", "jax")]
    rerun = [sys.executable, "-m", "moxco_cli", "rerun", work / "jax" / "config.json", "--out",
             work / "again"]
    return [*runs, {"args": rerun, "env": child_env(work), "cwd": work, "timeout_s": 600}]


if HAVE_JAX:  # these whole commands run in the background while the other tests run
    BACKGROUND.update(escape_count_10000=_escape_count_10000, outcome_map_101=_outcome_map_101)


def _folder(background, request, commands: int) -> Path:
    work, done = background.result(request)
    assert len(done) == commands and done[-1].returncode == 0, done[-1].stderr[-2000:]
    return work


@pytest.fixture(scope="module")
def escape_count_10000(background, request) -> Path:
    """`escape-count --inits 10000` on each backend: the folders numpy/ and jax/."""
    return _folder(background, request, 2)


@pytest.fixture(scope="module")
def outcome_map_101(background, request) -> Path:
    """`outcome-map beale` on each backend (numpy/, jax/) and a rerun of jax/ (again/)."""
    return _folder(background, request, 3)


@needs_jax
@pytest.mark.slow
def test_escape_count_10000_fractions_agree(escape_count_10000):
    tmp_path = escape_count_10000
    read = {b: pd.read_csv(tmp_path / b / "counts.csv") for b in ("numpy", "jax")}
    within_each_others_interval(read["numpy"], read["jax"], ["optimizer", "bin"], "count",
                                10000)
    esc = {b: pd.read_csv(tmp_path / b / "escape.csv") for b in ("numpy", "jax")}
    assert (esc["numpy"].starts == esc["jax"].starts).all()  # the same starts and basins
    within_each_others_interval(esc["numpy"], esc["jax"], ["optimizer", "from_basin"],
                                "escaped", "starts")
    config = json.loads((tmp_path / "jax" / "config.json").read_text())
    assert config["options"]["backend"] == "jax"
    assert config["backend_used"]["name"] == "jax" and config["backend_used"]["jax"]
    numpy_config = json.loads((tmp_path / "numpy" / "config.json").read_text())
    assert numpy_config["options"]["backend"] == "numpy" and "backend_used" not in numpy_config


@needs_jax
@pytest.mark.slow
def test_outcome_map_101_fractions_agree_and_rerun(outcome_map_101):
    tmp_path = outcome_map_101
    read = {b: pd.read_csv(tmp_path / b / "fractions.csv") for b in ("numpy", "jax")}
    within_each_others_interval(read["numpy"], read["jax"], ["optimizer", "class"], "count",
                                101 * 101)
    # the rerun of the JAX folder runs on JAX again, with the same classes (deterministic)
    assert (tmp_path / "again" / "outcomes.csv").read_bytes() == \
        (tmp_path / "jax" / "outcomes.csv").read_bytes()


# ------------------------------------------------------------------------ refusals


def one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_without_the_extra_the_backend_refuses_in_one_line(tmp_path):
    """`jax` made unimportable: --backend jax names the extra; numpy runs never import it."""
    code = ("import sys; sys.modules['jax'] = None; from moxco_cli.cli import main; "
            "sys.argv = ['moxco'] + sys.argv[1:]; main()")
    args = ["run", "beale", "--steps", "5", "--out", str(tmp_path / "r")]
    proc = subprocess.run([sys.executable, "-c", code, *args, "--backend", "jax"],
                          env=child_env(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert "pip install 'moxco[jax]'" in one_line_error(proc)
    assert not (tmp_path / "r").exists()
    check = ("import sys; from moxco_cli.cli import main; sys.argv = ['moxco'] + sys.argv[1:]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "assert 'jax' not in sys.modules, 'the default engine imported jax'")
    proc = subprocess.run([sys.executable, "-c", check, *args], env=child_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "r" / "summary.csv").exists()


@pytest.mark.parametrize("args, words", [
    (["compare", "beale"], "compare runs on numpy only"),
    # sweep took --backend jax, ran NumPy and wrote "backend": "jax" into its config.json
    (["sweep", "beale", "--grid", "alpha=0:0.9:2"], "sweep runs on numpy only"),
    (["outcome-map", "beale", "--scheduler", "local-cluster:1"], "--scheduler"),
    (["run", "beale", "--steps", "5"], None),  # the backend name itself
])
def test_commands_refuse_what_the_backend_does_not_cover(tmp_path, args, words):
    backend = "jax" if words else "cuda"
    proc = moxco([*args, "--out", str(tmp_path / "x")], tmp_path, backend)
    line = one_line_error(proc)
    assert (words or "--backend: must be one of numpy, jax") in line
    assert not (tmp_path / "x").exists()


def test_the_help_of_a_numpy_only_command_does_not_offer_jax():
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    runner = CliRunner()
    for command, offers in (("run", True), ("outcome-map", True), ("sweep", False),
                            ("compare", False), ("generalize", False)):
        text = " ".join(runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
                        .output.split())
        assert ("numpy (default) or jax" in text) is offers, command
        assert ("numpy only for this command" in text) is not offers, command


@needs_jax
def test_a_landscape_without_an_expression_is_refused(tmp_path):
    code = (
        "import numpy as np\n"
        "from landscapes.base import Landscape\n"
        "from moxco_cli import methods\n"
        "from moxco_cli.backends import simulate\n"
        "from moxco_cli.backends.jax_setup import BackendError\n"
        "class Bowl(Landscape):\n"
        "    name, dim = 'bowl', 2\n"
        "    bounds = np.array([[-1.0, 1.0], [-1.0, 1.0]])\n"
        "    def f(self, x): return np.sum(x * x, axis=1)\n"
        "try:\n"
        "    simulate(Bowl(), methods.build(methods.parse_spec('gd')), np.zeros((2, 2)), 5,\n"
        "             backend='jax')\n"
        "except BackendError as exc:\n"
        "    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=child_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stdout.strip()
    assert line.startswith("--backend jax: landscape 'bowl' (Bowl) has no jax expression; "
                           "lowered are beale, two-wells, "), line
    assert line.endswith(" and formula landscapes (--expr)") and "two-layer-net" in line


def test_a_method_key_without_a_lowering_is_refused(tmp_path):
    """Minibatch gradients (`batch`) are not lowered: refused, never silently full-batch."""
    proc = moxco(["run", "beale", "--methods", "gd:batch=5", "--steps", "5", "--out",
                  str(tmp_path / "x")], tmp_path, "jax")
    if not HAVE_JAX:
        assert "pip install 'moxco[jax]'" in one_line_error(proc)
        return
    assert one_line_error(proc).endswith(
        "--backend jax: method key batch=5 of gd is not lowered (only at its default); run it "
        "with --backend numpy")
    assert not (tmp_path / "x").exists()


@needs_jax
def test_one_formula_with_two_sets_of_minima_is_two_programs(jax_results):
    """The goodness kernel holds f_target as a constant; a formula's f_target comes from its
    minima. The second landscape reused the first one's program (cache key: the formula)."""
    from moxco_cli.backends import jax_landscapes

    keys = {jax_landscapes.identity_key(build_kink(m)) for m in TARGET_MINIMA}
    assert len(keys) == 2
    m = methods.build(methods.parse_spec(TARGET_METHOD))
    steps = []
    for minima in TARGET_MINIMA:
        land = build_kink(minima)
        ref = simulate(land, m, starts(land, 256), 200).commit_step
        np.testing.assert_array_equal(jax_results["f_target"][minima], ref)
        steps.append(ref)
    assert not np.array_equal(steps[0], steps[1])  # the two targets commit differently


CORRUPT_CACHE = r"""
import sys, numpy as np, jax
from pathlib import Path
from moxco_cli import landscapes, methods
from moxco_cli.backends import jax_engine
land = landscapes.get("beale")
x0 = np.random.default_rng(0).uniform(-4.5, 4.5, (64, 2))
runs = [methods.build(methods.parse_spec(s)) for s in ("adam+moxco", "gd+moxco")]
for m in runs:
    jax_engine.simulate(land, m, x0, 5)  # compiles, and fills the cache
for entry in Path(sys.argv[1]).iterdir():
    if entry.is_file():
        entry.write_bytes(b"garbage")  # every entry overwritten
jax.clear_caches()
jax_engine._PROGRAMS.clear()
print("CORRUPTED", file=sys.stderr, flush=True)
for m in runs:
    t = jax_engine.simulate(land, m, x0, 5)
    assert np.isfinite(t.final).all()
"""


@needs_jax
def test_an_unreadable_cache_entry_is_one_warning_line_and_the_program_compiles_again(tmp_path):
    env = child_env(tmp_path)
    done = subprocess.run([sys.executable, "-c", CORRUPT_CACHE, env["MOXCO_JAX_CACHE"]],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    after = done.stderr.split("CORRUPTED\n", 1)[1]
    assert after.count("\n") == 1 and "UserWarning" not in after, after
    assert after.startswith(f"Warning: the compiled-program cache {env['MOXCO_JAX_CACHE']} "
                            "holds an entry that cannot be read (")


def test_a_cache_path_that_cannot_be_a_folder_is_said_once_and_not_used(tmp_path, monkeypatch,
                                                                       capsys):
    """MOXCO_JAX_CACHE naming a file (or a path that cannot be made) made JAX warn of an
    unreadable *entry* at every program, with the advice to remove "the folder"."""
    from moxco_cli.backends.jax_setup import usable_cache_dir

    (tmp_path / "file").write_text("x")
    for value, why in ((tmp_path / "file", "it is a file, not a folder"),
                       (tmp_path / "file" / "below", "Not a directory")):
        monkeypatch.setenv("MOXCO_JAX_CACHE", str(value))
        assert usable_cache_dir() is None
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and why in err and "compiling without a disk cache" in err
    monkeypatch.setenv("MOXCO_JAX_CACHE", str(tmp_path / "new" / "cache"))
    assert usable_cache_dir() == tmp_path / "new" / "cache" and (tmp_path / "new").is_dir()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name, value, expects", [
    ("MOXCO_JAX_VECTOR_WIDTH", "999999999999999999999", "one of 0, 128, 256, 512"),
    ("MOXCO_JAX_VECTOR_WIDTH", "384", "one of 0, 128, 256, 512"),
    ("MOXCO_JAX_DEVICES", "abc", "a whole number >= 0 (0: every device)"),
    ("MOXCO_JAX_DEVICES", "1.5", "a whole number >= 0 (0: every device)")])
def test_a_bad_backend_environment_variable_is_one_line_naming_it(name, value, expects,
                                                                  monkeypatch):
    """`MOXCO_JAX_VECTOR_WIDTH=1e21` reached XLA (a JaxRuntimeError traceback) and
    `MOXCO_JAX_DEVICES=abc` failed in int(). Checked before JAX is asked anything."""
    from moxco_cli.backends.jax_setup import BackendError, env_count

    monkeypatch.setenv(name, value)
    choices = (0, 128, 256, 512) if name.endswith("WIDTH") else None
    with pytest.raises(BackendError) as err:
        env_count(name, choices)
    assert str(err.value) == f"{name}={value!r}: expects {expects}"
    monkeypatch.setenv(name, "256" if choices else "2")
    assert env_count(name, choices) == (256 if choices else 2)
