"""The engine: advance N trajectories of one method on one landscape for T steps, batched.

    traj = simulate(landscape, method, x0, steps, record=True)

One step of every trajectory, in SPEC order: goodness at theta_t -> momenta (a_t, b_t) from
the commit rule -> gradient at the query point v_t (+ optional noise) -> inner optimizer's
step -> theta_{t+1} = prox(u_t - step) -> divergence check (non-finite or |x| > 1e6: frozen at
the last finite point and flagged). No NumPy floating-point warning escapes.

Starts are processed in independent chunks (rows never interact). Large runs without per-step
records use every core through forked worker processes (`moxco_cli.workers`); elsewhere (a
caller's thread, records kept, not Linux) two threads share the chunks once there are at
least THREAD_CHUNK starts per thread (NumPy releases the GIL inside ufuncs; shorter calls only
pass the GIL back and forth). Within a chunk the state is held columns first over
preallocated buffers and the landscape is evaluated in one fused pass (`Landscape.evaluator`).
Results do not depend on the chunking or the threads: every operation is row-wise. Gradient
noise comes from one generator per block of `NOISE_BLOCK` starts (`moxco_cli.noise`).

Two paths run a chunk. `_run_chunk_generic` is the definition: it runs the pieces as they are
written (`inertia.inertia`, `goodness.goodness`, `CommitRule.apply`, the optimizer's update,
the prox). `_run_chunk` (the default, "fused") does the same operations in the same order over
preallocated columns-first buffers and a fused landscape evaluator; `tests/test_engine.py`
holds the two equal, bit for bit, for every method, commit mode, prox, noise, restart and
per-row hyperparameters.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from landscapes.base import Landscape
from moxco_cli import minibatch
from moxco_cli.curvature import Estimator
from moxco_cli.goodness import CommitRule, goodness, inv_eta_eff
from moxco_cli.inertia import InertiaState, inertia
from moxco_cli.noise import NOISE_BLOCK, noise_draw
from moxco_cli.optim.base import Optimizer
from moxco_cli.prox import Prox, identity
from moxco_cli.workers import fork_available, run_forked, shared_empty, usable_cores

DIVERGENCE_LIMIT = 1e6
RESTARTS = ("function", "gradient")  # velocity reset when f rose / when grad . step > 0
PATHS = ("fused", "generic")  # see `simulate(path=...)`
# Chunking, measured with benchmarks/bench_engine.py on 2 cores (see `_chunks`):
DEFAULT_CHUNK = 8192  # starts per chunk on one thread (the measured optimum)
THREAD_CHUNK = 16384  # starts per chunk with threads, and the least worth a thread: with
# shorter chunks the NumPy calls are so short that the threads only hand the GIL back and
# forth (CPU time = wall time with 2 threads at 5000 starts each), i.e. run one at a time.
CHUNK_COORDS = 65536  # coordinates per chunk at most (d > 8): a (rows, d) float64 array of
# 512 KiB, a few of which fit in a 2 MiB L2 cache. At d = 50 a step of Adam+MoXCo with power:1
# on rastrigin took 54 ms per 1e4 starts in chunks of 5000 and 41 ms in chunks of 512-2048;
# at d = 200 chunks of 40 rows pay Python's per-call overhead (350 ms against 157 ms at 327).
MIN_CHUNK = 32  # starts per chunk at least, whatever d
PROCESS_MIN_STARTS = 2048  # starts per worker process, at least
PROCESS_MIN_WORK = 2_000_000  # trajectory-steps, at least: a fork costs milliseconds


@dataclass(frozen=True)
class Method:
    """A runnable optimizer: inner optimizer + inertia + commit rule + prox (+ restart, noise).

    Plain GD / Adam are `alpha = beta = 0` with commit mode `none`. Built from a method spec
    by `moxco_cli.methods.build`, which also records the resolved hyperparameters (`values`).
    Per-row hyperparameters (lr, momenta, threshold, tau, restart values as `(N,)` arrays)
    make one Method run many grid cells; `rows(index)` is then the Method of those rows.
    """

    name: str
    optimizer: Optimizer
    rule: CommitRule = field(default_factory=lambda: CommitRule(mode="none"))
    tau: float | np.ndarray = 0.15
    prox: Prox = identity
    restart: str | None = None  # adaptive restart (O'Donoghue & Candes 2015): None, RESTARTS
    noise_std: float = 0.0
    curvature: str = "exact"  # exact | power:K | lanczos:K (moxco_cli.curvature)
    score_every: int = 1  # goodness on steps t % score_every == 0
    batch: int = 0  # minibatch size of the gradient queries (0: full batch; moxco_cli.minibatch)
    values: dict | None = field(default=None, compare=False)  # resolved spec values
    rebuild: Callable | None = field(default=None, compare=False, repr=False)

    @property
    def lr(self) -> float | np.ndarray:
        """The nominal rate: a float, or `(N,)` per row."""
        lr = self.optimizer.lr
        return lr if np.ndim(lr) == 0 else np.asarray(lr).reshape(-1)

    @property
    def inv_eta_eff(self) -> float | np.ndarray:
        """Theorem 2 bound with the exploration momenta (units 1/lr); `(N,)` per row."""
        return inv_eta_eff(self.lr, self.rule.alpha, self.rule.beta)

    @property
    def scores(self) -> bool:
        """Whether scoring costs something: the method can commit (a plain method's monitor
        goodness is free)."""
        return self.rule.mode != "none"

    @property
    def fusable(self) -> bool:
        """The fused path covers the exact curvature scored every step, full batch."""
        return self.curvature == "exact" and self.score_every == 1 and self.batch == 0

    @property
    def row_count(self) -> int | None:
        """N for a per-row method (one value per trajectory), else None."""
        return None if self.rebuild is None else len(next(
            v for v in self.values.values() if np.ndim(v)))

    def rows(self, index) -> Method:
        """This method restricted to trajectories `index` (itself unless per-row)."""
        return self if self.rebuild is None else self.rebuild(index)


@dataclass
class Records:
    """Per-step records, row t = state at the start of step t (row T = final state).

    Shapes: `x (T+1, N, d)`; all others `(T+1, N)`. `alpha`, `beta` are the momenta used in
    step t (row T repeats row T-1); `committed` is the commit state in step t; `restarted`
    marks the steps whose velocity an adaptive restart reset (always False without one).
    """

    x: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    lam_max: np.ndarray
    goodness: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    committed: np.ndarray
    restarted: np.ndarray
    lam_max_exact: np.ndarray | None = None  # with check=True: the exact value beside lam_max

    def rows(self, index) -> Records:
        """The records of trajectories `index` (a slice or index array)."""
        return Records(**{k: None if v is None else v[:, index] for k, v in vars(self).items()})

    @classmethod
    def empty(cls, steps: int, n: int, d: int, check: bool = False) -> Records:
        shape = (steps + 1, n)
        return cls(
            x=np.empty((steps + 1, n, d)), loss=np.empty(shape), grad_norm=np.empty(shape),
            lam_max=np.empty(shape), goodness=np.empty(shape), alpha=np.empty(shape),
            beta=np.empty(shape), committed=np.empty(shape, dtype=bool),
            restarted=np.zeros(shape, dtype=bool),
            lam_max_exact=np.empty(shape) if check else None,
        )


@dataclass
class Trajectory:
    """What one `simulate` call returns. Step indices are -1 where the event never happened.

    `x0, final (N, d)`; `final_loss (N,)`; `commit_step (N,)` first step run with restart
    momenta; `diverged_step (N,)` the step whose update left the finite box (the trajectory
    stays frozen at theta of that step); `restart_step (N,)` the first step whose velocity an
    adaptive restart reset and `restart_count (N,)` how many steps it reset (both None for a
    method without adaptive restart); `grad_evals (N,)` and `hvps (N,)`: the cost (one
    gradient per step at the query point; for methods that can commit, one gradient and the
    curvature's HVPs per scoring, exact = d; steps after a divergence cost nothing).
    """

    method: str
    steps: int
    x0: np.ndarray
    final: np.ndarray
    final_loss: np.ndarray
    commit_step: np.ndarray
    diverged_step: np.ndarray
    records: Records | None = None
    restart_step: np.ndarray | None = None  # None: the method has no adaptive restart
    restart_count: np.ndarray | None = None
    grad_evals: np.ndarray | None = None  # (N,) gradient evaluations per trajectory
    hvps: np.ndarray | None = None  # (N,) Hessian-vector products (exact: d per scoring)

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0


class _Goodness:
    """`goodness(f, ||g||^2, lam_max)` for a batch of `n`, over buffers, bit for bit.

    Keeps `grad_sq (n,)` of the last call (the recorder takes `grad_norm` from it).
    """

    def __init__(self, n: int, d: int, *, f_target: float, inv_eta, tau) -> None:
        # inv_eta, tau: scalars or (n,) per row
        self.f_target, self.inv_eta, self.tau = f_target, inv_eta, tau
        self._neg_tau = -tau
        self._tau_positive = bool(np.all(np.greater(tau, 0.0)))
        self._g2 = np.empty((d, n))
        self._pen = np.empty(n)
        self._tmp = np.empty(n)
        self._gs = np.empty(n)
        self.grad_sq = self._gs

    def __call__(self, f: np.ndarray, g: np.ndarray, lam: np.ndarray) -> np.ndarray:
        g2 = np.multiply(g.T, g.T, out=self._g2)  # (d, n): summed column by column
        if len(g2) == 1:
            self.grad_sq = g2[0]
        else:
            self.grad_sq = gs = np.add(g2[0], g2[1], out=self._gs)
            for j in range(2, len(g2)):
                gs += g2[j]
        pen, tmp = self._pen, self._tmp
        np.subtract(lam, self.inv_eta, out=pen)
        np.maximum(pen, 0.0, out=pen)
        np.add(self.grad_sq, pen, out=pen)
        if self.f_target == 0.0:  # f - 0.0 is f, bit for bit (NaN, inf and -0.0 included)
            np.abs(f, out=tmp)
        else:
            np.abs(np.subtract(f, self.f_target, out=tmp), out=tmp)
        pen += tmp
        np.multiply(pen, self._neg_tau, out=pen)
        good = np.exp(pen)
        if self._tau_positive:  # then exp(-tau * penalty) is in [0, 1] or NaN: NaN counts as 0
            return np.fmax(good, 0.0, out=good)
        return np.where(np.isfinite(good), good, 0.0)


def _stacked(b, a, n: int) -> np.ndarray:
    """`[b, a]` as `(2, 1, 1)` for scalars, `(2, 1, n)` when either is per row."""
    if np.ndim(b) == 0 and np.ndim(a) == 0:
        return np.array([b, a], dtype=float)[:, None, None]
    return np.stack([np.broadcast_to(np.asarray(b, dtype=float), (n,)),
                     np.broadcast_to(np.asarray(a, dtype=float), (n,))])[:, None, :]


class _Commit:
    """The commit rule's per-step state for one chunk: latch, commit steps and momenta.

    Mirrors `CommitRule.apply` followed by the engine's bookkeeping, including that rows
    frozen by divergence get the momenta of their (unmasked) decision but never count as
    committed. The momenta are kept stacked as `ba = [b, a]`, shape `(2, 1, 1)` while every
    row uses the same pair (the common case) or `(2, 1, n)`, so that the query point and the
    step origin are computed in one pass; the products are the same either way. While no row
    has diverged, a latch only ever adds rows, so `ba` is updated on the new rows alone.
    """

    def __init__(self, rule: CommitRule, n: int) -> None:
        self.rule, self.n = rule, n
        self._explore = _stacked(rule.beta, rule.alpha, n)
        self._restart = _stacked(rule.beta_restart, rule.alpha_restart, n)
        self.ba = self._explore
        self.latched = np.zeros(n, dtype=bool)
        self.never = np.ones(n, dtype=bool)  # commit_step < 0
        self.commit_step = np.full(n, -1)
        self._above = np.empty(n, dtype=bool)
        self._count = 0  # rows latched (latch mode, no divergence yet)

    def _select(self, decision: np.ndarray) -> np.ndarray:
        count = np.count_nonzero(decision)
        if count == 0:
            return self._explore
        if count == self.n:
            return self._restart
        return np.where(decision, self._restart, self._explore)  # (2, 1, n)

    def step(self, t: int, good: np.ndarray, alive: np.ndarray | None) -> np.ndarray:
        """Apply the rule to goodness `(n,)` at step `t`; returns the committed mask `(n,)`.

        `alive` is None while no row has diverged.
        """
        rule = self.rule
        above = np.greater(good, rule.threshold, out=self._above)
        if rule.mode == "latch" and alive is None:
            decision = np.logical_or(self.latched, above)
            count = np.count_nonzero(decision)
            if count == self._count:
                return self.latched  # decision == latched: nothing changes
            rows = np.flatnonzero(decision & ~self.latched)  # commit_step < 0 on all of them
            self.commit_step[rows] = t
            self.never[rows] = False
            if count == self.n:
                self.ba = self._restart
            else:
                if self.ba is self._explore:
                    self.ba = np.broadcast_to(self._explore, (2, 1, self.n)).copy()
                restart = self._restart
                self.ba[:, :, rows] = restart if restart.shape[2] == 1 else restart[:, :, rows]
            self.latched, self._count = decision, count
            return decision
        decision = np.logical_or(self.latched, above) if rule.mode == "latch" else above.copy()
        self.ba = self._select(decision)
        committed = decision if alive is None else np.logical_and(decision, alive, out=decision)
        newly = committed & self.never
        if newly.any():
            self.commit_step[newly] = t
            self.never &= ~newly
        if rule.mode == "latch":
            self.latched = committed
            self._count = -1  # `ba` follows the unmasked decision now: no incremental updates
        return committed


def _restart_fired(scheme, f, last_f, last_gv, diff):
    """Rows `(n,)` whose velocity is reset at this step, or None on the first step.

    `function`: f(theta_t) > f(theta_{t-1}); `gradient`: grad f(v_{t-1}) . (theta_t -
    theta_{t-1}) > 0 (O'Donoghue & Candes 2015, with v the point the gradient was taken at)."""
    if scheme == "function":
        return None if last_f is None else f > last_f
    if last_gv is None:
        return None
    return np.einsum("dn,dn->n", last_gv, diff) > 0.0


def _run_chunk(landscape, method, x0, steps, rec, rows, noise_std, seed, start, progress):
    """Advance the starts `x0 (n, d)` (global rows `rows`); fill `rec[:, rows]` if recording.

    State is held columns first, `(d, n)` C-ordered, so that every column is contiguous and
    per-row factors `(n,)` broadcast along the fast axis; the landscape, the inner optimizer
    and the prox see `(n, d)` views (`.T`) of it. Each operation is the one of the inertia
    wrapper (`moxco_cli.inertia`) and of the goodness/commit rule, in the same order, so the
    numbers are those of `_run_chunk_generic`, bit for bit.
    """
    n, d = x0.shape
    rule, opt, prox = method.rule, method.optimizer, method.prox
    restart = method.restart
    need_goodness = rec is not None or rule.mode != "none" or restart == "function"
    share_grad = rule.beta_always_zero  # v_t == theta_t: reuse the gradient at theta_t
    draw = noise_draw(seed, start, n, d) if noise_std > 0 else None
    evaluator = landscape.evaluator(n)
    good_of = _Goodness(n, d, f_target=landscape.f_target, inv_eta=method.inv_eta_eff,
                        tau=method.tau)
    commit = _Commit(rule, n)

    x = np.array(x0.T, dtype=float, order="C")  # theta_t, (d, n)
    prev = x.copy()  # theta_{t-1}; theta_{-1} = theta_0
    x_new, diff = np.empty_like(x), np.empty_like(x)
    vu = np.empty((2, d, n))  # [v_t, u_t]
    opt_state = opt.init(x.T)
    alive = np.ones(n, dtype=bool)
    dead = None  # ~alive once a row has diverged
    diverged_step = np.full(n, -1)
    committed = commit.latched
    first_restart = np.full(n, -1)
    restart_count = np.zeros(n, dtype=np.int64)
    last_f = last_gv = None  # f(theta_{t-1}) and grad f(v_{t-1}), for adaptive restart
    report_every = max(1, min(100, steps // 20))
    reported = 0

    def record(t, f, lam, good, committed):
        rec.x[t, rows] = x.T
        rec.loss[t, rows] = f
        np.sqrt(good_of.grad_sq, out=rec.grad_norm[t, rows])
        rec.lam_max[t, rows] = lam
        if rec.lam_max_exact is not None:  # the fused path's lam_max is the exact one
            rec.lam_max_exact[t, rows] = lam
        rec.goodness[t, rows] = good
        rec.alpha[t, rows], rec.beta[t, rows] = commit.ba[1, 0], commit.ba[0, 0]
        rec.committed[t, rows] = committed

    for t in range(steps):
        f = g = None
        if need_goodness:
            f, g, lam = evaluator.evaluate(x.T)
            good = good_of(f, g, lam)
            if rule.mode != "none":
                committed = commit.step(t, good, None if dead is None else alive)
                if commit._count == n and rec is None and restart is None and dead is None:
                    # every row latched: no score can change anything now and none is kept,
                    # so the rest of the run skips scoring (same results; cost as defined)
                    need_goodness = False
            if rec is not None:
                record(t, f, lam, good, committed)
        elif share_grad:
            g = evaluator.grad(x.T)

        np.subtract(x, prev, out=diff)  # d_t
        if restart is not None:
            fired = _restart_fired(restart, f if need_goodness else None, last_f, last_gv, diff)
            if fired is not None:
                diff[:, fired] = 0.0  # zero velocity: this step is a plain inner step
                first_restart[fired & (first_restart < 0)] = t
                restart_count += fired
                if rec is not None:
                    rec.restarted[t, rows] = fired
            last_f = None if f is None else f.copy()
        if share_grad:
            u = vu[1]
            np.multiply(diff, commit.ba[1], out=u)
            np.add(x, u, out=u)  # u_t = theta_t + a_t d_t
            g_v = g
        else:
            np.multiply(diff, commit.ba, out=vu)
            np.add(x, vu, out=vu)  # v_t = theta_t + b_t d_t, u_t = theta_t + a_t d_t
            u = vu[1]
            g_v = evaluator.grad(vu[0].T)
        if draw is not None:
            noise = draw()
            np.multiply(noise, noise_std, out=noise)
            g_v = np.add(g_v.T, noise.T).T  # a new array: the optimizer may keep it
        step, opt_state = opt.update(g_v, opt_state)
        if restart == "gradient":
            last_gv = np.array(g_v.T)  # (d, n) copy: the evaluator reuses its buffers
        np.subtract(u, step.T, out=x_new)
        if prox is not identity:
            np.copyto(x_new, prox(x_new.T).T)

        if dead is not None:  # frozen rows stay at their last finite point, for good
            np.copyto(x_new, x, where=dead)
        if not (x_new.max() <= DIVERGENCE_LIMIT and x_new.min() >= -DIVERGENCE_LIMIT):
            ok = np.all(np.abs(x_new) <= DIVERGENCE_LIMIT, axis=0)  # False for NaN and inf
            newly = alive & ~ok
            if newly.any():
                diverged_step[newly] = t
                alive &= ok
                dead = ~alive
                np.copyto(x_new, x, where=newly)
        prev, x, x_new = x, x_new, prev
        if progress is not None and ((t + 1) % report_every == 0 or t + 1 == steps):
            progress(n * (t + 1 - reported))
            reported = t + 1

    if rec is not None:
        f, g, lam = evaluator.evaluate(x.T)
        record(steps, f, lam, good_of(f, g, lam), committed)
    final = np.ascontiguousarray(x.T)
    grads, hvps = _cost(method, steps, diverged_step, d)
    return (final, landscape.f(final), commit.commit_step, diverged_step, first_restart,
            restart_count, grads, hvps)


def _cost(method, steps, diverged_step, d):
    """`(grad_evals, hvps)` per row of an exact-curvature run: the steps a row took (up to and
    including the one that diverged), one gradient each, plus one gradient and d HVPs per
    scoring when the method can commit. The generic path counts the same as it goes."""
    taken = np.where(diverged_step >= 0, diverged_step + 1, steps).astype(np.int64)
    scorings = -(-taken // method.score_every) if method.scores else np.zeros_like(taken)
    return taken + scorings, scorings * d


def _run_chunk_generic(landscape, method, x0, steps, rec, rows, noise_std, seed, start,
                       progress):
    """The definition of one step, run as written: `_run_chunk` with the same signature and
    results, built from the pieces themselves instead of fused buffers.

    Per step t: goodness at theta_t (`goodness.goodness`) -> momenta from the commit rule
    (`CommitRule.apply`; rows frozen by divergence never count as committed) -> adaptive
    restart (velocity set to zero) -> query point and step of the inertia wrapper
    (`inertia.inertia`, prox included) with the gradient at v_t (+ noise) -> divergence
    freeze. `tests/test_engine.py` holds `_run_chunk` equal to this, bit for bit.
    """
    n, d = x0.shape
    rule, restart = method.rule, method.restart
    wrapper = inertia(method.optimizer, method.prox)
    inv_eta, f_target = method.inv_eta_eff, landscape.f_target
    need_goodness = rec is not None or rule.mode != "none" or restart == "function"
    draw = noise_draw(seed, start, n, d) if noise_std > 0 else None
    query_grad = minibatch.query_gradient(landscape, method.batch, seed, start, n)
    estimator = Estimator.for_rows(method.curvature, seed, start, n, d)
    every = method.score_every
    grads, hvps = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    check = rec is not None and rec.lam_max_exact is not None

    x = np.array(x0, dtype=float)
    state = wrapper.init(x)
    latched = np.zeros(n, dtype=bool)
    alive = np.ones(n, dtype=bool)
    commit_step, diverged_step = np.full(n, -1), np.full(n, -1)
    first_restart, restart_count = np.full(n, -1), np.zeros(n, dtype=np.int64)
    a, b, committed = *rule.apply(np.zeros(n), latched)[:2], latched
    last_f = last_gv = None
    report_every = max(1, min(100, steps // 20))
    reported = 0

    def score(x, scoring=True, count=True):
        """f, ||g||^2, lam_max and goodness at theta (lam, goodness NaN when not scoring);
        `count`: the scoring is part of the run's cost (the final record's is not)."""
        if estimator.kind == "exact" and scoring:
            f, g, lam = landscape.evaluate(x)  # every row, frozen ones included (records)
            used = np.full(n, d)
        elif scoring:
            f, g, hvp = landscape.scoring_terms(x)
            lam, used = estimator.estimate(landscape, x, alive, hvp)
        else:
            f, g = landscape.f(x), landscape.grad(x)
            lam, used = np.full(n, np.nan), np.zeros(n, dtype=np.int64)
        if scoring and count and method.scores:
            np.add(hvps, np.where(alive, used, 0), out=hvps)
            grads[:] += alive
        grad_sq = g[:, 0] * g[:, 0]
        for j in range(1, d):
            grad_sq = grad_sq + g[:, j] * g[:, j]
        good = (goodness(f, grad_sq, lam, f_target=f_target, inv_eta=inv_eta, tau=method.tau)
                if scoring else np.full(n, np.nan))
        return f, grad_sq, lam, good

    def record(t, f, grad_sq, lam, good):
        rec.x[t, rows], rec.loss[t, rows], rec.grad_norm[t, rows] = x, f, np.sqrt(grad_sq)
        rec.lam_max[t, rows], rec.goodness[t, rows] = lam, good
        if check:
            rec.lam_max_exact[t, rows] = landscape.lam_max(x)
        rec.alpha[t, rows], rec.beta[t, rows] = a[:, 0], b[:, 0]
        rec.committed[t, rows] = committed

    for t in range(steps):
        f = None
        scoring = t % every == 0
        if need_goodness and (scoring or rec is not None or restart == "function"):
            f, grad_sq, lam, good = score(x, scoring)
            if rule.mode != "none" and scoring:  # between scorings the commit state holds
                a, b, decision = rule.apply(good, latched)
                committed = decision & alive
                commit_step[committed & (commit_step < 0)] = t
                if rule.mode == "latch":
                    latched = committed
            if rec is not None:
                record(t, f, grad_sq, lam, good)
        if restart is not None:
            velocity = x - state.prev
            fired = _restart_fired(restart, f, last_f, last_gv, velocity.T)
            if fired is not None:
                state = InertiaState(state.inner, np.where(fired[:, None], x, state.prev))
                first_restart[fired & (first_restart < 0)] = t
                restart_count += fired
                if rec is not None:
                    rec.restarted[t, rows] = fired
            last_f = f
        g_v = query_grad(wrapper.query(x, state, b))
        grads += alive
        if draw is not None:
            g_v = g_v + noise_std * draw()
        if restart == "gradient":
            last_gv = g_v.T
        x_new, state = wrapper.update(x, g_v, state, a)

        ok = np.all(np.abs(x_new) <= DIVERGENCE_LIMIT, axis=1)  # False for NaN and inf
        newly = alive & ~ok
        diverged_step[newly] = t
        alive &= ok
        x = np.where(alive[:, None], x_new, x)
        if progress is not None and ((t + 1) % report_every == 0 or t + 1 == steps):
            progress(n * (t + 1 - reported))
            reported = t + 1

    if rec is not None:
        f, grad_sq, lam, good = score(x, steps % every == 0, count=False)
        record(steps, f, grad_sq, lam, good)
    return (x, landscape.f(x), commit_step, diverged_step, first_restart, restart_count, grads,
            hvps)


def _chunks(n: int, chunk_size: int | None, threads: int, *, aligned: bool, d: int,
            per_chunk: int | None = None) -> list[tuple[int, int]]:
    """Row ranges `[lo, hi)` covering `n` starts.

    With gradient noise (`aligned`), chunks are multiples of NOISE_BLOCK (each block has its
    own generator). Otherwise the starts are split into equal chunks, their number a multiple
    of `threads` so that every thread gets the same work: of at most `chunk_size` starts, or
    by default of about `per_chunk` starts (DEFAULT_CHUNK on one thread, else THREAD_CHUNK),
    and of at most CHUNK_COORDS coordinates (`d` per start) unless `chunk_size` says otherwise.
    """
    per_chunk = per_chunk or (DEFAULT_CHUNK if threads == 1 else THREAD_CHUNK)
    if chunk_size is None:
        per_chunk = min(per_chunk, max(MIN_CHUNK, CHUNK_COORDS // d))
    if aligned:
        size = chunk_size or per_chunk
        if n > size:
            size = max(NOISE_BLOCK, size // NOISE_BLOCK * NOISE_BLOCK)
        return [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    if chunk_size is None:
        count = max(1, round(n / per_chunk))
    else:
        count = max(1, -(-n // max(1, chunk_size)))
    if threads > 1 and n >= threads:
        count = -(-count // threads) * threads
    size = max(1, -(-n // count))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _default_processes(n: int, steps: int, record: bool, noisy: bool = False) -> int:
    """Worker processes for a run: every usable core once each gets PROCESS_MIN_STARTS starts
    (with noise: a whole NOISE_BLOCK) and the run is worth a fork; 1 (in-process) for records,
    a caller's thread or process pool, or off Linux."""
    if record or n * steps < PROCESS_MIN_WORK or not fork_available():
        return 1
    return max(1, min(usable_cores(), n // (NOISE_BLOCK if noisy else PROCESS_MIN_STARTS)))


def _balanced(bounds: list[tuple[int, int]], workers: int) -> list[list[tuple[int, int]]]:
    """Chunks dealt to `workers` lists, largest first to the least loaded, each in row order."""
    loads, lists = [0] * workers, [[] for _ in range(workers)]
    for lo, hi in sorted(bounds, key=lambda b: b[0] - b[1]):
        k = loads.index(min(loads))
        loads[k] += hi - lo
        lists[k].append((lo, hi))
    return [sorted(chunks) for chunks in lists if chunks]


def checked_starts(landscape: Landscape, method: Method, x0, steps: int, record: bool,
                   check: bool) -> np.ndarray:
    """`x0` as a float array `(N, d)` (a single start may be given as `(d,)`), after the
    checks every backend's `simulate` makes: d matches the landscape, steps >= 1, N >= 1,
    per-row values for N rows, `check` only with records. ValueError otherwise."""
    x0 = np.asarray(x0, dtype=float)
    if x0.ndim == 1:
        x0 = x0[:, None] if landscape.dim == 1 else x0[None, :]
    n, d = x0.shape
    if d != landscape.dim:
        raise ValueError(f"starts have {d} coordinates, {landscape.name} needs {landscape.dim}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if n < 1:
        raise ValueError("x0 holds no starts: need at least one row")
    if method.row_count is not None and method.row_count != n:
        raise ValueError(f"the method has per-row values for {method.row_count} "
                         f"trajectories, x0 holds {n}")
    if check and not record:
        raise ValueError("check=True keeps the exact lam_max in the records: needs record=True")
    return x0


def simulate(
    landscape: Landscape,
    method: Method,
    x0: np.ndarray,
    steps: int,
    *,
    record: bool = False,
    noise_std: float | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
    threads: int | None = None,
    processes: int | None = None,
    progress: Callable[[int], None] | None = None,
    path: str = "fused",
    check: bool = False,
) -> Trajectory:
    """Run `method` from every start in `x0 (N, d)` for `steps` steps.

    Args:
        record: keep per-step `Records` (memory `~ 8 (T+1) N (d+7)` bytes).
        noise_std: standard deviation of Gaussian noise added to each gradient query
            (default: the method's `noise_std`).
        seed: seeds the gradient noise (SPEC "Gradient noise").
        chunk_size: at most this many starts per chunk (with gradient noise: a multiple of
            NOISE_BLOCK when N is larger). Default: about DEFAULT_CHUNK starts per chunk on
            one thread, THREAD_CHUNK with threads.
        threads: worker threads for the chunks (in this process). Default: min(2, cores)
            once there are at least THREAD_CHUNK starts per thread, else 1.
        processes: forked worker processes for the chunks (Linux, main thread, no records;
            `threads` is then ignored). Default: every usable core once each gets
            PROCESS_MIN_STARTS starts and N x steps >= PROCESS_MIN_WORK, else 1 (none).
        progress: called with the number of trajectory-steps done since its last call
            (always from the calling thread when processes are used).
        path: "fused" (preallocated columns-first buffers, the default) or "generic" (the
            pieces run as written: the definition the fused path is tested against). A
            method with estimated curvature or `score_every > 1` always runs generic.
        check: with `record`, also keep the exact lam_max beside the estimate
            (`Records.lam_max_exact`).

    A per-row `method` (hyperparameters as `(N,)` arrays, `Method.row_count == N`) gives
    each trajectory its own values; row i's numbers equal the same values run alone.
    Results are the same bit for bit whatever the chunking, threads or processes.
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    if not method.fusable:  # estimated curvature or sparse scoring: the generic path only
        path = "generic"
    if noise_std is None:
        noise_std = method.noise_std
    x0 = checked_starts(landscape, method, x0, steps, record, check)
    n, d = x0.shape
    rec = Records.empty(steps, n, d, check) if record else None
    client = _SCHEDULER.get()
    if client is not None and processes is None and threads is None:
        return _simulate_distributed(client, landscape, method, x0, steps, record, noise_std,
                                     seed, chunk_size, progress, path, check)
    if processes is None:
        processes = _default_processes(n, steps, record, noise_std > 0)
    processes = min(processes, n if noise_std == 0 else -(-n // NOISE_BLOCK))
    if processes > 1:
        if record:
            raise ValueError("processes > 1 cannot keep per-step records; use threads")
        if not fork_available():
            raise ValueError("processes > 1 needs os.fork on Linux, from the main thread")
        return _simulate_forked(landscape, method, x0, steps, noise_std, seed, chunk_size,
                                processes, progress, _CHUNK_RUNNERS[path])
    if threads is None:
        threads = max(1, min(2, usable_cores(), n // THREAD_CHUNK))
    bounds = _chunks(n, chunk_size, threads, aligned=noise_std > 0, d=d)

    run_chunk = _CHUNK_RUNNERS[path]

    def job(lo_hi):
        lo, hi = lo_hi
        with np.errstate(all="ignore"):  # error state is per thread: set it in the worker
            return run_chunk(landscape, method.rows(slice(lo, hi)), x0[lo:hi], steps, rec,
                             slice(lo, hi), noise_std, seed, lo, progress)

    with np.errstate(all="ignore"):
        if len(bounds) > 1 and threads > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(job, bounds))
        else:
            parts = [job(bh) for bh in bounds]

    return _assemble(method, steps, x0, [np.concatenate(p) for p in zip(*parts, strict=True)],
                     rec)


def _assemble(method, steps, x0, columns, rec) -> Trajectory:
    """The Trajectory from a chunk runner's columns concatenated over the chunks:
    `(final, final_loss, commit_step, diverged_step, restart_step, restart_count,
    grad_evals, hvps)`."""
    final, final_loss, commit_step, diverged_step, restart_step, restart_count, grads, hvps = (
        columns)
    if method.restart is None:
        restart_step = restart_count = None
    return Trajectory(method.name, steps, x0, final, final_loss, commit_step, diverged_step, rec,
                      restart_step, restart_count, grads, hvps)


def _simulate_forked(landscape, method, x0, steps, noise_std, seed, chunk_size, processes,
                     progress, run_chunk) -> Trajectory:
    """`simulate` over `processes` forked workers, each running its chunks on one thread."""
    n, d = x0.shape
    aligned = noise_std > 0
    if aligned:  # whole noise blocks; single blocks unless there are plenty to deal
        per_chunk = DEFAULT_CHUNK if n >= 4 * processes * DEFAULT_CHUNK else NOISE_BLOCK
    else:
        per_chunk = DEFAULT_CHUNK if n >= processes * DEFAULT_CHUNK else -(-n // processes)
    bounds = _chunks(n, chunk_size, processes, aligned=aligned, d=d, per_chunk=per_chunk)
    final, final_loss = shared_empty((n, d)), shared_empty((n,))
    events = [shared_empty((n,), np.int64) for _ in range(6)]  # commit ... hvps

    def work(lo_hi, report):
        lo, hi = lo_hi
        with np.errstate(all="ignore"):
            part = run_chunk(landscape, method.rows(slice(lo, hi)), x0[lo:hi], steps, None,
                             slice(lo, hi), noise_std, seed, lo, report)
        final[lo:hi], final_loss[lo:hi] = part[:2]
        for out, values in zip(events, part[2:], strict=True):
            out[lo:hi] = values

    run_forked(_balanced(bounds, processes), work, progress)
    # Copies: arrays in shared memory would be written through by any later fork's child.
    return _assemble(method, steps, x0, [np.array(final), np.array(final_loss),
                                         *(np.array(e) for e in events)], None)


_CHUNK_RUNNERS = {"fused": _run_chunk, "generic": _run_chunk_generic}


# ------------------------------------------------------------------------------ Dask

_SCHEDULER: contextvars.ContextVar = contextvars.ContextVar("moxco_engine_scheduler",
                                                            default=None)


@contextmanager
def distributed(client):
    """Within this block, `simulate` sends its chunks to the Dask `client` (a
    `distributed.Client`) instead of running them here, unless a call pins `processes` or
    `threads`. Results are the same bit for bit: chunks are independent and each runs the
    same code on the same rows."""
    token = _SCHEDULER.set(client)
    try:
        yield
    finally:
        _SCHEDULER.reset(token)


def _chunk_job(landscape, method, x0, steps, record, noise_std, seed, start, path, check):
    """One chunk, self-contained for a remote worker: its results and its records."""
    n, d = x0.shape
    rec = Records.empty(steps, n, d, check) if record else None
    with np.errstate(all="ignore"):
        parts = _CHUNK_RUNNERS[path](landscape, method, x0, steps, rec, slice(0, n), noise_std,
                                     seed, start, None)
    return parts, rec


def _simulate_distributed(client, landscape, method, x0, steps, record, noise_std, seed,
                          chunk_size, progress, path, check) -> Trajectory:
    """`simulate` with every chunk a Dask task (as many chunks as workers, at least)."""
    from distributed import as_completed

    n, d = x0.shape
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    per_chunk = None if chunk_size else max(1, min(DEFAULT_CHUNK, -(-n // workers)))
    bounds = _chunks(n, chunk_size, workers, aligned=noise_std > 0, d=d,
                     per_chunk=per_chunk)
    futures = [client.submit(_chunk_job, landscape, method.rows(slice(lo, hi)), x0[lo:hi],
                             steps, record, noise_std, seed, lo, path, check, pure=False)
               for lo, hi in bounds]
    where = {f.key: k for k, f in enumerate(futures)}
    done = [None] * len(bounds)
    try:
        for fut in as_completed(futures):
            k = where[fut.key]
            done[k] = fut.result()
            if progress is not None:
                lo, hi = bounds[k]
                progress((hi - lo) * steps)
    finally:
        client.cancel(futures)
    rec = Records.empty(steps, n, d, check) if record else None
    if rec is not None:
        for (lo, hi), (_, part) in zip(bounds, done, strict=True):
            for name, values in vars(part).items():
                if values is not None:
                    getattr(rec, name)[:, lo:hi] = values
    return _assemble(method, steps, x0, [np.concatenate(p) for p in zip(
        *(parts for parts, _ in done), strict=True)], rec)
