"""One walk over the registry checks every landscape's exact derivatives and minima."""

import numpy as np
import pytest

import landscapes

POINTS = 1000


def _all_landscapes():
    out = [landscapes.get(name) for name in landscapes.names() if name not in OWN_TESTS]
    # parameter variants worth checking too
    out += [landscapes.get("two-wells", s=0.1), landscapes.get("quadratic", a=(3.0, 0.5))]
    out += [landscapes.get("rosenbrock", b=10.0), landscapes.get("ackley", smooth=0.1)]
    # formula landscapes (minima found numerically) must pass the same checks
    out += [landscapes.from_expression("(1-x)**2 + 100*(y-x**2)**2", "-2,2,-1,3"),
            landscapes.from_expression("sin(3*x) + 0.1*x**2", "-4,4")]
    # the d-dimensional landscapes at d = 3, 10, 50 (and 1 where it exists), and formulas in d
    for d in ND_DIMS:
        out += [landscapes.get(name, dim=d) for name in ND_NAMES]
        out += [landscapes.get("ackley", smooth=0.1, dim=d),
                landscapes.get("rosenbrock", b=10.0, dim=d),
                landscapes.get("quadratic", dim=d, condition=1e3)]
    # d = 1 too (rosenbrock needs d >= 2; 1-D ackley's ripple is too sharp for this walk's
    # finite-difference step at |x| ~ 30, so it is checked in test_landscapes_nd.py)
    out += [landscapes.get(name, dim=1) for name in ("rastrigin", "styblinski-tang")]
    out += [landscapes.from_expression("x0**2 + x0*x1 + 2*x1**2 + cos(x2) + 0.05*x2**2", "-4,4"),
            landscapes.from_expression(" + ".join(f"(x{i} - x{i + 1})**2 + 0.1*x{i}**4"
                                                  for i in range(5)) + " + x5**2", "-2,2")]
    return out


# Landscapes whose minima are sets, not isolated points (no positive-definite named minima),
# and relu's kinks (finite differences only away from them): checked in their own files,
# tests/test_two_layer_net.py and tests/test_factorization.py.
OWN_TESTS = ("two-layer-net", "factorization")
ND_NAMES = ("rastrigin", "styblinski-tang", "rosenbrock", "ackley")  # the `dim` landscapes
ND_DIMS = (3, 10, 50)


def _random_points(land, n, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    pts = lo + (hi - lo) * rng.random((n, land.dim))
    near = np.concatenate([m.x for m in land.minima])[None, :] if land.minima else None
    if near is not None:  # also sample tightly around the minima (sharp wells live there)
        k = n // 4
        centers = np.stack([m.x for m in land.minima])[rng.integers(len(land.minima), size=k)]
        pts[:k] = centers + 0.05 * rng.standard_normal((k, land.dim))
    return pts


def _central_diff(fun, x, h):
    """Fourth-order central difference of `fun: (N, d) -> (N, ...)` along every coordinate."""
    cols = []
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h[:, 0]
        hj = h[:, 0].reshape((-1,) + (1,) * (fun(x[:1]).ndim - 1))
        stencil = -fun(x + 2 * e) + 8 * fun(x + e) - 8 * fun(x - e) + fun(x - 2 * e)
        cols.append(stencil / (12 * hj))
    return np.stack(cols, axis=-1)


def _rel_err(approx, exact):
    """Per-point relative error ||approx - exact|| / max(||exact||, 1)."""
    n = len(exact)
    diff = np.linalg.norm((approx - exact).reshape(n, -1), axis=1)
    return diff / np.maximum(np.linalg.norm(exact.reshape(n, -1), axis=1), 1.0)


@pytest.fixture(params=_all_landscapes(), ids=repr)
def land(request):
    return request.param


def test_registry_lists_the_spec_landscapes():
    assert {"beale", "two-wells", "quadratic"} <= set(landscapes.names())


def test_unknown_landscape_error_lists_valid_names():
    with pytest.raises(KeyError, match="beale"):
        landscapes.get("nope")


def test_shapes_are_batch_first(land):
    x = _random_points(land, 7)
    assert land.f(x).shape == (7,)
    assert land.grad(x).shape == (7, land.dim)
    assert land.hess(x).shape == (7, land.dim, land.dim)
    assert land.lam_max(x).shape == (7,)


def test_gradient_matches_finite_differences(land):
    x = _random_points(land, POINTS)
    h = 1e-4 * np.maximum(1.0, np.abs(x).max(axis=1, keepdims=True))
    fd = _central_diff(land.f, x, h)
    assert _rel_err(fd, land.grad(x)).max() <= 1e-6


def test_hessian_matches_finite_differences_of_gradient(land):
    x = _random_points(land, POINTS, seed=1)
    h = 1e-4 * np.maximum(1.0, np.abs(x).max(axis=1, keepdims=True))
    fd = _central_diff(land.grad, x, h)
    assert _rel_err(fd, land.hess(x)).max() <= 1e-6


def test_hessian_is_symmetric(land):
    hs = land.hess(_random_points(land, POINTS, seed=2))
    np.testing.assert_array_equal(hs, np.swapaxes(hs, 1, 2))


def test_hvp_equals_hessian_times_v_and_finite_differences_of_gradient(land):
    """Exact HVP: equals `hess @ v` (to rounding) and a 4th-order central difference of the
    gradient along v, at 1000 points (a quarter of them around the named minima)."""
    x = _random_points(land, POINTS, seed=5)
    v = np.random.default_rng(6).standard_normal(x.shape)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    hv = land.hvp(x, v)
    assert hv.shape == x.shape
    dense = np.einsum("nij,nj->ni", land.hess(x), v)
    assert _rel_err(hv, dense).max() <= 1e-12
    h = 1e-4 * np.maximum(1.0, np.abs(x).max(axis=1, keepdims=True))
    fd = (-land.grad(x + 2 * h * v) + 8 * land.grad(x + h * v) - 8 * land.grad(x - h * v)
          + land.grad(x - 2 * h * v)) / (12 * h)
    assert _rel_err(fd, hv).max() <= 1e-6


def test_lam_max_equals_eigvalsh(land):
    x = _random_points(land, POINTS, seed=3)
    hs = land.hess(x)
    scale = np.maximum(1.0, np.abs(hs).max(axis=(1, 2)))
    err = np.abs(land.lam_max(x) - np.linalg.eigvalsh(hs)[:, -1]) / scale
    assert err.max() <= 1e-12


def test_fused_evaluate_equals_separate_calls_bit_for_bit(land):
    x = _random_points(land, 50, seed=4)
    f, g, lam = land.evaluate(x)
    np.testing.assert_array_equal(f, land.f(x))
    np.testing.assert_array_equal(g, land.grad(x))
    np.testing.assert_array_equal(lam, land.lam_max(x))


def test_named_minima_have_stated_value_zero_gradient_and_positive_curvature(land):
    assert land.minima, "every registered landscape names its minima"
    xs = np.stack([m.x for m in land.minima])
    np.testing.assert_allclose(land.f(xs), [m.f for m in land.minima], rtol=0, atol=1e-12)
    assert np.abs(land.grad(xs)).max() <= 1e-9
    assert np.all(np.linalg.eigvalsh(land.hess(xs))[:, 0] > 0)
    assert land.f_target == pytest.approx(min(m.f for m in land.minima), abs=1e-12)


def test_beale_global_minimum_and_saddle():
    b = landscapes.get("beale")
    assert b.f(np.array([[3.0, 0.5]]))[0] == 0.0
    saddle = np.array([[0.0, 1.0]])
    np.testing.assert_allclose(b.grad(saddle), 0.0, atol=1e-15)
    ev = np.linalg.eigvalsh(b.hess(saddle))[0]
    assert ev[0] < 0 < ev[1]


def test_two_wells_minima_match_spec_locations_and_curvatures():
    tw = landscapes.get("two-wells")
    flat, sharp = tw.minimum("flat"), tw.minimum("sharp")
    assert flat.x[0] == pytest.approx(-0.9173, abs=1e-4)
    assert sharp.x[0] == pytest.approx(1.998, abs=1e-3)
    assert tw.lam_max(flat.x[None])[0] == pytest.approx(1.21, abs=0.01)
    assert tw.lam_max(sharp.x[None])[0] == pytest.approx(330, rel=0.01)
    assert flat.f < sharp.f  # flat is the global one
    xs = np.linspace(1.7, 1.95, 2001)[:, None]
    assert xs[np.argmax(tw.f(xs)), 0] == pytest.approx(1.838, abs=1e-3)  # barrier


def test_two_wells_rejects_nonpositive_width():
    with pytest.raises(ValueError, match="width"):
        landscapes.get("two-wells", s=0.0)


def test_landscape_specs_follow_the_declared_parameters():
    from moxco_cli.params import SpecError

    assert landscapes.parse_spec("beale") == ("beale", {})
    assert landscapes.parse_spec("two-wells:s=0.03") == ("two-wells", {"s": 0.03})
    assert landscapes.parse_spec("quadratic:a=1;50;400") == ("quadratic", {"a": [1.0, 50.0, 400.0]})
    assert landscapes.get("quadratic", **landscapes.parse_spec("quadratic:a=2")[1]).dim == 1
    for text, field in (("two-wells:s=-1", "s"), ("two-wells:q=1", "q"), ("beale:s=1", "s"),
                        ("quadratic:a=1;-2", "a"), ("two-wells:s", "landscape")):
        with pytest.raises(SpecError) as info:
            landscapes.parse_spec(text)
        assert info.value.field == field
    with pytest.raises(KeyError):
        landscapes.parse_spec("nope:s=1")
    # every registered landscape declares parameters its constructor accepts, at their defaults
    for name in landscapes.names():
        declared = landscapes.landscape_class(name).PARAMS
        land = landscapes.get(name, **{p.name: p.default for p in declared})
        assert set(land.params) == {p.name for p in declared}, name


def test_a_landscape_spec_on_the_command_line_equals_the_sharp_width_alias(tmp_path):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    runner = CliRunner()
    a, b = tmp_path / "spec", tmp_path / "alias"
    common = ["escape-count", "--inits", "20", "--steps", "100"]
    spec = ["--landscape", "two-wells:s=0.03"]
    assert runner.invoke(app, [*common, *spec, "--out", a]).exit_code == 0
    assert runner.invoke(app, [*common, "--sharp-width", "0.03", "--out", b]).exit_code == 0
    assert (a / "outcomes.csv").read_bytes() == (b / "outcomes.csv").read_bytes()
    both = runner.invoke(app, [*common, "--landscape", "two-wells:s=0.03", "--sharp-width", "0.1"])
    assert both.exit_code == 2 and "--sharp-width: s is already set" in both.output
    bad = runner.invoke(app, ["run", "two-wells:s=0"])
    assert bad.exit_code == 2 and "LANDSCAPE: two-wells:s=0: s: must be in [1e-12, 1]" in bad.output


def test_labels_name_the_parameters_that_differ_from_their_defaults():
    def label(spec):
        name, params = landscapes.parse_spec(spec)
        return landscapes.get(name, **params).label

    assert [label(s) for s in ("beale", "two-wells", "quadratic", "rastrigin")] == [
        "beale", "two-wells", "quadratic", "rastrigin"]
    assert label("two-wells:s=0.03") == "two-wells:s=0.03"
    assert label("quadratic:a=1;50") == "quadratic:a=1;50"
    assert label("quadratic:dim=10,condition=100") == "quadratic:dim=10,condition=100"
    assert label("rastrigin:dim=5") == "rastrigin:dim=5"
