"""The straightforward engine, frozen: the reference the fast engine must equal bit for bit.

A copy of `moxco_cli/engine.py` (`_noise_draw`, `_run_chunk`, `simulate`) as of commit
ebb71c7, before the performance work of issue 6, together with frozen copies of the landscape
math it called (`Beale` and `TwoWells` `evaluate`/`grad`, `lam_max_2x2`) and of `goodness`, so
that a later change to those modules cannot silently move the reference along with the fast
path. Other landscapes (e.g. `quadratic`) are called through their own `evaluate`/`grad`; the
inner optimizer, the inertia wrapper (`moxco_cli.inertia`) and the prox come from the package.
Two deviations from the verbatim copy, neither changes a number: the final loss is the `f` of
the frozen `evaluate` (equal to `landscape.f` bit for bit), and each worker thread enters
`np.errstate(all="ignore")` itself (the original only did so in the calling thread).

Used by `benchmarks/bench_engine.py` (equality on a sample) and `tests/test_engine.py`.
Not part of the package; nothing here is optimized.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from moxco_cli.engine import Records, Trajectory
from moxco_cli.inertia import inertia

DIVERGENCE_LIMIT = 1e6
NOISE_BLOCK = 4096
REFERENCE_CHUNK = 4096


# ---- frozen landscape math --------------------------------------------------------------------

_C = (1.5, 2.25, 2.625)


def _lam_max_2x2(a, b, c):
    m = 0.5 * (a + c)
    r = np.hypot(0.5 * (a - c), b)
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.where(m - r != 0.0, (a * c - b * b) / (m - r), m + r)
    return np.where(m >= 0.0, m + r, small)


def _beale_parts(x):
    px, py = x[:, 0], x[:, 1]
    y2 = py * py
    y3 = y2 * py
    r = (_C[0] + px * (py - 1.0), _C[1] + px * (y2 - 1.0), _C[2] + px * (y3 - 1.0))
    rx = (py - 1.0, y2 - 1.0, y3 - 1.0)
    ry = (px, 2.0 * px * py, 3.0 * px * y2)
    rxy = (np.ones_like(py), 2.0 * py, 3.0 * y2)
    ryy = (np.zeros_like(py), 2.0 * px, 6.0 * px * py)
    return r, rx, ry, rxy, ryy


def _beale_grad(x):
    r, rx, ry, _, _ = _beale_parts(x)
    g = np.empty_like(x)
    g[:, 0] = 2.0 * (r[0] * rx[0] + r[1] * rx[1] + r[2] * rx[2])
    g[:, 1] = 2.0 * (r[0] * ry[0] + r[1] * ry[1] + r[2] * ry[2])
    return g


def _beale_evaluate(x):
    parts = _beale_parts(x)
    r, rx, ry, rxy, ryy = parts
    f = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
    g = np.empty_like(x)
    g[:, 0] = 2.0 * (r[0] * rx[0] + r[1] * rx[1] + r[2] * rx[2])
    g[:, 1] = 2.0 * (r[0] * ry[0] + r[1] * ry[1] + r[2] * ry[2])
    hxx = 2.0 * (rx[0] * rx[0] + rx[1] * rx[1] + rx[2] * rx[2])
    hxy = 2.0 * sum(rx[i] * ry[i] + r[i] * rxy[i] for i in range(3))
    hyy = 2.0 * sum(ry[i] * ry[i] + r[i] * ryy[i] for i in range(3))
    return f, g, _lam_max_2x2(hxx, hxy, hyy)


def _two_wells_terms(s, x):
    p = x[:, 0]
    wide = np.exp(-((p + 1.0) ** 2) / 4.5)
    sharp = np.exp(-((p - 2.0) ** 2) / (2.0 * s**2))
    return p, wide, sharp


def _two_wells_grad1(s, p, wide, sharp):
    return 0.1 * p + 2.5 * (2.0 * (p + 1.0) / 4.5) * wide + (p - 2.0) / s**2 * sharp


def _two_wells_hess1(s, p, wide, sharp):
    s2 = s**2
    return (
        0.1
        + 2.5 * (2.0 / 4.5) * wide * (1.0 - 2.0 * (p + 1.0) ** 2 / 4.5)
        + sharp / s2 * (1.0 - (p - 2.0) ** 2 / s2)
    )


def _frozen_math(landscape):
    """`(evaluate, grad)` of `landscape` as they were at the reference commit."""
    if landscape.name == "beale":
        return _beale_evaluate, _beale_grad
    if landscape.name == "two-wells":
        s = landscape.s

        def evaluate(x):
            p, wide, sharp = _two_wells_terms(s, x)
            f = 0.05 * p * p - 2.5 * wide - sharp
            return f, _two_wells_grad1(s, p, wide, sharp)[:, None], _two_wells_hess1(
                s, p, wide, sharp)

        def grad(x):
            return _two_wells_grad1(s, *_two_wells_terms(s, x))[:, None]

        return evaluate, grad
    return landscape.evaluate, landscape.grad


def _goodness(f, grad_sq, lam_max, *, f_target, inv_eta, tau):
    with np.errstate(all="ignore"):
        penalty = grad_sq + np.maximum(lam_max - inv_eta, 0.0) + np.abs(f - f_target)
        g = np.exp(-tau * penalty)
    return np.where(np.isfinite(g), g, 0.0)


# ---- the engine, verbatim apart from the frozen calls above -------------------------------


def _noise_draw(seed, start, n, d):
    blocks = range(start // NOISE_BLOCK, -(-(start + n) // NOISE_BLOCK))
    rngs = [np.random.default_rng([seed, b]) for b in blocks]
    sizes = [min(NOISE_BLOCK, start + n - b * NOISE_BLOCK) for b in blocks]
    if len(rngs) == 1:
        return lambda: rngs[0].standard_normal((n, d))
    pairs = list(zip(rngs, sizes, strict=True))
    return lambda: np.concatenate([r.standard_normal((s, d)) for r, s in pairs])


def _sq_norm(g):
    out = g[:, 0] * g[:, 0]
    for j in range(1, g.shape[1]):
        out += g[:, j] * g[:, j]
    return out


def _run_chunk(landscape, method, x0, steps, rec, rows, noise_std, seed, start, progress):
    evaluate, grad = _frozen_math(landscape)
    n, d = x0.shape
    rule = method.rule
    step_fn = inertia(method.optimizer, method.prox)
    inv_eta, f_target = method.inv_eta_eff, landscape.f_target
    need_goodness = rec is not None or rule.mode != "none"
    share_grad = rule.beta_always_zero
    draw = _noise_draw(seed, start, n, d) if noise_std > 0 else None

    x = np.array(x0, dtype=float)
    state = step_fn.init(x)
    latched = np.zeros(n, dtype=bool)
    alive = np.ones(n, dtype=bool)
    commit_step = np.full(n, -1)
    diverged_step = np.full(n, -1)
    explore_a = np.full((n, 1), rule.alpha)
    explore_b = np.full((n, 1), rule.beta)
    a, b, committed = explore_a, explore_b, latched
    report_every = max(1, min(100, steps // 20))
    reported = 0

    def record(t, f, g, lam, good):
        rec.x[t, rows] = x
        rec.loss[t, rows] = f
        rec.grad_norm[t, rows] = np.sqrt(_sq_norm(g))
        rec.lam_max[t, rows] = lam
        rec.goodness[t, rows] = good

    for t in range(steps):
        g = None
        if need_goodness:
            f, g, lam = evaluate(x)
            good = _goodness(f, _sq_norm(g), lam, f_target=f_target,
                             inv_eta=inv_eta, tau=method.tau)
            if rule.mode != "none":
                a, b, committed = rule.apply(good, latched)
                committed &= alive
                newly = committed & (commit_step < 0)
                commit_step[newly] = t
                latched = committed if rule.mode == "latch" else latched
            if rec is not None:
                record(t, f, g, lam, good)
                rec.alpha[t, rows], rec.beta[t, rows] = a[:, 0], b[:, 0]
                rec.committed[t, rows] = committed
        elif share_grad:
            g = grad(x)

        g_v = g if share_grad else grad(step_fn.query(x, state, b))
        if draw is not None:
            g_v = g_v + noise_std * draw()
        x_new, state = step_fn.update(x, g_v, state, a)

        ok = np.all(np.abs(x_new) <= DIVERGENCE_LIMIT, axis=1)
        newly = alive & ~ok
        if newly.any():
            diverged_step[newly] = t
            alive &= ok
        if not alive.all():
            x_new = np.where(alive[:, None], x_new, x)
        x = x_new
        if progress is not None and ((t + 1) % report_every == 0 or t + 1 == steps):
            progress(n * (t + 1 - reported))
            reported = t + 1

    if rec is not None:
        f, g, lam = evaluate(x)
        good = _goodness(f, _sq_norm(g), lam, f_target=f_target,
                         inv_eta=inv_eta, tau=method.tau)
        record(steps, f, g, lam, good)
        rec.alpha[steps, rows], rec.beta[steps, rows] = a[:, 0], b[:, 0]
        rec.committed[steps, rows] = committed
    final_f = evaluate(x)[0]
    return x, final_f, commit_step, diverged_step


def simulate(landscape, method, x0, steps, *, record=False, noise_std=0.0, seed=0,
             chunk_size=REFERENCE_CHUNK, threads=None, progress=None) -> Trajectory:
    """The reference `simulate`: same signature and results as `moxco_cli.engine.simulate`."""
    x0 = np.asarray(x0, dtype=float)
    if x0.ndim == 1:
        x0 = x0[:, None] if landscape.dim == 1 else x0[None, :]
    n, d = x0.shape
    if d != landscape.dim:
        raise ValueError(f"starts have {d} coordinates, {landscape.name} needs {landscape.dim}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    rec = Records.empty(steps, n, d) if record else None
    if n > chunk_size:
        chunk_size = max(NOISE_BLOCK, chunk_size // NOISE_BLOCK * NOISE_BLOCK)
    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]

    def job(lo_hi):
        lo, hi = lo_hi
        with np.errstate(all="ignore"):
            return _run_chunk(landscape, method, x0[lo:hi], steps, rec, slice(lo, hi),
                              noise_std, seed, lo, progress)

    with np.errstate(all="ignore"):
        if threads is None:
            threads = min(2, os.cpu_count() or 1)
        if len(bounds) > 1 and threads > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(job, bounds))
        else:
            parts = [job(bh) for bh in bounds]

    final, final_loss, commit_step, diverged_step = (
        np.concatenate(p) for p in zip(*parts, strict=True))
    return Trajectory(method.name, steps, x0, final, final_loss, commit_step, diverged_step, rec)
