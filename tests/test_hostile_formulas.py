"""`--expr` formulas and their `--domain`/`--minima` at their limits (issue 19): one line
naming the option typed, before anything is computed, never a traceback."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from landscapes.expression import MAX_DEPTH, MAX_NESTED_CALLS, ExpressionError, from_expression
from moxco_cli.cli import app

runner = CliRunner()

# Each raised RecursionError (a traceback) before: the checker, sympy and the compiler
# recurse once per level of the syntax tree.
DEEP = {
    "1990 unary minuses": "-" * 1990 + "x",
    "a sum of 999 terms": "+".join(["x"] * 999),
    "a product of 999 factors": "*".join(["x"] * 999),
    "a quotient chain of 999": "/".join(["x"] * 999),
    "150 nested sines": "sin(" * 150 + "x" + ")" * 150,
    "a tower of 600 powers": "x" + "**x" * 600,
}


@pytest.mark.parametrize("formula", DEEP.values(), ids=DEEP.keys())
def test_a_formula_nested_too_deeply_is_one_line_naming_expr(formula, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    result = runner.invoke(app, ["run", "--expr", formula, "--steps", "2"])
    message = result.output.strip()
    assert result.exit_code == 2 and "\n" not in message, message
    assert message.startswith("Error: --expr: formula nests "), message
    assert time.monotonic() - started < 5  # refused from the text, before sympy
    assert list(tmp_path.iterdir()) == []


def test_the_limits_are_the_documented_ones():
    assert from_expression("+".join(["x**2"] * (MAX_DEPTH - 1))).dim == 1
    with pytest.raises(ExpressionError, match=rf"nests \d+ operations .* at most {MAX_DEPTH}$"):
        from_expression("+".join(["x**2"] * (MAX_DEPTH + 1)))
    nested = "sin(" * MAX_NESTED_CALLS + "x" + ")" * MAX_NESTED_CALLS
    assert from_expression(f"{nested}**2 + x**2").dim == 1
    with pytest.raises(ExpressionError, match=f"nests {MAX_NESTED_CALLS + 1} functions"):
        from_expression("cos(" + nested + ")")


@pytest.mark.parametrize("line,option,words", [
    # minima outside the domain: the contour levels failed after all the computing
    (["run", "--expr", "x**2 + y**2", "--minima", "10,10", "--domain", "-1,1,-1,1"],
     "--minima", "lies outside the domain"),
    (["escape-count", "--expr", "x**2", "--minima", "9"], "--minima", "lies outside"),
    # a bad --domain next to --expr was reported as --expr
    (["run", "--expr", "x**2 + y**2", "--domain", "1,1,0,1"], "--domain", "LO < HI"),
    (["run", "--expr", "x**2 + y**2", "--domain", "-1,1"], "--domain", "needs 4 numbers"),
    (["outcome-map", "--expr", "x**2 + y**2", "--domain", "-1e308,1e308,-1,1"], "--domain",
     "divergence box"),
    (["sweep", "--expr", "x**2", "--domain", "0,5e-324", "--grid", "lr=0.1"], "--domain",
     "narrower"),
    (["run", "--expr", "x**2 + (y - 3)**2", "--domain", "-1,1,-1,1"], "--domain",
     "found no minimum"),
    (["run", "--expr", "x**2 + y**2", "--minima", "0.5,9223372036854775808"], "--minima",
     "lies outside"),
])
def test_domain_and_minima_errors_name_the_option_typed(line, option, words, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*line, "--steps", "2"])
    message = result.output.strip()
    assert result.exit_code == 2 and "\n" not in message, message
    assert message.startswith(f"Error: {option}: ") and words in message, message
    assert list(tmp_path.iterdir()) == []
