"""Landscapes lowered to JAX: each one's `f` as an array expression over columns.

    f = lower(landscape)          # f(x) -> (n,), a pure jax function

`x` holds n points in one of the two layouts of `jax_pieces` (a tuple of d `(n,)` columns
for small d, else a `(d, n)` array): `x[j]` is coordinate j of every point in both, the
expression is elementwise across points, and sums over coordinates go through
`coord_sum` / `pair_sum`, which unroll over columns or reduce along axis 0. The gradient,
Hessian-vector products and
the Hessian come from JAX's autodiff of this one expression (`jax_engine`), so a landscape
is lowered by writing its value once. Each
expression below is the formula of the landscape's own docstring, written in the form its
NumPy `f` evaluates (rastrigin as `sum x^2 + 2A sum sin^2 pi x`, ackley with `expm1`, ...);
`tests/test_backend_jax.py` holds value, gradient and Hessian against the NumPy landscape
(1e-10 relative) on random points of every landscape. A formula landscape (`expr`) is
lowered from its sympy expression (`sympy.lambdify(..., modules="jax")`), `two-layer-net`
from its training data and activation. Anything else (a user's own `Landscape` subclass,
`factorization`) is refused with `BackendError` naming it: lowering needs the function as
an expression, which a black-box `f` is not.
"""

from __future__ import annotations

import math

from moxco_cli.backends.jax_pieces import as_array, colsum, ew
from moxco_cli.backends.jax_setup import BackendError, load


def coord_sum(fn, x, weights=None):
    """`sum_j fn(x_j)` (or `fn(x_j, w_j)` with constant weights `w (d,)`) -> `(n,)`, in
    coordinate order."""
    if weights is None:
        return colsum(ew(fn, x))
    if isinstance(x, tuple):
        return colsum(tuple(fn(c, float(w)) for c, w in zip(x, weights, strict=True)))
    _, jnp = load()
    return colsum(fn(x, jnp.asarray(weights)[:, None]))


def pair_sum(fn, x):
    """`sum_j fn(x_j, x_{j+1})` over neighbouring coordinates -> `(n,)`."""
    if isinstance(x, tuple):
        return colsum(tuple(fn(x[j], x[j + 1]) for j in range(len(x) - 1)))
    return colsum(fn(x[:-1], x[1:]))


def _beale(land, jnp):
    def f(x):
        px, py = x[0], x[1]
        y2 = py * py
        r = (1.5 + px * (py - 1.0), 2.25 + px * (y2 - 1.0), 2.625 + px * (y2 * py - 1.0))
        return r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
    return f


def _two_wells(land, jnp):
    s2 = land.s**2

    def f(x):
        p = x[0]
        wide = jnp.exp(-((p + 1.0) ** 2) / 4.5)
        sharp = jnp.exp(-((p - 2.0) ** 2) / (2.0 * s2))
        return 0.05 * p * p - 2.5 * wide - sharp
    return f


def _quadratic(land, jnp):
    a = [float(v) for v in land.a]
    return lambda x: 0.5 * coord_sum(lambda c, w: w * c * c, x, a)


def _rosenbrock(land, jnp):
    b = land.b

    def term(head, tail):
        valley = tail - head * head
        return (1.0 - head) * (1.0 - head) + b * (valley * valley)
    return lambda x: pair_sum(term, x)


def _himmelblau(land, jnp):
    def f(x):
        r1, r2 = x[0] * x[0] + x[1] - 11.0, x[0] + x[1] * x[1] - 7.0
        return r1 * r1 + r2 * r2
    return f


def _rastrigin(land, jnp):
    def ripple(c):
        s = jnp.sin(jnp.pi * c)
        return s * s

    return lambda x: coord_sum(lambda c: c * c, x) + 20.0 * coord_sum(ripple, x)


def _ackley(land, jnp):
    d, eps2 = land.dim, land.smooth**2

    def f(x):
        # rho = sqrt(|x|^2 / d + eps^2). At the apex (eps = 0, x = 0: a grid's centre start)
        # sqrt's derivative is infinite; the NumPy landscape's cone term is 0 there, and so is
        # this one's (sqrt taken of 1 on that branch). Its Hessian there is the ripple's
        # alone, while NumPy adds the smooth part's one-sided limit -A B^2 / d: lam_max at
        # that one point is higher by 0.4 / (d / 2) here.
        q = coord_sum(lambda c: c * c, x) / d + eps2
        rho = jnp.where(q > 0.0, jnp.sqrt(jnp.where(q > 0.0, q, 1.0)), 0.0)

        def sin2(c):
            s = jnp.sin(jnp.pi * c)
            return s * s
        ripple = (2.0 / d) * coord_sum(sin2, x)
        return -20.0 * jnp.expm1(-0.2 * rho) - math.e * jnp.expm1(-ripple)
    return f


def _goldstein_price(land, jnp):
    def f(x):
        u, s = x[0] + x[1], 2.0 * x[0] - 3.0 * x[1]
        a = 1.0 + (u + 1.0) ** 2 * ((3.0 * u - 14.0) * u + 19.0)
        b = 30.0 + s * s * ((3.0 * s - 16.0) * s + 18.0)
        return a * b
    return f


def _six_hump_camel(land, jnp):
    def f(x):
        px, py = x[0], x[1]
        x2, y2 = px * px, py * py
        return ((4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + px * py) + (4.0 * y2 - 4.0) * y2
    return f


def _styblinski_tang(land, jnp):
    def term(c):
        c2 = c * c
        return (c2 - 16.0) * c2 + 5.0 * c
    return lambda x: 0.5 * coord_sum(term, x)


def _two_layer_net(land, jnp):
    """Mean squared error of the network over its training points (landscapes.two_layer_net),
    trajectories first: `z (n, M, H)`, `pred (n, M)`, so that the sums over the hidden units
    and over the training points run along contiguous axes (XLA's gradient and Hessian of
    this form ran 2.1x and 1.6x faster than of `z (M, H, n)`, hidden = 16, n = 1000)."""
    hidden, scale = land.hidden, 1.0 / math.sqrt(land.hidden)
    xs = jnp.asarray(land.x_train)[None, :, None]
    ys = jnp.asarray(land.y_train)[None, :]

    def phi(z):
        if land.activation == "relu":  # where, not maximum: phi'(0) = 0 as in NumPy's
            return jnp.where(z > 0.0, z, 0.0)
        if land.activation == "tanh":
            return jnp.tanh(z)
        return jnp.logaddexp(0.0, z)

    def f(t):
        t = as_array(t).T  # (n, 3 H + 1); held as columns only for H <= 2
        w1, b1, w2 = (t[:, None, k * hidden:(k + 1) * hidden] for k in range(3))
        pred = scale * jnp.sum(phi(xs * w1 + b1) * w2, axis=2) + t[:, 3 * hidden, None]
        r = pred - ys
        return jnp.mean(r * r, axis=1)
    return f


_ABS: list = []


def _abs():
    """`|x|` whose derivative is `sign(x)`, 0 at x = 0, as the engine's symbolic derivative
    (sympy's `sign`): JAX's own `abs` has slope 1 there, so a start at the kink of
    `abs(x) + (y-1)**2` moved on this backend and stayed on the engine. Its second
    derivative is 0 (sign's own derivative in JAX), as the engine's."""
    if not _ABS:
        jax, jnp = load()

        @jax.custom_jvp
        def absolute(x):
            return jnp.abs(x)

        @absolute.defjvp
        def _(primals, tangents):
            (x,), (t,) = primals, tangents
            return jnp.abs(x), jnp.sign(x) * t

        _ABS.append(absolute)
    return _ABS[0]


def _expression(land, jnp):
    import sympy

    from landscapes.expression import _symbols

    try:
        program = sympy.lambdify(_symbols(land.variables), land.expr,
                                 modules=[{"Abs": _abs()}, "jax"])
    except Exception as err:  # noqa: BLE001 - a function sympy cannot print for jax
        raise BackendError(f"--backend jax: formula {land.formula!r} cannot be lowered to "
                           f"jax ({str(err).splitlines()[0]})") from None
    return lambda x: program(*(x[j] for j in range(land.dim))) + jnp.zeros_like(x[0])


# landscape class name -> builder(landscape, jnp) -> f(x (d, n)) (the 2-D class and its
# d-dimensional twin share an expression)
LOWERINGS = {
    "Beale": _beale, "TwoWells": _two_wells, "Quadratic": _quadratic,
    "Rosenbrock": _rosenbrock, "RosenbrockND": _rosenbrock, "Himmelblau": _himmelblau,
    "Rastrigin": _rastrigin, "RastriginND": _rastrigin, "Ackley": _ackley,
    "AckleyND": _ackley, "GoldsteinPrice": _goldstein_price, "SixHumpCamel": _six_hump_camel,
    "StyblinskiTang": _styblinski_tang, "StyblinskiTangND": _styblinski_tang,
    "ExpressionLandscape": _expression, "TwoLayerNet": _two_layer_net,
}


def lowered_names() -> list[str]:
    """The registered landscapes that have a jax expression (the formula landscape aside)."""
    from landscapes import _REGISTRY

    return [name for name, target in _REGISTRY.items() if target.split(":")[1] in LOWERINGS]


def reason_not_lowered(landscape) -> str | None:
    """Why `landscape` cannot be lowered (one line), or None when it can."""
    if type(landscape).__name__ not in LOWERINGS or type(landscape).__module__.split(".")[0] \
            != "landscapes":
        return (f"landscape {getattr(landscape, 'name', type(landscape).__name__)!r} "
                f"({type(landscape).__name__}) has no jax expression; lowered are "
                f"{', '.join(lowered_names())} and formula landscapes (--expr)")
    return None


def lower(landscape):
    """`f(x (d, n)) -> (n,)` in jax for `landscape`; BackendError naming why it cannot be."""
    reason = reason_not_lowered(landscape)
    if reason is not None:
        raise BackendError(f"--backend jax: {reason}")
    _, jnp = load()
    return LOWERINGS[type(landscape).__name__](landscape, jnp)


def identity_key(landscape) -> tuple:
    """What the lowered program depends on: the class and its parameters, and `f_target`,
    which the goodness kernel holds as a constant (cache key). A formula's f_target comes
    from its --minima, not from the formula: one formula with two sets of minima is two
    programs (the first one's f_target was used for both)."""
    target = repr(float(landscape.f_target))
    if type(landscape).__name__ == "ExpressionLandscape":
        return ("expr", landscape.formula, landscape.dim, target)
    return (type(landscape).__name__, landscape.dim, repr(sorted(landscape.params.items())),
            target)
