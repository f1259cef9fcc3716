import math

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import Method, simulate
from moxco_cli.goodness import CommitRule, goodness, inv_eta_eff
from moxco_cli.optim import adam, gd


def test_inv_eta_eff_is_theorem_2_bound():
    assert inv_eta_eff(0.005, 0.9, 0.9) == pytest.approx(2 * 1.9 / (0.005 * 2.8))
    assert inv_eta_eff(0.1, 0.0, 0.0) == pytest.approx(20.0)  # plain GD: 2 / lr


def test_goodness_matches_hand_computation_on_beale():
    beale = landscapes.get("beale")
    lr, alpha, beta, tau = 0.005, 0.9, 0.9, 0.15
    inv = 2 * (1 + alpha) / (lr * (1 + 2 * beta))
    for p in [(-2.5, 1.2), (3.0, 0.5), (2.9, 0.45), (0.0, 1.0)]:
        x = np.array([p])
        f, g, lam = beale.f(x)[0], beale.grad(x)[0], np.linalg.eigvalsh(beale.hess(x)[0])[-1]
        want = math.exp(-tau * (g @ g + max(lam - inv, 0.0) + abs(f - 0.0)))
        got = goodness(beale.f(x), (beale.grad(x) ** 2).sum(1), beale.lam_max(x),
                       f_target=0.0, inv_eta=inv, tau=tau)[0]
        assert got == pytest.approx(want, rel=1e-13)
    # at the global minimum every term is 0 (curvature is below the bound)
    assert goodness(np.array([0.0]), np.array([0.0]), np.array([10.0]),
                    f_target=0.0, inv_eta=inv, tau=tau)[0] == 1.0


def test_goodness_curvature_term_counts_only_above_the_bound():
    kw = dict(f_target=0.0, inv_eta=100.0, tau=0.5)
    below = goodness(np.zeros(1), np.zeros(1), np.array([99.0]), **kw)
    above = goodness(np.zeros(1), np.zeros(1), np.array([104.0]), **kw)
    assert below[0] == 1.0 and above[0] == pytest.approx(math.exp(-0.5 * 4.0))


def test_non_finite_goodness_counts_as_zero():
    g = goodness(np.array([np.nan, np.inf]), np.zeros(2), np.zeros(2),
                 f_target=0.0, inv_eta=1.0, tau=1.0)
    np.testing.assert_array_equal(g, [0.0, 0.0])


def _beale_run(mode, threshold=0.85, inner=gd):
    beale = landscapes.get("beale")
    rule = CommitRule(mode, threshold, 0.9, 0.9, 0.1, 0.1)
    return simulate(beale, Method("m", inner(0.005), rule), np.array([[-2.5, 1.2]]), 800,
                    record=True)


def test_latch_fires_at_first_step_above_threshold_and_uses_restart_values_that_step():
    tr = _beale_run("latch")
    rec, c = tr.records, tr.commit_step[0]
    above = np.flatnonzero(rec.goodness[:-1, 0] > 0.85)
    assert c >= 0 and c == above[0]
    assert rec.alpha[c, 0] == 0.1 and rec.beta[c, 0] == 0.1  # same step uses restart values
    assert rec.alpha[c - 1, 0] == 0.9 and rec.beta[c - 1, 0] == 0.9
    assert np.all(rec.committed[c:, 0]) and not np.any(rec.committed[:c, 0])
    assert np.all(rec.alpha[c:, 0] == 0.1)  # latched for good, even if goodness dips


def test_reversible_commits_exactly_on_steps_above_threshold():
    tr = _beale_run("reversible", threshold=0.5, inner=adam)
    rec = tr.records
    above = rec.goodness[:-1, 0] > 0.5
    np.testing.assert_array_equal(rec.committed[:-1, 0], above)
    np.testing.assert_array_equal(rec.alpha[:-1, 0], np.where(above, 0.1, 0.9))
    assert above.any() and not above.all()  # it really switched back and forth
    assert np.any(above[:-1] & ~above[1:]), "expected at least one switch back to exploration"
    assert tr.commit_step[0] == np.flatnonzero(above)[0]


def test_none_never_commits():
    tr = _beale_run("none")
    assert tr.commit_step[0] == -1
    assert not tr.records.committed.any()
    assert np.all(tr.records.alpha == 0.9)
    assert (tr.records.goodness > 0.85).any()  # it would have committed under latch


def test_unknown_commit_mode_is_rejected():
    with pytest.raises(ValueError, match="commit mode"):
        CommitRule("sometimes")


def test_settings_lists_the_same_commit_modes_and_prox_names_as_the_engine():
    from moxco_cli import prox, settings
    from moxco_cli.goodness import COMMIT_MODES

    assert settings.COMMIT_MODES == COMMIT_MODES
    assert settings.PROX_NAMES == prox.NAMES
