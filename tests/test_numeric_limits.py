"""Numbers at the edge of representability in every numeric option of every command.

The options are not listed here: they are read from the declarations. Every option of every
command of the Typer app whose type is a number (`int`, `float`) gets every value of
`EDGE_NUMBERS`; every option typed as text whose default is a list of numbers (`--gd-moxco
0.9,0.9`, `--betas 0:3:7`), or which takes points or boxes (`--start`, `--domain`, `--minima`:
found by name in the command's signature, with and without `--expr`), gets those values in
each of its number slots; every numeric key of every method (`moxco_cli.params.Param` of
`methods.params_of`) and of every landscape (`PARAMS`) gets them through a spec. Each case
must end with exit 0, or exit 2 and one line naming the option typed; never a traceback.

Every option and key gets the values of `CORE`; the others are `full_matrix` cases (run with
`--full-matrix`). Cases run in-process (CliRunner) with tiny sizes. Figures are built
(matplotlib objects, so a figure that cannot be drawn still fails the case) but not
rasterized to PNG.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

import landscapes
from moxco_cli import methods as method_specs
from moxco_cli.cli import app
from moxco_cli.options import SHARED
from moxco_cli.settings import ALL_METHOD_NAMES

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands

# 0 and -0, the least subnormal, a negative, the largest finite floats, the infinities and
# NaN, the largest int64 and one past it (what an int option's range or C code must refuse)
EDGE_NUMBERS = ["0", "-0", "5e-324", "-1", "1e308", "-1.7976931348623157e308", "inf", "-inf",
                "nan", "9223372036854775807", "9223372036854775808"]
# The sizes every command runs with (an option given again later on the line wins).
SMALL = {
    "run": ["--steps", "2"],
    "escape-count": ["--inits", "3", "--steps", "2"],
    "outcome-map": ["--grid", "2", "--steps", "2"],
    "eos-check": ["--steps", "100", "--alphas", "0.5", "--betas", "0.5", "--tol", "0.01"],
    "sweep": ["beale", "--grid", "alpha=0,0.5", "--starts", "random:2", "--steps", "2"],
    "compare": ["beale", "--methods", "gd", "--trials", "1", "--tuning-starts", "2",
                "--eval-starts", "2", "--steps", "2", "--no-export"],
    "generalize": ["factorization", "--inits", "2", "--steps", "2", "--lrs", "0.01",
                   "--thresholds", "0.9", "--grid", "3"],
    "reproduce": None,  # its sizes are fixed (--quick or the paper's): no number to type
    "rerun": None,  # its only input is a config.json (tests/test_config_validation.py)
}
# Text options that take points or boxes, whatever their default: the slots each is fed.
POINTS = {"start": 2, "domain": 4, "minima": 2}
EXPR = ["--expr", "x**2 + (y - 1)**2"]  # what --domain and --minima apply to


def _flag(param) -> str:
    return next(o for o in param.opts if o.startswith("--"))


def _numeric_type(param) -> bool:
    return param.bare_type() in ("int", "float")  # the annotation without `| None`


def _number_template(param) -> str | None:
    """A text option's default as a template with its numbers as slots, e.g. `{},{}`."""
    default = param.default
    if not isinstance(default, str) or not re.search(r"[0-9]", default):
        return None
    return re.sub(r"(?<![a-z])[-+]?[0-9][0-9.]*(e[-+]?[0-9]+)?", "{}", default)


def _slotted(template: str, value: str) -> list[str]:
    """`value` in all slots of `template` at once, and in the last one alone (the others take
    0.5: the value passes the checks of the slots before it)."""
    slots = template.count("{}")
    return sorted({template.format(*([value] * slots)),
                   template.format(*(["0.5"] * (slots - 1) + [value]))})


def _negated(value: str) -> str:
    return value[1:] if value.startswith("-") else "-" + value


# The optimizer options are one declaration (moxco_cli.options.SHARED) on every command that
# runs optimizers: every value on the first such command, these on the others.
SHARED_ELSEWHERE = ["5e-324", "1e308", "nan"]


def option_cases():
    """(command, option, line) for every numeric option slot of every command."""
    cases, shared_seen = [], set()
    for name, command in sorted(COMMANDS.items(), key=lambda item: (item[0] != "run", item[0])):
        base = SMALL[name]  # a new command needs its tiny sizes here
        if base is None:
            continue
        for param in command.params:
            if not param.opts[0].startswith("--") or getattr(param, "is_flag", False):
                continue
            flag = _flag(param)
            values = EDGE_NUMBERS
            if param.name in SHARED:
                values = SHARED_ELSEWHERE if param.name in shared_seen else EDGE_NUMBERS
                shared_seen.add(param.name)
            if _numeric_type(param):
                for value in values:
                    cases.append((name, flag, [*base, flag, value]))
                continue
            template = _number_template(param)
            if template is None and param.name in POINTS:
                template = ",".join(["{}"] * POINTS[param.name])
            if template is None:
                continue
            extra = EXPR if param.name in ("domain", "minima") and any(
                p.name == "expr" for p in command.params) else []
            for value in values:
                texts = _slotted(template, value)
                if param.name == "domain":  # boxes: [-v, v] in one or every coordinate
                    texts = [_negated(value) + "," + value, *[
                        ",".join([_negated(value), value] * 2 if k == 2 else
                                 [_negated(value), value, "-1", "1"]) for k in (1, 2)]]
                # a landscape given beside --expr is refused (the formula replaces it)
                args = [a for a in base if a != "beale"] if extra else base
                for text in texts:
                    cases.append((name, flag, [*args, *extra, flag, text]))
    return cases


def spec_cases():
    """(command, option, line) for every numeric key of every method and landscape spec."""
    cases, seen = [], set()
    for method in ALL_METHOD_NAMES:
        for param in method_specs.params_of(method):
            # a key declared alike by several methods (lr, alpha, tau...) runs on the first
            same = (param.name, param.kind, param.lo, param.hi, param.lo_open, param.hi_open)
            if param.kind not in ("float", "int", "floats") or same in seen:
                continue
            seen.add(same)
            for value in EDGE_NUMBERS:
                cases.append(("run", "--methods", ["--steps", "2", "--methods",
                                                   f"{method}:{param.name}={value}"]))
    for param in method_specs.params_of("adam+moxco"):  # sweep's default method
        if param.kind in ("float", "int"):
            for value in EDGE_NUMBERS:
                line = ["beale", "--starts", "random:2", "--steps", "2", "--grid",
                        f"{param.name}={value}"]
                cases.append(("sweep", "--grid", line))
    for land in landscapes.names():
        for param in landscapes.landscape_class(land).PARAMS:
            if param.kind not in ("float", "int", "floats"):
                continue
            for value in EDGE_NUMBERS:
                cases.append(("run", "LANDSCAPE", ["--steps", "2", "--methods", "gd,gd+moxco",
                                                   f"{land}:{param.name}={value}"]))
    return cases


@pytest.fixture
def light_figures(monkeypatch, tmp_path):
    """Figures built in-process (no renderer fork per case) and closed without a PNG."""
    import importlib

    from moxco_cli import report

    def build_only(self, name, build, /, *args, **kwargs):
        import matplotlib.pyplot as plt

        if isinstance(build, str):
            module, func = build.split(":")
            build = getattr(importlib.import_module(module), func)
        fig = build(*args, **kwargs)
        plt.close(fig)
        return self.path / name

    monkeypatch.setenv("MOXCO_RENDERER", "0")
    monkeypatch.setattr(report.ResultsFolder, "write_figure", build_only)
    monkeypatch.chdir(tmp_path)


def _check(command: str, option: str, line: list[str]) -> None:
    result = runner.invoke(app, [command, *line])
    shown = f"{[command, *line]!r} -> exit {result.exit_code}: {result.output[-800:]!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        shown + f" raised {result.exception!r}")
    assert "Traceback" not in result.output, shown
    assert result.exit_code in (0, 2), shown
    if result.exit_code == 2:
        message = result.output.strip()
        assert message.startswith("Error:") and "\n" not in message, shown
        assert option.lower() in message.lower(), shown


# Each option and key runs with these values; the other values of EDGE_NUMBERS are
# `full_matrix` cases (run with --full-matrix): the whole matrix took 2 of the suite's 10
# minutes on 2 cores. These are the values that found
# defects: 0 (a size or a divisor), the least subnormal (underflow to 0 later), a value past
# the largest float, NaN (passes every comparison), and one past int64 (C conversions).
CORE = {"0", "5e-324", "1e308", "nan", "9223372036854775808"}


def _marked(cases):
    """`cases` as pytest params, those without a CORE value in them marked full_matrix (the
    value is in the line's last word: alone, in `key=value`, or in number slots)."""
    def core(line) -> bool:
        return any(t.lstrip("-") in CORE for t in re.split(r"[=,;]", line[-1]))

    return [pytest.param(*case, marks=() if core(case[2]) else pytest.mark.full_matrix)
            for case in cases]


@pytest.mark.parametrize("command,option,line", _marked(option_cases()),
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_edge_number_in_an_option_exits_cleanly(command, option, line, light_figures):
    _check(command, option, line)


@pytest.mark.parametrize("command,option,line", _marked(spec_cases()),
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_edge_number_in_a_spec_key_exits_cleanly(command, option, line, light_figures):
    _check(command, option, line)


def test_every_command_with_numbers_is_covered():
    """The derivation finds the options we know are numeric (it would silently find none if
    the declarations changed shape)."""
    found = {(c.values[0], c.values[1]) if hasattr(c, "values") else (c[0], c[1])
             for c in option_cases()}
    for case in [("run", "--steps"), ("run", "--lr"), ("run", "--start"), ("run", "--domain"),
                 ("run", "--minima"), ("run", "--gd-moxco"), ("escape-count", "--sharp-width"),
                 ("escape-count", "--domain"), ("outcome-map", "--grid"),
                 ("eos-check", "--betas"), ("sweep", "--workers"), ("compare", "--target"),
                 ("compare", "--eval-starts")]:
        assert case in found
    assert len(spec_cases()) > 400
    assert set(SMALL) == set(COMMANDS)  # every command is fed numbers or said not to take any
