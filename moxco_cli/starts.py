"""Start points shared by the experiments: one implementation of each way to place them.

    start_box      the box `(d, 2)` starts are placed in: a landscape's bounds or a domain
    uniform_starts `default_rng(seed).uniform(lo, hi, size=(n, d))`, ONE call, per-coordinate
                   `lo`, `hi` (SPEC Figure 2; `sweep --starts random:N`)
    grid_starts    `linspace(lo, hi, n)` per coordinate, both ends included, and the grid's
                   points in `numpy.meshgrid(*axes)` order: in 1-D and 2-D x0 fastest, so start
                   `j * n + i` is `(xs[i], ys[j])` (`outcome-map`, `sweep --starts grid:N`,
                   Figure 3's candidate grid)
    check_starts   refuses a design of more than `MAX_STARTS` starts, or more than
                   `MAX_START_NUMBERS` coordinates in all (starts x d), naming the count,
                   before anything is allocated (`grid:N` asks for N^d starts in d dimensions)
"""

from __future__ import annotations

import numpy as np

MAX_STARTS = 10**6  # what a 1000 x 1000 grid asks in 2-D
MAX_START_NUMBERS = 2 * 10**7  # starts x d: 160 MB per (N, d) float64 array


def check_starts(count: int, dim: int, option: str, what: str = "") -> int:
    """`count` (an exact int, e.g. `n**d`) if a design of that many `dim`-D starts is within
    `MAX_STARTS` and `MAX_START_NUMBERS`; else a one-line SettingsError naming `option` and
    the count, before anything is allocated."""
    from moxco_cli.settings import SettingsError

    asked = f"{what} asks for {_count(count)} starts" if what else f"{_count(count)} starts"
    if count > MAX_STARTS:
        raise SettingsError(option, f"{asked} in {dim}-D; at most {MAX_STARTS:,}")
    if count * dim > MAX_START_NUMBERS:
        raise SettingsError(option, f"{asked} in {dim}-D, {count * dim:,} coordinates; at most "
                            f"{MAX_START_NUMBERS:,} (starts x d)")
    return count


def start_box(land, domain=None) -> np.ndarray:
    """`(d, 2)` float `[lo, hi]` rows: `land.bounds`, or `domain` given as `(lo0, hi0, lo1,
    hi1, ...)` (one pair per coordinate) or as one `(lo, hi)` pair for every coordinate."""
    if domain is None:
        return np.array(land.bounds, dtype=float)
    box = np.asarray(domain, dtype=float).reshape(-1, 2)
    if len(box) == 1 and land.dim > 1:
        box = np.tile(box, (land.dim, 1))
    return box.reshape(land.dim, 2)


def _count(count: int) -> str:
    """`85,766,121`; beyond 15 digits `1.29e+66` (21^50 has 67 digits)."""
    digits = str(count)
    if len(digits) <= 15:
        return f"{count:,}"
    return f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"


def uniform_starts(box: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` starts `(n, d)` uniform on `box (d, 2)`: `default_rng(seed).uniform(box[:, 0],
    box[:, 1], size=(n, d))`."""
    box = np.asarray(box, dtype=float)
    check_starts(int(n), len(box), "starts", f"random:{n}")
    return np.random.default_rng(seed).uniform(box[:, 0], box[:, 1], size=(n, len(box)))


def grid_starts(box: np.ndarray, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """`(axes, starts)`: `axes[k] = linspace(box[k, 0], box[k, 1], n)` (endpoints included)
    and the `n**d` grid points `(n**d, d)` in `meshgrid(*axes)` order (x0 fastest in 1-D and
    2-D: start `j * n + i` is `(axes[0][i], axes[1][j])`)."""
    box = np.asarray(box, dtype=float)
    check_starts(int(n) ** len(box), len(box), "starts", f"grid:{n} ({n}^{len(box)})")
    axes = [np.linspace(lo, hi, n) for lo, hi in box]
    mesh = np.meshgrid(*axes)
    return axes, np.column_stack([m.ravel() for m in mesh])
