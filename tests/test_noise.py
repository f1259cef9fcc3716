"""The gradient-noise stream: its definition, and that it shares no words with other draws."""

import numpy as np

from moxco_cli.noise import NOISE_BLOCK, STREAM, noise_draw


def test_noise_rows_are_the_documented_stream_and_block():
    draw = noise_draw(4, NOISE_BLOCK, NOISE_BLOCK + 10, 3)  # blocks 1 and 2
    got = draw()
    first = np.random.default_rng([4, STREAM, 1]).standard_normal((NOISE_BLOCK, 3))
    second = np.random.default_rng([4, STREAM, 2]).standard_normal((10, 3))
    np.testing.assert_array_equal(got, np.concatenate([first, second]))


def test_noise_block_zero_is_not_the_starts_generator():
    """NumPy drops trailing zeros of a seed list: `[seed, 0]` is `default_rng(seed)`, which
    draws random starts, and compare's streams are `[seed, 0|1|3]`. No noise block may be one
    of them (it was: block 0 was the starts' generator, block 1 compare's tuning starts)."""
    for seed in (0, 5):
        noise = [noise_draw(seed, b * NOISE_BLOCK, NOISE_BLOCK, 1)()[:8, 0] for b in range(4)]
        others = [np.random.default_rng(s).standard_normal(8)
                  for s in (seed, [seed, 0], [seed, 1], [seed, 3], [seed, 7], [seed, 11])]
        for z in noise:
            for o in others:
                assert not np.array_equal(z, o)
