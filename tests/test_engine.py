import warnings

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import NOISE_BLOCK, simulate
from moxco_cli.settings import ALL_METHOD_NAMES, METHOD_NAMES, OptimizerSettings, build_method

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
    with pytest.raises(ValueError, match="no starts"):
        simulate(beale, build_method("gd", S), np.zeros((0, 2)), 5)


def _assert_same_trajectory(fast, ref):
    for key in ("final", "final_loss", "commit_step", "diverged_step", "restart_step",
                "restart_count"):
        np.testing.assert_array_equal(getattr(fast, key), getattr(ref, key), err_msg=key)
    if ref.records is not None:
        for key in vars(ref.records):
            np.testing.assert_array_equal(getattr(fast.records, key), getattr(ref.records, key),
                                          err_msg=f"records.{key}")


ALL_METHODS = ALL_METHOD_NAMES


@pytest.mark.parametrize("name", ALL_METHODS)
@pytest.mark.parametrize("settings", [
    OptimizerSettings(),
    OptimizerSettings(lr=0.05, commit="reversible", restart=(0.5, 0.0)),
    OptimizerSettings(noise_std=0.3, seed=4, prox="binary", prox_weight=0.5, commit="none"),
    OptimizerSettings(lr=0.02, prox="l1", prox_weight=0.3, restart=(0.0, 0.0)),
], ids=["defaults", "reversible-diverging", "noisy-prox", "l1-zero-restart"])
def test_fused_path_equals_the_generic_definition_bit_for_bit(name, settings):
    beale = landscapes.get("beale")
    starts = np.random.default_rng(7).uniform(-4.5, 4.5, size=(40, 2))
    starts[:4] = [[4.0, 4.0], [0.0, 1.0], [3.0, 0.5], [-0.0, 0.0]]  # diverges, saddle, minimum
    method = build_method(name, settings)
    kw = dict(record=True, seed=settings.seed)
    fused = simulate(beale, method, starts, 150, **kw)
    _assert_same_trajectory(fused, simulate(beale, method, starts, 150, path="generic", **kw))
    if settings.lr == 0.05 and not name.startswith(("adam", "rmsprop")):
        assert fused.diverged.any()  # GD inside diverges somewhere: the freeze is compared


def test_fused_path_equals_generic_on_chunked_threaded_two_wells_and_quadratic():
    tw = landscapes.get("two-wells")
    starts = np.random.default_rng(3).uniform(-4, 4, size=(2 * NOISE_BLOCK + 9, 1))
    method = build_method("adam+moxco", OptimizerSettings(noise_std=0.1))
    _assert_same_trajectory(simulate(tw, method, starts, 30, seed=2, threads=2),
                            simulate(tw, method, starts, 30, seed=2, path="generic"))
    quad = landscapes.get("quadratic", a=(1.0, 50.0, 400.0))  # the default (unfused) evaluator
    x0 = np.random.default_rng(4).uniform(-2, 2, size=(30, 3))
    for name in ("gd+moxco", "rmsprop+moxco", "nesterov+restart-grad"):
        method = build_method(name, OptimizerSettings())
        _assert_same_trajectory(simulate(quad, method, x0, 100, record=True),
                                simulate(quad, method, x0, 100, record=True, path="generic"))


@pytest.mark.parametrize("name", ["gd+moxco", "adam+moxco", "rmsprop+moxco", "nesterov"])
@pytest.mark.parametrize("path", ["fused", "generic"])
def test_per_row_hyperparameters_give_each_row_the_numbers_of_its_values_run_alone(name, path):
    from moxco_cli import methods

    beale = landscapes.get("beale")
    x0 = np.random.default_rng(8).uniform(-4.5, 4.5, size=(16, 2))
    keys = methods.per_row_keys(name)
    grid = {"lr": (0.001, 0.02), "alpha": (0.0, 0.95), "beta": (0.5, 0.0),
            "threshold": (0.5, 0.85), "tau": (0.15, 1.0), "restart_alpha": (0.1, 0.6),
            "restart_beta": (0.0, 0.3)}
    cells = [{k: v[i] for k, v in grid.items() if k in keys} for i in (0, 1)]
    base = methods.resolve(methods.MethodSpec(name))
    rows = {k: np.repeat([c[k] for c in cells], len(x0)) for k in cells[0]}
    together = simulate(beale, methods.build_from_values(name, {**base, **rows}),
                        np.tile(x0, (2, 1)), 300, record=True, path=path)
    assert together.final.shape == (32, 2)
    for i, cell in enumerate(cells):
        alone = simulate(beale, methods.build_from_values(name, {**base, **cell}), x0, 300,
                         record=True)
        part = slice(16 * i, 16 * (i + 1))
        np.testing.assert_array_equal(together.final[part], alone.final)
        np.testing.assert_array_equal(together.commit_step[part], alone.commit_step)
        np.testing.assert_array_equal(together.records.goodness[:, part], alone.records.goodness)
        np.testing.assert_array_equal(together.records.alpha[:, part], alone.records.alpha)
    assert not np.array_equal(together.final[:16], together.final[16:])  # the values matter


def test_per_row_values_must_cover_every_start_and_only_per_row_keys():
    from moxco_cli import methods
    from moxco_cli.params import SpecError

    base = methods.resolve(methods.MethodSpec("adam"))
    method = methods.build_from_values("adam", {**base, "lr": np.array([0.1, 0.2, 0.3])})
    assert method.row_count == 3
    with pytest.raises(ValueError, match="per-row values for 3"):
        simulate(landscapes.get("beale"), method, np.zeros((4, 2)), 5)
    with pytest.raises(SpecError, match="^b1: takes one value"):
        methods.build_from_values("adam", {**base, "b1": np.array([0.8, 0.9])})


@pytest.mark.parametrize("name,params", [("beale", {}), ("two-wells", {}), ("quadratic", {})])
def test_landscape_evaluator_equals_public_methods_bit_for_bit(name, params):
    land = landscapes.get(name, **params)
    rng = np.random.default_rng(11)
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    x = lo + (hi - lo) * rng.uniform(-0.5, 1.5, size=(64, land.dim))  # also outside the box
    x[0], x[1], x[2] = 0.0, -0.0, 1e6
    evaluator = land.evaluator(len(x))
    for layout in (np.ascontiguousarray(x), np.asfortranarray(x)):
        for _ in range(2):  # the evaluator's buffers are reused
            f, g, lam = evaluator.evaluate(layout)
            np.testing.assert_array_equal(f, land.f(x))
            np.testing.assert_array_equal(g, land.grad(x))
            np.testing.assert_array_equal(lam, land.lam_max(x))
            np.testing.assert_array_equal(evaluator.grad(layout), land.grad(x))


def test_threaded_chunks_let_no_floating_point_warning_escape():
    beale = landscapes.get("beale")
    starts = np.tile([[1e60, 1e60], [3.0, 0.5]], (NOISE_BLOCK + 1, 1))  # f overflows at 1e60
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = simulate(beale, build_method("gd", OptimizerSettings(lr=1.0)), starts, 5,
                      chunk_size=NOISE_BLOCK, threads=2)
    assert tr.diverged[0::2].all() and not tr.diverged[1::2].any()


def test_chunks_hold_at_most_chunk_coords_coordinates_beyond_d_2():
    """Default chunks: DEFAULT_CHUNK starts at d = 2 (unchanged), at most CHUNK_COORDS
    coordinates at d = 50 (1310 starts: the measured cache optimum), never under MIN_CHUNK
    starts; an explicit chunk_size and the noise blocks are kept as asked."""
    from moxco_cli.engine import CHUNK_COORDS, DEFAULT_CHUNK, MIN_CHUNK, _chunks

    def sizes(bounds):
        return {hi - lo for lo, hi in bounds}

    assert sizes(_chunks(4 * DEFAULT_CHUNK, None, 1, aligned=False, d=2)) == {DEFAULT_CHUNK}
    at_50 = _chunks(10_000, None, 1, aligned=False, d=50)
    assert max(sizes(at_50)) * 50 <= CHUNK_COORDS and len(at_50) == 8
    assert at_50[0] == (0, 1250) and at_50[-1] == (8750, 10_000)
    tiny = _chunks(1000, None, 1, aligned=False, d=100_000)  # about MIN_CHUNK starts each
    assert len(tiny) == round(1000 / MIN_CHUNK) and tiny[0] == (0, 33)
    assert sizes(_chunks(10_000, 5000, 1, aligned=False, d=50)) == {5000}
    assert sizes(_chunks(3 * 4096, None, 1, aligned=True, d=50)) == {4096}
