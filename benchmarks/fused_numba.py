"""Evaluation of an optional fused backend (issue 6, step 3): the benchmark workload in numba.

Not part of the package and not used by `moxco`: this is the measurement behind the decision
not to adopt a numba backend (see `bench_engine.py`, case `fused-numba`). Against the engine
with its worker processes, in the same `make bench` run, it measured 2.5x, 2.85x and 3.1x at
N = 1e4 in three runs (the issue's bar is 3x), and it serves one workload: a backend worth
adopting would need kernels for every landscape (user formulas included), optimizer, commit
mode, prox and noise, which is a project of its own. It covers exactly
the benchmark workload -- Adam+MoXCo with a latch on Beale, no noise, identity prox, no
records -- with the same operations in the same order as `moxco_cli.engine` (so the
trajectories agree with it; the only difference is `exp`, libm's here against NumPy's SIMD
one, which can differ in the last bit of the goodness). Starts are processed in blocks of
`BLOCK` rows, one `prange` iteration per block, each step split into loops that LLVM can
vectorize around the two libm calls (`hypot`, `exp`). Compiled once into numba's on-disk
cache (`cache=True`).

Requires `pip install numba` (not a dependency of moxco).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

BLOCK = 1024


@nb.njit(cache=True, boundscheck=False)
def _run_block(x, steps, hyper, bc1, bc2, commit_step, diverged_step):  # pragma: no cover
    lr, b1, omb1, b2, omb2, eps, alpha, beta, ar, br, thr, tau, inv_eta, f_target = hyper
    n = x.shape[0]
    px = x[:, 0].copy()
    py = x[:, 1].copy()
    qx = px.copy()
    qy = py.copy()
    m0 = np.zeros(n)
    m1 = np.zeros(n)
    s0 = np.zeros(n)
    s1 = np.zeros(n)
    hxx = np.empty(n)
    hxy = np.empty(n)
    hyy = np.empty(n)
    half = np.empty(n)
    rad = np.empty(n)
    ff = np.empty(n)
    gs = np.empty(n)
    expo = np.empty(n)
    good = np.empty(n)
    latched = np.zeros(n, dtype=np.bool_)
    alive = np.ones(n, dtype=np.bool_)
    for t in range(steps):
        for i in range(n):  # f, grad, Hessian at theta_t (Beale.evaluate, term by term)
            xx = px[i]
            yy = py[i]
            y2 = yy * yy
            y3 = y2 * yy
            rx0 = yy - 1.0
            rx1 = y2 - 1.0
            rx2 = y3 - 1.0
            r0 = 1.5 + xx * rx0
            r1 = 2.25 + xx * rx1
            r2 = 2.625 + xx * rx2
            ry1 = 2.0 * xx * yy
            ry2 = 3.0 * xx * y2
            ff[i] = r0 * r0 + r1 * r1 + r2 * r2
            g0 = 2.0 * (r0 * rx0 + r1 * rx1 + r2 * rx2)
            g1 = 2.0 * (r0 * xx + r1 * ry1 + r2 * ry2)
            gs[i] = g0 * g0 + g1 * g1
            a = 2.0 * (rx0 * rx0 + rx1 * rx1 + rx2 * rx2)
            b = 2.0 * ((rx0 * xx + r0) + (rx1 * ry1 + r1 * (2.0 * yy))
                       + (rx2 * ry2 + r2 * (3.0 * y2)))
            c = 2.0 * ((xx * xx + r0 * 0.0) + (ry1 * ry1 + r1 * (2.0 * xx))
                       + (ry2 * ry2 + r2 * (6.0 * xx * yy)))
            hxx[i] = a
            hxy[i] = b
            hyy[i] = c
            half[i] = (a - c) * 0.5
        for i in range(n):
            rad[i] = math.hypot(half[i], hxy[i])
        for i in range(n):  # lam_max_2x2, then the goodness exponent
            a = hxx[i]
            c = hyy[i]
            m = (a + c) * 0.5
            lam = m + rad[i]
            if m < 0.0:
                mr = m - rad[i]
                if mr != 0.0:
                    lam = (a * c - hxy[i] * hxy[i]) / mr
            pen = gs[i] + max(lam - inv_eta, 0.0)
            pen += abs(ff[i] - f_target)
            expo[i] = pen * -tau
        for i in range(n):
            good[i] = math.exp(expo[i])
        for i in range(n):  # commit (latch), query, Adam, inertial step, divergence
            g = good[i]
            decision = latched[i] or g > thr  # NaN compares False: counts as 0
            a = ar if decision else alpha
            b = br if decision else beta
            committed = decision and alive[i]
            if committed and commit_step[i] < 0:
                commit_step[i] = t
            latched[i] = committed
            xx = px[i]
            yy = py[i]
            dx = xx - qx[i]
            dy = yy - qy[i]
            vx = xx + dx * b
            vy = yy + dy * b
            y2 = vy * vy
            y3 = y2 * vy
            rx0 = vy - 1.0
            rx1 = y2 - 1.0
            rx2 = y3 - 1.0
            r0 = 1.5 + vx * rx0
            r1 = 2.25 + vx * rx1
            r2 = 2.625 + vx * rx2
            g0 = 2.0 * (r0 * rx0 + r1 * rx1 + r2 * rx2)
            g1 = 2.0 * (r0 * vx + r1 * (2.0 * vx * vy) + r2 * (3.0 * vx * y2))
            m0[i] = b1 * m0[i] + omb1 * g0
            m1[i] = b1 * m1[i] + omb1 * g1
            s0[i] = b2 * s0[i] + omb2 * (g0 * g0)
            s1[i] = b2 * s1[i] + omb2 * (g1 * g1)
            st0 = lr * (m0[i] / bc1[t]) / (math.sqrt(s0[i] / bc2[t]) + eps)
            st1 = lr * (m1[i] / bc1[t]) / (math.sqrt(s1[i] / bc2[t]) + eps)
            nx = (xx + dx * a) - st0
            ny = (yy + dy * a) - st1
            if alive[i] and not (abs(nx) <= 1e6 and abs(ny) <= 1e6):
                alive[i] = False
                diverged_step[i] = t
            qx[i] = xx
            qy[i] = yy
            if alive[i]:
                px[i] = nx
                py[i] = ny
    x[:, 0] = px
    x[:, 1] = py


@nb.njit(cache=True, parallel=True)
def _run(x, steps, hyper, bc1, bc2, block):  # pragma: no cover
    n = x.shape[0]
    commit_step = np.full(n, -1)
    diverged_step = np.full(n, -1)
    for k in nb.prange((n + block - 1) // block):
        lo = k * block
        hi = min(n, lo + block)
        _run_block(x[lo:hi], steps, hyper, bc1, bc2, commit_step[lo:hi], diverged_step[lo:hi])
    return commit_step, diverged_step


def simulate_adam_moxco_beale(x0, steps, settings, *, threads=2, block=BLOCK):
    """`(final (N, 2), commit_step (N,), diverged_step (N,))` of Adam+MoXCo (latch) on Beale.

    `settings` is a `moxco_cli.settings.OptimizerSettings`; Adam's b1, b2, eps are SPEC's.
    """
    alpha, beta = settings.adam_moxco
    ar, br = settings.restart
    lr, b1, b2, eps = settings.lr, 0.9, 0.999, 1e-8
    inv_eta = 2.0 * (1.0 + alpha) / (lr * (1.0 + 2.0 * beta))
    bc1 = np.array([1.0 - b1 ** (t + 1) for t in range(steps)])  # Python's pow, as in adam.py
    bc2 = np.array([1.0 - b2 ** (t + 1) for t in range(steps)])
    hyper = (lr, b1, 1.0 - b1, b2, 1.0 - b2, eps, alpha, beta, ar, br, settings.threshold,
             settings.tau, inv_eta, 0.0)
    x = np.array(x0, dtype=float)
    nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))
    commit_step, diverged_step = _run(x, steps, hyper, bc1, bc2, block)
    return x, commit_step, diverged_step


# ---- the bit-exact variant: numba for everything but exp, which stays NumPy's ------------------


@nb.njit(cache=True, parallel=True, boundscheck=False)
def _goodness_exponent(px, py, hyper, expo):  # pragma: no cover
    inv_eta, tau, f_target = hyper[12], hyper[11], hyper[13]
    for i in nb.prange(px.shape[0]):
        xx = px[i]
        yy = py[i]
        y2 = yy * yy
        y3 = y2 * yy
        rx0 = yy - 1.0
        rx1 = y2 - 1.0
        rx2 = y3 - 1.0
        r0 = 1.5 + xx * rx0
        r1 = 2.25 + xx * rx1
        r2 = 2.625 + xx * rx2
        ry1 = 2.0 * xx * yy
        ry2 = 3.0 * xx * y2
        f = r0 * r0 + r1 * r1 + r2 * r2
        g0 = 2.0 * (r0 * rx0 + r1 * rx1 + r2 * rx2)
        g1 = 2.0 * (r0 * xx + r1 * ry1 + r2 * ry2)
        a = 2.0 * (rx0 * rx0 + rx1 * rx1 + rx2 * rx2)
        b = 2.0 * ((rx0 * xx + r0) + (rx1 * ry1 + r1 * (2.0 * yy)) + (rx2 * ry2 + r2 * (3.0 * y2)))
        c = 2.0 * ((xx * xx + r0 * 0.0) + (ry1 * ry1 + r1 * (2.0 * xx))
                   + (ry2 * ry2 + r2 * (6.0 * xx * yy)))
        m = (a + c) * 0.5
        rad = math.hypot((a - c) * 0.5, b)
        lam = m + rad
        if m < 0.0:
            mr = m - rad
            if mr != 0.0:
                lam = (a * c - b * b) / mr
        pen = (g0 * g0 + g1 * g1) + max(lam - inv_eta, 0.0)
        pen += abs(f - f_target)
        expo[i] = pen * -tau


@nb.njit(cache=True, parallel=True, boundscheck=False)
def _advance(t, good, px, py, qx, qy, m0, m1, s0, s1, latched, alive, hyper, bc1, bc2,
             commit_step, diverged_step):  # pragma: no cover
    lr, b1, omb1, b2, omb2, eps, alpha, beta, ar, br, thr = hyper[:11]
    for i in nb.prange(px.shape[0]):
        decision = latched[i] != 0.0 or good[i] > thr
        a = ar if decision else alpha
        b = br if decision else beta
        committed = decision and alive[i] != 0.0
        if committed and commit_step[i] < 0:
            commit_step[i] = t
        latched[i] = 1.0 if committed else 0.0
        xx = px[i]
        yy = py[i]
        dx = xx - qx[i]
        dy = yy - qy[i]
        vx = xx + dx * b
        vy = yy + dy * b
        y2 = vy * vy
        y3 = y2 * vy
        rx0 = vy - 1.0
        rx1 = y2 - 1.0
        rx2 = y3 - 1.0
        r0 = 1.5 + vx * rx0
        r1 = 2.25 + vx * rx1
        r2 = 2.625 + vx * rx2
        g0 = 2.0 * (r0 * rx0 + r1 * rx1 + r2 * rx2)
        g1 = 2.0 * (r0 * vx + r1 * (2.0 * vx * vy) + r2 * (3.0 * vx * y2))
        m0[i] = b1 * m0[i] + omb1 * g0
        m1[i] = b1 * m1[i] + omb1 * g1
        s0[i] = b2 * s0[i] + omb2 * (g0 * g0)
        s1[i] = b2 * s1[i] + omb2 * (g1 * g1)
        st0 = lr * (m0[i] / bc1[t]) / (math.sqrt(s0[i] / bc2[t]) + eps)
        st1 = lr * (m1[i] / bc1[t]) / (math.sqrt(s1[i] / bc2[t]) + eps)
        nx = (xx + dx * a) - st0
        ny = (yy + dy * a) - st1
        if alive[i] != 0.0 and not (abs(nx) <= 1e6 and abs(ny) <= 1e6):
            alive[i] = 0.0
            diverged_step[i] = t
        qx[i] = xx
        qy[i] = yy
        if alive[i] != 0.0:
            px[i] = nx
            py[i] = ny


def simulate_adam_moxco_beale_exact(x0, steps, settings, *, threads=2):
    """As `simulate_adam_moxco_beale`, but `exp` is NumPy's: equal to the engine bit for bit.

    Two compiled passes per step around one `np.exp` over all starts.
    """
    alpha, beta = settings.adam_moxco
    ar, br = settings.restart
    lr, b1, b2, eps = settings.lr, 0.9, 0.999, 1e-8
    inv_eta = 2.0 * (1.0 + alpha) / (lr * (1.0 + 2.0 * beta))
    bc1 = np.array([1.0 - b1 ** (t + 1) for t in range(steps)])
    bc2 = np.array([1.0 - b2 ** (t + 1) for t in range(steps)])
    hyper = np.array([lr, b1, 1.0 - b1, b2, 1.0 - b2, eps, alpha, beta, ar, br,
                      settings.threshold, settings.tau, inv_eta, 0.0])
    n = len(x0)
    st = np.zeros((10, n))  # px, py, qx, qy, m0, m1, s0, s1, latched, alive
    st[0], st[1] = x0[:, 0], x0[:, 1]
    st[2], st[3] = x0[:, 0], x0[:, 1]
    st[9] = 1.0
    commit_step = np.full(n, -1)
    diverged_step = np.full(n, -1)
    expo, good = np.empty(n), np.empty(n)
    nb.set_num_threads(max(1, min(threads, nb.config.NUMBA_NUM_THREADS)))
    with np.errstate(all="ignore"):
        for t in range(steps):
            _goodness_exponent(st[0], st[1], hyper, expo)
            np.exp(expo, out=good)
            _advance(t, good, *st, hyper, bc1, bc2, commit_step, diverged_step)
    return np.stack([st[0], st[1]], axis=1), commit_step, diverged_step
