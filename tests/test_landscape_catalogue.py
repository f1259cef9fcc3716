"""Facts about the classic test functions that the generic registry walk does not check."""

import numpy as np
import pytest

import landscapes

NEW = ["rosenbrock", "himmelblau", "rastrigin", "ackley", "goldstein-price", "six-hump-camel",
       "styblinski-tang"]


def test_registry_lists_the_classic_test_functions():
    assert set(NEW) <= set(landscapes.names())


@pytest.mark.parametrize("name", NEW)
def test_docstring_states_formula_domain_optimum_and_reference(name):
    doc = type(landscapes.get(name)).__doc__
    assert "f(x, y) =" in doc and "Domain" in doc and "Reference" in doc
    assert "minim" in doc.lower()


def test_goldstein_price_minima_are_the_exact_rational_points():
    gp = landscapes.get("goldstein-price")
    expected = {"global": ([0.0, -1.0], 3.0), "local-30": ([-0.6, -0.4], 30.0),
                "local-84": ([1.8, 0.2], 84.0), "local-840": ([1.2, 0.8], 840.0)}
    assert [m.name for m in gp.minima] == list(expected)
    for m in gp.minima:
        np.testing.assert_allclose(m.x, expected[m.name][0], rtol=0, atol=1e-15)
        assert m.f == pytest.approx(expected[m.name][1], rel=1e-15)
    assert gp.f_target == 3.0
    saddle = np.array([[(3 * 1 + 3) / 5, (2 * 1 - 3) / 5]])  # u = x + y = 1 is a max of A(u)
    assert np.abs(gp.grad(saddle)).max() < 1e-12
    assert np.linalg.eigvalsh(gp.hess(saddle))[0, 0] < 0


def test_himmelblau_has_four_global_minima_of_value_zero():
    h = landscapes.get("himmelblau")
    assert [m.name for m in h.minima] == ["global-ne", "global-nw", "global-sw", "global-se"]
    assert all(abs(m.f) < 1e-25 for m in h.minima)
    np.testing.assert_array_equal(h.minimum("global-ne").x, [3.0, 2.0])
    np.testing.assert_allclose(h.minimum("global-sw").x, [-3.779310, -3.283186], atol=1e-6)


def test_styblinski_tang_minima_match_the_published_digits():
    st = landscapes.get("styblinski-tang")
    g = st.minimum("global")
    np.testing.assert_allclose(g.x, [-2.903534, -2.903534], atol=1e-6)
    assert g.f == pytest.approx(-78.33233, abs=1e-5) and st.f_target == g.f
    assert [m.name for m in st.minima] == ["global", "local-nw", "local-se", "local-ne"]
    assert g.f < st.minimum("local-nw").f == st.minimum("local-se").f < st.minimum("local-ne").f


def test_six_hump_camel_global_minima_mirror_each_other():
    c = landscapes.get("six-hump-camel")
    g1, g2 = c.minimum("global-1"), c.minimum("global-2")
    np.testing.assert_array_equal(g1.x, -g2.x)
    assert g1.f == g2.f == pytest.approx(-1.0316284535, abs=1e-10) == c.f_target
    assert len(c.minima) == 6 and all(m.f > g1.f for m in c.minima[2:])


def test_rastrigin_neighbours_sit_just_inside_the_integer_points():
    r = landscapes.get("rastrigin")
    assert r.minimum("global").f == 0.0
    np.testing.assert_allclose(r.minimum("local-e").x, [0.994959, 0.0], atol=1e-6)
    np.testing.assert_allclose(r.minimum("local-sw").x, [-0.994959, -0.994959], atol=1e-6)
    assert r.minimum("local-ne").f == pytest.approx(2 * r.minimum("local-e").f, rel=1e-12)


def test_rosenbrock_minimum_and_curvature_at_it():
    rb = landscapes.get("rosenbrock")
    assert rb.f(np.array([[1.0, 1.0]]))[0] == 0.0
    lam = rb.lam_max(np.array([[1.0, 1.0]]))[0]  # H = [[802, -400], [-400, 200]]
    assert lam == pytest.approx(501 + np.hypot(301, 400), rel=1e-14)
    assert landscapes.get("rosenbrock", b=10.0).minimum("global").f == 0.0


def test_ackley_gradient_is_a_cone_near_the_origin_and_zero_exactly_at_it():
    """The generic checks hold at the origin only by the documented convention; this is what
    is true around it: |grad| -> a b / sqrt(2) along any ray, and lam_max grows like 1/r."""
    ack = landscapes.get("ackley")
    ray = np.array([[0.6, 0.8]]) * np.array([[1e-3], [1e-6], [1e-9]])
    g = np.linalg.norm(ack.grad(ray), axis=1)
    np.testing.assert_allclose(g, 20 * 0.2 / np.sqrt(2), rtol=2e-2)
    lam = ack.lam_max(ray)
    assert lam[1] > 100 * lam[0] and lam[2] > 100 * lam[1]
    origin = np.zeros((1, 2))
    np.testing.assert_array_equal(ack.grad(origin), [[0.0, 0.0]])
    apex = 2 * np.pi**2 * np.e - 20 * 0.2**2 / 2
    np.testing.assert_allclose(ack.hess(origin)[0], apex * np.eye(2), rtol=1e-14)
    assert ack.f(origin)[0] == 0.0 and ack.f_target == 0.0


def test_smoothed_ackley_is_smooth_at_the_origin():
    eps = 0.1
    ack = landscapes.get("ackley", smooth=eps)
    expected_min = 20 * (1 - np.exp(-0.2 * eps))
    assert ack.f_target == pytest.approx(expected_min, rel=1e-14)
    x = np.array([[1e-9, 0.0], [0.0, 0.0], [-1e-9, 2e-9]])
    h = 1e-5
    fd = (ack.grad(x + [h, 0]) - ack.grad(x - [h, 0])) / (2 * h)
    np.testing.assert_allclose(fd, ack.hess(x)[:, :, 0], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("rosenbrock", {"b": 0.0}, "steepness"),
    ("ackley", {"smooth": -1.0}, "smoothing"),
])
def test_bad_parameters_are_refused(name, params, message):
    with pytest.raises(ValueError, match=message):
        landscapes.get(name, **params)
