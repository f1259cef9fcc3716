"""Minibatch gradients (method key `batch`): reproducible by seed, independent of chunking and
of the batch's size, without replacement, and goodness on the full batch."""

import numpy as np
import pytest

import landscapes
from moxco_cli import methods
from moxco_cli.engine import simulate
from moxco_cli.minibatch import BLOCK, STREAM, Sampler
from moxco_cli.params import SpecError


def _net():
    return landscapes.get("two-layer-net")


def _run(spec, n=10, steps=40, seed=0, **kw):
    land = _net()
    starts = land.sample_starts(n, np.random.default_rng(1))
    return simulate(land, methods.build(methods.parse_spec(spec)), starts, steps, seed=seed,
                    **kw)


def test_the_draw_is_the_documented_stream_read_in_blocks():
    """Step t, trajectory i: the `batch` smallest keys of row [t, i % BLOCK] of the block's
    uniform stream read as (steps, BLOCK, M)."""
    size, batch, steps = 30, 4, 3
    sampler = Sampler(seed=5, start=0, n=7, size=size, batch=batch)
    stream = np.random.default_rng([5, STREAM, 0]).random((steps, BLOCK, size))
    for t in range(steps):
        expected = np.argsort(stream[t, :7], axis=1, kind="stable")[:, :batch]
        np.testing.assert_array_equal(sampler.draw(), expected)


def test_draws_do_not_depend_on_how_the_rows_are_split():
    size, batch, n, steps = 12, 5, 2 * BLOCK + 300, 3
    whole = Sampler(3, 0, n, size, batch)
    full = [whole.draw() for _ in range(steps)]
    cuts = [0, 1000, BLOCK - 1, BLOCK + 7, 2 * BLOCK, n]  # chunks across block boundaries
    parts = [Sampler(3, lo, hi - lo, size, batch) for lo, hi in zip(cuts, cuts[1:], strict=False)]
    for t in range(steps):
        np.testing.assert_array_equal(np.concatenate([p.draw() for p in parts]), full[t])


def test_minibatches_are_without_replacement_and_uniform():
    sampler = Sampler(1, 0, 500, 30, 8)
    draws = np.concatenate([sampler.draw() for _ in range(4)])  # (2000, 8)
    assert all(len(set(row)) == 8 for row in draws.tolist())
    counts = np.bincount(draws.ravel(), minlength=30)
    expected = draws.size / 30  # 533 each
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)


def test_runs_are_reproducible_by_seed_and_independent_of_chunking():
    a = _run("gd:lr=0.1,batch=5", seed=2)
    b = _run("gd:lr=0.1,batch=5", seed=2, chunk_size=3)
    c = _run("gd:lr=0.1,batch=5", seed=3)
    np.testing.assert_array_equal(a.final, b.final)
    assert not np.array_equal(a.final, c.final)
    full = _run("gd:lr=0.1")
    assert not np.array_equal(a.final, full.final)  # the batch is used at all


def test_a_start_gets_the_same_minibatches_in_a_larger_batch_of_starts():
    land = _net()
    starts = land.sample_starts(6, np.random.default_rng(1))
    m = methods.build(methods.parse_spec("adam+moxco:lr=0.01,batch=7"))
    six = simulate(land, m, starts, 30, seed=4)
    three = simulate(land, m, starts[:3], 30, seed=4)
    np.testing.assert_array_equal(six.final[:3], three.final)


def test_the_full_training_set_as_batch_is_full_batch_gd_to_rounding():
    a = _run("gd:lr=0.1,batch=30", steps=30)
    b = _run("gd:lr=0.1", steps=30)
    np.testing.assert_allclose(a.final, b.final, rtol=1e-10, atol=1e-12)


def test_goodness_uses_the_full_batch_exact_quantities():
    land = _net()
    traj = _run("gd+moxco:lr=0.05,batch=3", n=4, steps=15, record=True)
    rec = traj.records
    for t in (0, 7, 15):
        f, g, lam = land.evaluate(rec.x[t])
        np.testing.assert_array_equal(rec.loss[t], f)
        np.testing.assert_array_equal(rec.lam_max[t], lam)


def test_batch_on_a_landscape_without_data_is_a_one_line_error():
    beale = landscapes.get("beale")
    m = methods.build(methods.parse_spec("gd:batch=4"))
    with pytest.raises(SpecError, match="batch: beale is not a loss over training points"):
        simulate(beale, m, np.zeros((2, 2)), 5)
    with pytest.raises(SpecError, match="at most the 30 training points"):
        _run("gd:batch=31")
