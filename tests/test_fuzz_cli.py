"""Fuzzed command lines for every command of the Typer app (discovered, so new ones count).

Each case must exit 0 or 2, print no traceback, and an error must be one line naming the
option or argument at fault. Commands run for real with tiny sizes (`--steps 2` etc. are put
first; a fuzzed value later on the line overrides them); only `reproduce` has its multi-minute
pipeline replaced by a stub, since what is fuzzed there is option parsing and folder handling.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import landscapes
from moxco_cli import methods as method_specs
from moxco_cli.cli import app
from moxco_cli.settings import ALL_METHOD_NAMES

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands  # name -> click-like command
SMALL = {"--steps": "2", "--inits": "3", "--grid": "2"}  # keeps valid cases fast

ODD_VALUES = [
    "", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "-0", "1e308", "-1e308", "1e-320",
    "99999999999999999999", "abc", "1,", ",", ",,", "1,2,3", "1,2", "0.5,0.5", "1,nan",
    "0.5", "2", "3", "1e5,1e5", "ü", "∞", "😀", "0x10", "1_000", "--lr", "gd,sgd", "gd,gd",
    "gd", "adam+moxco", "latch", "none", "binary", "l1", "identity", "beale", "two-wells",
    "alpha=0:0.9:2", "beta=0.1,0.2", "alpha=", "=1", "grid:2", "random:3", "random:-1",
    "success", "escape", "final-loss", "tcp://", "local-cluster:0", "/nonexistent/dir/x",
    "-2,2", "2,-2", "1,1",
]
ODD_ARGS = ["beale", "two-wells", "quadratic", "nope", "", "BEALE", "ü", "1", "-", "--",
            "beale beale", "/nonexistent.json", "rosenbrock", "himmelblau"]
UNKNOWN_OPTIONS = ["--bogus", "--Lr", "-x", "--steps=", "--lr=abc"]
# Cases per fuzz test (derandomized: the same ones every run). Were 250 and 60, about a
# minute of the suite on 2 cores: fewer cases, to keep the suite inside its 10 minutes.
LINES, SPECS = 120, 40
SEEN: Counter = Counter()
CASES: Counter = Counter()  # fuzz test -> cases it ran (so far: the order is random)
RUNNING: list[str] = [""]  # the test running now (the fuzz tests' own code is left as it is:
# with derandomize, Hypothesis seeds each from its source, so an edit would change its cases)
# Values a spec key is fuzzed with: numbers at the edges, lists, odd text
SPEC_VALUES = ["0", "-0", "1", "0.5", "0.999999", "1e-320", "1e308", "-1", "inf", "nan", "2",
               "1;2", "1;nan", "", "abc", "power:3", "lanczos:0", "exact", "relu", "3",
               "1000", "1001", "9223372036854775808"]
METHOD_OPTIONS = ("--methods", "--optimizers", "--optimizer", "--method")
LANDSCAPE_OPTIONS = ("--landscape",)


@st.composite
def method_specs_text(draw):
    """`NAME[:key=value,...]`, the keys drawn from the method's declarations (or not)."""
    specs = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(ALL_METHOD_NAMES + ("sgd", "adam+moxco+moxco")))
        declared = ([p.name for p in method_specs.params_of(name)]
                    if name in ALL_METHOD_NAMES else ["lr"])
        keys = draw(st.lists(st.sampled_from(declared + ["bogus", "alpha_restart"]),
                             max_size=3))
        pairs = [f"{k}={draw(st.sampled_from(SPEC_VALUES))}" for k in keys]
        specs.append(name + (":" + ",".join(pairs) if pairs else ""))
    return ",".join(specs)


@st.composite
def landscape_specs_text(draw):
    """`NAME[:key=value,...]` over the registry, keys from each landscape's PARAMS."""
    name = draw(st.sampled_from(landscapes.names()))
    declared = [p.name for p in landscapes.landscape_class(name).PARAMS]
    keys = draw(st.lists(st.sampled_from(declared + ["dim", "bogus"]), max_size=2))
    pairs = [f"{k}={draw(st.sampled_from(SPEC_VALUES))}" for k in keys]
    return name + (":" + ",".join(pairs) if pairs else "")


def _options(command) -> list[str]:
    names = []
    for p in command.params:
        names += [o for o in getattr(p, "opts", []) if o.startswith("--")]
    return [n for n in names if n not in ("--help",)]


def _arguments(command) -> list:
    return [p for p in command.params if not any(o.startswith("-") for o in p.opts)]


@st.composite
def command_lines(draw):
    name = draw(st.sampled_from(sorted(COMMANDS)))
    command = COMMANDS[name]
    options = _options(command)
    line = [name]
    for opt, value in SMALL.items():
        if opt in options:
            line += [opt, value]
    for argument in _arguments(command):
        if draw(st.booleans()) or draw(st.booleans()):
            spec = argument.name in ("landscape", "landscapes") and draw(st.booleans())
            line.append(draw(landscape_specs_text() if spec else st.sampled_from(ODD_ARGS)))
    if draw(st.integers(0, 9)) == 0:  # rarely: an option that does not exist
        line.append(draw(st.sampled_from(UNKNOWN_OPTIONS)))
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.sampled_from(options))
        if choice in ("--force", "--quick", "--version") or choice.endswith("="):
            line.append(choice)
        elif choice in METHOD_OPTIONS and draw(st.booleans()):
            line += [choice, draw(method_specs_text())]
        elif choice in LANDSCAPE_OPTIONS and draw(st.booleans()):
            line += [choice, draw(landscape_specs_text())]
        else:
            line += [choice, draw(st.sampled_from(ODD_VALUES) | st.text(max_size=6))]
    return name, line


def _stub_pipeline(out, quick=False, progress=None, only=None):
    out.write_json("config.json", {"quick": quick, "sizes": {}, "steps": []})


@pytest.fixture(autouse=True)
def _fast_reproduce(monkeypatch, request):
    import moxco_cli.experiments.reproduce as pipeline

    monkeypatch.setattr(pipeline, "reproduce", _stub_pipeline)
    RUNNING[0] = request.node.name


@settings(max_examples=LINES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=command_lines())
def test_fuzzed_command_lines_exit_cleanly_with_one_line_errors(case):
    _run_and_check(*case)


SPEC_COMMANDS = {  # command -> (tiny sizes, how it takes a landscape, how it takes methods)
    "run": (["--steps", "2"], None, "--methods"),
    "escape-count": (["--inits", "3", "--steps", "2"], "--landscape", "--methods"),
    "outcome-map": (["--grid", "2", "--steps", "2"], None, "--methods"),
    "sweep": (["--starts", "random:2", "--steps", "2", "--grid", "lr=0.001,0.01"], None,
              "--method"),
    "compare": (["--trials", "1", "--tuning-starts", "2", "--eval-starts", "2", "--steps", "2",
                 "--no-export"], None, "--methods"),
}


@st.composite
def spec_lines(draw):
    name = draw(st.sampled_from(sorted(SPEC_COMMANDS)))
    sizes, landscape_flag, method_flag = SPEC_COMMANDS[name]
    land = draw(landscape_specs_text())
    line = [name, *([land] if landscape_flag is None else [landscape_flag, land]), *sizes]
    if draw(st.integers(0, 3)):
        line += [method_flag, draw(method_specs_text())]
    return name, line


@settings(max_examples=SPECS, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=spec_lines())
def test_fuzzed_method_and_landscape_specs_exit_cleanly(case):
    """Method specs (`--methods "adam+moxco:lr=...,..."`, sweep's `--method`) and landscape
    specs (`NAME:key=value`), their keys drawn from the declarations."""
    _run_and_check(*case)


def _run_and_check(name: str, line: list[str]) -> None:
    cwd = os.getcwd()
    before = set(os.listdir(cwd))
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            result = runner.invoke(app, line)
        finally:
            os.chdir(cwd)
    assert set(os.listdir(cwd)) == before, f"{line!r} wrote outside its temporary folder"
    shown = f"{line!r} -> exit {result.exit_code}: {result.output!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        shown + f" raised {result.exception!r}")
    assert result.exit_code in (0, 2), shown
    assert "Traceback" not in result.output, shown
    if result.exit_code == 2:
        message = result.output.strip()
        assert message.startswith("Error:") and "\n" not in message, shown
        names = [t.split("=")[0] for t in line if t.startswith("-")]
        names += [p.name.upper() for p in _arguments(COMMANDS[name])]
        names += ["CONFIG", "LANDSCAPE", "No such command", "unexpected extra argument"]
        assert any(n and n.lower() in message.lower() for n in names), shown
        SEEN[message.split(":")[1].strip() if ":" in message else message] += 1
    SEEN[f"exit {result.exit_code}"] += 1
    CASES[RUNNING[0]] += 1


def test_fuzz_summary_is_recorded(tmp_path_factory):
    """Writes what the fuzz run saw (cases, distinct messages) for the issue note."""
    total = SEEN["exit 0"] + SEEN["exit 2"]
    path = Path(tempfile.gettempdir()) / "moxco-fuzz-summary.txt"
    path.write_text(f"cases {total}; exit0 {SEEN['exit 0']}; exit2 {SEEN['exit 2']}; "
                    f"distinct error kinds {len(SEEN) - 2}\n" +
                    "\n".join(f"{v:4d} {k}" for k, v in SEEN.most_common()))
    # each fuzz test that ran before this one (none, one or both: the order is random) ran
    # at least 80% of its max_examples
    most = {test_fuzzed_command_lines_exit_cleanly_with_one_line_errors.__name__: LINES,
            test_fuzzed_method_and_landscape_specs_exit_cleanly.__name__: SPECS}
    assert set(CASES) <= set(most) and all(n >= 0.8 * most[t] for t, n in CASES.items()), CASES
