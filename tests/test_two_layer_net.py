"""two-layer-net: SPEC's data and initialization, exact derivatives against finite differences
for every activation (relu away from its kinks), the HVP against the dense Hessian, metrics."""

import numpy as np
import pytest

import landscapes
from landscapes.two_layer_net import ACTIVATIONS

POINTS = 400


def _net(**params):
    return landscapes.get("two-layer-net", **params)


def _points(land, n, seed):
    """Network initializations moved off them (so that a and the residuals are generic)."""
    rng = np.random.default_rng(seed)
    return land.sample_starts(n, rng) + 0.3 * rng.standard_normal((n, land.dim))


def _away_from_kinks(land, x, h):
    """Rows whose pre-activations `w_j x_i + b_j` are all farther than 3 steps of size h
    (scaled by the step along theta) from 0: relu is smooth there."""
    H = land.hidden
    z = x[:, None, :H] * land.x_train[None, :, None] + x[:, None, H:2 * H]
    return np.abs(z).min(axis=(1, 2)) > 3 * h[:, 0] * (1.0 + np.abs(land.x_train).max())


def _central(fun, x, h, directions):
    """4th-order central difference of `fun` along each direction `(K, N, d)` -> `(N, ..., K)`."""
    cols = []
    for e in directions:
        hh = h.reshape((-1,) + (1,) * (fun(x[:1]).ndim - 1))
        step = h * e
        cols.append((-fun(x + 2 * step) + 8 * fun(x + step) - 8 * fun(x - step)
                     + fun(x - 2 * step)) / (12 * hh))
    return np.stack(cols, axis=-1)


def _rel(a, b):
    n = len(b)
    return (np.linalg.norm((a - b).reshape(n, -1), axis=1)
            / np.maximum(np.linalg.norm(b.reshape(n, -1), axis=1), 1.0))


@pytest.fixture(params=[(act, hidden) for act in ACTIVATIONS for hidden in (1, 5)],
                ids=lambda p: f"{p[0]}-H{p[1]}")
def net_and_points(request):
    act, hidden = request.param
    land = _net(activation=act, hidden=hidden)
    x = _points(land, POINTS, seed=hidden)
    h = np.full((len(x), 1), 1e-4)
    if act == "relu":
        keep = _away_from_kinks(land, x, h)
        assert keep.sum() >= 50  # the check still sees many points
        x, h = x[keep], h[keep]
    return land, x, h


def test_gradient_matches_finite_differences(net_and_points):
    land, x, h = net_and_points
    eye = np.broadcast_to(np.eye(land.dim)[:, None, :], (land.dim, len(x), land.dim))
    assert _rel(_central(land.f, x, h, eye), land.grad(x)).max() <= 1e-7


def test_hessian_matches_finite_differences_of_gradient_and_is_symmetric(net_and_points):
    land, x, h = net_and_points
    eye = np.broadcast_to(np.eye(land.dim)[:, None, :], (land.dim, len(x), land.dim))
    hess = land.hess(x)
    np.testing.assert_array_equal(hess, np.swapaxes(hess, 1, 2))
    assert _rel(_central(land.grad, x, h, eye), hess).max() <= 1e-7


def test_hvp_equals_dense_hessian_product_and_finite_differences(net_and_points):
    land, x, h = net_and_points
    v = np.random.default_rng(9).standard_normal(x.shape)
    v /= np.linalg.norm(v, axis=1, keepdims=True)  # unit steps: the kink margin holds
    hv = land.hvp(x, v)
    assert _rel(hv, np.einsum("nij,nj->ni", land.hess(x), v)).max() <= 1e-13
    fd = _central(land.grad, x, h, v[None])[..., 0]
    assert _rel(fd, hv).max() <= 1e-7


def test_relu_residual_curvature_is_only_the_a_w_and_a_b_cross_terms():
    """For relu, H - (2/M) J^T J has nonzero entries only at (w_j, a_j), (b_j, a_j)."""
    land = _net(hidden=4)
    x = _points(land, 20, seed=3)
    J = land.jacobian(x, land.x_train)
    rest = land.hess(x) - (2.0 / land.train_size) * np.matmul(J.transpose(0, 2, 1), J)
    H = land.hidden
    allowed = np.zeros((land.dim, land.dim), dtype=bool)
    for j in range(H):
        for p in (j, H + j):
            allowed[p, 2 * H + j] = allowed[2 * H + j, p] = True
    assert np.abs(rest[:, ~allowed]).max() <= 1e-14
    assert np.abs(rest[:, allowed]).max() > 1e-3  # and they are there


def test_lam_max_and_fused_evaluate_equal_separate_calls_bit_for_bit():
    land = _net(activation="tanh", hidden=3)
    x = _points(land, 60, seed=4)
    f, g, lam = land.evaluate(x)
    np.testing.assert_array_equal(f, land.f(x))
    np.testing.assert_array_equal(g, land.grad(x))
    np.testing.assert_array_equal(lam, np.linalg.eigvalsh(land.hess(x))[:, -1])
    np.testing.assert_array_equal(lam, land.lam_max(x))


def test_rows_are_independent_of_the_batch_they_are_evaluated_in():
    land = _net()
    x = _points(land, 50, seed=5)
    f, g, lam = land.evaluate(x)
    for k in (0, 17, 49):
        one = land.evaluate(x[k:k + 1])
        assert (one[0][0], *one[1][0], one[2][0]) == (f[k], *g[k], lam[k])


def test_data_are_drawn_once_in_spec_order():
    land = _net(train=7, test=5, noise=0.5, target="sine", data_seed=4)
    rng = np.random.default_rng(4)
    u_train, e_train = rng.uniform(0, 1, 7), rng.standard_normal(7)
    u_test, e_test = rng.uniform(0, 1, 5), rng.standard_normal(5)
    np.testing.assert_array_equal(land.x_train, u_train - 0.5)
    np.testing.assert_array_equal(land.y_train, np.sin(2 * np.pi * u_train) + 0.5 * e_train)
    np.testing.assert_array_equal(land.x_test, u_test - 0.5)
    np.testing.assert_array_equal(land.y_test, np.sin(2 * np.pi * u_test) + 0.5 * e_test)
    tent = _net()
    u = tent.x_train + 0.5
    np.testing.assert_allclose(tent.truth_train, np.where(u < 0.5, 2 * u, 2 - 2 * u), atol=1e-15)
    assert tent.f_target == pytest.approx(0.64) and tent.dim == 16


def test_network_initialization_follows_the_authors_scheme():
    land = _net(hidden=3)
    x = land.sample_starts(6, np.random.default_rng(2))
    rng = np.random.default_rng(2)
    w = np.sign(rng.standard_normal((6, 3)))
    b = rng.uniform(-0.5, 0.5, (6, 3))
    a = rng.standard_normal((6, 3))
    np.testing.assert_array_equal(x, np.concatenate([w, b, a, np.zeros((6, 1))], axis=1))
    assert set(np.unique(x[:, :3])) <= {-1.0, 1.0}


def test_prediction_and_metrics_by_hand():
    """One hidden unit, relu: pred(x) = a relu(w x + b) + c; metrics against hand sums."""
    land = _net(hidden=1, train=4, test=3)
    theta = np.array([[2.0, -0.1, 1.5, 0.3]])
    pred = 1.5 * np.maximum(2.0 * land.x_test - 0.1, 0.0) + 0.3
    np.testing.assert_allclose(land.predict(theta, land.x_test)[0], pred, rtol=1e-15)
    m = land.metrics(theta)
    assert m["test_mse"][0] == pytest.approx(np.mean((pred - land.truth_test) ** 2), rel=1e-14)
    assert m["test_mse_noisy"][0] == pytest.approx(np.mean((pred - land.y_test) ** 2), rel=1e-14)
    train_pred = 1.5 * np.maximum(2.0 * land.x_train - 0.1, 0.0) + 0.3
    assert m["train_loss"][0] == pytest.approx(np.mean((train_pred - land.y_train) ** 2),
                                               rel=1e-14)
    assert m["final_lam_max"][0] == pytest.approx(np.linalg.eigvalsh(land.hess(theta))[0, -1])
    assert set(m) == set(land.METRICS)


def test_minibatch_gradient_over_all_points_is_the_full_gradient():
    land = _net(activation="softplus")
    x = _points(land, 8, seed=6)
    every = np.tile(np.arange(land.train_size), (8, 1))
    np.testing.assert_allclose(land.grad_batch(x, every), land.grad(x), rtol=1e-13, atol=1e-15)
    one = land.grad_batch(x, np.full((8, 1), 3))  # one point: 2 r_3 J_3
    r = land.predict(x, land.x_train[[3]]) - land.y_train[3]  # (8, 1)
    J = land.jacobian(x, land.x_train[[3]])
    np.testing.assert_allclose(one, 2 * r * J[:, 0], rtol=1e-13)


def test_bad_parameters_are_one_line_errors_naming_the_key():
    from moxco_cli.params import SpecError

    with pytest.raises(ValueError, match="activation"):
        _net(activation="sigmoid")
    with pytest.raises(SpecError) as info:
        landscapes.parse_spec("two-layer-net:hidden=0")
    assert info.value.field == "hidden"
    assert landscapes.parse_spec("two-layer-net:hidden=16,activation=tanh") == (
        "two-layer-net", {"hidden": 16, "activation": "tanh"})


def test_engine_results_do_not_depend_on_chunking_or_path():
    from moxco_cli import methods
    from moxco_cli.engine import simulate

    land = _net(activation="tanh")
    starts = land.sample_starts(9, np.random.default_rng(0))
    m = methods.build(methods.parse_spec("adam+moxco:lr=0.02"))
    whole = simulate(land, m, starts, 25)
    ones = simulate(land, m, starts, 25, chunk_size=1)
    generic = simulate(land, m, starts, 25, chunk_size=4, path="generic")
    assert (whole.commit_step >= 0).all()  # every row latched: the fused path stops scoring
    for other in (ones, generic):
        np.testing.assert_array_equal(whole.final, other.final)
        np.testing.assert_array_equal(whole.commit_step, other.commit_step)
        np.testing.assert_array_equal(whole.grad_evals, other.grad_evals)
