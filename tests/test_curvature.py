"""`moxco_cli.curvature`: power iteration and Lanczos against `eigvalsh`, seeded vectors,
and the engine's scoring schedule and cost accounting."""

import numpy as np
import pytest

import landscapes
from moxco_cli import curvature
from moxco_cli.engine import simulate
from moxco_cli.params import SpecError
from moxco_cli.settings import OptimizerSettings, build_method


class Matrices:
    """A batch of fixed symmetric matrices `(n, d, d)` posing as a landscape's Hessians."""

    def __init__(self, mats):
        self.mats = mats

    def hvp(self, x, v):
        return np.einsum("nij,nj->ni", self.mats, v)

    def lam_max(self, x):
        return np.linalg.eigvalsh(self.mats)[:, -1]


def _random_symmetric(n, d, seed, spd=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d, d))
    sym = (a + a.transpose(0, 2, 1)) / 2
    return np.einsum("nij,nkj->nik", a, a) if spd else sym


@pytest.mark.parametrize("d", [3, 10, 50])
def test_lanczos_with_d_steps_equals_eigvalsh_on_random_symmetric_matrices(d):
    mats = _random_symmetric(20, d, seed=d)  # indefinite
    land = Matrices(mats)
    q0 = curvature.start_vectors(0, 0, 20, d)
    lam, taken = curvature.lanczos(lambda v: land.hvp(None, v), q0, d)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(mats)[:, -1], rtol=1e-9, atol=1e-9)
    assert (taken == d).all()


def test_lanczos_stops_early_on_a_low_rank_matrix_and_still_finds_lam_max():
    rng = np.random.default_rng(3)
    u = rng.standard_normal((5, 30, 2))
    mats = np.einsum("nik,njk->nij", u, u)  # rank 2: the Krylov space closes after 2-3 steps
    lam, taken = curvature.lanczos(lambda v: Matrices(mats).hvp(None, v),
                                   curvature.start_vectors(1, 0, 5, 30), 30)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(mats)[:, -1], rtol=1e-9)
    assert (taken <= 3).all()


def test_power_iteration_converges_to_the_largest_eigenvalue_with_warm_starts():
    d = 10
    mats = _random_symmetric(8, d, seed=4, spd=True)
    land = Matrices(mats)
    est = curvature.Estimator.for_rows("power:1", seed=2, start=0, n=8, d=d)
    rows = np.ones(8, dtype=bool)
    for _ in range(400):  # 400 scorings of one step each = 400 warm-started iterations
        lam, hvps = est.estimate(land, np.zeros((8, d)), rows)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(mats)[:, -1], rtol=1e-6)
    assert (hvps == 1).all()
    quad = landscapes.get("quadratic", a=[1.0, 2.0, 5.0])  # rows not selected are not evaluated
    est = curvature.Estimator.for_rows("power:2", seed=2, start=0, n=8, d=3)
    frozen = np.array([True] * 4 + [False] * 4)
    lam, hvps = est.estimate(quad, np.zeros((8, 3)), frozen)
    assert np.isfinite(lam[:4]).all() and np.isnan(lam[4:]).all()
    assert (hvps == [2, 2, 2, 2, 0, 0, 0, 0]).all()


def test_power_iteration_on_landscape_hessians_matches_eigvalsh():
    quad = landscapes.get("quadratic", a=[1.0, 3.0, 40.0])
    x = np.zeros((4, 3))
    est = curvature.Estimator.for_rows("power:60", seed=0, start=0, n=4, d=3)
    lam, _ = est.estimate(quad, x, np.ones(4, dtype=bool))
    np.testing.assert_allclose(lam, 40.0, rtol=1e-10)


def test_start_vectors_do_not_depend_on_the_chunking():
    whole = curvature.start_vectors(5, 0, 9000, 4)
    parts = np.concatenate([curvature.start_vectors(5, 0, 4000, 4),
                            curvature.start_vectors(5, 4000, 5000, 4)])
    np.testing.assert_array_equal(whole, parts)
    np.testing.assert_allclose(np.linalg.norm(whole, axis=1), 1.0)
    raw = np.random.default_rng([5, 7, 1]).standard_normal((4096, 4))[10]
    np.testing.assert_allclose(whole[4096 + 10], raw / np.linalg.norm(raw))


def test_cold_power_iteration_restarts_from_the_seeded_vector_every_scoring():
    quad = landscapes.get("quadratic", a=[1.0, 2.0, 5.0])
    rows, x = np.ones(3, dtype=bool), np.zeros((3, 3))
    cold = curvature.Estimator.for_rows("power:3:cold", seed=1, start=0, n=3, d=3)
    first, _ = cold.estimate(quad, x, rows)
    np.testing.assert_array_equal(cold.estimate(quad, x, rows)[0], first)  # same every time
    warm = curvature.Estimator.for_rows("power:3", seed=1, start=0, n=3, d=3)
    np.testing.assert_array_equal(warm.estimate(quad, x, rows)[0], first)
    assert np.all(np.abs(warm.estimate(quad, x, rows)[0] - 5) < np.abs(first - 5))
    assert curvature.canonical("power:3:cold") == "power:3:cold"


@pytest.mark.parametrize("text", ["power", "power:0", "lanczos:x", "eigh", "power:3:1", 3,
                                  "lanczos:3:cold"])
def test_bad_curvature_specs_name_the_key(text):
    with pytest.raises(SpecError, match="^curvature: "):
        curvature.parse_curvature(text)


def test_scoring_every_k_steps_commits_only_on_scored_steps_and_counts_its_cost():
    beale = landscapes.get("beale")
    x0 = np.random.default_rng(6).uniform(-4.5, 4.5, (300, 2))
    for k in (5, 20):
        tr = simulate(beale, build_method(f"adam+moxco:score_every={k}", OptimizerSettings()),
                      x0, 400, record=True)
        c = tr.commit_step[tr.commit_step >= 0]
        assert len(c) > 0 and (c % k == 0).all()
        scored = np.arange(401) % k == 0
        assert np.isnan(tr.records.goodness[~scored]).all()
        assert np.isfinite(tr.records.goodness[scored][:, ~tr.diverged]).all()
        np.testing.assert_array_equal(tr.grad_evals[~tr.diverged], 400 + 400 // k)
        np.testing.assert_array_equal(tr.hvps[~tr.diverged], 2 * (400 // k))


def test_cost_of_the_fused_path_equals_the_generic_count_with_divergence():
    beale = landscapes.get("beale")
    x0 = np.random.default_rng(1).uniform(-4.5, 4.5, (60, 2))
    for name in ("gd", "gd+moxco", "adam+moxco", "nesterov+restart-fn"):
        method = build_method(name, OptimizerSettings(lr=0.05))
        fused = simulate(beale, method, x0, 150)
        generic = simulate(beale, method, x0, 150, path="generic")
        np.testing.assert_array_equal(fused.grad_evals, generic.grad_evals)
        np.testing.assert_array_equal(fused.hvps, generic.hvps)
    assert fused.diverged.any()  # the accounting of diverged runs was compared
    plain = simulate(beale, build_method("gd", OptimizerSettings()), x0, 100)
    taken = np.where(plain.diverged, plain.diverged_step + 1, 100)  # steps after: free
    np.testing.assert_array_equal(plain.grad_evals, taken)
    assert (plain.hvps == 0).all()


def test_check_records_the_exact_lam_max_beside_the_estimate():
    beale = landscapes.get("beale")
    x0 = np.random.default_rng(2).uniform(-4.5, 4.5, (30, 2))
    tr = simulate(beale, build_method("gd+moxco:curvature=lanczos:2", OptimizerSettings()), x0,
                  200, record=True, check=True)
    alive = ~tr.diverged
    np.testing.assert_allclose(tr.records.lam_max[:, alive], tr.records.lam_max_exact[:, alive],
                               rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="record=True"):
        simulate(beale, build_method("gd", OptimizerSettings()), x0, 5, check=True)
