"""The shared layers: one Wilson interval, one way to place starts, one nearest-minimum
distance, one range parser, and every command building its landscape once."""

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import landscapes
import landscapes.expression as expression
from moxco_cli import starts, stats
from moxco_cli.cli import app
from moxco_cli.experiments import escape_count, report_md, run, sweep
from moxco_cli.ranges import linspace_values, parse_values
from moxco_cli.settings import SettingsError

Z95 = 1.959963984540054  # the 97.5% normal quantile


def wilson_by_hand(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ----------------------------------------------------------------------------- Wilson

def test_wilson_interval_known_values():
    lo, hi = stats.wilson(7, 50)
    assert lo == pytest.approx(0.0695083342701629, rel=1e-12)
    assert hi == pytest.approx(0.2618619371058554, rel=1e-12)
    assert (lo, hi) == pytest.approx(wilson_by_hand(7, 50), rel=1e-12)
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.27753279986288926), rel=1e-12)
    assert stats.wilson(10, 10) == pytest.approx((0.7224672001371109, 1.0), rel=1e-12)
    assert stats.wilson(3, 20, 0.5) == pytest.approx(wilson_by_hand(3, 20, 0.6744897501960817),
                                                     rel=1e-10)
    assert all(math.isnan(v) for v in stats.wilson(0, 0))


def test_every_table_uses_the_one_wilson_interval():
    assert escape_count.wilson is stats.wilson and report_md.wilson is stats.wilson
    assert sweep.wilson(7, 50) == stats.wilson(7, 50)
    assert all(math.isnan(v) for v in sweep.wilson(0, 0))


# ----------------------------------------------------------------------------- starts

def test_grid_starts_2d_is_linspace_per_axis_x0_fastest():
    axes, pts = starts.grid_starts(np.array([[0.0, 1.0], [10.0, 12.0]]), 3)
    np.testing.assert_array_equal(axes[0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(axes[1], [10.0, 11.0, 12.0])
    np.testing.assert_array_equal(pts, [[0.0, 10.0], [0.5, 10.0], [1.0, 10.0],
                                        [0.0, 11.0], [0.5, 11.0], [1.0, 11.0],
                                        [0.0, 12.0], [0.5, 12.0], [1.0, 12.0]])


def test_grid_starts_1d_and_endpoints():
    axes, pts = starts.grid_starts(np.array([[-1.0, 1.0]]), 5)
    np.testing.assert_array_equal(pts, [[-1.0], [-0.5], [0.0], [0.5], [1.0]])
    assert len(axes) == 1 and pts.shape == (5, 1)
    _, one = starts.grid_starts(np.array([[2.0, 3.0]]), 1)
    np.testing.assert_array_equal(one, [[2.0]])


def test_uniform_starts_are_one_default_rng_call():
    got = starts.uniform_starts(np.array([[0.0, 1.0], [10.0, 20.0]]), 3, seed=0)
    np.testing.assert_allclose(got, [[0.63696169, 12.69786714],
                                     [0.04097352, 10.16527636],
                                     [0.81327024, 19.12755577]], atol=5e-9)
    want = np.random.default_rng(0).uniform([0.0, 10.0], [1.0, 20.0], size=(3, 2))
    assert got.tobytes() == want.tobytes()
    assert escape_count.draw_starts is starts.uniform_starts


def test_start_box_from_bounds_or_domain():
    beale = landscapes.get("beale")
    box = starts.start_box(beale)
    np.testing.assert_array_equal(box, [[-4.5, 4.5], [-4.5, 4.5]])
    assert box is not beale.bounds and box.dtype == float
    np.testing.assert_array_equal(starts.start_box(beale, (-1, 2, -3, 4)), [[-1, 2], [-3, 4]])
    np.testing.assert_array_equal(starts.start_box(beale, (-1, 2)), [[-1, 2], [-1, 2]])
    tw = landscapes.get("two-wells")
    np.testing.assert_array_equal(starts.start_box(tw, (0, 3)), [[0.0, 3.0]])


def test_commands_place_starts_with_the_shared_functions():
    beale = landscapes.get("beale")
    _, grid = starts.grid_starts(starts.start_box(beale), 4)
    assert sweep.make_starts(beale, "grid:4", 0).tobytes() == grid.tobytes()
    rand = starts.uniform_starts(starts.start_box(beale), 9, 5)
    assert sweep.make_starts(beale, "random:9", 5).tobytes() == rand.tobytes()
    cfg = escape_count.EscapeConfig(landscape="two-wells", domain=(-1.0, 1.0))
    np.testing.assert_array_equal(cfg.box(landscapes.get("two-wells")), [[-1.0, 1.0]])


# ----------------------------------------------------------------------------- nearest minimum

def test_nearest_minimum_over_all_or_some_minima():
    tw = landscapes.get("two-wells")
    flat, sharp = tw.minima
    x = np.array([[0.0], [1.5], [-3.0]])
    idx, dist = tw.nearest_minimum(x)
    np.testing.assert_array_equal(idx, [0, 1, 0])
    np.testing.assert_allclose(dist, [0.91731603, 0.498027, 2.08268397], atol=1e-8)
    idx, dist = tw.nearest_minimum(x, [sharp])
    np.testing.assert_array_equal(idx, [0, 0, 0])
    np.testing.assert_allclose(dist, [1.998027, 0.498027, 4.998027], atol=1e-6)
    idx, dist = tw.nearest_minimum(x, ())
    np.testing.assert_array_equal(idx, [-1, -1, -1])
    assert np.all(np.isinf(dist))


def test_nearest_minimum_in_2d_and_nan_rows():
    beale = landscapes.get("beale")
    _, dist = beale.nearest_minimum(np.array([[3.0, 0.5], [0.0, 4.5], [np.nan, 0.0]]))
    assert dist[0] == 0.0 and dist[1] == 5.0 and math.isnan(dist[2])


# ----------------------------------------------------------------------------- ranges

def test_range_values_are_inclusive_linspace():
    assert parse_values("0:3:7", "--betas") == (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
    assert parse_values("0, 0.5", "--alphas") == (0.0, 0.5)
    assert parse_values("0.9", "--alphas") == (0.9,)
    assert parse_values("0.7:0.7:1", "--alphas") == (0.7,)
    raw = parse_values("0:0.99:12", "--alphas")
    assert raw[-1] == 0.99 and raw[5] == 0.44999999999999996 and raw[9] == 0.8099999999999999
    rounded = parse_values("0:0.99:12", "--alphas", digits=12)
    assert rounded[5] == 0.45 and rounded[9] == 0.81 and rounded[-1] == 0.99
    assert parse_values("2:1:3", "--betas") == (2.0, 1.5, 1.0)
    assert linspace_values(1.0, 2.0, 1) == (1.0,)
    assert linspace_values(0.0, 1.0, 5) == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_range_values_match_eos_check_ranges():
    from moxco_cli.commands.eos_check import parse_grid as eos_grid

    for text in ("0:3:7", "0:0.99:12", "-1:2.5:9", "0.1:0.95:1000", "0,0.3,0.9"):
        assert parse_values(text, "--alphas") == eos_grid(text, "--alphas")


@pytest.mark.parametrize("text, words", [
    ("0:1", "a range is LO:HI:COUNT"),
    ("a:1:3", "LO and HI must be numbers"),
    ("0:1:x", "COUNT must be an integer"),
    ("0:1:0", "COUNT must be >= 1"),
    ("0:inf:3", "finite LO and HI"),
    ("0:1:1", "COUNT 1 would drop HI; write 0"),
    ("0:1:1001", "at most 1000 values"),
    ("a,b", "expects comma-separated numbers or LO:HI:COUNT"),
])
def test_range_errors_name_the_option(text, words):
    with pytest.raises(SettingsError) as info:
        parse_values(text, "--alphas")
    assert str(info.value).startswith("--alphas: ") and words in str(info.value)


def test_range_errors_with_a_name_and_ascending():
    with pytest.raises(SettingsError, match=r"^--grid: alpha: needs finite LO <= HI"):
        parse_values("0.9:0:3", "--grid", name="alpha", ascending=True)
    with pytest.raises(SettingsError, match="write alpha=0$"):
        parse_values("0:1:1", "--grid", name="alpha")


# ----------------------------------------------------------------------------- one build each

FORMULA_1D = "x**4 - 2*x**2 + 0.3*x"
FORMULA_2D = "(x**2 - 1)**2 + 0.5*y**2 + 0.2*x"
COMMANDS = {
    "run": ["run", "--expr", FORMULA_1D, "--domain", "-2,2", "--steps", "20",
            "--optimizers", "gd,adam"],
    "escape-count": ["escape-count", "--expr", FORMULA_1D, "--domain", "-2,2", "--inits", "10",
                     "--steps", "20", "--optimizers", "gd,adam"],
    "outcome-map": ["outcome-map", "--expr", FORMULA_2D, "--domain", "-2,2,-2,2", "--grid", "4",
                    "--steps", "20", "--optimizers", "gd,adam"],
    "sweep": ["sweep", "--expr", FORMULA_2D, "--domain", "-2,2,-2,2", "--grid", "lr=0.001,0.01",
              "--optimizer", "gd", "--starts", "grid:3", "--steps", "20", "--workers", "1"],
}


@pytest.fixture
def compiles(monkeypatch):
    """Counts formula compilations (sympy differentiation + lambdify), from an empty cache."""
    count = [0]
    original = expression._Program.__init__

    def counting(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(expression._Program, "__init__", counting)
    monkeypatch.setattr(run, "_built", type(run._built)())
    return count


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_compiles_its_formula_once(command, compiles, tmp_path):
    result = CliRunner().invoke(app, [*COMMANDS[command], "--out", str(tmp_path / command)])
    assert result.exit_code == 0, result.output
    assert compiles[0] == 1


def test_build_landscape_keeps_one_object_per_name_and_params(compiles):
    a = run.build_landscape("expr", {"formula": FORMULA_1D, "domain": "-2,2"})
    b = run.build_landscape("expr", {"domain": "-2,2", "formula": FORMULA_1D})
    assert a is b and compiles[0] == 1
    c = run.build_landscape("expr", {"formula": FORMULA_1D, "domain": "-3,3"})
    assert c is not a and compiles[0] == 2
    assert run.build_landscape("two-wells", {"s": 0.03}) is run.build_landscape("two-wells",
                                                                                {"s": 0.03})
    for _ in range(2):  # errors are raised every time, never kept
        with pytest.raises(SettingsError, match="^--expr: "):
            run.build_landscape("expr", {"formula": "x +"})
    for k in range(run.BUILT_LANDSCAPES + 1):
        run.build_landscape("quadratic", {"a": [1.0 + k]})
    assert len(run._built) == run.BUILT_LANDSCAPES
