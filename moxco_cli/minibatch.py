"""Minibatch gradients (the stochastic setting of a loss over data): method key `batch`.

With `batch = B > 0`, every gradient query (at the query point v_t) of trajectory i is the
mean over B training points drawn without replacement, afresh at every step; goodness keeps
the full-batch exact quantities. `batch = 0` (the default) is the full batch.

The draw (SPEC Part 2, "Stochastic setting"). Trajectories are grouped in blocks of `BLOCK`
by their index i in the batch; block `i // BLOCK` has its generator `default_rng([seed,
STREAM, i // BLOCK])`, whose uniform stream is read as an array of shape `(steps, BLOCK,
M)` (M training points) in C order: at step t, trajectory i takes row `[t, i % BLOCK]`, and
its minibatch is the B training points with the smallest keys of that row (`argsort`,
stable), i.e. a uniformly random B-subset, without replacement. A chunk of rows
`[start, start + n)` reads only its own rows of that stream and jumps over the others
(`PCG64.advance`), so a trajectory's minibatches depend on the seed and its index alone: not
on the chunking, the worker processes or the total number of trajectories.
"""

from __future__ import annotations

from collections.abc import Callable

from moxco_cli.params import Param, SpecError

BLOCK = 4096  # trajectories per generator (the same grouping as gradient noise)
STREAM = 11  # default_rng([seed, STREAM, block]): a stream no other draw uses

PARAMS = (Param("batch", 0, "training points per minibatch gradient (0: the full batch; "
                "only for a loss over data, e.g. two-layer-net)", kind="int", lo=0,
                hi=10**5),)


def check(landscape, batch: int) -> None:
    """A one-line `SpecError` (key `batch`) unless `batch` fits `landscape`'s data."""
    if batch == 0:
        return
    size = getattr(landscape, "train_size", 0)
    if size == 0:
        raise SpecError("batch", f"{landscape.name} is not a loss over training points; "
                        "batch needs one (e.g. two-layer-net)")
    if batch > size:
        raise SpecError("batch", f"must be at most the {size} training points of "
                        f"{landscape.label}, got {batch}")


class Sampler:
    """Minibatch indices for the rows `[start, start + n)` of a run, one `draw()` per step."""

    def __init__(self, seed: int, start: int, n: int, size: int, batch: int) -> None:
        import numpy as np

        self.size, self.batch = size, batch
        self.parts = []  # (generator, rows in this chunk, rows of the block skipped per step)
        for block in range(start // BLOCK, -(-(start + n) // BLOCK)):
            lo = max(start, block * BLOCK) - block * BLOCK
            hi = min(start + n, (block + 1) * BLOCK) - block * BLOCK
            gen = np.random.default_rng([seed, STREAM, block])
            gen.bit_generator.advance(lo * size)  # one uint64 per uniform double
            self.parts.append((gen, hi - lo, (BLOCK - (hi - lo)) * size))

    def draw(self):
        """`(n, batch)` training-point indices for this step."""
        import numpy as np

        keys = []
        for gen, rows, skip in self.parts:
            keys.append(gen.random((rows, self.size)))
            if skip:
                gen.bit_generator.advance(skip)
        keys = keys[0] if len(keys) == 1 else np.concatenate(keys)
        return np.argsort(keys, axis=1, kind="stable")[:, :self.batch]


def query_gradient(landscape, batch: int, seed: int, start: int, n: int) -> Callable:
    """The gradient the engine queries at v_t for rows `[start, start + n)`: `landscape.grad`
    for the full batch, else a minibatch gradient `v (n, d) -> (n, d)` that draws the step's
    minibatches (`Sampler`) at each call."""
    if batch == 0:
        return landscape.grad
    check(landscape, batch)
    sampler = Sampler(seed, start, n, landscape.train_size, batch)
    return lambda v: landscape.grad_batch(v, sampler.draw())
