"""Start points shared by the experiments: one implementation of each way to place them.

    start_box      the box `(d, 2)` starts are placed in: a landscape's bounds or a domain
    uniform_starts `default_rng(seed).uniform(lo, hi, size=(n, d))`, ONE call, per-coordinate
                   `lo`, `hi` (SPEC Figure 2; `sweep --starts random:N`)
    grid_starts    `linspace(lo, hi, n)` per coordinate, both ends included, and the grid's
                   points in `numpy.meshgrid(*axes)` order: in 1-D and 2-D x0 fastest, so start
                   `j * n + i` is `(xs[i], ys[j])` (`outcome-map`, `sweep --starts grid:N`,
                   Figure 3's candidate grid)
"""

from __future__ import annotations

import numpy as np


def start_box(land, domain=None) -> np.ndarray:
    """`(d, 2)` float `[lo, hi]` rows: `land.bounds`, or `domain` given as `(lo0, hi0, lo1,
    hi1, ...)` (one pair per coordinate) or as one `(lo, hi)` pair for every coordinate."""
    if domain is None:
        return np.array(land.bounds, dtype=float)
    box = np.asarray(domain, dtype=float).reshape(-1, 2)
    if len(box) == 1 and land.dim > 1:
        box = np.tile(box, (land.dim, 1))
    return box.reshape(land.dim, 2)


def uniform_starts(box: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` starts `(n, d)` uniform on `box (d, 2)`: `default_rng(seed).uniform(box[:, 0],
    box[:, 1], size=(n, d))`."""
    box = np.asarray(box, dtype=float)
    return np.random.default_rng(seed).uniform(box[:, 0], box[:, 1], size=(n, len(box)))


def grid_starts(box: np.ndarray, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """`(axes, starts)`: `axes[k] = linspace(box[k, 0], box[k, 1], n)` (endpoints included)
    and the `n**d` grid points `(n**d, d)` in `meshgrid(*axes)` order (x0 fastest in 1-D and
    2-D: start `j * n + i` is `(axes[0][i], axes[1][j])`)."""
    axes = [np.linspace(lo, hi, n) for lo, hi in np.asarray(box, dtype=float)]
    mesh = np.meshgrid(*axes)
    return axes, np.column_stack([m.ravel() for m in mesh])
