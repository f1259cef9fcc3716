"""`simulate` compiled with JAX: the method spec and the landscape lowered, then jit-ed.

    traj = simulate(landscape, method, x0, steps, record=False, seed=0)   # an engine.Trajectory

The lowering follows `moxco_cli.engine._run_chunk_generic` (the definition) step for step:
goodness at theta_t (every step or on `t % score_every == 0`, exact lam_max or an estimate)
-> momenta from the commit rule (latch / reversible / none; frozen rows never count as
committed) -> adaptive restart -> gradient at the query point v_t (+ noise) -> inner
optimizer's step -> prox -> divergence freeze. Costs (`grad_evals`, `hvps`) are counted the
same way. The step is written once (`step`), over all trajectories at once (columns `(n,)`
of `jax_pieces`' layout), and a `lax.fori_loop` runs the steps, so a compiled program
depends only on the
method's *structure* (inner optimizer, commit mode, prox, restart, curvature estimator,
score_every, noise on/off, records), the landscape and the shapes. Every number
(learning rates, momenta, thresholds, ...) is an input, one per trajectory: per-row grids
and plain runs share programs, and JAX's persistent cache (`jax_setup`) keeps them on disk.

Differences from the NumPy engine, all documented in docs/method.md:
- gradients, HVPs and Hessians come from autodiff of the landscape's value (`jax_landscapes`),
  so numbers agree to rounding, not bit for bit;
- gradient noise is drawn from JAX's generator: start i's noise at step t is
  `jax.random.normal(fold_in(fold_in(key(seed), i), t), (d,))` (i the global start index),
  independent of batching but not the NumPy stream; runs with noise agree in distribution;
- the starts are split over the host devices (`jax_setup`), not over forked processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from moxco_cli.backends import jax_landscapes, jax_pieces
from moxco_cli.backends.jax_setup import BackendError, env_count, jit, load, on_cpu

DIVERGENCE_LIMIT = 1e6  # moxco_cli.engine.DIVERGENCE_LIMIT (checked equal by the tests)
SEGMENTS = 20  # progress is reported after each of about this many stretches of steps


@dataclass(frozen=True)
class Structure:
    """What a compiled program depends on besides shapes (hashable: the program cache key)."""

    landscape: tuple
    inner: str
    mode: str
    prox: str
    restart: str | None
    curvature: str  # exact | power | power-cold | lanczos
    curvature_steps: int
    score_every: int
    noise: bool
    record: bool
    check: bool
    dim: int
    per_row: tuple[str, ...] = ()  # numbers given one per trajectory (the others: scalars)

    @property
    def scores(self) -> bool:
        return self.mode != "none"

    @property
    def need_goodness(self) -> bool:
        return self.record or self.mode != "none" or self.restart == "function"

    @property
    def skips_latched(self) -> bool:
        """Whether a step skips the scoring once every trajectory of its batch has latched,
        as the NumPy engine's fused path does (`engine._run_chunk`: no score can change a
        latched row, none is recorded, no restart reads f; the same results, the cost
        counted as defined). Only where the scoring is the exact Hessian of d > 2, d HVPs
        and a symmetric eigensolve per point: there the test (one reduction per step, and a
        conditional the compiler cannot fuse across) costs less than the scoring it saves
        (two-layer-net:hidden=16, GD+MoXCo: every start latched by step 4 of 20). For d <= 2
        (a closed form) it would only add a reduction and a branch to every step."""
        return (self.mode == "latch" and not self.record and self.restart is None
                and self.curvature == "exact" and self.dim > 2)

    @property
    def eigvalsh(self) -> bool:
        """Whether the step calls LAPACK's symmetric eigensolver: lam_max is computed (a
        commit rule, a function restart or records need goodness) and is exact with d > 2 or
        Lanczos' (its tridiagonal matrices), or the exact one is recorded beside an
        estimate (`check`, d > 2). Such programs run on one host device: on two, runs
        calling it inside the loop hung at random (measured with jaxlib 0.10.2 on CPU, from
        d = 8 on), which the NumPy engine never does."""
        solved = (self.curvature == "exact" and self.dim > 2) or self.curvature == "lanczos"
        return (self.need_goodness and solved) or (self.record and self.check and self.dim > 2)

    @property
    def counts_hvps(self) -> bool:
        """Lanczos stops early per trajectory: its HVPs are counted as it goes. Every other
        cost follows from the divergence step (`engine._cost`)."""
        return self.scores and self.curvature == "lanczos"


def method_name(method) -> str:
    """The method's registered name (`adam+moxco` of the label `adam+moxco:lr=0.01`)."""
    from moxco_cli.methods import method_names

    name = method.name.partition(":")[0].strip()
    if name not in method_names() or method.values is None:
        raise BackendError(f"--backend jax: method {method.name!r} was not built from a "
                           "method spec (moxco_cli.methods.build), so it cannot be lowered")
    return name


def structure(landscape, method, noise_std: float, record: bool, check: bool) -> Structure:
    """The static structure of `method` on `landscape`; BackendError for what is not lowered."""
    from moxco_cli.curvature import parse_curvature
    from moxco_cli.methods import split_name

    reason = jax_landscapes.reason_not_lowered(landscape)
    if reason is not None:
        raise BackendError(f"--backend jax: {reason}")
    name = method_name(method)
    inner, _ = split_name(name)
    lowering = jax_pieces.inner(inner)  # refuses an optimizer without a lowering
    unknown = _unlowered_key(name, method.values, lowering.keys)
    if unknown is not None:
        raise BackendError(f"--backend jax: method key {unknown} of {name} is not lowered "
                           "(only at its default); run it with --backend numpy")
    kind, k = parse_curvature(method.curvature)
    numbers = numbers_of(method, noise_std)
    prox = "identity" if np.all(numbers["shrink"] == 0.0) else method.values["prox"]
    per_row = tuple(sorted(key for key, v in numbers.items() if np.ndim(v)))
    return Structure(jax_landscapes.identity_key(landscape), inner, method.rule.mode, prox,
                     method.restart, kind, k, int(method.score_every), bool(noise_std > 0),
                     bool(record), bool(check), int(landscape.dim), per_row)


# The method keys the lowering reads (besides the inner optimizer's own): a key declared
# later by a new piece is refused unless it is at its default, never silently ignored.
LOWERED_KEYS = frozenset({"lr", "alpha", "beta", "restart_alpha", "restart_beta", "threshold",
                          "tau", "commit", "prox", "prox_weight", "noise_std", "curvature",
                          "score_every"})


def _unlowered_key(name: str, values: dict, inner_keys) -> str | None:
    """The first declared key of `name` that the lowering does not read and that is set
    away from its default (e.g. `batch`), or None."""
    from moxco_cli.methods import params_of

    for p in params_of(name):
        if p.name in LOWERED_KEYS or p.name in inner_keys:
            continue
        value = values.get(p.name, p.default)
        if np.ndim(value) or value != p.default:
            return f"{p.name}={value!r}" if not np.ndim(value) else p.name
    return None


def supported(landscape, method) -> str | None:
    """Why this backend cannot run `method` on `landscape` (one line), or None."""
    try:
        structure(landscape, method, method.noise_std, False, False)
    except BackendError as exc:
        return str(exc)
    return None


def numbers_of(method, noise_std: float) -> dict:
    """Every number the program reads, by name: a float, or `(n,)` for the keys a per-row
    method sets one per trajectory. The inner optimizer's own keys (Adam's b1, b2, eps,
    RMSProp's rho, eps) are declared one per run, so Adam's bias corrections are one power
    per step."""
    from moxco_cli.methods import split_name

    values, rule = method.values, method.rule
    inner = jax_pieces.inner(split_name(method_name(method))[0])

    def number(v):
        return np.asarray(v, dtype=float).reshape(-1) if np.ndim(v) else float(v)

    out = {key: number(values[key]) for key in inner.keys}
    out.update(inner.derived(out))  # on the host, once (InnerLowering)
    out.update(lr=number(values["lr"]), alpha=number(rule.alpha), beta=number(rule.beta),
               alpha_restart=number(rule.alpha_restart),
               beta_restart=number(rule.beta_restart), threshold=number(rule.threshold),
               tau=number(method.tau), inv_eta=number(method.inv_eta_eff),
               shrink=number(np.asarray(values["lr"], dtype=float) * values["prox_weight"]),
               noise_std=float(noise_std))
    return out


def parameters(method, noise_std: float):
    """`(rows, shared)`: the per-trajectory numbers `(n,)` and the scalars (`numbers_of`)."""
    numbers = numbers_of(method, noise_std)
    rows = {k: v for k, v in numbers.items() if np.ndim(v)}
    shared = {k: np.float64(v) for k, v in numbers.items() if not np.ndim(v)}
    return rows, shared


class _Program:
    """The lowered method on the lowered landscape for one `Structure`: pure functions of
    explicit state (`initial(x0, rows, q0, ids, seed)` on the host; jit-ed: `advance(state,
    shared, t0, t1)`, `recorded(state, shared, steps)`, `whole(state, shared, steps)`; the
    host's `finish(state)`).

    The state is a dict of arrays: per trajectory `(n,)`, and vectors (points, moments, ...)
    in the layout of `jax_pieces` (a tuple of d `(n,)` columns for small d, else `(d, n)`),
    so that every coordinate of all trajectories is contiguous and each step compiles to a
    few elementwise loops. It holds only what the structure needs (no momenta without a
    commit rule, no vectors without an estimator, ...). `alive` (not frozen by divergence)
    is its own mask although it equals `diverged_step < 0`: derived inside the step, the
    program had one kernel less but ran 1.1x slower (measured, Beale Adam+MoXCo, N = 1e5).
    The state holds the last move `dx = theta_t - theta_{t-1}` (the engine's `d_t`, the
    same rounded difference), not theta_{t-1}: carrying theta_{t-1} made XLA copy the
    points' buffers three times per step (the new theta_{t-1} is the old theta_t, alive
    while the new theta_t is written), carrying dx once; the same final points bit for bit,
    1.03x-1.05x faster (Beale Adam+MoXCo, N = 1e5, alternating in one process).

    Why the state starts, and the results end, on the host: XLA's CPU compiler builds every
    distinct kernel of a program as its own LLVM module, at 3-40 ms each (measured, Beale
    Adam+MoXCo), so a program's first-call cost grows with its kernel count. Filling the
    initial arrays, splitting x0 into columns, stacking the final points and evaluating the
    final loss were 9 of that program's 31 kernels (8 of its 26 modules); on the host they
    cost microseconds."""

    def __init__(self, st: Structure, landscape, n_dev: int = 1) -> None:
        jax, jnp = load()
        self.st = st
        f = jax_landscapes.lower(landscape)
        # f is elementwise across columns, so the gradient of sum f is every column's own
        grad = jax.grad(lambda x: jnp.sum(f(x)))
        inner = jax_pieces.inner(st.inner)
        prox = jax_pieces.prox(st.prox)
        ew, dot, select = jax_pieces.ew, jax_pieces.dot, jax_pieces.select
        split, as_array = jax_pieces.split, jax_pieces.as_array
        f_target = float(landscape.f_target)
        d = st.dim
        columns = jax_pieces.columns_layout(d)
        estimated = st.curvature != "exact"
        cpu = on_cpu()

        def value_and_grad(x):
            fx, back = jax.vjp(f, x)
            return fx, back(jnp.ones_like(fx))[0]

        def hvp_at(x):
            return lambda v: jax.jvp(grad, (x,), (v,))[1]

        def hessian_columns(x):
            """`[H e_0, ..., H e_{d-1}]` at x. As columns (d <= 8), column j is the
            derivative of the gradient along coordinate j alone: the other coordinates'
            tangents are JAX's symbolic zeros, so no `0 * y` term is computed (XLA may not
            drop one, as `0 * inf` is NaN); the same numbers as an HVP with a unit vector
            wherever the Hessian is finite, with 34 of the Beale goodness kernel's 186
            operations fewer. As a `(d, n)` array, the d HVPs batched by `vmap` into one
            `(d, d, n)` array (column j at [j]): the program holds one batched HVP instead of
            d copies (two-layer-net hidden = 16, d = 49: compiled in 1.2 s instead of 4.4 s),
            over blocks of HVP_BLOCK points at a time (`lax.map`): the d HVPs' intermediates
            are d x points x the landscape's own work per point (two-layer-net: 49 x 16
            units x 30 data per point), so over a whole chunk they stream through memory,
            over a block they stay in cache: the same numbers bit for bit, 0.10 s instead of
            0.50 s for 1024 points of two-layer-net:hidden=16 (one device)."""
            if columns:
                def along(j):
                    return lambda xj: grad(x[:j] + (xj,) + x[j + 1:])
                return [jax.jvp(along(j), (x[j],), (jnp.ones_like(x[j]),))[1]
                        for j in range(d)]

            def block(xb):  # (d, k) -> (d, d, k)
                units = jnp.broadcast_to(jnp.eye(d, dtype=jnp.float64)[:, :, None],
                                         (d, d, xb.shape[-1]))
                return jax.vmap(hvp_at(xb))(units)

            n = x.shape[-1]
            # a few starts: one block; on an accelerator one too (a loop over small blocks
            # would run them one after another, and its memory is no core's cache)
            if n <= HVP_BLOCK or n % HVP_BLOCK or not cpu:
                return block(x)
            blocks = jax.lax.map(block, x.reshape(d, n // HVP_BLOCK, HVP_BLOCK)
                                 .transpose(1, 0, 2))  # (n / k, d, d, k)
            return blocks.transpose(1, 2, 0, 3).reshape(d, d, n)

        def exact_lam(x):
            return jax_pieces.lam_max_exact(hessian_columns(x))

        def estimate(s, x):
            """(lam, hvps used) of the estimator at x; frozen rows: NaN, 0 and q unchanged."""
            hvp, alive = hvp_at(x), s["alive"]
            if st.curvature == "lanczos":
                lam, used = jax_pieces.lanczos(hvp, s["q0"], min(st.curvature_steps, d))
            else:
                start = s["q"] if st.curvature == "power" else s["q0"]
                lam, q_new = jax_pieces.power(hvp, start, st.curvature_steps)
                used = jnp.full(alive.shape, st.curvature_steps, jnp.int64)
                if st.curvature == "power":
                    s["q"] = select(alive, q_new, s["q"])
            return jnp.where(alive, lam, jnp.nan), jnp.where(alive, used, 0)

        def momenta(s, p):
            """(a, b) of this step: the commit rule's, or the exploration values."""
            if st.mode == "none":
                return p["alpha"], p["beta"]
            return s["a"], s["b"]

        def goodness_step(s, p, x, t, scoring):
            """Score at x and apply the commit rule (when scoring): the new state and
            (f, ||g||^2, lam, goodness), lam and goodness NaN unless scoring."""
            s = dict(s)
            fx, g = value_and_grad(x)
            grad_sq = dot(g, g)
            n = fx.shape[0]
            if not scoring:
                nan = jnp.full(n, jnp.nan)
                return s, (fx, grad_sq, nan, nan)
            if estimated:
                lam, used = estimate(s, x)
                if st.counts_hvps:
                    s["hvps"] = s["hvps"] + used
            else:
                lam = exact_lam(x)
            good = jax_pieces.goodness(fx, grad_sq, lam, f_target, p["inv_eta"], p["tau"])
            if st.mode != "none":
                above = good > p["threshold"]
                decision = (s["latched"] | above) if st.mode == "latch" else above
                s["a"] = jnp.where(decision, p["alpha_restart"], p["alpha"])
                s["b"] = jnp.where(decision, p["beta_restart"], p["beta"])
                committed = decision & s["alive"]
                s["commit_step"] = jnp.where(committed & (s["commit_step"] < 0), t,
                                             s["commit_step"])
                s["latched"] = committed  # latch: the state; reversible: this step's
            return s, (fx, grad_sq, lam, good)

        def record_row(s, p, terms, fired):
            fx, grad_sq, lam, good = terms
            n = fx.shape[0]
            a, b = momenta(s, p)
            row = {"x": as_array(s["x"]).T, "loss": fx, "grad_norm": jnp.sqrt(grad_sq),
                   "lam_max": lam, "goodness": good, "alpha": jnp.broadcast_to(a, (n,)),
                   "beta": jnp.broadcast_to(b, (n,)),
                   "committed": s["latched"] if st.mode != "none" else jnp.zeros(n, bool),
                   "restarted": fired}
            if st.check:
                row["lam_max_exact"] = exact_lam(s["x"])
            return row

        def step(s, t, shared):
            """One step of every trajectory (SPEC order): the new state and its record."""
            p = {**s["p"], **shared}
            x = s["x"]
            terms = None

            def score(s):
                if st.score_every == 1:
                    return goodness_step(s, p, x, t, True)
                return jax.lax.cond(t % st.score_every == 0,
                                    lambda s: goodness_step(s, p, x, t, True),
                                    lambda s: goodness_step(s, p, x, t, False), s)

            def latched(s):
                """Every row latched: the commit state as scoring would leave it."""
                s, n = dict(s), s["latched"].shape[0]
                s["a"] = jnp.broadcast_to(p["alpha_restart"], (n,)).astype(jnp.float64)
                s["b"] = jnp.broadcast_to(p["beta_restart"], (n,)).astype(jnp.float64)
                nan = jnp.full(n, jnp.nan)
                return s, (nan, nan, nan, nan)  # read by nothing (no records, no restart)

            if st.skips_latched:  # a latch rule: it needs the goodness
                s, terms = jax.lax.cond(jnp.all(s["latched"]), latched, score, s)
            elif st.need_goodness:
                s, terms = score(s)
            s = dict(s)
            fired = jnp.zeros(s["alive"].shape, bool)
            if st.restart is not None:
                if st.restart == "function":
                    fired = (t > 0) & (terms[0] > s["last_f"])
                    s["last_f"] = terms[0]
                else:
                    fired = (t > 0) & (dot(s["last_gv"], s["dx"]) > 0.0)
                # theta_{t-1} := theta_t: the engine's theta_t - theta_{t-1} is then +0.0
                s["dx"] = select(fired, ew(jnp.zeros_like, x), s["dx"])
                s["first_restart"] = jnp.where(fired & (s["first_restart"] < 0), t,
                                               s["first_restart"])
                s["restart_count"] = s["restart_count"] + fired
            rec = record_row(s, p, terms, fired) if st.record else None
            a, b = momenta(s, p)
            v = ew(lambda x, dx: x + b * dx, x, s["dx"])
            g_v = grad(v)
            if st.noise:
                keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(s["key"], t)
                draw = jax.vmap(lambda k: jax.random.normal(k, (d,), dtype=jnp.float64))(keys)
                std = p["noise_std"]
                g_v = ew(lambda g, z: g + std * z, g_v, split(draw.T, columns))
            if st.restart == "gradient":
                s["last_gv"] = g_v
            delta, s["inner"] = inner.update(g_v, s["inner"], t, p)
            u = ew(lambda x, dx: x + a * dx, x, s["dx"])
            x_new = prox(ew(lambda u, step: u - step, u, delta), p["shrink"])
            # False for NaN and inf
            ok = jax_pieces.all_coords(ew(lambda c: jnp.abs(c) <= DIVERGENCE_LIMIT, x_new))
            s["diverged_step"] = jnp.where(s["alive"] & ~ok, t, s["diverged_step"])
            s["alive"] = s["alive"] & ok
            s["x"] = select(s["alive"], x_new, x)
            s["dx"] = ew(lambda new, old: new - old, s["x"], x)  # the engine's next d_t
            return s, rec

        def initial(x0, rows, shared, q0, ids, seed):
            """The state before step 0 (NumPy arrays, on the host; noise keys from JAX)."""
            n = x0.shape[0]
            xt = split(np.ascontiguousarray(x0.T, dtype=np.float64), columns)
            p = {**rows, **shared}
            s = {"x": xt, "dx": ew(np.zeros_like, xt), "p": rows, "inner": inner.init(xt),
                 "alive": np.ones(n, bool), "diverged_step": np.full(n, -1, np.int64)}
            if st.mode != "none":
                s.update(latched=np.zeros(n, bool), commit_step=np.full(n, -1, np.int64),
                         a=np.broadcast_to(p["alpha"], (n,)).astype(np.float64),
                         b=np.broadcast_to(p["beta"], (n,)).astype(np.float64))
            if st.restart is not None:
                s.update(first_restart=np.full(n, -1, np.int64),
                         restart_count=np.zeros(n, np.int64))
                if st.restart == "function":
                    s["last_f"] = np.zeros(n)
                else:
                    s["last_gv"] = ew(np.zeros_like, xt)
            if estimated:
                s["q0"] = split(np.ascontiguousarray(q0.T, dtype=np.float64), columns)
                if st.curvature == "power":
                    s["q"] = s["q0"]
            if st.counts_hvps:
                s["hvps"] = np.zeros(n, np.int64)
            if st.noise:
                s["key"] = self._parallel("keys", keys, (ids, np.int64(seed)), 0)
            return s

        def keys(ids, seed):
            base = jax.random.key(seed)
            return jax.vmap(lambda i: jax.random.fold_in(base, i))(ids)

        def advance(s, shared, t0, t1):
            return jax.lax.fori_loop(t0, t1, lambda t, s: step(s, t, shared)[0], s)

        def whole(s, shared, t1):
            """Every step, and only what `finish` reads (the rest is never copied back)."""
            return results(advance(s, shared, np.int64(0), t1))

        def recorded(s, shared, steps):
            s, recs = jax.lax.scan(lambda s, t: step(s, t, shared), s, jnp.arange(steps))
            p = {**s["p"], **shared}
            _, terms = goodness_step(s, p, s["x"], steps, steps % st.score_every == 0)
            return s, recs, record_row(s, p, terms, jnp.zeros(s["alive"].shape, bool))

        self.devices = n_dev
        self.initial = initial
        self._local = {"advance": advance, "recorded": recorded, "whole": whole}
        self._compiled: dict = {}

    # Data parallel over the host devices: each device runs the program on its own rows
    # (`shard_map`), so no collective is ever needed and XLA never re-partitions the loop.
    def _parallel(self, name, fn, args, out_axes, out_like=None):
        """`fn` jit-ed, per device when there are several. The inputs' rows are on their last
        axis (scalars are replicated); `out_axes` is 0 when every output has its rows first,
        else `out_axes(shapes)` gives the rows' axis of each output leaf (a tree like the
        output), whose shapes are `out_like` when given (else traced once more with
        `eval_shape`, a second trace of the whole step)."""
        jax, _ = load()
        key = (name, jax.tree_util.tree_structure(args))
        if key not in self._compiled:
            if self.devices == 1:
                self._compiled[key] = jit(fn)
            else:
                from jax.sharding import Mesh, PartitionSpec

                mesh = Mesh(np.array(jax.devices()[:self.devices]), ("rows",))

                def spec(leaf, axis):
                    if leaf.ndim == 0:
                        return PartitionSpec()
                    return PartitionSpec(*[("rows" if k == axis else None)
                                           for k in range(leaf.ndim)])

                in_specs = jax.tree_util.tree_map(lambda a: spec(a, a.ndim - 1), args)
                if out_axes == 0:  # every output has its rows first: one spec for the tree
                    out_specs = PartitionSpec("rows")
                else:
                    shapes = jax.eval_shape(fn, *args) if out_like is None else out_like
                    out_specs = jax.tree_util.tree_map(spec, shapes, out_axes(shapes))
                self._compiled[key] = jit(jax.shard_map(
                    fn, mesh=mesh, in_specs=tuple(in_specs), out_specs=out_specs,
                    check_vma=False))
        return self._compiled[key](*args)

    def advance(self, s, shared, t0, t1):
        return self._parallel("advance", self._local["advance"],
                              (s, shared, np.int64(t0), np.int64(t1)), _last_axes, out_like=s)

    def recorded(self, s, shared, steps):
        def run(s, shared):
            return self._local["recorded"](s, shared, steps)
        # state: rows last; records (T, n, ...): axis 1; the final row (n, ...): axis 0
        return self._parallel(f"recorded-{steps}", run, (s, shared), lambda shapes: (
            _last_axes(shapes[0]), _axes(shapes[1], 1), _axes(shapes[2], 0)))

    def whole(self, s, shared, steps):
        """Every step in one program, returning `results(state)`: runs nobody watches."""
        return self._parallel("whole", self._local["whole"], (s, shared, np.int64(steps)),
                              _last_axes, out_like=results(s))

    @staticmethod
    def finish(s) -> dict:
        """What a run returns (NumPy, on the host) from `results(state)` of its last step:
        `final (n, d)` and the per-trajectory steps and counts (the final loss is the
        landscape's own `f`, in `simulate`)."""
        jax, _ = load()
        s = jax.device_get(s)
        x = s.pop("x")
        final = (np.stack(x, axis=1) if isinstance(x, tuple)
                 else np.ascontiguousarray(np.asarray(x).T))
        n = final.shape[0]
        out = {"final": final, **{key: np.asarray(v) for key, v in s.items()}}
        out.setdefault("commit_step", np.full(n, -1, np.int64))
        return out


RESULTS = ("x", "diverged_step", "commit_step", "first_restart", "restart_count", "hvps")


def results(s: dict) -> dict:
    """The part of a state that a run returns (the keys of RESULTS it has)."""
    return {key: s[key] for key in RESULTS if key in s}


def _axes(tree, axis: int):
    jax, _ = load()
    return jax.tree_util.tree_map(lambda a: axis, tree)


def _last_axes(tree):
    jax, _ = load()
    return jax.tree_util.tree_map(lambda a: a.ndim - 1, tree)


_PROGRAMS: dict[tuple, _Program] = {}
TIMINGS: list[dict] = []  # structure, starts, steps and seconds of each call (benchmarks)
CHUNK = 8192  # starts per device and chunk: state of a chunk stays in cache (as NumPy's)
# Exact Hessians beyond d = 8 are d batched HVPs: two-layer-net:hidden=16 (d = 49, 30
# training points) peaked at 9.4 GB over 8192 starts in one chunk when a chunk's HVPs were
# held at once; computed HVP_BLOCK points at a time, 0.80 GB over 8192 starts and 0.41 GB in
# chunks of 1024, in the same time (measured, 5 steps).
HESSIAN_CHUNK = 1024
# Points per block of the batched exact Hessian (`hessian_columns`, d > 8): 8 to 32 ran
# alike (0.101-0.112 s for 1024 points of two-layer-net:hidden=16), 64 took 0.14 s.
HVP_BLOCK = 16
# Rows per device and chunk are a multiple of this: XLA's vectorized loops ran 1.7x and 3x
# slower over 4167 and 16667 rows (odd counts) than over 4224 and 16704 (measured, Beale
# Adam+MoXCo, one device, N = 5e4).
ROW_ALIGN = 64


def _program(st: Structure, landscape, n_dev: int) -> _Program:
    if (st, n_dev) not in _PROGRAMS:
        _PROGRAMS[st, n_dev] = _Program(st, landscape, n_dev)
    return _PROGRAMS[st, n_dev]


def _chunk_rows(st: Structure) -> int:
    """About how many starts per device a chunk holds: CHUNK, or HESSIAN_CHUNK where the
    exact Hessian is batched beyond d = 8 (`hessian_columns`: the Hessians themselves, d x d
    per row, and the eigensolver's work; a recorded run is one chunk whatever this says)."""
    formed = st.need_goodness and st.curvature == "exact"
    return HESSIAN_CHUNK if formed and not jax_pieces.columns_layout(st.dim) else CHUNK


def _chunks(n: int, n_dev: int, record: bool, rows: int = CHUNK) -> tuple[int, int]:
    """(chunks, rows per chunk): equal chunks of about `rows` starts per device, a multiple
    of the device count and, from ROW_ALIGN starts per device on, of ROW_ALIGN per device
    (the last chunk padded), so one compiled program runs them all; `count * size >= n >
    (count - 1) * size`. A few starts are not padded to ROW_ALIGN (a `run` of one start per
    method would record 64 rows). On an accelerator (not measured here: no GPU on this
    project's machines) one chunk: its memory is not a core's cache, and the more rows per
    kernel the better."""
    cpu = on_cpu()
    count = 1 if record or not cpu else max(1, round(n / (rows * n_dev)))
    align = ROW_ALIGN * n_dev if n >= ROW_ALIGN * n_dev else n_dev
    per_chunk = -(-n // count)
    size = -(-per_chunk // align) * align
    return -(-n // size), size  # aligning up may leave fewer chunks than `count`


def device_count(n: int, st: Structure) -> int:
    """Host devices for `n` starts: all of them (`MOXCO_JAX_DEVICES` at most), one for
    programs that call the eigensolver (`Structure.eigvalsh`)."""
    jax, _ = load()
    limit = env_count("MOXCO_JAX_DEVICES") or len(jax.devices())
    if st.eigvalsh:
        limit = 1
    return max(1, min(len(jax.devices()), limit, n))


def simulate(landscape, method, x0, steps: int, *, record: bool = False,
             noise_std: float | None = None, seed: int = 0, progress=None, check: bool = False,
             **_ignored):
    """`moxco_cli.engine.simulate` on this backend; the same arguments and Trajectory.

    `chunk_size`, `threads`, `processes` and `path` say how the NumPy engine splits its work
    and are ignored here (the starts are split over the host devices)."""
    from moxco_cli.curvature import start_vectors
    from moxco_cli.engine import Records, Trajectory, _cost, checked_starts

    jax, jnp = load()
    if noise_std is None:
        noise_std = method.noise_std
    x0 = checked_starts(landscape, method, x0, steps, record, check)
    n, d = x0.shape
    began = time.perf_counter()
    st = structure(landscape, method, noise_std, record, check)
    rows, shared = parameters(method, noise_std)
    q0 = start_vectors(seed, 0, n, d) if st.curvature != "exact" else np.zeros((n, 0))
    n_dev = device_count(n, st)
    program = _program(st, landscape, n_dev)
    count, size = _chunks(n, n_dev, record, _chunk_rows(st))
    # one call for all the steps, or about SEGMENTS calls when someone watches the progress
    every = steps if progress is None else max(1, -(-steps // SEGMENTS))
    parts, rec = [], None
    for k in range(count):
        lo = k * size
        take = np.minimum(np.arange(lo, lo + size), n - 1)  # the last chunk padded
        inputs = (x0[take], {key: v[take] for key, v in rows.items()}, q0[take],
                  take.astype(np.int64))
        inputs = (inputs[0], inputs[1], shared, inputs[2], inputs[3])
        s = program.initial(*inputs, seed)
        if progress is None and not record:  # dispatched now, read after the last chunk
            parts.append((min(size, n - lo), program.whole(s, shared, steps)))
            continue
        if record:
            s, recs, last = program.recorded(s, shared, steps)
            rec = _records(Records, recs, last, n, check)
            if progress is not None:
                progress(n * steps)
        else:
            real = min(size, n - lo)
            for t0 in range(0, steps, every):
                t1 = min(steps, t0 + every)
                s = program.advance(s, shared, t0, t1)
                if progress is not None:
                    jax.block_until_ready(s["x"])
                    progress(real * (t1 - t0))
        parts.append((min(size, n - lo), results(s)))
    out = {}
    for real, part in parts:
        for key, value in program.finish(part).items():
            out.setdefault(key, []).append(value[:real])
    out = {key: np.concatenate(v) for key, v in out.items()}
    with np.errstate(all="ignore"):  # a frozen row's f may overflow: inf, as on the engine
        out["final_loss"] = landscape.f(out["final"])  # the engine's definition
    TIMINGS.append({"structure": st, "n": n, "steps": steps,
                    "seconds": time.perf_counter() - began})
    if st.counts_hvps:  # lanczos: HVPs counted; one gradient per step and per scoring
        taken = np.where(out["diverged_step"] >= 0, out["diverged_step"] + 1, steps)
        grads = taken + -(-taken // st.score_every)
        hvps = out["hvps"].astype(np.int64)
    else:
        grads, hvps = _cost(method, steps, out["diverged_step"],
                            st.curvature_steps if st.curvature != "exact" else d)
    restart = method.restart is not None
    return Trajectory(method.name, steps, x0, out["final"], out["final_loss"],
                      out["commit_step"], out["diverged_step"], rec,
                      out["first_restart"] if restart else None,
                      out["restart_count"] if restart else None, grads.astype(np.int64),
                      hvps.astype(np.int64))


def _records(records_cls, recs, last, n: int, check: bool):
    """engine.Records `(T+1, n, ...)` from the scan's rows and the final row."""
    jax, _ = load()
    recs, last = jax.device_get((recs, last))
    fields = ["x", "loss", "grad_norm", "lam_max", "goodness", "alpha", "beta", "committed",
              "restarted"] + (["lam_max_exact"] if check else [])
    out = {k: np.concatenate([np.asarray(recs[k])[:, :n], np.asarray(last[k])[None, :n]])
           for k in fields}
    return records_cls(**out)
