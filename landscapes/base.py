"""The `Landscape` type: a batched objective with exact derivatives.

Every method takes a batch `x` of shape `(N, d)` (float64) and returns arrays whose first
axis is the batch: `f -> (N,)`, `grad -> (N, d)`, `hess -> (N, d, d)`, `lam_max -> (N,)`,
and the Hessian-vector product `hvp(x, v (N, d)) -> (N, d)` (row i: `hess(x)[i] @ v[i]`).

For the engine's inner loop a landscape may also provide `evaluator(n)`, an `Evaluator` that
computes the same numbers, bit for bit, in one fused pass over preallocated buffers. The
default evaluator simply calls the public methods, so a landscape needs nothing more than
`f`, `grad` and `hess` to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Minimum:
    """A named local or global minimum: location `x` of shape `(d,)` and value `f`."""

    name: str
    x: np.ndarray
    f: float


def lam_max_from_hessian(hess: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of a batch of symmetric matrices `(N, d, d) -> (N,)`.

    Closed form for d <= 2, written to avoid cancellation: for d = 2 the eigenvalues are
    `m +- r` with `m` the mean of the diagonal and `r = hypot((a-c)/2, b)`; when `m < 0` the
    largest one is computed as `det / (m - r)`, which has no cancellation.
    """
    d = hess.shape[-1]
    if d == 1:
        return hess[:, 0, 0].copy()
    if d == 2:
        return lam_max_2x2(hess[:, 0, 0], hess[:, 0, 1], hess[:, 1, 1])
    return np.linalg.eigvalsh(hess)[:, -1]


def lam_max_2x2_into(a, b, c, out: np.ndarray, work: np.ndarray) -> np.ndarray:
    """`lam_max_2x2(a, b, c)` written into `out (n,)`, bit for bit, using `work (2, n)` scratch.

    The same operations in the same order; the cancellation-free branch (`m < 0`, rare) is
    evaluated on those rows only. Warnings are the caller's business (the engine ignores them).
    """
    m, r = work
    np.add(a, c, out=m)
    np.multiply(m, 0.5, out=m)
    np.subtract(a, c, out=out)
    np.multiply(out, 0.5, out=out)
    np.hypot(out, b, out=r)
    np.add(m, r, out=out)
    if m.min() < 0.0:  # NaN rows are NaN on both branches
        rows = np.flatnonzero(m < 0.0)
        ar, br, cr, mr = a[rows], b[rows], c[rows], m[rows] - r[rows]
        out[rows] = np.where(mr != 0.0, (ar * cr - br * br) / mr, out[rows])
    return out


def lam_max_2x2(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of `[[a, b], [b, c]]`, elementwise over `(N,)` arrays."""
    m = 0.5 * (a + c)
    r = np.hypot(0.5 * (a - c), b)
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.where(m - r != 0.0, (a * c - b * b) / (m - r), m + r)
    return np.where(m >= 0.0, m + r, small)


class Evaluator:
    """Fused evaluation for a fixed batch size `n`; one per thread (it owns scratch buffers).

    `evaluate(x) -> (f (n,), grad (n, d), lam_max (n,))` and `grad(x) -> (n, d)` for `x (n, d)`
    float64 in any memory layout; returned arrays are new (the caller may keep them). They
    equal `landscape.evaluate(x)` / `landscape.grad(x)` bit for bit. This default copies `x`
    into a C-ordered buffer (so reductions see the layout they always see) and calls those
    public methods; landscapes override `Landscape.evaluator` to fuse the work.
    """

    def __init__(self, landscape: Landscape, n: int) -> None:
        self.landscape = landscape
        self._x = np.empty((n, landscape.dim))

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        np.copyto(self._x, x)
        return self.landscape.evaluate(self._x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        np.copyto(self._x, x)
        return self.landscape.grad(self._x)


class Landscape:
    """Base class of every objective. Subclasses implement `f`, `grad` and `hess`.

    Attributes:
        name: registry name, e.g. ``"beale"``.
        dim: number of coordinates d.
        bounds: `(d, 2)` array of `[low, high]` per coordinate: the plotting domain and the
            box random starts are drawn from.
        f_target: the value the goodness score compares against (the global minimum value).
        params: keyword parameters the landscape was built with (recorded in config.json).
        minimum_set: None where the minima are isolated points; else what the set of global
            minima is (factorization: "every point with prod w = 1"), where end points
            cannot be told apart by the named minimum they reached (escape-count,
            outcome-map and sweep's success and escape metrics refuse such landscapes).
    """

    name: str = ""
    dim: int = 0
    bounds: np.ndarray
    f_target: float = 0.0
    minimum_set: str | None = None
    # Declared parameters (`moxco_cli.params.Param`), the keys of a spec `NAME:key=value,...`;
    # the constructor takes them as keyword arguments.
    PARAMS: tuple = ()

    @property
    def params(self) -> dict:
        return {}

    @property
    def minima(self) -> tuple[Minimum, ...]:
        """Named minima, global first."""
        return ()

    def f(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def grad(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def hess(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Exact Hessian-vector products `(N, d)`: row i is `H(x_i) v_i`, for `x, v (N, d)`.

        This default forms the Hessians (`hess`, `(N, d, d)`); landscapes with structure
        (separable, tridiagonal, diagonal plus low rank) override it in O(d) per row."""
        v = np.asarray(v, dtype=float)
        return np.einsum("nij,nj->ni", self.hess(x), v)

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        """Largest Hessian eigenvalue `(N,)`; closed form for d <= 2."""
        return lam_max_from_hessian(self.hess(x))

    def scoring_terms(self, x: np.ndarray):
        """`(f (N,), grad (N, d), hvp)` at `x (N, d)`, `hvp(v (N, d)) -> H(x) v`: what a
        goodness score with an estimated lam_max needs at one point. This default calls `f`,
        `grad` and `hvp`; a landscape may share the work between them (rastrigin: one sine)."""
        return self.f(x), self.grad(x), lambda v: self.hvp(x, v)

    # Names of the per-run metrics `metrics` returns: extra columns of every summary table.
    METRICS: tuple = ()
    train_size: int = 0  # training points of a data-fitting loss (0: none; see grad_batch)

    def metrics(self, x: np.ndarray) -> dict:
        """Per-run metrics at final points `x (N, d)`: `{name: (N,)}` for `METRICS` (none)."""
        return {}

    @property
    def f_star(self) -> float | None:
        """The known global minimum value (what `compare`'s target gap is measured against),
        or None where it is not known; by default `f_target`, the value goodness compares
        against, which is the global minimum value everywhere but a loss over noisy data
        (two-layer-net: f_target is the noise variance, and training losses go below it)."""
        return self.f_target

    def sample_starts(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The landscape's start distribution, `(n, d)` from `rng`: uniform on `bounds` in
        one call (networks override it with their initialization)."""
        return rng.uniform(self.bounds[:, 0], self.bounds[:, 1], size=(n, self.dim))

    def grad_batch(self, x: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Minibatch gradients `(N, d)` over training points `index (N, B)`; only for a loss
        over data (`train_size > 0`)."""
        raise NotImplementedError(f"{self.name} is not a sum over training points")

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`(f (N,), grad (N, d), lam_max (N,))` at `x`; landscapes fuse this into one pass."""
        return self.f(x), self.grad(x), self.lam_max(x)

    def evaluator(self, n: int) -> Evaluator:
        """An `Evaluator` for batches of `n` points (the engine makes one per chunk)."""
        return Evaluator(self, n)

    def split_minima(self) -> tuple[tuple[Minimum, ...], tuple[Minimum, ...]]:
        """`(global, other)` named minima: global = the first named minimum and every other
        one with the same value (to 1e-9 relative; Himmelblau has four); other = the rest."""
        minima = self.minima
        if not minima:
            return (), ()
        same = 1e-9 * max(1.0, abs(minima[0].f))
        is_global = [abs(m.f - minima[0].f) <= same for m in minima]
        return (tuple(m for m, g in zip(minima, is_global, strict=True) if g),
                tuple(m for m, g in zip(minima, is_global, strict=True) if not g))

    def minimum(self, name: str) -> Minimum:
        for m in self.minima:
            if m.name == name:
                return m
        raise KeyError(f"{self.name} has no minimum named {name!r}")

    def nearest_minimum(self, x: np.ndarray, minima=None) -> tuple[np.ndarray, np.ndarray]:
        """For `x (N, d)`: index of the nearest named minimum `(N,)` and the distance `(N,)`.

        `minima` (default: every named minimum) measures against those instead, e.g. one
        half of `split_minima()`; the index is into them. With no minima at all the index
        is -1 and the distance +inf. A NaN row has distance NaN.
        """
        minima = self.minima if minima is None else tuple(minima)
        if not minima:
            return np.full(len(x), -1), np.full(len(x), np.inf)
        centers = np.stack([m.x for m in minima])  # (M, d)
        # (rows, M, d) differences at a time, at most ~2**22 numbers (32 MiB): the same
        # per-row operations as one broadcast, so the same bits, in bounded memory at any d
        rows = max(1, (1 << 22) // max(1, centers.size))
        idx = np.empty(len(x), dtype=np.intp)
        out = np.empty(len(x))
        for lo in range(0, len(x), rows):
            part = x[lo:lo + rows]
            dist = np.linalg.norm(part[:, None, :] - centers[None, :, :], axis=-1)  # (n, M)
            k = np.argmin(dist, axis=1)
            idx[lo:lo + rows], out[lo:lo + rows] = k, dist[np.arange(len(part)), k]
        return idx, out

    @property
    def label_params(self) -> dict:
        """The parameters a label shows (default: all of `params`; a landscape whose
        parameters derive from each other shows the ones that were set)."""
        return self.params

    @property
    def label(self) -> str:
        """The landscape's spec for titles: its name, with `:key=value,...` for every declared
        parameter that differs from its default (`two-wells:s=0.03`; `beale`)."""
        values = self.label_params
        changed = [(p.name, values[p.name]) for p in self.PARAMS
                   if p.name in values and values[p.name] != p.default]
        if not changed:
            return self.name
        def text(v):  # numbers in %g, choices (activation=tanh) as they are
            return f"{v:g}" if isinstance(v, int | float) else str(v)

        return self.name + ":" + ",".join(
            f"{k}={';'.join(text(x) for x in v) if isinstance(v, list) else text(v)}"
            for k, v in changed)

    def describe(self) -> dict:
        """JSON-ready description: name, parameters, bounds, minima."""
        return {
            "name": self.name,
            "dim": self.dim,
            "params": self.params,
            "bounds": self.bounds.tolist(),
            "f_target": self.f_target,
            "minima": [{"name": m.name, "x": m.x.tolist(), "f": m.f} for m in self.minima],
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"
