"""Hyperparameter declarations: every tunable piece declares its keys once, here-shaped.

A `Param` is a key's name, default, type, range and help text. Inner optimizers
(`moxco_cli.optim.*`), the MoXCo wrapper (`moxco_cli.inertia`, `moxco_cli.goodness`), the
prox (`moxco_cli.prox`), gradient noise (`moxco_cli.engine`) and landscapes (their `PARAMS`)
each declare theirs in the file that implements them. Spec parsing (`moxco_cli.methods`),
validation, `--help` text, `config.json` and `rerun` all derive from these declarations, so a
key's range is written in exactly one place.

This module imports nothing heavy (it is used while `moxco --help` is built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from moxco_cli.errors import MoxcoError


class SpecError(MoxcoError, ValueError):
    """A bad value for a declared key. `field` is the key (Python words, e.g. ``lr``), never a
    CLI flag: the CLI maps it to the option the user typed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message

    def __reduce__(self):  # raised in an engine worker process: its own message comes back
        return (type(self), (self.field, self.reason))


@dataclass(frozen=True)
class Param:
    """One declared hyperparameter.

    `kind`: "float", "int", "floats" (a number or a list of numbers, each in range; typed as
    `1;50;400` in a spec) or "choice". Numbers must be finite and lie in the range `lo .. hi`,
    each end open or closed (`lo_open`, `hi_open`); `None` is unbounded. A choice is one of
    `choices`. `per_row`: the engine accepts one value per trajectory for
    this key (`simulate(..., rows=...)`), so that many grid cells run as one batched call.
    """

    name: str
    default: object
    help: str
    kind: str = "float"
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    per_row: bool = False
    check_text: object = None  # kind "text": canonical(value) -> str, raising SpecError
    forms: str = ""  # kind "text": the accepted forms, for --help and errors (e.g. power:K)

    def describe_range(self) -> str:
        if self.kind == "text":
            return self.forms or "text"
        if self.kind == "choice":
            return " | ".join(self.choices)
        if self.lo is None and self.hi is None:
            return "any number"
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        if self.lo is None:
            return f"{'<' if self.hi_open else '<='} {self.hi:g}"
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"in {left}{self.lo:g}, {self.hi:g}{right}"

    def check(self, value):
        """`value` converted to this key's type, or a one-line `SpecError` naming the key."""
        if self.kind == "text":
            return self.check_text(value)
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise SpecError(self.name, f"must be one of {', '.join(self.choices)}; "
                                f"got {value!r}")
            return value
        if self.kind == "floats" and isinstance(value, (list, tuple)):
            if not value:
                raise SpecError(self.name, "needs at least one number")
            one = Param(self.name, 0.0, self.help, lo=self.lo, hi=self.hi, lo_open=self.lo_open,
                        hi_open=self.hi_open)
            return [one.check(v) for v in value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(self.name, f"must be a number {self.describe_range()}, got {value!r}")
        if self.kind == "int":
            if not (isinstance(value, int) or float(value).is_integer()):
                raise SpecError(self.name, f"must be an integer {self.describe_range()}, "
                                f"got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if not math.isfinite(value) or not self.contains(value):
            raise SpecError(self.name, f"must be {self.describe_range()}, got {value!r}")
        return value

    def contains(self, value: float) -> bool:
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None
                    and (value > self.hi or (self.hi_open and value == self.hi)))

    def parse(self, text: str):
        """A value typed as text (a spec's `key=value`) -> checked value."""
        text = text.strip()
        if self.kind in ("choice", "text"):
            return self.check(text)
        if self.kind == "floats" and ";" in text:
            try:
                numbers = [float(p) for p in text.split(";")]
            except ValueError:
                raise SpecError(self.name, f"expects numbers separated by ';', "
                                f"got {text!r}") from None
            return self.check(numbers)  # a range error names the range, not the syntax
        try:
            number = int(text) if self.kind == "int" else float(text)
        except ValueError:
            raise SpecError(self.name, f"must be a number {self.describe_range()}, "
                            f"got {text!r}") from None
        return self.check(number)

    def help_line(self) -> str:
        default = (self.default if self.kind in ("choice", "text")
                   or not isinstance(self.default, float)
                   else f"{self.default:g}")
        return f"{self.name} ({self.describe_range()}, default {default}): {self.help}"


def momentum(name: str, default: float, help: str) -> Param:
    """A momentum coefficient in [0, 1), settable per row."""
    return Param(name, default, help, lo=0.0, hi=1.0, hi_open=True, per_row=True)


def positive(name: str, default: float, help: str, *, per_row: bool = False) -> Param:
    return Param(name, default, help, lo=0.0, lo_open=True, per_row=per_row)
