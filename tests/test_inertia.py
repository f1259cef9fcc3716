"""The inertia wrapper against the classical methods it generalizes, bit for bit."""

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import Method, simulate
from moxco_cli.goodness import CommitRule
from moxco_cli.optim import adam, gd
from moxco_cli.prox import make_prox

STEPS = 300
STARTS = np.array([[-2.5, 1.2], [1.0, 1.0], [0.3, -1.7], [4.0, 4.0]])


def _reference_inner(land, opt, x0, steps):
    """The inner optimizer alone: theta <- theta - step(grad f(theta))."""
    x = x0.copy()
    state = opt.init(x)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            step, state = opt.update(land.grad(x), state)
            x = x - step
    return x


def _inertial(opt, alpha, beta):
    return Method("test", opt, CommitRule("none", 0.85, alpha, beta, 0.1, 0.1))


@pytest.mark.parametrize("factory", [gd, adam])
def test_inertia_with_zero_momentum_is_inner_optimizer(factory):
    beale = landscapes.get("beale")
    starts = STARTS[:3]  # all stay finite at this lr
    traj = simulate(beale, _inertial(factory(0.005), 0.0, 0.0), starts, STEPS)
    want = _reference_inner(beale, factory(0.005), starts, STEPS)
    np.testing.assert_array_equal(traj.final, want)


def test_inertia_with_zero_momentum_under_moxco_commit_changes_nothing():
    # goodness is evaluated (and may "commit") but restart values 0 keep the iterates identical
    beale = landscapes.get("beale")
    method = Method("m", gd(0.005), CommitRule("latch", 0.5, 0.0, 0.0, 0.0, 0.0))
    traj = simulate(beale, method, STARTS[:3], STEPS)
    np.testing.assert_array_equal(traj.final, _reference_inner(beale, gd(0.005), STARTS[:3], STEPS))


def test_gd_with_beta_zero_is_polyak_heavy_ball():
    beale, lr, a = landscapes.get("beale"), 0.002, 0.7
    x_prev = x = STARTS[:3].copy()
    for _ in range(STEPS):
        x, x_prev = x + a * (x - x_prev) - lr * beale.grad(x), x
    traj = simulate(beale, _inertial(gd(lr), a, 0.0), STARTS[:3], STEPS)
    np.testing.assert_array_equal(traj.final, x)


def test_gd_with_alpha_equal_beta_is_nesterov():
    beale, lr, a = landscapes.get("beale"), 0.002, 0.6
    x_prev = x = STARTS[:3].copy()
    for _ in range(STEPS):
        y = x + a * (x - x_prev)
        x, x_prev = y - lr * beale.grad(y), x
    traj = simulate(beale, _inertial(gd(lr), a, a), STARTS[:3], STEPS)
    np.testing.assert_array_equal(traj.final, x)


def test_general_inertia_matches_paper_equations():
    # u = x + a d, v = x + b d, x_next = u - lr grad f(v)  (eqs 1-3), a != b
    beale, lr, a, b = landscapes.get("beale"), 0.002, 0.8, 0.3
    x_prev = x = STARTS[:3].copy()
    for _ in range(STEPS):
        d = x - x_prev
        x, x_prev = (x + a * d) - lr * beale.grad(x + b * d), x
    traj = simulate(beale, _inertial(gd(lr), a, b), STARTS[:3], STEPS)
    np.testing.assert_array_equal(traj.final, x)


def test_l1_prox_soft_thresholds_by_lr_times_weight():
    prox = make_prox("l1", 2.0, 0.1)  # threshold 0.2
    z = np.array([[0.5, -0.5, 0.1, -0.15, 0.0]])
    np.testing.assert_allclose(prox(z), [[0.3, -0.3, 0.0, 0.0, 0.0]], atol=1e-15)


def test_binary_prox_pulls_towards_nearest_sign_by_at_most_lr_times_weight():
    prox = make_prox("binary", 1.0, 0.25)  # max move 0.25
    z = np.array([[0.0, 0.9, 1.1, -0.5, -3.0, 2.0, -1.0]])
    np.testing.assert_allclose(prox(z), [[0.25, 1.0, 1.0, -0.75, -2.75, 1.75, -1.0]], atol=1e-15)


def test_prox_is_applied_after_the_inertial_step():
    quad = landscapes.get("quadratic", a=(1.0, 1.0))
    lr, lam = 0.1, 0.5
    method = Method("l1", gd(lr), CommitRule("none", 0.85, 0.0, 0.0), prox=make_prox("l1", lam, lr))
    x0 = np.array([[1.0, -0.02]])
    traj = simulate(quad, method, x0, 1)
    z = x0 - lr * x0  # gradient step, then soft-threshold by 0.05
    np.testing.assert_allclose(traj.final, np.sign(z) * np.maximum(np.abs(z) - lr * lam, 0))
