"""Gradient noise (the paper's stochastic setting): `g_t + noise_std * N(0, I)`.

Noise comes from one generator per block of `NOISE_BLOCK` starts,
`numpy.random.default_rng([seed, STREAM, block_index])`, so a start's noise does not depend on
how the batch is chunked or which process runs it. Goodness always uses the noise-free values.

Why the stream tag: NumPy's seeding ignores trailing zeros of a seed list, so the former
`default_rng([seed, block])` made block 0 the generator `default_rng(seed)` that draws the
random starts (and `[seed, 0]`, `[seed, 1]`, `[seed, 3]` compare's evaluation starts, tuning
starts and bootstrap resamples): a start's step-0 noise came from the same 64-bit words as its
coordinates. The noise's tag 5 is used by no other draw (the others: `default_rng(seed)`
for random starts, which `[seed, 0]` equals; `[seed, 1]`, `[seed, 3]`: compare's tuning
starts and bootstrap; 7: curvature start vectors; 11: minibatches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from moxco_cli.params import Param

if TYPE_CHECKING:
    import numpy as np

NOISE_BLOCK = 4096
STREAM = 5  # default_rng([seed, STREAM, block]): a stream no other draw uses

PARAMS = (
    Param("noise_std", 0.0, "std of Gaussian noise added to every gradient query", lo=0.0),
)


def noise_draw(seed: int, start: int, n: int, d: int) -> Callable[[], np.ndarray]:
    """Per-step noise `(n, d)` for starts [start, start+n), `start` a multiple of NOISE_BLOCK."""
    import numpy as np

    blocks = range(start // NOISE_BLOCK, -(-(start + n) // NOISE_BLOCK))
    rngs = [np.random.default_rng([seed, STREAM, b]) for b in blocks]
    sizes = [min(NOISE_BLOCK, start + n - b * NOISE_BLOCK) for b in blocks]
    if len(rngs) == 1:
        return lambda: rngs[0].standard_normal((n, d))
    pairs = list(zip(rngs, sizes, strict=True))
    return lambda: np.concatenate([r.standard_normal((s, d)) for r, s in pairs])
