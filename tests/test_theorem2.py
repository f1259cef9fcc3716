"""Theorem 2: inertial GD on f = a x^2 / 2 diverges iff a > 2(1+alpha)/(lr(1+2 beta))."""

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import Method, simulate
from moxco_cli.goodness import CommitRule, inv_eta_eff
from moxco_cli.optim import gd

STEPS = 6000


@pytest.mark.parametrize("lr", [1e-3, 1e-2, 0.1])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.6, 0.9, 0.99])
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0, 3.0])
def test_inertial_gd_is_stable_just_below_the_bound_and_diverges_just_above(lr, alpha, beta):
    a_crit = inv_eta_eff(lr, alpha, beta)
    # One 2-D diagonal quadratic holds both cases; each start excites one coordinate only.
    quad = landscapes.get("quadratic", a=(0.99 * a_crit, 1.01 * a_crit))
    method = Method("inertial-gd", gd(lr), CommitRule("none", 0.85, alpha, beta))
    traj = simulate(quad, method, np.array([[1.0, 0.0], [0.0, 1.0]]), STEPS)
    assert traj.diverged_step[0] == -1, "1% below the bound must stay bounded"
    assert np.abs(traj.final[0, 0]) < 1.0
    assert traj.diverged_step[1] >= 0, "1% above the bound must diverge"
