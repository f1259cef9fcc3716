"""SPEC's reference values for the paper's Figure 1 setting (start (-2.5, 1.2))."""

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import simulate
from moxco_cli.settings import OptimizerSettings, build_method

START = np.array([[-2.5, 1.2]])


@pytest.fixture(scope="module")
def runs():
    beale, s = landscapes.get("beale"), OptimizerSettings()
    return {m: simulate(beale, build_method(m, s), START, 800, record=True)
            for m in ("gd", "adam", "gd+moxco", "adam+moxco")}


def test_plain_gd_ends_on_a_period_two_orbit_near_minus_2_355_1_272(runs):
    tr = runs["gd"]
    np.testing.assert_allclose(tr.final[0], [-2.355, 1.272], atol=5e-3)
    assert tr.final_loss[0] == pytest.approx(1.39, abs=0.01)
    x = tr.records.x[:, 0]
    assert np.linalg.norm(x[-1] - x[-3]) < 1e-9 < np.linalg.norm(x[-1] - x[-2])  # period 2


def test_gd_moxco_commits_and_ends_within_0_15_of_the_global_minimum(runs):
    tr = runs["gd+moxco"]
    assert tr.commit_step[0] >= 0
    assert np.linalg.norm(tr.final[0] - [3.0, 0.5]) <= 0.15


def test_plain_adam_ends_far_from_the_global_minimum(runs):
    assert np.linalg.norm(runs["adam"].final[0] - [3.0, 0.5]) > 5
    assert np.linalg.norm(runs["gd"].final[0] - [3.0, 0.5]) > 5
