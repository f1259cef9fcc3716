"""The method pieces lowered to JAX, over a batch held columns first.

Each piece is the formula of its NumPy module, operation for operation where that matters
for rounding (two exceptions, each an ulp and one division per step fewer, for speed: Adam's
bias corrections as reciprocals, and `radius` for the 2 x 2 lam_max's hypot; docs/method.md,
Backends, "Arithmetic"), written over `(d, n)` arrays (one trajectory per column) and `(n,)`
rows:

    inner optimizers   moxco_cli/optim/{gd,adam,rmsprop}.py    INNER[name]
    prox               moxco_cli/prox.py                        prox(name)
    goodness           moxco_cli/goodness.py                    goodness
    curvature          moxco_cli/curvature.py                   power, lanczos
    lam_max (d <= 2)   landscapes/base.py lam_max_from_hessian  lam_max_exact

A batch of vectors (points, gradients, Adam's moments, ...) has one of two layouts, chosen
once per program by the dimension (`columns_layout`):

- d <= COLUMNS_MAX: a tuple of d `(n,)` arrays, one per coordinate;
- beyond: one `(d, n)` array.

Why two: XLA fuses elementwise work only across arrays of one shape. Held as `(2, n)`,
Beale's gradient is a concatenation of two rows, and each fused loop that reads it
recomputes the shared residuals once per row; held as two `(n,)` columns, one step of the
whole method fuses into a few loops over `(n,)` (Beale Adam+MoXCo, one device: 1.3x faster
in the backend, 1.6x in a minimal hand-written step). Beyond a few coordinates one array
keeps the program small. Every piece below is written once for both: `ew` maps an
elementwise function over the coordinates (a tuple is a pytree of columns, an array a single
leaf), `colsum` sums over them, and `x[j]` is coordinate j in either layout.

An inner optimizer's lowering names the hyperparameters it reads; `check_declared` holds
them equal to the keys the optimizer declares (`InnerSpec.params`), so a key added to an
optimizer without its lowering is refused, not ignored. Hyperparameters arrive as one value
per trajectory (`p["lr"]`, ...), so per-row grids and plain runs compile alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from moxco_cli.backends.jax_setup import BackendError, load

COLUMNS_MAX = 8  # vectors of at most this many coordinates are held as columns


def columns_layout(d: int) -> bool:
    """Whether a batch of d-vectors is held as a tuple of `(n,)` columns (else `(d, n)`)."""
    return d <= COLUMNS_MAX


def ew(fn, *vectors):
    """`fn` applied coordinate by coordinate to vectors of one layout (rows `(n,)` and scalars
    enter `fn` through its closure): a tuple of columns in, a tuple out; an array in, an
    array out."""
    jax, _ = load()
    return jax.tree_util.tree_map(fn, *vectors)


def select(mask, new, old):
    """`where(mask, new, old)` per trajectory (`mask (n,)`) over two vectors of one layout."""
    _, jnp = load()
    return ew(lambda a, b: jnp.where(mask, a, b), new, old)


def split(a, columns: bool):
    """A `(d, n)` array in the layout: its rows as columns, or itself."""
    return tuple(a[j] for j in range(a.shape[0])) if columns else a


def as_array(v):
    """The `(d, n)` array of a vector in either layout."""
    _, jnp = load()
    return jnp.stack(v) if isinstance(v, tuple) else v


def all_coords(mask):
    """`(n,)`: True where every coordinate of the boolean vector `mask` is."""
    _, jnp = load()
    if not isinstance(mask, tuple) and mask.shape[0] > UNROLLED_SUM:
        return jnp.all(mask, axis=0)
    out = mask[0]
    for j in range(1, len(mask)):
        out = out & mask[j]
    return out


@dataclass(frozen=True)
class InnerLowering:
    """`init(x) -> state` and `update(g, state, t, p) -> (step, state)` over vectors in either
    layout (`ew`), with `t` the 0-based step (shared) and `p` the hyperparameters: `(n,)`
    rows for keys set per trajectory, scalars for the others. `init` runs on the host, over
    NumPy arrays: the initial state is an input of the compiled program, not a part of it
    (each kernel costs compile time, `jax_engine._Program`). For the same reason `host(p)`
    derives, once per run and on the host, the numbers `update` reads that depend on the
    hyperparameters alone (Adam's `1 - b1`): inside the program XLA hoists each out of the
    loop into a kernel of its own. The same IEEE operation either way, so the same bits."""

    keys: tuple[str, ...]  # declared keys read besides lr
    init: object
    update: object
    host: object = None  # p -> {name: number}; None: nothing derived

    def derived(self, p: dict) -> dict:
        return {} if self.host is None else self.host(p)


def _gd():
    def init(x):
        return ()

    def update(g, state, t, p):
        lr = p["lr"]
        return ew(lambda g: lr * g, g), ()

    return InnerLowering((), init, update)


def _adam():
    jax, jnp = load()

    def init(x):
        return (ew(np.zeros_like, x), ew(np.zeros_like, x))

    def update(g, state, t, p):
        m, s = state
        b1, b2, lr, eps = p["b1"], p["b2"], p["lr"], p["eps"]
        count = (t + 1).astype(jnp.float64)
        # the bias corrections' reciprocals, once per step: two divisions per coordinate
        # fewer than the engine's `m / c1`, `s / c2` (divisions and square roots share one
        # unit and bound this loop: 1.05x faster, Beale Adam+MoXCo, N = 1e5), at a
        # rounding difference of an ulp per step
        r1, r2 = 1.0 / (1.0 - b1**count), 1.0 / (1.0 - b2**count)
        rest1, rest2 = p["1-b1"], p["1-b2"]
        m = ew(lambda m, g: m * b1 + g * rest1, m, g)
        s = ew(lambda s, g: s * b2 + (g * g) * rest2, s, g)
        step = ew(lambda m, s: m * r1 * lr / (jnp.sqrt(s * r2) + eps), m, s)
        return step, (m, s)

    def host(p):
        return {"1-b1": 1.0 - p["b1"], "1-b2": 1.0 - p["b2"]}

    return InnerLowering(("b1", "b2", "eps"), init, update, host)


def _rmsprop():
    jax, jnp = load()

    def init(x):
        return (ew(np.zeros_like, x),)

    def update(g, state, t, p):
        (s,) = state
        rho, lr, eps = p["rho"], p["lr"], p["eps"]
        rest = p["1-rho"]
        s = ew(lambda s, g: s * rho + rest * (g * g), s, g)
        return ew(lambda g, s: g * lr / (jnp.sqrt(s) + eps), g, s), (s,)

    def host(p):
        return {"1-rho": 1.0 - p["rho"]}

    return InnerLowering(("rho", "eps"), init, update, host)


INNER = {"gd": _gd, "adam": _adam, "rmsprop": _rmsprop}


def inner(name: str) -> InnerLowering:
    """The lowering of inner optimizer `name`, checked against its declaration."""
    from moxco_cli.optim import REGISTRY

    if name not in INNER:
        raise BackendError(f"--backend jax: inner optimizer {name!r} has no jax lowering "
                           f"(lowered: {', '.join(INNER)})")
    lowering = INNER[name]()
    declared = tuple(p.name for p in REGISTRY[name].params)
    if set(declared) != set(lowering.keys):
        raise BackendError(f"--backend jax: the jax lowering of {name} reads "
                           f"{', '.join(lowering.keys) or 'no keys'} but {name} declares "
                           f"{', '.join(declared) or 'none'}")
    return lowering


def prox(name: str):
    """`prox(z, shrink (n,)) -> z'` over a vector in either layout, shrink = lr * prox_weight
    per trajectory."""
    jax, jnp = load()
    if name == "identity":
        return lambda z, shrink: z
    if name == "l1":
        return lambda z, shrink: ew(
            lambda z: jnp.sign(z) * jnp.maximum(jnp.abs(z) - shrink, 0.0), z)
    if name == "binary":
        def binary(z):
            return jnp.where(z >= 0.0, 1.0, -1.0)
        return lambda z, shrink: ew(lambda z: z + jnp.clip(binary(z) - z, -shrink, shrink), z)
    raise BackendError(f"--backend jax: prox {name!r} has no jax lowering")


UNROLLED_SUM = 16  # sums over at most this many coordinates are written out, in order


def colsum(a):
    """`sum_j a[j]` over the coordinates of a vector (either layout) -> `(n,)`: for small d in
    NumPy's order, `a[0] + a[1] + ...` (the engine's `grad_sq`), as one elementwise
    expression."""
    _, jnp = load()
    if not isinstance(a, tuple) and a.shape[0] > UNROLLED_SUM:
        return jnp.sum(a, axis=0)
    out = a[0]
    for j in range(1, len(a)):
        out = out + a[j]
    return out


def dot(a, b):
    """`sum_j a[j] b[j]` -> `(n,)` of two vectors of one layout."""
    return colsum(ew(lambda a, b: a * b, a, b))


def goodness(f, grad_sq, lam, f_target, inv_eta, tau):
    """`exp(-tau (||g||^2 + max(lam - 1/eta_eff, 0) + |f - f_target|))`, non-finite -> 0."""
    _, jnp = load()
    penalty = grad_sq + jnp.maximum(lam - inv_eta, 0.0) + jnp.abs(f - f_target)
    g = jnp.exp(-(tau * penalty))  # == exp(-tau * penalty): negation is exact
    return jnp.where(jnp.isfinite(g), g, 0.0)


def lam_max_exact(columns):
    """Largest eigenvalue `(n,)` of symmetric Hessians given as their columns
    `[H e_0, ..., H e_{d-1}]`, each a vector (either layout), or stacked as one `(d, d, n)`
    array (column j at [j]): closed forms for d <= 2 (the cancellation-free form of
    `landscapes.base.lam_max_2x2`), `eigvalsh` beyond."""
    _, jnp = load()
    d = len(columns)
    if d == 1:
        return columns[0][0]
    if d == 2:
        a, b, c = columns[0][0], 0.5 * (columns[0][1] + columns[1][0]), columns[1][1]
        m = 0.5 * (a + c)
        r = radius(0.5 * (a - c), b)
        mr = m - r
        small = jnp.where(mr != 0.0, (a * c - b * b) / jnp.where(mr != 0.0, mr, 1.0), m + r)
        return jnp.where(m >= 0.0, m + r, small)
    if isinstance(columns, list):
        columns = jnp.stack([as_array(c) for c in columns])  # (d, d, n): column j at [j]
    h = columns.transpose(2, 1, 0)  # (n, d, d)
    return eigvalsh(0.5 * (h + h.transpose(0, 2, 1)))[:, -1]


_SYEVD: list = []  # [the LAPACK kernel's target name, or None], once probed
_SYEVD_LOCK = threading.Lock()


def eigvalsh(h):
    """Eigenvalues `(n, d)` (ascending) of symmetric matrices `h (n, d, d)` float64.

    On the CPU, jaxlib's LAPACK `dsyevd` asked for eigenvalues alone (`mode='N'`, as NumPy's
    `eigvalsh` asks): `jnp.linalg.eigvalsh` computes the eigenvectors too and drops them,
    2.2x the time (1000 matrices 49 x 49: 0.18 s against 0.083 s, NumPy's 0.080 s). A row
    LAPACK reports as failed is NaN, as in JAX's own. The kernel is the one JAX's `eigh`
    calls, found and initialized the way JAX's lowering does (`jaxlib.lapack.
    prepare_lapack_call`: without it the kernel's LAPACK pointers are unset); off the CPU,
    or where this jaxlib lacks it or it fails a 3 x 3 check, `jnp.linalg.eigvalsh`
    (`eigensolver()` says which)."""
    _, jnp = load()
    target = prepare_eigvalsh()
    if target is None:
        return jnp.linalg.eigvalsh(h)
    return _values_only(target, h)


def _values_only(target: str, h):
    jax, jnp = load()
    out = (jax.ShapeDtypeStruct(h.shape, h.dtype), jax.ShapeDtypeStruct(h.shape[:-1], h.dtype),
           jax.ShapeDtypeStruct(h.shape[:-2], jnp.int32))
    call = jax.ffi.ffi_call(target, out, input_output_aliases={0: 0})
    # a symmetric matrix is its own transpose: row-major in, LAPACK reads it column-major
    _, w, info = call(h, mode=np.uint8(ord("N")), uplo=np.uint8(ord("L")))
    return jnp.where((info == 0)[..., None], w, jnp.nan)


def prepare_eigvalsh() -> str | None:
    """Find and check the eigenvalues-only kernel, once per process (under a lock, and
    evaluated eagerly even when called while a program is traced); its target name or
    None."""
    with _SYEVD_LOCK:
        if not _SYEVD:
            _SYEVD.append(_probe_syevd())
        return _SYEVD[0]


def _probe_syevd() -> str | None:
    jax, _ = load()
    try:
        if jax.devices()[0].platform != "cpu":
            return None
        from jaxlib import lapack

        name = lapack.prepare_lapack_call("syevd_ffi", np.dtype(np.float64))
        h = np.array([[[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]])
        with jax.ensure_compile_time_eval():  # not staged into a program being traced
            w = np.asarray(jax.jit(lambda h: _values_only(name, h))(h))
    except Exception:  # noqa: BLE001 - no such kernel or module in this jaxlib
        return None
    return name if np.allclose(w, [[1.0, 3.0, 5.0]], rtol=0.0, atol=1e-12) else None


def eigensolver() -> str | None:
    """Which eigensolver this process's programs call (for config.json), None if none
    has been needed yet."""
    with _SYEVD_LOCK:
        if not _SYEVD:
            return None
        target = _SYEVD[0]
    return (f"LAPACK dsyevd, eigenvalues only ({target})" if target is not None
            else "jax.numpy.linalg.eigvalsh")


def radius(h, b):
    """`hypot(h, b)` `(n,)` without hypot's division: `sqrt(h^2 + b^2)`, both scaled by an
    exact power of two where a square would overflow (max(|h|, |b|) > 2^500) or where the
    smaller one's square would matter yet fall below the normal range (max < 2^-200: XLA's
    CPU code flushes subnormal results to zero). XLA's hypot is `max * sqrt(1 + (min /
    max)^2)`; one division fewer per step made Beale Adam+MoXCo 1.05x faster (N = 1e5,
    measured before the scaling was added: eight cheap operations more).
    Within an ulp of hypot (tests); unscaled in between, inf for an infinite entry, NaN for
    a NaN one.

    The scaling up is by 2^511, whose square is finite: XLA's simplifier may regroup
    `(x s) (x s)` into `(x x) (s s)` where x is a compile-time constant (a Hessian entry
    that is an exact zero, as the mixed partial of a separable landscape, in a program of
    one row per device). With 2^600, `s s` was inf, and `0 inf` made lam_max NaN for every
    Hessian c I (rastrigin's and styblinski-tang's default starts in `moxco run`). With
    2^511 the regrouped form is exact for such constants; only a constant entry beyond
    2^500 would still meet an overflowing `s s` (its scale down, 2^-600, squares to 0)."""
    _, jnp = load()
    big = jnp.maximum(jnp.abs(h), jnp.abs(b))
    down, up = big > 2.0**500, big < 2.0**-200
    scale = jnp.where(down, 2.0**-600, jnp.where(up, 2.0**511, 1.0))
    back = jnp.where(down, 2.0**600, jnp.where(up, 2.0**-511, 1.0))
    h, b = h * scale, b * scale
    return jnp.sqrt(h * h + b * b) * back


def power(hvp, q, steps: int):
    """`steps` power-iteration steps from unit vectors `q` (either layout): `(estimate (n,),
    q)` (curvature.py)."""
    jax, jnp = load()

    def body(_, carry):
        q, _est = carry
        w = hvp(q)
        est = dot(q, w)
        norm = jnp.sqrt(dot(w, w))
        safe = jnp.where(norm > 0, norm, 1.0)
        q = ew(lambda w, q: jnp.where(norm > 0, w / safe, q), w, q)
        return q, est

    n = q[0].shape[-1]
    q, est = jax.lax.fori_loop(0, steps, body, (q, jnp.zeros(n, jnp.float64)))
    return est, q


def lanczos(hvp, q0, steps: int):
    """Largest Ritz value `(n,)` and HVPs taken `(n,)` after up to `steps` Lanczos steps with
    full reorthogonalization (two Gram-Schmidt passes) from unit vectors `q0` (either
    layout; the basis is held as one array); a trajectory stops once its next off-diagonal
    is <= 1e-12 max(1, |alpha_0|) (curvature.lanczos)."""
    jax, jnp = load()
    columns = isinstance(q0, tuple)
    q0 = as_array(q0)
    d, n = q0.shape
    hvp_vector = hvp

    def hvp(v):
        return as_array(hvp_vector(split(v, columns)))

    def body(j, carry):
        basis, alpha, beta, active, taken, q = carry
        basis = basis.at[j].set(jnp.where(active, q, 0.0))
        w = hvp(q)
        taken = taken + active
        alpha = alpha.at[j].set(jnp.where(active, colsum(q * w), 0.0))
        for _ in range(2):  # rows of `basis` past j are zero: the same sums as over [:j+1]
            coef = jnp.einsum("kdn,dn->kn", basis, w)
            w = w - jnp.einsum("kn,kdn->dn", coef, basis)
        b = jnp.sqrt(colsum(w * w))
        stop = b <= 1e-12 * jnp.maximum(1.0, jnp.abs(alpha[0]))
        go = active & ~stop
        beta = beta.at[j].set(jnp.where((j + 1 < steps) & go, b, beta[j]))
        q = jnp.where(go, w / jnp.where(b > 0, b, 1.0), q)
        return basis, alpha, beta, go, taken, q

    init = (jnp.zeros((steps, d, n)), jnp.zeros((steps, n)), jnp.zeros((steps, n)),
            jnp.ones(n, bool), jnp.zeros(n, jnp.int64), q0)
    _, alpha, beta, _, taken, _ = jax.lax.fori_loop(0, steps, body, init)
    k = jnp.arange(steps)[:, None]
    diag = jnp.where(k < taken, alpha, alpha[0])  # (steps, n)
    off = jnp.where(k[:-1] + 1 < taken, beta[:-1], 0.0)
    t = jnp.zeros((n, steps, steps))
    i = jnp.arange(steps)
    t = t.at[:, i, i].set(diag.T)
    t = t.at[:, i[:-1], i[:-1] + 1].set(off.T).at[:, i[:-1] + 1, i[:-1]].set(off.T)
    return eigvalsh(t)[:, -1], taken
