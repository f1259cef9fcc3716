"""The engine: advance N trajectories of one method on one landscape for T steps, batched.

    traj = simulate(landscape, method, x0, steps, record=True)

One step of every trajectory, in SPEC order: goodness at theta_t -> momenta (a_t, b_t) from
the commit rule -> gradient at the query point v_t (+ optional noise) -> inner optimizer's
step -> theta_{t+1} = prox(u_t - step) -> divergence check (non-finite or |x| > 1e6: frozen at
the last finite point and flagged). No NumPy floating-point warning escapes.

Starts are processed in independent chunks (rows never interact), on a thread pool for large
N: NumPy releases the GIL inside ufuncs, so chunks run on both cores. Results do not depend on
the chunking: every operation is row-wise, and gradient noise comes from one generator per
block of `NOISE_BLOCK` starts, `default_rng([seed, block_index])`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from landscapes.base import Landscape
from moxco_cli.goodness import CommitRule, goodness, inv_eta_eff
from moxco_cli.inertia import inertia
from moxco_cli.optim.base import Optimizer
from moxco_cli.prox import Prox, identity

DIVERGENCE_LIMIT = 1e6
NOISE_BLOCK = 4096
DEFAULT_CHUNK = 4096  # starts per chunk: (chunk, d) float64 temporaries stay in L2 cache


@dataclass(frozen=True)
class Method:
    """A runnable optimizer: inner optimizer + inertia + commit rule + prox.

    Plain GD / Adam are `alpha = beta = 0` with commit mode `none`.
    """

    name: str
    optimizer: Optimizer
    rule: CommitRule = field(default_factory=lambda: CommitRule(mode="none"))
    tau: float = 0.15
    prox: Prox = identity

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @property
    def inv_eta_eff(self) -> float:
        """Theorem 2 bound with the exploration momenta (units 1/lr)."""
        return inv_eta_eff(self.lr, self.rule.alpha, self.rule.beta)


@dataclass
class Records:
    """Per-step records, row t = state at the start of step t (row T = final state).

    Shapes: `x (T+1, N, d)`; all others `(T+1, N)`. `alpha`, `beta` are the momenta used in
    step t (row T repeats row T-1); `committed` is the commit state in step t.
    """

    x: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    lam_max: np.ndarray
    goodness: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    committed: np.ndarray

    @classmethod
    def empty(cls, steps: int, n: int, d: int) -> Records:
        shape = (steps + 1, n)
        return cls(
            x=np.empty((steps + 1, n, d)), loss=np.empty(shape), grad_norm=np.empty(shape),
            lam_max=np.empty(shape), goodness=np.empty(shape), alpha=np.empty(shape),
            beta=np.empty(shape), committed=np.empty(shape, dtype=bool),
        )


@dataclass
class Trajectory:
    """What one `simulate` call returns. Step indices are -1 where the event never happened.

    `x0, final (N, d)`; `final_loss (N,)`; `commit_step (N,)` first step run with restart
    momenta; `diverged_step (N,)` the step whose update left the finite box (the trajectory
    stays frozen at theta of that step).
    """

    method: str
    steps: int
    x0: np.ndarray
    final: np.ndarray
    final_loss: np.ndarray
    commit_step: np.ndarray
    diverged_step: np.ndarray
    records: Records | None = None

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0


def _noise_draw(seed: int, start: int, n: int, d: int) -> Callable[[], np.ndarray]:
    """Per-step noise `(n, d)` for starts [start, start+n), `start` a multiple of NOISE_BLOCK."""
    blocks = range(start // NOISE_BLOCK, -(-(start + n) // NOISE_BLOCK))
    rngs = [np.random.default_rng([seed, b]) for b in blocks]
    sizes = [min(NOISE_BLOCK, start + n - b * NOISE_BLOCK) for b in blocks]
    if len(rngs) == 1:
        return lambda: rngs[0].standard_normal((n, d))
    pairs = list(zip(rngs, sizes, strict=True))
    return lambda: np.concatenate([r.standard_normal((s, d)) for r, s in pairs])


def _sq_norm(g: np.ndarray) -> np.ndarray:
    """Row-wise squared norm `(N, d) -> (N,)`, summed column by column (batch-invariant)."""
    out = g[:, 0] * g[:, 0]
    for j in range(1, g.shape[1]):
        out += g[:, j] * g[:, j]
    return out


def _run_chunk(landscape, method, x0, steps, rec, rows, noise_std, seed, start, progress):
    """Advance the starts `x0 (n, d)` (global rows `rows`); fill `rec[:, rows]` if recording."""
    n, d = x0.shape
    rule = method.rule
    step_fn = inertia(method.optimizer, method.prox)
    inv_eta, f_target = method.inv_eta_eff, landscape.f_target
    need_goodness = rec is not None or rule.mode != "none"
    share_grad = rule.beta_always_zero  # v_t == theta_t: reuse the gradient at theta_t
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
            f, g, lam = landscape.evaluate(x)
            good = goodness(f, _sq_norm(g), lam, f_target=f_target,
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
            g = landscape.grad(x)

        g_v = g if share_grad else landscape.grad(step_fn.query(x, state, b))
        if draw is not None:
            g_v = g_v + noise_std * draw()
        x_new, state = step_fn.update(x, g_v, state, a)

        ok = np.all(np.abs(x_new) <= DIVERGENCE_LIMIT, axis=1)  # False for NaN and inf
        newly = alive & ~ok
        if newly.any():
            diverged_step[newly] = t
            alive &= ok
        if not alive.all():  # frozen rows stay at their last finite point, for good
            x_new = np.where(alive[:, None], x_new, x)
        x = x_new
        if progress is not None and ((t + 1) % report_every == 0 or t + 1 == steps):
            progress(n * (t + 1 - reported))
            reported = t + 1

    if rec is not None:
        f, g, lam = landscape.evaluate(x)
        good = goodness(f, _sq_norm(g), lam, f_target=f_target,
                        inv_eta=inv_eta, tau=method.tau)
        record(steps, f, g, lam, good)
        rec.alpha[steps, rows], rec.beta[steps, rows] = a[:, 0], b[:, 0]
        rec.committed[steps, rows] = committed
    return x, landscape.f(x), commit_step, diverged_step


def simulate(
    landscape: Landscape,
    method: Method,
    x0: np.ndarray,
    steps: int,
    *,
    record: bool = False,
    noise_std: float = 0.0,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Run `method` from every start in `x0 (N, d)` for `steps` steps.

    Args:
        record: keep per-step `Records` (memory `~ 8 (T+1) N (d+7)` bytes).
        noise_std: standard deviation of Gaussian noise added to each gradient query.
        seed: seeds the gradient noise (SPEC "Gradient noise").
        chunk_size: starts per chunk (rounded to a multiple of NOISE_BLOCK when N is larger).
        threads: worker threads for chunks (default: min(2, cores) when there are >= 2 chunks).
        progress: called with the number of trajectory-steps done since its last call.
    """
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
        return _run_chunk(landscape, method, x0[lo:hi], steps, rec, slice(lo, hi), noise_std,
                          seed, lo, progress)

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
