"""`moxco_cli.methods`: method specs, their keys from the declarations, and the build."""

import json

import numpy as np
import pytest

import landscapes
from moxco_cli import methods
from moxco_cli.engine import simulate
from moxco_cli.optim import REGISTRY
from moxco_cli.params import SpecError
from moxco_cli.settings import ALL_METHOD_NAMES, OptimizerSettings, build_method


def test_method_names_come_from_the_optimizer_registry_and_match_the_settings_list():
    assert methods.method_names() == ALL_METHOD_NAMES
    assert list(REGISTRY) == ["gd", "adam", "rmsprop"]


def test_keys_are_the_declarations_of_the_pieces_a_method_is_built_from():
    names = lambda m: [p.name for p in methods.params_of(m)]  # noqa: E731
    common = ["prox", "prox_weight", "noise_std", "curvature", "score_every", "batch"]
    assert names("gd") == ["lr", "tau", *common]
    assert names("adam") == ["lr", "b1", "b2", "eps", "tau", *common]
    assert names("rmsprop+moxco") == [
        "lr", "rho", "eps", "alpha", "beta", "restart_alpha", "restart_beta", "threshold", "tau",
        "commit", *common]
    assert names("nesterov") == ["lr", "alpha", "tau", *common]
    defaults = {m: (methods.resolve(methods.MethodSpec(m))["alpha"],
                    methods.resolve(methods.MethodSpec(m))["beta"])
                for m in ("gd+moxco", "adam+moxco", "rmsprop+moxco")}
    assert defaults == {"gd+moxco": (0.9, 0.9), "adam+moxco": (0.95, 0.5),
                        "rmsprop+moxco": (0.9, 0.9)}
    assert set(methods.per_row_keys("adam+moxco")) == {
        "lr", "alpha", "beta", "restart_alpha", "restart_beta", "threshold", "tau"}


@pytest.mark.parametrize("text, items", [
    ("gd,adam", ["gd", "adam"]),
    ("adam:lr=1,adam+moxco:lr=0.01", ["adam:lr=1", "adam+moxco:lr=0.01"]),
    ("adam+moxco:lr=0.01,alpha=0.95,beta=0.5,gd", ["adam+moxco:lr=0.01,alpha=0.95,beta=0.5",
                                                   "gd"]),
    ("adam,b1=0.8", ["adam:b1=0.8"]),  # a key=value item belongs to the method before it
    (" rmsprop+moxco:rho=0.8 , commit=reversible ", ["rmsprop+moxco:rho=0.8,commit=reversible"]),
])
def test_spec_lists_split_where_a_new_method_starts(text, items):
    assert methods.split_specs(text) == items


def test_labels_round_trip_and_values_are_typed():
    spec = methods.parse_spec("adam+moxco:lr=1e-2,alpha=0.95,commit=reversible")
    assert spec.keys == (("lr", 0.01), ("alpha", 0.95), ("commit", "reversible"))
    assert spec.label == "adam+moxco:lr=0.01,alpha=0.95,commit=reversible"
    assert methods.parse_spec(spec.label) == spec
    assert methods.parse_spec("adam:lr=1").label == "adam:lr=1"


@pytest.mark.parametrize("text, field, words", [
    ("adam:lr=-1", "lr", "must be > 0"),
    ("adam:lr=x", "lr", "must be a number > 0"),
    ("adam:rho=0.9", "rho", "is not a key of adam"),
    ("gd:alpha=0.5", "alpha", "is not a key of gd"),
    ("gd+moxco:alpha=1", "alpha", "in [0, 1)"),
    ("gd+moxco:threshold=1", "threshold", "in (0, 1)"),
    ("gd+moxco:commit=maybe", "commit", "latch, reversible, none"),
    ("sgd", "method", "unknown method 'sgd'"),
    ("gd+other", "method", "unknown method"),
    ("adam:lr", "method", "expects key=value"),
])
def test_bad_specs_name_the_key_in_python_words(text, field, words):
    with pytest.raises(SpecError) as info:
        methods.parse_spec(text)
    assert info.value.field == field and words in str(info.value)
    assert "--" not in str(info.value)  # no CLI flag below the CLI


def test_a_spec_key_overrides_the_shorthand_which_overrides_the_default():
    s = OptimizerSettings(lr=0.01, adam_moxco=(0.8, 0.4))
    values = methods.resolve(methods.parse_spec("adam+moxco:beta=0.1"),
                             {"lr": s.lr, "alpha": 0.8, "beta": 0.4})
    assert (values["lr"], values["alpha"], values["beta"], values["b1"]) == (0.01, 0.8, 0.1, 0.9)
    method = build_method("adam+moxco:beta=0.1", s)
    assert (method.lr, method.rule.alpha, method.rule.beta) == (0.01, 0.8, 0.1)
    assert method.name == "adam+moxco:beta=0.1"


def test_rmsprop_is_the_spec_formula_and_zero_momentum_rmsprop_moxco_is_rmsprop():
    lr, rho, eps = 0.01, 0.8, 1e-8
    opt = REGISTRY["rmsprop"].factory(lr, rho=rho, eps=eps)
    g0, g1 = np.array([[3.0, -0.25]]), np.array([[-1.0, 0.5]])
    step0, state = opt.update(g0, opt.init(np.zeros((1, 2))))
    s0 = (1 - rho) * g0**2
    np.testing.assert_allclose(step0, lr * g0 / (np.sqrt(s0) + eps), rtol=1e-15)
    step1, state = opt.update(g1, state)
    s1 = rho * s0 + (1 - rho) * g1**2
    np.testing.assert_allclose(step1, lr * g1 / (np.sqrt(s1) + eps), rtol=1e-15)
    assert state.count == 2
    beale, x0 = landscapes.get("beale"), np.random.default_rng(1).uniform(-4.5, 4.5, (20, 2))
    plain = simulate(beale, build_method("rmsprop:rho=0.8", OptimizerSettings()), x0, 200)
    wrapped = simulate(beale, build_method(
        "rmsprop+moxco:rho=0.8,alpha=0,beta=0,commit=none", OptimizerSettings()), x0, 200)
    np.testing.assert_array_equal(plain.final, wrapped.final)
    other = simulate(beale, build_method("rmsprop:rho=0.5", OptimizerSettings()), x0, 200)
    assert not np.array_equal(plain.final, other.final)  # rho reaches the optimizer


def test_rmsprop_keys_reach_the_cli_config_and_rerun(tmp_path):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    out = tmp_path / "r"
    spec = "rmsprop:rho=0.8,eps=1e-6,rmsprop+moxco:lr=0.01,alpha=0.5"
    result = CliRunner().invoke(app, ["run", "beale", "--methods", spec, "--steps", "60",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["optimizers"] == ["rmsprop:rho=0.8,eps=1e-06",
                                               "rmsprop+moxco:lr=0.01,alpha=0.5"]
    again = tmp_path / "again"
    result = CliRunner().invoke(app, ["rerun", str(out / "config.json"), "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert (again / "summary.csv").read_bytes() == (out / "summary.csv").read_bytes()
    assert (again / "trajectories.csv").read_bytes() == (out / "trajectories.csv").read_bytes()
    bad = CliRunner().invoke(app, ["run", "beale", "--methods", "rmsprop:rho=1"])
    assert bad.exit_code == 2 and "--methods: rmsprop:rho=1: rho: must be in [0, 1)" in (
        bad.output)


def test_method_specs_work_on_every_command_that_runs_methods(tmp_path):
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    spec = "adam:lr=1,adam+moxco:lr=0.01"
    for args in (["run", "beale", "--steps", "30"],
                 ["escape-count", "--inits", "20", "--steps", "30"],
                 ["outcome-map", "beale", "--grid", "5", "--steps", "30"]):
        out = tmp_path / args[0]
        result = CliRunner().invoke(app, [*args, "--methods", spec, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "adam:lr=1" in result.output and "adam+moxco:lr=0.01" in result.output
    result = CliRunner().invoke(app, ["sweep", "beale", "--method", "nesterov", "--grid",
                                      "lr=1e-3,2e-3", "--starts", "grid:3", "--steps", "30",
                                      "--workers", "1", "--out", str(tmp_path / "sweep")])
    assert result.exit_code == 0, result.output
    assert "vs plain gd" in result.output
