"""How goodness gets lam_max: the exact Hessian, or an estimate from Hessian-vector products.

Method keys (declared here, used by every method):

    curvature    exact (default) | power:K | power:K:cold | lanczos:K
    score_every  goodness is computed on steps t with t % score_every == 0 (default 1)

- `exact`: the closed form for d <= 2, `numpy.linalg.eigvalsh` of the exact Hessian beyond;
  counted as d HVPs per scoring.
- `power:K`: K power-iteration steps per scoring at theta_t, each one exact HVP:
  `w = H q; lam = q.w; q = w / |w|`; the estimate is the `lam` of the last step. `q` is kept
  per trajectory between scorings (a warm start). Power iteration finds the eigenvalue of
  largest |lam|: near a saddle it can return a negative number, as documented.
- `power:K:cold`: the same from the seeded vector at every scoring (no warm start), as the
  authors' public code does with K = 3.
- `lanczos:K`: min(K, d) Lanczos steps from the same seeded unit vector at every scoring (no
  warm start), with full reorthogonalization (two Gram-Schmidt passes), stopping early on a
  row once its next off-diagonal is <= 1e-12 max(1, |first diagonal|); the estimate is the
  largest Ritz value. One HVP per step taken.

The first vector of start i (global index) is row `i % 4096` of
`default_rng([seed, 7, i // 4096]).standard_normal((4096, d))`, normalised, so a start's
estimates do not depend on how the batch is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from moxco_cli.params import Param, SpecError

if TYPE_CHECKING:
    import numpy as np

KINDS = ("exact", "power", "power-cold", "lanczos")
VECTOR_BLOCK = 4096
MAX_STEPS = 1000


def parse_curvature(text) -> tuple[str, int]:
    """`"exact"` -> ("exact", 0); `"power:3"` -> ("power", 3); `"power:3:cold"` ->
    ("power-cold", 3); `"lanczos:10"` -> ("lanczos", 10). SpecError naming `curvature`."""
    if not isinstance(text, str):
        raise SpecError("curvature", f"must be exact, power:K[:cold] or lanczos:K, got {text!r}")
    parts = text.strip().split(":")
    if parts == ["exact"]:
        return "exact", 0
    if len(parts) == 3 and parts[0] == "power" and parts[2] == "cold":
        parts = ["power-cold", parts[1]]
    if (len(parts) == 2 and parts[0] in ("power", "power-cold", "lanczos")
            and parts[1].isdigit() and 1 <= int(parts[1]) <= MAX_STEPS):
        return parts[0], int(parts[1])
    raise SpecError("curvature", f"must be exact, power:K, power:K:cold or lanczos:K with K in "
                    f"[1, {MAX_STEPS}], got {text!r}")


def canonical(text) -> str:
    kind, steps = parse_curvature(text)
    if kind == "power-cold":
        return f"power:{steps}:cold"
    return kind if kind == "exact" else f"{kind}:{steps}"


PARAMS = (
    Param("curvature", "exact", "how goodness gets lam_max: exact (the Hessian), power:K "
          "(K power-iteration HVPs per scoring, warm-started; power:K:cold restarts from the "
          "seeded vector) or lanczos:K (K Lanczos steps)",
          kind="text", check_text=canonical, forms="exact | power:K[:cold] | lanczos:K"),
    Param("score_every", 1, "goodness is computed every this many steps", kind="int", lo=1,
          hi=10**6),
)


def start_vectors(seed: int, start: int, n: int, d: int) -> np.ndarray:
    """Unit vectors `(n, d)` for global starts [start, start + n) (module docstring)."""
    import numpy as np

    out = np.empty((n, d))
    i = start
    while i < start + n:
        block, offset = divmod(i, VECTOR_BLOCK)
        take = min(VECTOR_BLOCK - offset, start + n - i)
        rows = np.random.default_rng([seed, 7, block]).standard_normal((VECTOR_BLOCK, d))
        out[i - start:i - start + take] = rows[offset:offset + take]
        i += take
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@dataclass
class Estimator:
    """lam_max per row at a batch of points, with the HVP count it cost.

    `estimate(landscape, x (n, d), rows (n,) bool) -> (lam (n,), hvps (n,))`: rows not
    selected (frozen trajectories) are not evaluated (lam NaN, 0 HVPs). Power iteration keeps
    its vectors `q (n, d)` between calls (the warm start).
    """

    kind: str
    steps: int
    q0: np.ndarray  # (n, d) the seeded unit vectors
    q: np.ndarray | None = None

    @classmethod
    def for_rows(cls, spec: str, seed: int, start: int, n: int, d: int) -> Estimator:
        kind, steps = parse_curvature(spec)
        q0 = start_vectors(seed, start, n, d) if kind != "exact" else None
        return cls(kind, steps, q0, None if q0 is None else q0.copy())

    def estimate(self, landscape, x: np.ndarray, rows: np.ndarray, hvp=None):
        """`hvp`: optional `v (n, d) -> H(x) v` for all n rows (from
        `Landscape.scoring_terms`); by default `landscape.hvp` at the selected rows."""
        import numpy as np

        n, d = x.shape
        lam, hvps = np.full(n, np.nan), np.zeros(n, dtype=np.int64)
        idx = np.flatnonzero(rows)
        if not len(idx):
            return lam, hvps
        xs = x[idx]
        if hvp is None or len(idx) < n:
            def product(v):
                return landscape.hvp(xs, v)
        else:
            product = hvp
        if self.kind == "exact":  # the engine takes it from Landscape.evaluate, every row
            raise ValueError("the exact lam_max is not estimated: use Landscape.evaluate")
        if self.kind in ("power", "power-cold"):
            q = self.q[idx] if self.kind == "power" else self.q0[idx]
            for _ in range(self.steps):
                w = product(q)
                est = np.einsum("nd,nd->n", q, w)
                norm = np.linalg.norm(w, axis=1, keepdims=True)
                q = np.where(norm > 0, w / np.where(norm > 0, norm, 1.0), q)
            self.q[idx] = q
            lam[idx] = est
            hvps[idx] = self.steps
        else:
            lam[idx], hvps[idx] = lanczos(product, self.q0[idx], min(self.steps, d))
        return lam, hvps


def lanczos(product, q0: np.ndarray, steps: int):
    """Largest Ritz value `(n,)` after up to `steps` Lanczos steps with full
    reorthogonalization from unit vectors `q0 (n, d)`, `product(v) = H v` row by row, and the
    HVPs each row took `(n,)`. A row stops once its next off-diagonal is <= 1e-12
    max(1, |alpha_0|)."""
    import numpy as np

    n, d = q0.shape
    basis = np.zeros((steps, n, d))
    alpha, beta = np.zeros((n, steps)), np.zeros((n, steps))
    active = np.ones(n, dtype=bool)
    taken = np.zeros(n, dtype=np.int64)
    q = q0.copy()
    for j in range(steps):
        basis[j] = np.where(active[:, None], q, 0.0)
        w = product(q)
        taken += active
        alpha[:, j] = np.where(active, np.einsum("nd,nd->n", q, w), 0.0)
        for _ in range(2):  # full reorthogonalization, twice
            coef = np.einsum("knd,nd->kn", basis[:j + 1], w)
            w = w - np.einsum("kn,knd->nd", coef, basis[:j + 1])
        b = np.linalg.norm(w, axis=1)
        stop = b <= 1e-12 * np.maximum(1.0, np.abs(alpha[:, 0]))
        if j + 1 < steps:
            beta[:, j] = np.where(active & ~stop, b, 0.0)
        q = np.where((active & ~stop)[:, None], w / np.where(b > 0, b, 1.0)[:, None], q)
        active &= ~stop
        if not active.any():
            break
    # T_k per row; rows that stopped early are padded with their alpha_0 on the diagonal,
    # which is a Rayleigh quotient of their block and so never above its largest Ritz value
    size = taken[:, None]
    k = np.arange(steps)[None, :]
    diag = np.where(k < size, alpha, alpha[:, :1])
    off = np.where(k[:, :-1] + 1 < size, beta[:, :-1], 0.0)
    t = np.zeros((n, steps, steps))
    ii = np.arange(steps)
    t[:, ii, ii] = diag
    t[:, ii[:-1], ii[:-1] + 1] = off
    t[:, ii[:-1] + 1, ii[:-1]] = off
    return np.linalg.eigvalsh(t)[:, -1], taken
