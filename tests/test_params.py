"""`moxco_cli.params`: one declaration per key gives its type, range, parsing and help."""

import math

import pytest

from moxco_cli.params import Param, SpecError, momentum, positive


def test_ranges_are_checked_at_open_and_closed_ends():
    m = momentum("alpha", 0.9, "x")
    assert m.check(0) == 0.0 and m.check(0.99) == 0.99
    for bad in (1.0, -0.1, math.nan, math.inf, True, "0.5", None):
        with pytest.raises(SpecError, match="^alpha: "):
            m.check(bad)
    p = positive("lr", 0.005, "x")
    assert p.check(1e-300) == 1e-300
    with pytest.raises(SpecError, match=r"^lr: must be > 0, got 0.0$"):
        p.check(0.0)
    t = Param("threshold", 0.85, "x", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    assert t.describe_range() == "in (0, 1)" and m.describe_range() == "in [0, 1)"


def test_text_values_parse_to_the_declared_type():
    assert positive("lr", 0.005, "x").parse(" 1e-2 ") == 0.01
    assert Param("k", 3, "x", kind="int", lo=1).parse("4") == 4
    with pytest.raises(SpecError, match="integer"):
        Param("k", 3, "x", kind="int", lo=1).check(2.5)
    choice = Param("commit", "latch", "x", kind="choice", choices=("latch", "none"))
    assert choice.parse("none") == "none"
    with pytest.raises(SpecError, match="one of latch, none"):
        choice.parse("maybe")
    floats = Param("a", 1.0, "x", kind="floats", lo=0.0, lo_open=True)
    assert floats.parse("2") == 2.0 and floats.parse("1;50") == [1.0, 50.0]
    assert floats.check([1, 2]) == [1.0, 2.0]
    with pytest.raises(SpecError, match="^a: must be > 0"):
        floats.check([1.0, 0.0])


def test_help_line_states_range_and_default():
    assert positive("tau", 0.15, "goodness temperature").help_line() == (
        "tau (> 0, default 0.15): goodness temperature")


def test_spec_and_settings_errors_survive_a_worker_process():
    """Raised in an engine worker, an error is pickled back: it used to fail to unpickle
    (its __init__ takes two arguments) and surfaced as "a worker process failed"."""
    import pickle

    from moxco_cli.params import SpecError
    from moxco_cli.settings import SettingsError

    for err in (SpecError("batch", "beale is not a loss over training points"),
                SettingsError("--grid", "batch: must be an integer")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
    assert pickle.loads(pickle.dumps(SpecError("lr", "x"))).field == "lr"


def test_a_text_key_states_its_accepted_forms_in_the_help():
    """curvature's range read '(see help)' in every --help: the forms it takes are stated."""
    from typer.testing import CliRunner

    from moxco_cli.cli import app
    from moxco_cli.curvature import PARAMS

    assert PARAMS[0].help_line().startswith(
        "curvature (exact | power:K[:cold] | lanczos:K, default exact): ")
    res = CliRunner().invoke(app, ["run", "--help"])
    text = " ".join(res.output.replace("\u2502", " ").split())  # rich's box, wrapped lines
    assert "curvature (exact | power:K[:cold] | lanczos:K)" in text
    assert "see help" not in text
