"""factorization: exact derivatives at depths 1-4 against finite differences, the HVP against
the dense Hessian, and the sharpness of the minima (lam_max = sum 1/w_i^2, depth at the
flattest)."""

import numpy as np
import pytest

import landscapes


def _fd(fun, x, h=1e-4):
    cols = []
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        cols.append((-fun(x + 2 * e) + 8 * fun(x + e) - 8 * fun(x - e) + fun(x - 2 * e))
                    / (12 * h))
    return np.stack(cols, axis=-1)


def _rel(a, b):
    n = len(b)
    return (np.linalg.norm((a - b).reshape(n, -1), axis=1)
            / np.maximum(np.linalg.norm(b.reshape(n, -1), axis=1), 1.0))


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gradient_hessian_and_hvp_are_exact(depth):
    land = landscapes.get("factorization", depth=depth)
    rng = np.random.default_rng(depth)
    x = rng.uniform(-2.0, 2.0, (500, depth))
    x[:5] = 0.0  # zeros: products leave factors out without dividing
    x[5:10, 0] = 0.0
    assert _rel(_fd(land.f, x), land.grad(x)).max() <= 1e-8
    hess = land.hess(x)
    np.testing.assert_array_equal(hess, np.swapaxes(hess, 1, 2))
    assert _rel(_fd(land.grad, x), hess).max() <= 1e-8
    v = rng.standard_normal(x.shape)
    hv = land.hvp(x, v)
    assert _rel(hv, np.einsum("nij,nj->ni", hess, v)).max() <= 1e-13
    np.testing.assert_allclose(land.lam_max(x), np.linalg.eigvalsh(hess)[:, -1],
                               rtol=1e-12, atol=1e-12)


def test_depth_two_by_hand():
    land = landscapes.get("factorization")
    x = np.array([[2.0, 3.0]])
    assert land.f(x)[0] == 0.5 * 25
    np.testing.assert_array_equal(land.grad(x), [[15.0, 10.0]])
    np.testing.assert_array_equal(land.hess(x), [[[9.0, 6.0 + 5.0], [11.0, 4.0]]])


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_sharpness_on_the_minima_is_sum_of_inverse_squares(depth):
    land = landscapes.get("factorization", depth=depth)
    rng = np.random.default_rng(0)
    w = rng.uniform(0.4, 2.5, (200, depth)) * rng.choice([-1.0, 1.0], (200, depth))
    w[:, -1] = 1.0 / np.prod(w[:, :-1], axis=1)  # on the set prod w = 1
    np.testing.assert_allclose(land.f(w), 0.0, atol=1e-28)
    np.testing.assert_allclose(land.lam_max(w), np.sum(1.0 / w**2, axis=1), rtol=1e-12)
    assert np.all(land.lam_max(w) >= depth - 1e-9)  # AM-GM: the flattest have |w_i| = 1
    flat = np.stack([m.x for m in land.minima])
    assert len(flat) == 2 ** (depth - 1)
    np.testing.assert_allclose(land.lam_max(flat), depth, rtol=1e-15)
    np.testing.assert_array_equal(land.grad(flat), 0.0)


def test_metrics_and_spec():
    land = landscapes.get("factorization", depth=3)
    x = np.array([[1.0, 2.0, 0.5], [1.0, 1.0, 1.0]])
    m = land.metrics(x)
    np.testing.assert_allclose(m["final_lam_max"], [1 + 0.25 + 4, 3.0], rtol=1e-12)
    np.testing.assert_array_equal(m["product"], [1.0, 1.0])
    assert landscapes.parse_spec("factorization:depth=4") == ("factorization", {"depth": 4})
    with pytest.raises(ValueError, match="depth"):
        landscapes.get("factorization", depth=0)


@pytest.mark.parametrize("line, option, depth_one", [
    (["escape-count", "--landscape", "factorization", "--inits", "4"], "--landscape",
     ["escape-count", "--landscape", "factorization:depth=1", "--inits", "4", "--steps", "20"]),
    (["outcome-map", "factorization", "--grid", "3"], "LANDSCAPE",
     ["outcome-map", "factorization:depth=1", "--grid", "5", "--steps", "20"]),
    (["sweep", "factorization", "--grid", "alpha=0.5", "--starts", "random:2"], "--metric",
     ["sweep", "factorization:depth=1", "--grid", "alpha=0.5", "--starts", "random:2",
      "--steps", "20"]),
])
def test_commands_that_label_end_points_by_minimum_refuse_a_set_of_minima(line, option,
                                                                          depth_one, tmp_path):
    """Before: a run on factorization that ended on the set prod w = 1 away from the named
    flattest points was labelled 'none' (escape-count), 'stuck' (outcome-map) or a failure
    (sweep's success), although it had reached a global minimum. Now: one line naming the
    option and what to use instead; nothing written. At depth 1 the one minimum is isolated
    and every command runs."""
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    out = tmp_path / "out"
    res = CliRunner().invoke(app, [*line, "--out", str(out)])
    assert res.exit_code == 2, res.output
    message = res.output.strip()
    assert message.startswith(f"Error: {option}: factorization's global minima are not "
                              "isolated points (every point with prod w = 1)")
    assert "\n" not in message and not out.exists()
    assert message.endswith("use --metric final-loss" if option == "--metric" else
                            "moxco generalize factorization measures which minimum is "
                            "selected (final lam_max)")
    one = CliRunner().invoke(app, [*depth_one, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    final_loss = CliRunner().invoke(app, ["sweep", "factorization", "--grid", "alpha=0.5",
                                          "--starts", "random:2", "--steps", "5", "--metric",
                                          "final-loss", "--out", str(tmp_path / "loss")])
    assert final_loss.exit_code == 0, final_loss.output


def test_only_factorization_beyond_depth_one_declares_a_set_of_minima():
    assert landscapes.get("factorization", depth=1).minimum_set is None
    assert landscapes.get("factorization", depth=2).minimum_set == "every point with prod w = 1"
    assert [name for name in landscapes.names()
            if landscapes.get(name).minimum_set is not None] == ["factorization"]
