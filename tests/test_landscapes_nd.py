"""d-dimensional landscapes (parameter `dim`): facts the registry walk does not check.

The walk in tests/test_landscapes.py runs the finite-difference checks of gradient, Hessian
and Hessian-vector product, the minima and lam_max = eigvalsh at d = 3, 10, 50; here: d = 2
is today's class and numbers, the named minima are where the formulas put them, specs and
their limits, and the O(d) HVPs equal the dense product at d = 1000.
"""

import numpy as np
import pytest

import landscapes
from landscapes.ackley import AckleyND
from landscapes.rastrigin import RastriginND
from landscapes.rosenbrock import RosenbrockND
from landscapes.styblinski_tang import StyblinskiTangND
from moxco_cli.params import SpecError

TWINS = {"rastrigin": (RastriginND, {}), "styblinski-tang": (StyblinskiTangND, {}),
         "rosenbrock": (RosenbrockND, {"b": 10.0}), "ackley": (AckleyND, {"smooth": 0.1})}


def _points(land, n=2000, seed=0):
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    return np.random.default_rng(seed).uniform(lo, hi, (n, land.dim))


@pytest.mark.parametrize("name", sorted(TWINS))
def test_dim_2_is_todays_class_and_numbers_bit_for_bit(name):
    cls, params = TWINS[name]
    today, two = landscapes.get(name, **params), landscapes.get(name, **params, dim=2)
    assert type(two) is type(today) is landscapes.landscape_class(name)
    assert two.params == {**today.params, "dim": 2} and two.bounds.tolist() == today.bounds.tolist()
    x = _points(today)
    x[0] = 0.0
    for fn in ("f", "grad", "hess", "lam_max"):
        np.testing.assert_array_equal(getattr(two, fn)(x), getattr(today, fn)(x))
    assert [(m.name, m.x.tolist(), m.f) for m in two.minima] == \
        [(m.name, m.x.tolist(), m.f) for m in today.minima]
    # the general d-dimensional formulas, evaluated at d = 2, agree with the 2-D class
    # (rastrigin's d-dimensional form reduces the sine's argument first and is the more
    # accurate of the two: test_rastrigin_nd_against_40_digits)
    tol = 1e-12 if name == "rastrigin" else 1e-13
    twin = cls(**params, dim=2)
    for fn in ("f", "grad", "hess", "lam_max"):
        a, b = getattr(twin, fn)(x), getattr(today, fn)(x)
        scale = np.maximum(1.0, np.abs(b).reshape(len(x), -1).max(axis=1))
        assert (np.abs(a - b).reshape(len(x), -1).max(axis=1) / scale).max() <= tol, fn
    v = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_allclose(today.hvp(x, v), np.einsum("nij,nj->ni", today.hess(x), v),
                               rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("d", [1, 3, 10, 50, 1000])
def test_rastrigin_minima(d):
    r = landscapes.get("rastrigin", dim=d)
    assert r.bounds.shape == (d, 2) and np.all(r.bounds == [-5.12, 5.12])
    g = r.minimum("global")
    assert g.f == 0.0 and np.all(g.x == 0.0) and r.f_target == 0.0
    assert r.f(np.zeros((1, d)))[0] == 0.0
    # 10 d + sum (x^2 - 10 cos 2 pi x), the textbook form, at random points
    x = _points(r, 200)
    textbook = 10 * d + np.sum(x * x - 10 * np.cos(2 * np.pi * x), axis=1)
    np.testing.assert_allclose(r.f(x), textbook, rtol=1e-12, atol=1e-9)
    names = [m.name for m in r.minima]
    k = min(d, 10)
    assert len(names) == 1 + 2 * k if d != 2 else len(names) == 9
    if d != 2:
        assert names[1:3] == ["local-x0+", "local-x0-"]
        e = r.minimum(f"local-x{k - 1}-")
        assert e.x[k - 1] == pytest.approx(-0.994959, abs=1e-6)
        assert np.count_nonzero(e.x) == 1 and e.f == pytest.approx(0.994959, abs=1e-6)
        xs = np.stack([m.x for m in r.minima])
        assert np.abs(r.grad(xs)).max() <= 1e-12


@pytest.mark.parametrize("d", [1, 3, 10, 50])
def test_styblinski_tang_global_minimum_is_d_times_the_1d_value(d):
    st = landscapes.get("styblinski-tang", dim=d)
    g = st.minimum("global")
    np.testing.assert_allclose(g.x, np.full(d, -2.903534), atol=1e-6)
    one = landscapes.get("styblinski-tang", dim=1).minimum("global").f
    assert one == pytest.approx(-39.16617, abs=1e-5)
    assert g.f == pytest.approx(d * one, rel=1e-14) and st.f_target == g.f
    x = _points(st, 200)
    np.testing.assert_allclose(st.f(x), np.sum(x**4 - 16 * x**2 + 5 * x, axis=1) / 2,
                               rtol=1e-12, atol=1e-9)
    if d > 2:  # one coordinate flipped to the other 1-D minimum 2.746803
        m = st.minimum("local-x1")
        assert m.x[1] == pytest.approx(2.746803, abs=1e-6)
        assert m.f - g.f == pytest.approx(-25.02945 + 39.16617, abs=1e-4)
        assert len(st.minima) == 1 + min(d, 10)


@pytest.mark.parametrize("d", [3, 4, 10, 50])
def test_rosenbrock_chain_and_its_minima(d):
    rb = landscapes.get("rosenbrock", dim=d)
    assert np.all(rb.bounds == [-2.0, 2.0]) and rb.minimum("global").f == 0.0
    assert rb.f(np.ones((1, d)))[0] == 0.0 and np.all(rb.grad(np.ones((1, d))) == 0.0)
    x = _points(rb, 200)
    chain = np.sum(100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2, axis=1)
    np.testing.assert_allclose(rb.f(x), chain, rtol=1e-12)
    if d == 3:
        assert [m.name for m in rb.minima] == ["global"]
    else:  # the second minimum near (-1, 1, ..., 1) of the extended Rosenbrock function
        local = rb.minimum("local-1")
        assert local.x[0] == pytest.approx(-0.7757 if d == 4 else -0.9933, abs=1e-4)
        assert local.f == pytest.approx(3.7014 if d == 4 else 3.9866, abs=1e-4)


def test_rosenbrock_needs_two_coordinates_and_keeps_b():
    with pytest.raises(SpecError) as info:
        landscapes.parse_spec("rosenbrock:dim=1")
    assert info.value.field == "dim"
    rb = landscapes.get("rosenbrock", b=3.0, dim=5)
    x = _points(rb, 50)
    chain = np.sum(3 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2, axis=1)
    np.testing.assert_allclose(rb.f(x), chain, rtol=1e-12)


@pytest.mark.parametrize("d", [3, 10, 17, 18, 50])
def test_ackley_mean_form_and_named_neighbours(d):
    ak = landscapes.get("ackley", dim=d)
    x = _points(ak, 200)
    mean_form = (-20 * np.exp(-0.2 * np.sqrt(np.mean(x * x, axis=1)))
                 - np.exp(np.mean(np.cos(2 * np.pi * x), axis=1)) + 20 + np.e)
    np.testing.assert_allclose(ak.f(x), mean_form, rtol=1e-12, atol=1e-12)
    assert ak.minimum("global").f == 0.0 and ak.f_target == 0.0
    np.testing.assert_array_equal(ak.grad(np.zeros((1, d))), 0.0)  # the documented convention
    if d <= 17:  # the axis neighbour exists while the ripple beats the cone's slope
        m = ak.minimum("local-x0+")
        assert 0.7 < m.x[0] < 0.95 and np.count_nonzero(m.x) == 1
        assert len(ak.minima) == 1 + 2 * min(d, 10)
    else:
        assert [m.name for m in ak.minima] == ["global"]
    smooth = landscapes.get("ackley", smooth=0.1, dim=d)
    assert smooth.f_target == pytest.approx(20 * (1 - np.exp(-0.02)), rel=1e-12)


def test_ackley_1d_derivatives_with_a_small_step():
    ak = landscapes.get("ackley", dim=1)
    x = np.linspace(-30, 30, 2001)[:, None] + 1e-3
    h = 1e-5
    fd = (ak.grad(x + h) - ak.grad(x - h)) / (2 * h)
    np.testing.assert_allclose(fd, ak.hess(x)[:, :, 0], rtol=1e-6, atol=1e-6)
    fd = (ak.f(x + h) - ak.f(x - h)) / (2 * h)
    np.testing.assert_allclose(fd, ak.grad(x)[:, 0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["rastrigin", "styblinski-tang", "rosenbrock", "ackley"])
def test_structured_hvp_at_d_1000_equals_the_dense_product(name):
    land = landscapes.get(name, dim=1000)
    x = _points(land, 4, seed=3)
    v = np.random.default_rng(4).standard_normal(x.shape)
    dense = np.einsum("nij,nj->ni", land.hess(x), v)
    np.testing.assert_allclose(land.hvp(x, v), dense, rtol=1e-11,
                               atol=1e-11 * np.abs(dense).max())
    # the overrides never form the Hessian: base.Landscape.hvp would
    assert type(land).hvp is not landscapes.Landscape.hvp


def test_separable_lam_max_is_the_largest_diagonal_entry_at_d_50():
    for name in ("rastrigin", "styblinski-tang"):
        land = landscapes.get(name, dim=50)
        x = _points(land, 500)
        np.testing.assert_allclose(land.lam_max(x), np.linalg.eigvalsh(land.hess(x))[:, -1],
                                   rtol=0, atol=1e-12 * np.abs(land.hess(x)).max())


def test_quadratic_dim_and_condition():
    q = landscapes.get("quadratic", **landscapes.parse_spec("quadratic:dim=5,condition=1e4")[1])
    np.testing.assert_array_equal(q.a, np.logspace(0, 4, 5))
    assert q.dim == 5 and q.lam_max(np.zeros((1, 5)))[0] == 1e4
    assert landscapes.get("quadratic", **q.params).describe() == q.describe()
    assert landscapes.get("quadratic", dim=3).a.tolist() == [1.0, 1.0, 1.0]
    assert landscapes.get("quadratic", a=2.0, dim=3).a.tolist() == [2.0, 2.0, 2.0]
    assert landscapes.get("quadratic").a.tolist() == [1.0] and landscapes.get("quadratic").dim == 1
    v = np.random.default_rng(0).standard_normal((3, 5))
    np.testing.assert_array_equal(q.hvp(np.zeros((3, 5)), v), q.a * v)
    with pytest.raises(ValueError, match="not both"):
        landscapes.get("quadratic", a=[1.0, 2.0], condition=10.0)
    with pytest.raises(ValueError, match="dim is 3"):
        landscapes.get("quadratic", a=[1.0, 2.0], dim=3)


@pytest.mark.parametrize("text", ["rastrigin:dim=0", "rastrigin:dim=1001", "ackley:dim=2.5",
                                  "styblinski-tang:dim=x", "quadratic:dim=0",
                                  "quadratic:condition=0.5"])
def test_bad_dimensions_are_spec_errors_naming_the_key(text):
    with pytest.raises(SpecError) as info:
        landscapes.parse_spec(text)
    assert info.value.field == text.split(":")[1].split("=")[0]


def test_spec_parses_dim_and_describe_rebuilds_every_d_landscape():
    assert landscapes.parse_spec("rastrigin:dim=10") == ("rastrigin", {"dim": 10})
    for name in ("rastrigin", "styblinski-tang", "rosenbrock", "ackley", "quadratic"):
        land = landscapes.get(name, dim=7)
        d = land.describe()
        assert d["dim"] == 7 and d["params"]["dim"] == 7
        again = landscapes.get(d["name"], **d["params"])
        assert again.describe() == d and type(again) is type(land)


def test_nd_landscapes_pickle_as_themselves():
    import pickle

    for name in ("rastrigin", "styblinski-tang", "rosenbrock", "ackley"):
        land = landscapes.get(name, dim=6)
        back = pickle.loads(pickle.dumps(land))
        assert type(back) is type(land) and back.describe() == land.describe()


def test_nearest_minimum_in_bounded_memory_equals_the_direct_broadcast():
    r = landscapes.get("rastrigin", dim=50)
    x = _points(r, 30_000, seed=9)
    idx, dist = r.nearest_minimum(x)
    centers = np.stack([m.x for m in r.minima])
    direct = np.linalg.norm(x[:, None, :] - centers[None], axis=-1)
    np.testing.assert_array_equal(idx, np.argmin(direct, axis=1))
    np.testing.assert_array_equal(dist, direct[np.arange(len(x)), idx])


def test_rastrigin_nd_against_40_digits():
    """The d-dimensional rastrigin takes its sines of x - round(x): value, gradient and the
    Hessian's diagonal agree with 40-digit arithmetic to a few ulps over the whole domain
    (sin of pi x rounded was off by up to 1.7e-13 in the gradient)."""
    import mpmath

    mpmath.mp.dps = 40
    land = landscapes.get("rastrigin", dim=3)
    x = np.random.default_rng(3).uniform(-5.12, 5.12, (100, 3))
    x[0] = [0.5, -4.5, 1e-9]  # the ends of the reduced range, and a tiny argument
    pi, a = mpmath.pi, 10
    exact_g = np.array([[float(2 * mpmath.mpf(v) + 2 * pi * a * mpmath.sin(2 * pi * mpmath.mpf(v)))
                         for v in row] for row in x])
    exact_h = np.array([[float(2 + 4 * pi**2 * a * mpmath.cos(2 * pi * mpmath.mpf(v)))
                         for v in row] for row in x])
    exact_f = np.array([float(sum(mpmath.mpf(v)**2 - a * mpmath.cos(2 * pi * mpmath.mpf(v))
                                  for v in row) + a * 3) for row in x])
    assert np.abs(land.grad(x) - exact_g).max() <= 3e-14
    assert np.abs(np.diagonal(land.hess(x), axis1=1, axis2=2) - exact_h).max() <= 3e-13
    np.testing.assert_allclose(land.f(x), exact_f, rtol=1e-15, atol=2e-14)
