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
Results do not depend on the chunking or the threads: every operation is row-wise and the
same, in the same order, as in the straightforward engine kept in
`benchmarks/reference_engine.py` (tests check equality bit for bit), and gradient noise comes
from one generator per block of `NOISE_BLOCK` starts, `default_rng([seed, block_index])`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from landscapes.base import Landscape
from moxco_cli.goodness import CommitRule, inv_eta_eff
from moxco_cli.optim.base import Optimizer
from moxco_cli.prox import Prox, identity
from moxco_cli.workers import fork_available, run_forked, shared_empty, usable_cores

DIVERGENCE_LIMIT = 1e6
RESTARTS = ("function", "gradient")  # velocity reset when f rose / when grad . step > 0
NOISE_BLOCK = 4096
# Chunking, measured with benchmarks/bench_engine.py on 2 cores (see `_chunks`):
DEFAULT_CHUNK = 8192  # starts per chunk on one thread (the measured optimum)
THREAD_CHUNK = 16384  # starts per chunk with threads, and the least worth a thread: with
# shorter chunks the NumPy calls are so short that the threads only hand the GIL back and
# forth (CPU time = wall time with 2 threads at 5000 starts each), i.e. run one at a time.
PROCESS_MIN_STARTS = 2048  # starts per worker process, at least
PROCESS_MIN_WORK = 2_000_000  # trajectory-steps, at least: a fork costs milliseconds


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
    restart: str | None = None  # adaptive restart (O'Donoghue & Candes 2015): None, RESTARTS

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


class _Goodness:
    """`goodness(f, ||g||^2, lam_max)` for a batch of `n`, over buffers, bit for bit.

    Keeps `grad_sq (n,)` of the last call (the recorder takes `grad_norm` from it).
    """

    def __init__(self, n: int, d: int, *, f_target: float, inv_eta: float, tau: float) -> None:
        self.f_target, self.inv_eta, self.tau = f_target, inv_eta, tau
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
        np.multiply(pen, -self.tau, out=pen)
        good = np.exp(pen)
        if self.tau > 0:  # then exp(-tau * penalty) is in [0, 1] or NaN: NaN counts as 0
            return np.fmax(good, 0.0, out=good)
        return np.where(np.isfinite(good), good, 0.0)


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
        self._explore = np.array([rule.beta, rule.alpha])[:, None, None]
        self._restart = np.array([rule.beta_restart, rule.alpha_restart])[:, None, None]
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
                    self.ba = np.repeat(self._explore, self.n, axis=2)
                self.ba[:, :, rows] = self._restart
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
    numbers are those of the straightforward engine (`benchmarks/reference_engine.py`).
    """
    n, d = x0.shape
    rule, opt, prox = method.rule, method.optimizer, method.prox
    restart = method.restart
    need_goodness = rec is not None or rule.mode != "none" or restart == "function"
    share_grad = rule.beta_always_zero  # v_t == theta_t: reuse the gradient at theta_t
    draw = _noise_draw(seed, start, n, d) if noise_std > 0 else None
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
    first_restart = np.full(n, -1) if restart is not None else None
    last_f = last_gv = None  # f(theta_{t-1}) and grad f(v_{t-1}), for adaptive restart
    report_every = max(1, min(100, steps // 20))
    reported = 0

    def record(t, f, lam, good, committed):
        rec.x[t, rows] = x.T
        rec.loss[t, rows] = f
        np.sqrt(good_of.grad_sq, out=rec.grad_norm[t, rows])
        rec.lam_max[t, rows] = lam
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
                if rec is not None:
                    rec.committed[t, rows] = fired
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
    events = commit.commit_step if restart is None else first_restart
    return final, landscape.f(final), events, diverged_step


def _chunks(n: int, chunk_size: int | None, threads: int, *,
            aligned: bool, per_chunk: int | None = None) -> list[tuple[int, int]]:
    """Row ranges `[lo, hi)` covering `n` starts.

    With gradient noise (`aligned`), chunks are multiples of NOISE_BLOCK (each block has its
    own generator). Otherwise the starts are split into equal chunks, their number a multiple
    of `threads` so that every thread gets the same work: of at most `chunk_size` starts, or
    by default of about `per_chunk` starts (DEFAULT_CHUNK on one thread, else THREAD_CHUNK).
    """
    per_chunk = per_chunk or (DEFAULT_CHUNK if threads == 1 else THREAD_CHUNK)
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


def simulate(
    landscape: Landscape,
    method: Method,
    x0: np.ndarray,
    steps: int,
    *,
    record: bool = False,
    noise_std: float = 0.0,
    seed: int = 0,
    chunk_size: int | None = None,
    threads: int | None = None,
    processes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Run `method` from every start in `x0 (N, d)` for `steps` steps.

    Args:
        record: keep per-step `Records` (memory `~ 8 (T+1) N (d+7)` bytes).
        noise_std: standard deviation of Gaussian noise added to each gradient query.
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

    Results are the same bit for bit whatever the chunking, threads or processes.
    """
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
    rec = Records.empty(steps, n, d) if record else None
    if processes is None:
        processes = _default_processes(n, steps, record, noise_std > 0)
    processes = min(processes, n if noise_std == 0 else -(-n // NOISE_BLOCK))
    if processes > 1:
        if record:
            raise ValueError("processes > 1 cannot keep per-step records; use threads")
        if not fork_available():
            raise ValueError("processes > 1 needs os.fork on Linux, from the main thread")
        return _simulate_forked(landscape, method, x0, steps, noise_std, seed, chunk_size,
                                processes, progress)
    if threads is None:
        threads = max(1, min(2, usable_cores(), n // THREAD_CHUNK))
    bounds = _chunks(n, chunk_size, threads, aligned=noise_std > 0)

    def job(lo_hi):
        lo, hi = lo_hi
        with np.errstate(all="ignore"):  # error state is per thread: set it in the worker
            return _run_chunk(landscape, method, x0[lo:hi], steps, rec, slice(lo, hi),
                              noise_std, seed, lo, progress)

    with np.errstate(all="ignore"):
        if len(bounds) > 1 and threads > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(job, bounds))
        else:
            parts = [job(bh) for bh in bounds]

    final, final_loss, commit_step, diverged_step = (
        np.concatenate(p) for p in zip(*parts, strict=True))
    return Trajectory(method.name, steps, x0, final, final_loss, commit_step, diverged_step, rec)


def _simulate_forked(landscape, method, x0, steps, noise_std, seed, chunk_size, processes,
                     progress) -> Trajectory:
    """`simulate` over `processes` forked workers, each running its chunks on one thread."""
    n, d = x0.shape
    aligned = noise_std > 0
    if aligned:  # whole noise blocks; single blocks unless there are plenty to deal
        per_chunk = DEFAULT_CHUNK if n >= 4 * processes * DEFAULT_CHUNK else NOISE_BLOCK
    else:
        per_chunk = DEFAULT_CHUNK if n >= processes * DEFAULT_CHUNK else -(-n // processes)
    bounds = _chunks(n, chunk_size, processes, aligned=aligned, per_chunk=per_chunk)
    final, final_loss = shared_empty((n, d)), shared_empty((n,))
    commit_step, diverged_step = shared_empty((n,), np.int64), shared_empty((n,), np.int64)

    def work(lo_hi, report):
        lo, hi = lo_hi
        with np.errstate(all="ignore"):
            part = _run_chunk(landscape, method, x0[lo:hi], steps, None, slice(lo, hi),
                              noise_std, seed, lo, report)
        final[lo:hi], final_loss[lo:hi], commit_step[lo:hi], diverged_step[lo:hi] = part

    run_forked(_balanced(bounds, processes), work, progress)
    # Copies: arrays in shared memory would be written through by any later fork's child.
    return Trajectory(method.name, steps, x0, np.array(final), np.array(final_loss),
                      np.array(commit_step), np.array(diverged_step))
