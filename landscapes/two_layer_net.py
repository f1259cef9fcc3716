"""A two-layer network fitted to noisy samples of a 1-D function: the paper's regression toy.

The authors' public code trains this model (a ReLU network on 30 noisy points of a tent
function, goodness target = the noise variance); SPEC Part 2 fixes every detail, and this
module implements exactly that. The loss is a landscape like any other (exact gradient,
Hessian and Hessian-vector product over a batch of parameter vectors), plus what a network
has and a test function does not: training data (for minibatch gradients,
`moxco_cli.minibatch`), its own start distribution (the network initialization) and per-run
metrics (test error against the noise-free truth).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from landscapes.base import Landscape
from moxco_cli.params import Param

ACTIVATIONS = ("relu", "tanh", "softplus")
TARGETS = ("tent", "sine")
MAX_HIDDEN = 256
MAX_POINTS = 100_000
# (N, points, hidden) numbers per block of a batched evaluation, at most (2 MiB each): rows are
# independent, so blocks give the same bits as one pass. Small enough to stay in cache and to
# be reused by the allocator instead of mapped afresh (at 2^22, 32 MiB, a gradient took 4.6
# us a row, a third of it in the kernel; 1.0 us at 2^18; 3.5 us at 2^12, NumPy's per-call cost)
BLOCK_NUMBERS = 1 << 18


def truth(target: str, u: np.ndarray) -> np.ndarray:
    """The noise-free function `g(u)` on `u` in [0, 1]: tent `2u` (u < 1/2) else `2 - 2u`;
    sine `sin(2 pi u)`."""
    if target == "tent":
        return np.where(u < 0.5, 2.0 * u, 2.0 - 2.0 * u)
    return np.sin(2.0 * np.pi * u)


def activation(name: str, z: np.ndarray):
    """`(phi(z), phi'(z), phi''(z))`, elementwise. relu: phi' = 1 for z > 0 else 0, phi'' = 0;
    softplus `log(1 + e^z)` computed as `logaddexp(0, z)` (no overflow), phi' = sigmoid."""
    if name == "relu":
        d1 = (z > 0.0).astype(float)
        return np.maximum(z, 0.0), d1, np.zeros_like(z)
    if name == "tanh":
        h = np.tanh(z)
        d1 = 1.0 - h * h
        return h, d1, -2.0 * h * d1
    h = np.logaddexp(0.0, z)
    d1 = np.exp(-np.logaddexp(0.0, -z))  # sigmoid(z), stable both ways
    return h, d1, d1 * (1.0 - d1)


class TwoLayerNet(Landscape):
    r"""Mean squared error of a two-layer network `pred(x) = (1/sqrt H) sum_j a_j phi(w_j x +
    b_j) + c` on `train` noisy points of a 1-D function (SPEC Part 2).

    Parameters `theta = (w_1..w_H, b_1..b_H, a_1..a_H, c)`, d = 3H + 1. Data, drawn once from
    `default_rng(data_seed)` in this order: `u_train = uniform(0, 1, train)`, `e_train =
    standard_normal(train)`, `u_test = uniform(0, 1, test)`, `e_test = standard_normal(test)`;
    inputs `x = u - 0.5`, targets `y = g(u) + noise * e` with `g` the tent or the sine
    (`truth`). Loss `L = mean_i (pred(x_i) - y_i)^2` over the training points.

    Derivatives, with residuals `r_i = pred(x_i) - y_i`, `s = 1/sqrt(H)`, `z_ij = w_j x_i + b_j`
    and the Jacobian rows `J_i = d pred(x_i) / d theta` (`s a_j phi'(z_ij) x_i`, `s a_j
    phi'(z_ij)`, `s phi(z_ij)`, 1): `grad = (2/M) sum_i r_i J_i`; `H = (2/M) sum_i (J_i J_i^T
    + r_i d^2 pred(x_i))`, the second part block-diagonal per hidden unit j (w_j w_j: `s a_j
    phi'' x^2`, w_j b_j: `s a_j phi'' x`, b_j b_j: `s a_j phi''`, w_j a_j: `s phi' x`, b_j a_j:
    `s phi'`); for relu only the a-w and a-b cross terms remain. `hvp` applies both parts
    without forming H: O(M H) per row.

    No named minima (the minima are not isolated points). `f_target = noise^2`, the paper's
    sigma^2 for regression: the loss a fit that captured the truth and nothing else would
    have. Domain `[-3, 3]^d` (plots only: starts come from `sample_starts`, the network
    initialization of the authors' code).
    """

    name = "two-layer-net"
    PARAMS = (
        Param("hidden", 5, "hidden units H (d = 3H + 1 parameters)", kind="int", lo=1,
              hi=MAX_HIDDEN),
        Param("activation", "relu", "phi of the hidden layer", kind="choice",
              choices=ACTIVATIONS),
        Param("noise", 0.8, "standard deviation of the label noise (f_target = noise^2)", lo=0.0),
        Param("train", 30, "training points (the loss is their mean squared error)", kind="int",
              lo=1, hi=MAX_POINTS),
        Param("test", 30, "test points (test_mse, test_mse_noisy)", kind="int", lo=1,
              hi=MAX_POINTS),
        Param("target", "tent", "the noise-free function of u in [0, 1]", kind="choice",
              choices=TARGETS),
        Param("data_seed", 123, "seed of the data draw default_rng(data_seed)", kind="int",
              lo=0, hi=2**63 - 1),
    )
    # The per-run metrics this landscape declares (`metrics`), as summary-table columns.
    METRICS = ("train_loss", "test_mse", "test_mse_noisy", "final_lam_max")
    f_star = None  # the minimum training loss is not known (f_target = noise^2 is not it)

    def __init__(self, hidden: int = 5, activation: str = "relu", noise: float = 0.8,
                 train: int = 30, test: int = 30, target: str = "tent",
                 data_seed: int = 123) -> None:
        values = dict(hidden=hidden, activation=activation, noise=noise, train=train, test=test,
                      target=target, data_seed=data_seed)
        for p in self.PARAMS:
            try:
                values[p.name] = p.check(values[p.name])
            except Exception as exc:  # SpecError: one line naming the key
                raise ValueError(str(exc)) from None
        self._values = values
        self.hidden, self.activation = values["hidden"], values["activation"]
        self.noise, self.target = values["noise"], values["target"]
        self.dim = 3 * self.hidden + 1
        self.bounds = np.tile([-3.0, 3.0], (self.dim, 1))
        self.f_target = self.noise**2
        rng = np.random.default_rng(values["data_seed"])
        u_train = rng.uniform(0.0, 1.0, values["train"])
        e_train = rng.standard_normal(values["train"])
        u_test = rng.uniform(0.0, 1.0, values["test"])
        e_test = rng.standard_normal(values["test"])
        self.x_train, self.x_test = u_train - 0.5, u_test - 0.5
        self.truth_train, self.truth_test = truth(self.target, u_train), truth(self.target,
                                                                               u_test)
        self.y_train = self.truth_train + self.noise * e_train
        self.y_test = self.truth_test + self.noise * e_test
        self._scale = 1.0 / np.sqrt(self.hidden)

    @property
    def params(self) -> dict:
        return dict(self._values)

    @property
    def train_size(self) -> int:
        """Training points M: `grad_batch` averages over a subset of them."""
        return len(self.x_train)

    # ------------------------------------------------------------------ the model
    # Inside, arrays are held batch-last: parameters `(d, N)`, unit terms `(M, H, N)`, so that
    # every elementwise operation runs along the long axis N (batch-first `(N, M, H)` arrays
    # spent most of their time in NumPy's per-call overhead of H-long inner loops) and every
    # reduction over points or units adds whole `(N,)` slabs in a fixed order: a row's numbers
    # do not depend on the batch it is evaluated in.

    def _units(self, theta, xs):
        """Unit terms at inputs `xs` (shared `(M,)` or per row `(N, M)`): `(t, xcol, h, d1,
        d2)` with `t = theta.T (d, N)`, `xcol` broadcastable to `(M, 1, N)`, `h = phi(z)`,
        `d1 = phi'(z)`, `d2 = phi''(z)` of shape `(M, H, N)`, `z = w x + b`."""
        H = self.hidden
        t = np.ascontiguousarray(np.asarray(theta, dtype=float).T)
        xs = np.asarray(xs, dtype=float)
        xcol = xs[:, None, None] if xs.ndim == 1 else np.ascontiguousarray(xs.T)[:, None, :]
        z = xcol * t[None, :H] + t[None, H:2 * H]
        h, d1, d2 = activation(self.activation, z)
        return t, xcol, h, d1, d2

    def _pred(self, t, h):
        """`pred (M, N)` from `t (d, N)` and `h (M, H, N)`."""
        H = self.hidden
        return self._scale * np.sum(h * t[None, 2 * H:3 * H], axis=1) + t[3 * H][None, :]

    def predict(self, theta: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """`pred(xs)` of every parameter row: `theta (N, d)`, `xs (M,)` -> `(N, M)`."""
        theta = np.asarray(theta, dtype=float)
        xs = np.atleast_1d(np.asarray(xs, dtype=float))
        out = np.empty((len(theta), len(xs)))
        for lo, hi in self._blocks(len(theta), len(xs)):
            def rows(th):
                units = self._units(th, xs)
                return self._pred(units[0], units[2]).T
            out[lo:hi] = self._rowwise(rows, theta[lo:hi])
        return out

    @staticmethod
    def _rowwise(fun, *arrays):
        """`fun(*arrays)` for row blocks; a single row is evaluated as two copies of itself.
        (NumPy sums a lone row's `(M, 1)` column with its pairwise unrolled loop, but the
        columns of a wider block slab by slab: two rows keep every block on the second order,
        so a row's bits never depend on the batch.)"""
        if len(arrays[0]) != 1:
            return fun(*arrays)
        out = fun(*(np.concatenate([a, a]) for a in arrays))
        return tuple(o[:1] for o in out) if isinstance(out, tuple) else out[:1]

    def _blocks(self, n: int, points: int):
        rows = max(1, BLOCK_NUMBERS // max(1, points * self.hidden))
        return [(lo, min(n, lo + rows)) for lo in range(0, n, rows)]

    def _parts(self, theta, xs, ys):
        """`(r (M, N), units)`: residuals at inputs `xs`, labels `ys` (`(M,)` or `(N, M)`)."""
        units = self._units(theta, xs)
        ys = np.asarray(ys, dtype=float)
        ycol = ys[:, None] if ys.ndim == 1 else ys.T
        return self._pred(units[0], units[2]) - ycol, units

    def _jacobian_parts(self, units):
        """`(J_w, J_b, J_a)`, each `(M, H, N)`: d pred / d (w_j, b_j, a_j); d pred / dc = 1."""
        t, xcol, h, d1, _ = units
        H, s = self.hidden, self._scale
        ad1 = (s * t[None, 2 * H:3 * H]) * d1
        return ad1 * xcol, ad1, s * h

    def jacobian(self, theta: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """`J (N, M, d)`: d pred(x_i) / d theta of every row `theta (N, d)` at inputs `xs (M,)`."""
        units = self._units(theta, xs)
        full = np.concatenate([*self._jacobian_parts(units), np.ones((len(np.atleast_1d(xs)), 1,
                                                                      len(theta)))], axis=1)
        return np.ascontiguousarray(full.transpose(2, 0, 1))

    def _grad_t(self, r, jac):
        """`grad (d, N) = (2/M) sum_i r_i J_i` from residuals `(M, N)` and `_jacobian_parts`."""
        k = (2.0 / len(r)) * r
        kk = k[:, None, :]
        return np.concatenate([np.sum(kk * j, axis=0) for j in jac] + [np.sum(k, axis=0)[None]])

    def _batched(self, fun, x, width):
        """`fun(rows) -> (rows, ...)` over blocks of rows of `x (N, d)` (bounded memory)."""
        x = np.asarray(x, dtype=float)
        parts = [self._rowwise(fun, x[lo:hi]) for lo, hi in self._blocks(len(x), width)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def f(self, x: np.ndarray) -> np.ndarray:
        def rows(t):
            r = self._parts(t, self.x_train, self.y_train)[0]
            return np.mean(r * r, axis=0)
        return self._batched(rows, x, self.train_size)

    def grad(self, x: np.ndarray) -> np.ndarray:
        def rows(t):
            r, units = self._parts(t, self.x_train, self.y_train)
            return self._grad_t(r, self._jacobian_parts(units)).T
        return np.ascontiguousarray(self._batched(rows, x, self.train_size))

    def grad_batch(self, x: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Minibatch gradients `(N, d)`: row n is the gradient of the mean squared error over
        the training points `index[n] (B,)` (`index (N, B)` integers in [0, train))."""
        x = np.asarray(x, dtype=float)
        out = np.empty_like(x)
        for lo, hi in self._blocks(len(x), index.shape[1]):
            def rows(t, index):
                r, units = self._parts(t, self.x_train[index], self.y_train[index])
                return self._grad_t(r, self._jacobian_parts(units)).T
            out[lo:hi] = self._rowwise(rows, x[lo:hi], index[lo:hi])
        return out

    def _hess_rows(self, theta, parts=None, jac=None):
        """Dense Hessians `(N, d, d)`: `(2/M) J^T J` (one small matmul per row) plus the
        residual part, block-diagonal per hidden unit."""
        r, units = parts or self._parts(theta, self.x_train, self.y_train)
        t, xcol, h, d1, d2 = units
        jac = jac or self._jacobian_parts(units)
        m, n = r.shape
        H, s = self.hidden, self._scale
        full = np.concatenate([*jac, np.ones((m, 1, n))], axis=1)  # (M, d, N)
        rows = np.ascontiguousarray(full.transpose(2, 0, 1))  # (N, M, d)
        hess = np.matmul(rows.transpose(0, 2, 1), rows)
        hess *= 2.0 / m
        k = ((2.0 / m) * r)[:, None, :]
        a = t[2 * H:3 * H]
        d = self.dim
        flat = hess.reshape(n, d * d)

        def band(row0, col0):
            """View `(N, H)` of the entries `(row0 + j, col0 + j)`, j < H (no fancy index)."""
            first = row0 * d + col0
            return flat[:, first:first + (H - 1) * (d + 1) + 1:d + 1]

        blocks = [((0, 2 * H), s * np.sum(k * (d1 * xcol), axis=0)),  # w_j a_j, (H, N)
                  ((H, 2 * H), s * np.sum(k * d1, axis=0))]  # b_j a_j
        if self.activation != "relu":  # relu: phi'' = 0, only the a-w and a-b cross terms
            kd2 = k * d2
            band(0, 0)[:] += (s * a * np.sum(kd2 * (xcol * xcol), axis=0)).T
            band(H, H)[:] += (s * a * np.sum(kd2, axis=0)).T
            blocks.append(((0, H), s * a * np.sum(kd2 * xcol, axis=0)))
        for (p, q), block in blocks:
            band(p, q)[:] += block.T
            band(q, p)[:] += block.T
        return hess

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self._batched(self._hess_rows, x, self.train_size * self.dim // self.hidden)

    def _hvp_rows(self, theta, v):
        """`H v (N, d)` without forming H: `J^T (J v)` (Gauss-Newton part) plus the residual
        part, both O(M H) per row."""
        r, units = self._parts(theta, self.x_train, self.y_train)
        t, xcol, h, d1, d2 = units
        m = len(r)
        H, s = self.hidden, self._scale
        vt = np.ascontiguousarray(np.asarray(v, dtype=float).T)
        vw, vb, va, vc = vt[:H], vt[H:2 * H], vt[2 * H:3 * H], vt[3 * H]
        dz = xcol * vw[None] + vb[None]  # (M, H, N): the change of z along v
        jw, jb, ja = self._jacobian_parts(units)
        jv = np.sum(jb * dz, axis=1) + np.sum(ja * va[None], axis=1) + vc[None]  # (M, N)
        gn = self._grad_t(jv, (jw, jb, ja))  # Gauss-Newton part J^T (J v), as a gradient
        q = ((2.0 / m) * r)[:, None, :]
        t2 = s * d1 * va[None]  # residual part, per hidden unit
        if self.activation != "relu":  # relu: phi'' = 0
            t2 = t2 + (s * t[None, 2 * H:3 * H]) * d2 * dz
        res = np.concatenate([np.sum(q * (t2 * xcol), axis=0), np.sum(q * t2, axis=0),
                              s * np.sum(q * (d1 * dz), axis=0), np.zeros((1, len(vc)))])
        return (gn + res).T

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        x, v = np.asarray(x, dtype=float), np.asarray(v, dtype=float)
        out = np.empty_like(x)
        for lo, hi in self._blocks(len(x), self.train_size):
            out[lo:hi] = self._rowwise(self._hvp_rows, x[lo:hi], v[lo:hi])
        return out

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return self._batched(lambda t: np.linalg.eigvalsh(self._hess_rows(t))[:, -1], x,
                             self.train_size * self.dim // self.hidden)

    def _evaluate_rows(self, theta):
        """`(f, grad, lam_max)` of rows `theta` from one forward pass, bit for bit the
        separate calls' numbers (the same operations on the same arrays)."""
        parts = self._parts(theta, self.x_train, self.y_train)
        r = parts[0]
        jac = self._jacobian_parts(parts[1])
        loss = np.mean(r * r, axis=0)
        grad = np.ascontiguousarray(self._grad_t(r, jac).T)
        lam = np.linalg.eigvalsh(self._hess_rows(theta, parts, jac))[:, -1]
        return loss, grad, lam

    def evaluate(self, x: np.ndarray):
        x = np.asarray(x, dtype=float)
        parts = [self._rowwise(self._evaluate_rows, x[lo:hi]) for lo, hi in
                 self._blocks(len(x), self.train_size * self.dim // self.hidden)]
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    # ------------------------------------------------------------------ what a network adds
    def sample_starts(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` network initializations `(n, d)` from `rng`, in this order (the authors'
        scheme): `w = sign(standard_normal((n, H)))` (0 -> +1), `b = uniform(-0.5, 0.5, (n,
        H))`, `a = standard_normal((n, H))`, `c = 0`. Drawn block-wise, so the first k of n
        starts depend on n."""
        H = self.hidden
        w = np.sign(rng.standard_normal((n, H)))
        w[w == 0.0] = 1.0
        b = rng.uniform(-0.5, 0.5, (n, H))
        a = rng.standard_normal((n, H))
        return np.concatenate([w, b, a, np.zeros((n, 1))], axis=1)

    def metrics(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Per-run metrics at final points `x (N, d)`, each `(N,)`: `train_loss` (the loss),
        `test_mse` (against the noise-free truth at the test inputs), `test_mse_noisy`
        (against the noisy test labels) and `final_lam_max` (exact)."""
        x = np.asarray(x, dtype=float)
        pred = self.predict(x, self.x_test)
        return {"train_loss": self.f(x),
                "test_mse": np.mean((pred - self.truth_test) ** 2, axis=1),
                "test_mse_noisy": np.mean((pred - self.y_test) ** 2, axis=1),
                "final_lam_max": self.lam_max(x)}

    def truth_at(self, xs: np.ndarray) -> np.ndarray:
        """The noise-free function at inputs `xs = u - 0.5` (any shape)."""
        return truth(self.target, np.asarray(xs, dtype=float) + 0.5)

    @cached_property
    def data(self) -> dict[str, np.ndarray]:
        """The drawn data (for figures and tables): inputs, truth and labels, train and test."""
        return {"x_train": self.x_train, "y_train": self.y_train,
                "truth_train": self.truth_train, "x_test": self.x_test,
                "y_test": self.y_test, "truth_test": self.truth_test}
