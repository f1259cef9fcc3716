import warnings

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import NOISE_BLOCK, simulate
from moxco_cli.settings import METHOD_NAMES, OptimizerSettings, build_method

S = OptimizerSettings()


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_batch_of_starts_equals_each_start_alone_bit_for_bit(name):
    beale = landscapes.get("beale")
    rng = np.random.default_rng(5)
    starts = rng.uniform(-4.5, 4.5, size=(12, 2))
    method = build_method(name, S)
    together = simulate(beale, method, starts, 400, record=True)
    for i, s in enumerate(starts):
        alone = simulate(beale, method, s[None], 400, record=True)
        np.testing.assert_array_equal(together.final[i], alone.final[0])
        np.testing.assert_array_equal(together.records.goodness[:, i], alone.records.goodness[:, 0])
        assert together.commit_step[i] == alone.commit_step[0]
        assert together.diverged_step[i] == alone.diverged_step[0]


def test_chunked_and_threaded_run_equals_single_chunk_bit_for_bit():
    tw = landscapes.get("two-wells")
    starts = np.random.default_rng(1).uniform(-4, 4, size=(3 * NOISE_BLOCK + 17, 1))
    method = build_method("adam+moxco", OptimizerSettings(noise_std=0.1))
    one = simulate(tw, method, starts, 50, noise_std=0.1, seed=3, chunk_size=len(starts))
    many = simulate(tw, method, starts, 50, noise_std=0.1, seed=3, chunk_size=NOISE_BLOCK,
                    threads=2)
    np.testing.assert_array_equal(one.final, many.final)
    np.testing.assert_array_equal(one.commit_step, many.commit_step)


def test_noise_is_seeded_and_changes_with_seed():
    tw = landscapes.get("two-wells")
    method = build_method("gd", S)
    x0 = np.zeros((4, 1))
    a = simulate(tw, method, x0, 20, noise_std=0.5, seed=1).final
    b = simulate(tw, method, x0, 20, noise_std=0.5, seed=1).final
    c = simulate(tw, method, x0, 20, noise_std=0.5, seed=2).final
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.ptp(a) > 0  # rows get different noise


def test_diverging_run_is_flagged_frozen_and_silent():
    beale = landscapes.get("beale")
    method = build_method("gd", OptimizerSettings(lr=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        tr = simulate(beale, method, np.array([[4.0, 4.0], [3.0, 0.5]]), 50, record=True)
    x1 = np.array([[4.0, 4.0]]) - beale.grad(np.array([[4.0, 4.0]]))  # still inside the box
    assert np.abs(x1).max() < 1e6 < np.abs(x1 - beale.grad(x1)).max()
    assert tr.diverged_step[0] == 1  # the second update leaves the box
    assert tr.diverged_step[1] == -1  # the minimum itself is a fixed point
    np.testing.assert_array_equal(tr.final[0], x1[0])  # frozen at its last finite point
    assert np.all(np.isfinite(tr.records.x)) and np.all(np.isfinite(tr.final_loss))
    np.testing.assert_array_equal(tr.records.x[2:, 0], np.broadcast_to(x1[0], (49, 2)))


def test_divergence_step_is_first_update_past_the_limit():
    quad = landscapes.get("quadratic", a=3.0)
    method = build_method("gd", OptimizerSettings(lr=1.0))  # x <- -2 x: |x| doubles each step
    tr = simulate(quad, method, np.array([[1.0]]), 40)
    # |x_{t+1}| = 2^(t+1) first exceeds 1e6 at t + 1 = 20
    assert tr.diverged_step[0] == 19
    assert tr.final[0, 0] == (-2.0) ** 19


def test_records_have_documented_shapes_and_first_row_is_the_start():
    beale = landscapes.get("beale")
    x0 = np.array([[-2.5, 1.2], [1.0, 1.0]])
    tr = simulate(beale, build_method("gd+moxco", S), x0, 30, record=True)
    r = tr.records
    assert r.x.shape == (31, 2, 2) and r.loss.shape == (31, 2) and r.committed.dtype == bool
    np.testing.assert_array_equal(r.x[0], x0)
    np.testing.assert_array_equal(r.x[-1], tr.final)
    np.testing.assert_array_equal(r.loss[-1], tr.final_loss)
    np.testing.assert_allclose(r.grad_norm[0], np.linalg.norm(beale.grad(x0), axis=1))


def test_recording_does_not_change_results():
    beale = landscapes.get("beale")
    m = build_method("adam+moxco", S)
    x0 = np.random.default_rng(0).uniform(-4.5, 4.5, (20, 2))
    a, b = simulate(beale, m, x0, 200, record=True), simulate(beale, m, x0, 200)
    np.testing.assert_array_equal(a.final, b.final)
    np.testing.assert_array_equal(a.commit_step, b.commit_step)


def test_wrong_dimension_and_zero_steps_are_rejected():
    beale = landscapes.get("beale")
    with pytest.raises(ValueError, match="coordinates"):
        simulate(beale, build_method("gd", S), np.zeros((2, 3)), 5)
    with pytest.raises(ValueError, match="steps"):
        simulate(beale, build_method("gd", S), np.zeros((2, 2)), 0)
