"""The method pieces lowered to JAX, over a batch held columns first.

Each piece is the formula of its NumPy module, operation for operation where that matters
for rounding, written over `(d, n)` arrays (one trajectory per column) and `(n,)` rows:

    inner optimizers   moxco_cli/optim/{gd,adam,rmsprop}.py    INNER[name]
    prox               moxco_cli/prox.py                        prox(name)
    goodness           moxco_cli/goodness.py                    goodness
    curvature          moxco_cli/curvature.py                   power, lanczos
    lam_max (d <= 2)   landscapes/base.py lam_max_from_hessian  lam_max_exact

An inner optimizer's lowering names the hyperparameters it reads; `check_declared` holds
them equal to the keys the optimizer declares (`InnerSpec.params`), so a key added to an
optimizer without its lowering is refused, not ignored. Hyperparameters arrive as one value
per trajectory (`p["lr"]`, ...), so per-row grids and plain runs compile alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from moxco_cli.backends.jax_setup import BackendError, load


@dataclass(frozen=True)
class InnerLowering:
    """`init(x (d, n)) -> state` and `update(g (d, n), state, t, p) -> (step (d, n), state)`,
    with `t` the 0-based step (shared) and `p` the hyperparameters: `(n,)` rows for keys set
    per trajectory, scalars for the others."""

    keys: tuple[str, ...]  # declared keys read besides lr
    init: object
    update: object


def _gd():
    def init(x):
        return ()

    def update(g, state, t, p):
        return p["lr"] * g, ()

    return InnerLowering((), init, update)


def _adam():
    jax, jnp = load()

    def init(x):
        return (jnp.zeros_like(x), jnp.zeros_like(x))

    def update(g, state, t, p):
        m, s = state
        b1, b2 = p["b1"], p["b2"]
        count = (t + 1).astype(g.dtype)
        m = m * b1 + g * (1.0 - b1)
        s = s * b2 + (g * g) * (1.0 - b2)
        step = m / (1.0 - b1**count) * p["lr"]
        den = jnp.sqrt(s / (1.0 - b2**count)) + p["eps"]
        return step / den, (m, s)

    return InnerLowering(("b1", "b2", "eps"), init, update)


def _rmsprop():
    jax, jnp = load()

    def init(x):
        return (jnp.zeros_like(x),)

    def update(g, state, t, p):
        (s,) = state
        rho = p["rho"]
        s = s * rho + (1.0 - rho) * (g * g)
        den = jnp.sqrt(s) + p["eps"]
        return g * p["lr"] / den, (s,)

    return InnerLowering(("rho", "eps"), init, update)


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
    """`prox(z (d, n), shrink (n,)) -> (d, n)`, shrink = lr * prox_weight per trajectory."""
    jax, jnp = load()
    if name == "identity":
        return lambda z, shrink: z
    if name == "l1":
        return lambda z, shrink: jnp.sign(z) * jnp.maximum(jnp.abs(z) - shrink, 0.0)
    if name == "binary":
        def binary(z, shrink):
            target = jnp.where(z >= 0.0, 1.0, -1.0)
            return z + jnp.clip(target - z, -shrink, shrink)
        return binary
    raise BackendError(f"--backend jax: prox {name!r} has no jax lowering")


UNROLLED_SUM = 16  # sums over at most this many coordinates are written out, in order


def colsum(a):
    """`sum_j a[j]` over the coordinates of `a (d, n)` -> `(n,)`: for small d in NumPy's
    order, `a[0] + a[1] + ...` (the engine's `grad_sq`), as one elementwise expression."""
    _, jnp = load()
    if a.shape[0] > UNROLLED_SUM:
        return jnp.sum(a, axis=0)
    out = a[0]
    for j in range(1, a.shape[0]):
        out = out + a[j]
    return out


def goodness(f, grad_sq, lam, f_target, inv_eta, tau):
    """`exp(-tau (||g||^2 + max(lam - 1/eta_eff, 0) + |f - f_target|))`, non-finite -> 0."""
    _, jnp = load()
    penalty = grad_sq + jnp.maximum(lam - inv_eta, 0.0) + jnp.abs(f - f_target)
    g = jnp.exp(-tau * penalty)
    return jnp.where(jnp.isfinite(g), g, 0.0)


def lam_max_exact(columns):
    """Largest eigenvalue `(n,)` of symmetric Hessians given as their columns
    `[H e_0, ..., H e_{d-1}]`, each `(d, n)`: closed forms for d <= 2 (the cancellation-free
    form of `landscapes.base.lam_max_2x2`), `eigvalsh` beyond."""
    _, jnp = load()
    d = len(columns)
    if d == 1:
        return columns[0][0]
    if d == 2:
        a, b, c = columns[0][0], 0.5 * (columns[0][1] + columns[1][0]), columns[1][1]
        m = 0.5 * (a + c)
        r = jnp.hypot(0.5 * (a - c), b)
        mr = m - r
        small = jnp.where(mr != 0.0, (a * c - b * b) / jnp.where(mr != 0.0, mr, 1.0), m + r)
        return jnp.where(m >= 0.0, m + r, small)
    h = jnp.stack(columns, axis=1).transpose(2, 0, 1)  # (n, d, d)
    return jnp.linalg.eigvalsh(0.5 * (h + h.transpose(0, 2, 1)))[:, -1]


def power(hvp, q, steps: int):
    """`steps` power-iteration steps from unit columns `q (d, n)`: `(estimate (n,), q)`
    (curvature.py)."""
    jax, jnp = load()

    def body(_, carry):
        q, _est = carry
        w = hvp(q)
        est = colsum(q * w)
        norm = jnp.sqrt(colsum(w * w))
        q = jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1.0), q)
        return q, est

    q, est = jax.lax.fori_loop(0, steps, body, (q, jnp.zeros(q.shape[1], q.dtype)))
    return est, q


def lanczos(hvp, q0, steps: int):
    """Largest Ritz value `(n,)` and HVPs taken `(n,)` after up to `steps` Lanczos steps with
    full reorthogonalization (two Gram-Schmidt passes) from unit columns `q0 (d, n)`; a
    trajectory stops once its next off-diagonal is <= 1e-12 max(1, |alpha_0|)
    (curvature.lanczos)."""
    jax, jnp = load()
    d, n = q0.shape

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
    return jnp.linalg.eigvalsh(t)[:, -1], taken
