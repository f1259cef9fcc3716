import numpy as np
import pytest

from moxco_cli.optim import adam, gd


def test_gd_step_is_lr_times_gradient():
    opt = gd(0.1)
    g = np.array([[1.0, -2.0], [0.5, 4.0]])
    step, state = opt.update(g, opt.init(np.zeros((2, 2))))
    np.testing.assert_array_equal(step, 0.1 * g)
    assert state.count == 1


def test_adam_first_two_steps_match_hand_computation():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = adam(lr)
    g0 = np.array([[3.0, -0.25, 100.0]])
    g1 = np.array([[-1.0, 0.5, 1.0]])
    step0, st = opt.update(g0, opt.init(np.zeros((1, 3))))
    # step 0: bias-corrected moments equal g and g^2, so the step is lr * g / (|g| + eps)
    np.testing.assert_allclose(step0, lr * g0 / (np.abs(g0) + eps), rtol=1e-15)
    step1, st = opt.update(g1, st)
    m = b1 * (1 - b1) * g0 + (1 - b1) * g1
    s = b2 * (1 - b2) * g0**2 + (1 - b2) * g1**2
    want = lr * (m / (1 - b1**2)) / (np.sqrt(s / (1 - b2**2)) + eps)
    np.testing.assert_allclose(step1, want, rtol=1e-14)
    assert st.count == 2


def test_adam_bias_correction_uses_step_count_not_parameter_index():
    # Same gradient on every coordinate: with a step-count correction every coordinate moves
    # by the same amount; a per-parameter-index correction (b1**(j+1)) would not.
    opt = adam(0.1)
    g = np.ones((1, 5))
    state = opt.init(np.zeros((1, 5)))
    for _ in range(3):
        step, state = opt.update(g, state)
        np.testing.assert_allclose(step, 0.1 / (1 + 1e-8), rtol=1e-12)
        assert np.ptp(step) == 0.0


@pytest.mark.parametrize("factory", [gd, adam])
def test_nonpositive_lr_is_rejected(factory):
    with pytest.raises(ValueError, match="lr"):
        factory(0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_equals_the_left_to_right_formula_bit_for_bit_over_many_steps(dtype):
    # The update is written into preallocated arrays for speed; it must still be exactly
    # `lr * (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)` with NumPy's dtype rules.
    lr, b1, b2, eps = 0.005, 0.9, 0.999, 1e-8
    opt = adam(lr)
    rng = np.random.default_rng(3)
    state = opt.init(np.zeros((64, 2)))
    m = np.zeros((64, 2))
    s = np.zeros((64, 2))
    for t in range(1, 301):
        g = (rng.standard_normal((64, 2)) * 10.0 ** rng.integers(-6, 4, (64, 2))).astype(dtype)
        step, state = opt.update(g, state)
        m = b1 * m + (1.0 - b1) * g
        s = b2 * s + (1.0 - b2) * (g * g)
        want = lr * (m / (1.0 - b1**t)) / (np.sqrt(s / (1.0 - b2**t)) + eps)
        np.testing.assert_array_equal(step, want)
        assert step.dtype == want.dtype
    np.testing.assert_array_equal(state.m, m)
    np.testing.assert_array_equal(state.s, s)
