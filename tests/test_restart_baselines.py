"""Named baselines: heavy ball, Nesterov, and O'Donoghue-Candes adaptive restart (2015)."""

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import simulate
from moxco_cli.settings import BASELINE_NAMES, OptimizerSettings, build_method

# f = x^2/2, lr 0.5, momentum 0.9, x0 = 1, traced by hand:
#   t=0: d=0, y=1, x1=0.5;  t=1: y=0.05, x2=0.025;  t=2: y=-0.4025, x3=-0.20125
#   t=3: f(x3)=0.02025 > f(x2)=0.0003125, and grad f(y2).(x3-x2) = (-0.4025)(-0.22625) > 0:
#        both schemes reset the velocity: y=x3, x4=-0.100625 (Nesterov would give -0.2024375)
#   t=4: no restart (f fell; grad f(y3).(x4-x3) = (-0.20125)(0.100625) < 0): x5=-0.00503125
HAND_TRACE = [1.0, 0.5, 0.025, -0.20125, -0.100625, -0.00503125]
SETTINGS = OptimizerSettings(lr=0.5, gd_moxco=(0.9, 0.9))


@pytest.mark.parametrize("name", ["nesterov+restart-fn", "nesterov+restart-grad"])
def test_adaptive_restart_matches_a_hand_traced_quadratic(name):
    quad = landscapes.get("quadratic", a=1.0)
    tr = simulate(quad, build_method(name, SETTINGS), np.array([[1.0]]), 5, record=True)
    np.testing.assert_allclose(tr.records.x[:, 0, 0], HAND_TRACE, rtol=1e-13, atol=1e-16)
    # restarts are their own record, never the commit columns
    assert tr.restart_step[0] == 3 and tr.restart_count[0] == 1  # the first (only) restart
    np.testing.assert_array_equal(tr.records.restarted[:5, 0], [False, False, False, True, False])
    assert tr.commit_step[0] == -1 and not tr.records.committed.any()


def test_nesterov_without_restart_overshoots_where_restart_resets():
    quad = landscapes.get("quadratic", a=1.0)
    tr = simulate(quad, build_method("nesterov", SETTINGS), np.array([[1.0]]), 4, record=True)
    np.testing.assert_allclose(tr.records.x[:, 0, 0], HAND_TRACE[:4] + [-0.2024375], rtol=1e-13)
    assert tr.commit_step[0] == -1


def test_heavy_ball_and_nesterov_are_the_inertia_wrapper_with_fixed_settings():
    hb, nag = (build_method(n, OptimizerSettings()) for n in ("heavy-ball", "nesterov"))
    assert (hb.rule.mode, hb.rule.alpha, hb.rule.beta) == ("none", 0.9, 0.0)
    assert (nag.rule.mode, nag.rule.alpha, nag.rule.beta) == ("none", 0.9, 0.9)
    # Nesterov is GD+MoXCo with the commit rule switched off, bit for bit
    beale, x0 = landscapes.get("beale"), np.array([[-2.5, 1.2], [1.0, 1.0]])
    a = simulate(beale, nag, x0, 300)
    b = simulate(beale, build_method("gd+moxco", OptimizerSettings(commit="none")), x0, 300)
    np.testing.assert_array_equal(a.final, b.final)


def test_restart_runs_are_batch_invariant():
    beale = landscapes.get("beale")
    starts = np.random.default_rng(2).uniform(-4.5, 4.5, (8, 2))
    for name in BASELINE_NAMES:
        together = simulate(beale, build_method(name, OptimizerSettings()), starts, 200)
        for i in range(len(starts)):
            alone = simulate(beale, build_method(name, OptimizerSettings()), starts[i:i + 1], 200)
            np.testing.assert_array_equal(together.final[i], alone.final[0])
            assert together.commit_step[i] == alone.commit_step[0]
            if "restart" in name:
                assert together.restart_step[i] == alone.restart_step[0]
                assert together.restart_count[i] == alone.restart_count[0]
            else:  # no adaptive restart: no restart record
                assert together.restart_step is None and alone.restart_count is None


def test_baselines_are_accepted_by_the_commands(tmp_path):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    result = CliRunner().invoke(app, ["run", "beale", "--optimizers", ",".join(BASELINE_NAMES),
                                      "--steps", "50", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    for name in BASELINE_NAMES:
        assert name in result.output
