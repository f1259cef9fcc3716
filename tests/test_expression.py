"""Formula landscapes: same numbers as the hand-written ones, minima found, bad input refused."""

import re
import subprocess
import sys

import numpy as np
import pytest

import landscapes
from landscapes import ExpressionError, from_expression

# Every built-in landscape written as a formula (default parameters), with its domain.
FORMULAS = {
    "beale": ("(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
              "-4.5,4.5,-4.5,4.5"),
    "two-wells": ("0.05*x**2 - 2.5*exp(-(x+1)**2/4.5) - exp(-(x-2)**2/(2*0.055**2))", "-4,4"),
    "rosenbrock": ("(1-x)**2 + 100*(y-x**2)**2", "-2,2,-1,3"),
    "himmelblau": ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", "-5,5,-5,5"),
    "rastrigin": ("20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)",
                  "-5.12,5.12,-5.12,5.12"),
    "ackley": ("-20*exp(-0.2*sqrt((x**2 + y**2)/2)) - exp((cos(2*pi*x) + cos(2*pi*y))/2) + 20 + e",
               "-32.768,32.768,-32.768,32.768"),
    "goldstein-price": ("(1 + (x+y+1)**2*(19 - 14*x + 3*x**2 - 14*y + 6*x*y + 3*y**2))"
                        " * (30 + (2*x-3*y)**2*(18 - 32*x + 12*x**2 + 48*y - 36*x*y + 27*y**2))",
                        "-2,2,-2,2"),
    "six-hump-camel": ("(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2", "-3,3,-2,2"),
    "styblinski-tang": ("(x**4 - 16*x**2 + 5*x + y**4 - 16*y**2 + 5*y)/2", "-5,5,-5,5"),
}


def _points(land, n=2000, seed=0):
    """Random points of the domain plus the named minima, except Ackley's origin: there the
    formula's derivatives are 0/0 (the cone), and the built-in uses a documented convention."""
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    pts = lo + (hi - lo) * np.random.default_rng(seed).random((n, land.dim))
    minima = [m.x for m in land.minima if not (land.name == "ackley" and m.name == "global")]
    return np.concatenate([pts, np.stack(minima)])


def _assert_close(approx, exact, tol=1e-12):
    """Per point: ||approx - exact|| <= tol * max(||exact||, 1)."""
    n = len(exact)
    diff = np.linalg.norm((approx - exact).reshape(n, -1), axis=1)
    scale = np.maximum(np.linalg.norm(exact.reshape(n, -1), axis=1), 1.0)
    assert (diff / scale).max() <= tol


def test_every_builtin_landscape_has_a_formula_here():
    assert set(FORMULAS) == set(landscapes.names()) - {"quadratic", "two-layer-net",
                                                        "factorization"}


@pytest.mark.parametrize("name", list(FORMULAS))
def test_formula_landscape_equals_builtin_to_1e12_in_f_grad_hess(name):
    builtin = landscapes.get(name)
    formula, domain = FORMULAS[name]
    given = {m.name: m.x.tolist() for m in builtin.minima}
    expr = from_expression(formula, domain, minima=given)
    np.testing.assert_array_equal(expr.bounds, builtin.bounds)
    x = _points(builtin)
    _assert_close(expr.f(x), builtin.f(x))
    _assert_close(expr.grad(x), builtin.grad(x))
    _assert_close(expr.hess(x), builtin.hess(x))
    _assert_close(expr.lam_max(x), builtin.lam_max(x))
    assert expr.f_target == pytest.approx(builtin.f_target, abs=1e-12)


def test_rosenbrock_formula_finds_the_one_minimum_by_itself():
    land = from_expression(*FORMULAS["rosenbrock"])
    assert [m.name for m in land.minima] == ["global"]
    np.testing.assert_allclose(land.minima[0].x, [1.0, 1.0], rtol=0, atol=1e-12)
    assert land.f_target == pytest.approx(0.0, abs=1e-20)
    assert land.dim == 2 and land.name == "expr"


def test_himmelblau_formula_finds_the_four_global_minima():
    land = from_expression(*FORMULAS["himmelblau"])
    assert sorted(m.name for m in land.minima) == [f"global-{i}" for i in range(1, 5)]
    builtin = np.stack([m.x for m in landscapes.get("himmelblau").minima])
    found = np.stack([m.x for m in land.minima])
    dist = np.linalg.norm(found[:, None] - builtin[None], axis=-1)
    assert np.all(dist.min(axis=1) <= 1e-12)


def test_one_dimensional_formula_finds_the_flat_and_sharp_wells():
    land = from_expression(*FORMULAS["two-wells"])
    tw = landscapes.get("two-wells")
    assert land.dim == 1 and land.bounds.tolist() == [[-4.0, 4.0]]
    assert [m.name for m in land.minima] == ["global", "local-1"]
    np.testing.assert_allclose(land.minimum("global").x, tw.minimum("flat").x, atol=1e-12)
    np.testing.assert_allclose(land.minimum("local-1").x, tw.minimum("sharp").x, atol=1e-12)


def test_given_minima_are_used_as_given_and_named():
    formula, domain = FORMULAS["styblinski-tang"]
    by_name = from_expression(formula, domain, minima={"deep": [-2.9, -2.9], "other": [2.7, 2.7]})
    assert [m.name for m in by_name.minima] == ["deep", "other"]
    np.testing.assert_array_equal(by_name.minimum("deep").x, [-2.9, -2.9])
    assert by_name.f_target == by_name.minimum("deep").f
    by_value = from_expression(formula, domain, minima=[[2.7, 2.7], [-2.9, -2.9]])
    assert [m.name for m in by_value.minima] == ["global", "local-1"]
    np.testing.assert_array_equal(by_value.minimum("global").x, [-2.9, -2.9])
    one_d = from_expression("abs(x) + x**2", "-1,1", minima=[0.0])  # a kink: not searchable
    assert one_d.minimum("global").f == 0.0


def test_describe_round_trips_through_get_and_from_expression():
    land = from_expression(*FORMULAS["six-hump-camel"])
    d = land.describe()
    assert d["name"] == "expr" and d["params"]["formula"] == FORMULAS["six-hump-camel"][0]
    assert landscapes.get(d["name"], **d["params"]).describe() == d
    assert from_expression(**d["params"]).describe() == d
    assert [m.name for m in land.minima] == ["global-1", "global-2"] + [
        f"local-{i}" for i in range(1, 5)]


def test_caret_means_power_and_decimals_are_exact():
    a = from_expression("x^2 + 0.1*y^2", minima=[[0, 0]])
    b = from_expression("x**2 + y**2/10", minima=[[0, 0]])
    x = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_array_equal(a.evaluate(x)[1], b.evaluate(x)[1])


def test_abs_differentiates_to_sign_with_zero_curvature_at_the_kink():
    land = from_expression("abs(x) + x**2", "-1,1", minima=[0.0])
    x = np.array([[-0.5], [0.0], [0.25]])
    np.testing.assert_array_equal(land.grad(x)[:, 0], [-2.0, 0.0, 1.5])
    np.testing.assert_array_equal(land.hess(x)[:, 0, 0], [2.0, 2.0, 2.0])


def test_compiled_code_shares_subexpressions():
    import inspect

    land = from_expression(*FORMULAS["beale"], minima=[[3, 0.5]])
    source = inspect.getsource(land._program.everything)
    assert source.count("t_") >= 4  # common subexpressions were named and reused


BAD = [
    ("", None, "formula is empty"),
    ("(1 - x", None, "does not parse"),
    ("2x + y", None, "does not parse"),
    ("x**2 + ", None, "does not parse: invalid syntax at its end (incomplete?)"),  # was column 0
    ("x +* 2", None, "does not parse: invalid syntax at column 4"),
    ("x + z", None, "unknown name 'z'"),
    ("foo(x) + y", None, "unknown function 'foo'"),
    ("__import__('os').system('true')", None, "unsupported call"),
    ("exec('x')", None, "unknown function 'exec'"),
    ("x.real", None, "unsupported syntax 'x.real'"),
    ("().__class__", None, "unsupported syntax"),
    ("x[0]", None, "unsupported syntax"),
    ("x if y else 1", None, "unsupported syntax"),
    ("lambda: x", None, "unsupported syntax"),
    ("x == y", None, "unsupported syntax"),
    ("'x' + x", None, "unsupported literal"),
    ("x + 1j", None, "complex number"),
    ("x % 2", None, "operator Mod"),
    ("sin + x", None, "needs an argument"),
    ("x(2)", None, "'x' is not a function"),
    ("sin(x, y)", None, "exactly one argument"),
    ("log(-1) * x", None, "'log(-1)' is not a finite real number"),
    ("10**10**10 * x", None, "is not a finite real number"),
    ("x / (1 - 1)", None, "divides by zero"),
    ("tan(pi/2) * x", None, "infinite or undefined"),
    ("3", None, "must use x"),
    ("y**2", None, "must use x"),
    ("x**2 + y - y", None, "does not depend on y"),
    ("sqrt(x)", "-1,1", "not finite and real on the domain: f(x=-1)"),
    ("log(x**2 + y**2)", "-1,1,-1,1", "not finite and real on the domain: f(x=0, y=0) = -inf"),
    ("x**2", "1,2,3", "domain needs 2 numbers"),
    ("x**2 + y**2", "-1,1", "domain needs 4 numbers"),
    ("x**2", "1,0", "lo < hi"),
    ("x**2", "a,b", "not a list of numbers"),
    ("x", "-1,1", "found no minimum"),
    ("x**3 - x", "-2,2", None),  # fine: one local minimum inside
]


@pytest.mark.parametrize(("formula", "domain", "message"), BAD, ids=[b[0] or "empty" for b in BAD])
def test_bad_formula_is_one_line_error_naming_the_problem(formula, domain, message):
    if message is None:
        assert from_expression(formula, domain).minima
        return
    with pytest.raises(ExpressionError, match=re.escape(message)) as info:
        from_expression(formula, domain)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("minima", "message"), [
    ([[1.0]], "must be 2 finite number"),
    ({"a": "nope"}, "is not a point"),
    ([], "at least one point"),
    ([[-3.0, 0.0]], "lies outside the domain"),
])
def test_bad_given_minima_are_refused(minima, message):
    with pytest.raises(ExpressionError, match=message):
        from_expression("sqrt(x + 2) + y**2", "-2,2,-1,1", minima=minima)


def test_formula_text_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    for attack in [f"__import__('pathlib').Path('{marker}').touch()",
                   f"exp(x) + open('{marker}', 'w').close()",
                   "x.__class__.__mro__[1].__subclasses__()"]:
        with pytest.raises(ExpressionError):
            from_expression(attack)
    assert not marker.exists()


def test_listing_or_building_builtins_imports_neither_sympy_nor_landscape_modules():
    code = ("import sys, landscapes; landscapes.names(); "
            "assert 'sympy' not in sys.modules, 'sympy'; "
            "assert not any(m.startswith('landscapes.') and m != 'landscapes.base' "
            "for m in sys.modules), sorted(sys.modules); "
            "landscapes.get('rosenbrock').minima; "
            "assert 'sympy' not in sys.modules, 'sympy after get'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- formulas in x0..x{d-1} -------------------------------------------------------------------
def test_indexed_variables_give_any_dimension_with_exact_derivatives():
    land = from_expression("x0**2 + x0*x1 + 2*x1**2 + cos(x2) + 0.05*x2**2", "-4,4")
    assert land.dim == 3 and land.variables == ("x0", "x1", "x2")
    assert land.bounds.tolist() == [[-4.0, 4.0]] * 3  # one lo,hi pair for every coordinate
    x = np.random.default_rng(0).uniform(-4, 4, (200, 3))
    h = land.hess(x)
    np.testing.assert_array_equal(h[:, 0, :2], np.broadcast_to([2.0, 1.0], (200, 2)))
    np.testing.assert_allclose(h[:, 2, 2], -np.cos(x[:, 2]) + 0.1, rtol=1e-14)
    np.testing.assert_allclose(land.lam_max(x), np.linalg.eigvalsh(h)[:, -1], rtol=1e-13)
    # the minima: x2 at the minima of cos(t) + 0.05 t^2 (t = 0 is a maximum), x0 = x1 = 0
    assert all(abs(m.x[0]) < 1e-12 and abs(m.x[1]) < 1e-12 for m in land.minima)
    assert sorted(round(m.x[2], 6) for m in land.minima)[:2] == [-2.852342, 2.852342]
    d = land.describe()
    assert landscapes.get(d["name"], **d["params"]).describe() == d


def test_indexed_variables_at_d_2_equal_x_and_y():
    a = from_expression("(1-x0)**2 + 100*(x1-x0**2)**2", "-2,2,-1,3")
    b = from_expression(FORMULAS["rosenbrock"][0], "-2,2,-1,3")
    x = np.random.default_rng(1).uniform(-2, 2, (500, 2))
    for fn in ("f", "grad", "hess", "lam_max"):
        np.testing.assert_array_equal(getattr(a, fn)(x), getattr(b, fn)(x))


def test_a_separable_formula_in_d_dims_takes_lam_max_from_the_diagonal():
    land = from_expression(" + ".join(f"x{i}**4 - 3*x{i}**2" for i in range(6)), "-2,2",
                           minima=[[1.224744871391589] * 6])
    assert land._program.diagonal and land.dim == 6
    x = np.random.default_rng(2).uniform(-2, 2, (300, 6))
    np.testing.assert_array_equal(land.lam_max(x), np.max(12 * x**2 - 6, axis=1))


@pytest.mark.parametrize(("formula", "domain", "message"), [
    ("x + x0", None, "mixes x with x0"),
    ("x0 + x2**2", None, "does not depend on x1"),
    ("x20**2", None, "at most 20 variables"),
    ("x0**2 + x1**2 + x2**2", "-1,1,-1,1", "domain needs 6 numbers"),
    ("x3(2)", None, "'x3' is not a function"),
    ("log(x0) + x1**2 + x2**2", "-1,1", "not finite and real on the domain: f(x0=0, x1=0, x2=0)"),
])
def test_bad_indexed_formulas_are_one_line_errors(formula, domain, message):
    with pytest.raises(ExpressionError, match=re.escape(message)) as info:
        from_expression(formula, domain)
    assert "\n" not in str(info.value)
