"""Types of the values in a config.json, checked before a config is built from them.

`moxco rerun` reads options back from JSON that a user may have edited. Each command's
`from_options` calls `check_types(ConfigClass, options)` first: every key is checked against
the annotation of the config dataclass field it fills (`steps: int`, `start: tuple[float, ...]
| None`, ...), and the shared optimizer keys against `OptimizerSettings`' fields, so that a
value of the wrong type gets the same kind of one-line `SettingsError`, naming the option, as
a bad value does (the ranges are then checked by the config's own `validate()`, from the same
declarations as the command-line options). Unknown keys are left to `from_options`.

This module imports nothing heavy.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields

from moxco_cli.settings import OptimizerSettings, SettingsError

# config.json key -> the field it fills, where the two names differ
FIELD_OF = {"optimizers": "methods", "heatmap": "plot_axes"}


def option_name(key: str) -> str:
    """The command-line option a config.json key comes from (`gd_moxco` -> `--gd-moxco`)."""
    if key in ("landscape", "landscape_params"):
        return "LANDSCAPE"
    return "--" + str(key).replace("_", "-")


def show(value, limit: int = 60) -> str:
    """A short, safe rendering of any JSON value for an error message."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (ValueError, TypeError, RecursionError):
        return "a value too large or too deeply nested to show"
    return text if len(text) <= limit else text[:limit] + "..."


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


SCALARS = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (_integer, "an integer"),
    "float": (_number, "a number"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
}


def describe(annotation: str) -> tuple[object, str] | None:
    """`(check(value) -> bool, words)` for a field annotation as written in the source, e.g.
    `"tuple[float, ...] | None"`; None for annotations that are checked elsewhere."""
    annotation = annotation.strip()
    if annotation.endswith("| None"):
        inner = describe(annotation.removesuffix("| None"))
        if inner is None:
            return None
        check, words = inner
        return (lambda v: v is None or check(v)), f"{words} or null"
    if annotation in SCALARS:
        return SCALARS[annotation]
    if annotation.startswith("tuple[") and annotation.endswith("]"):
        parts = [p.strip() for p in annotation[6:-1].split(",")]
        item = SCALARS.get(parts[0])
        if item is None:
            return None
        check, words = item
        if parts[-1] == "...":
            return ((lambda v: isinstance(v, list) and all(check(x) for x in v)),
                    f"a list of {words.removeprefix('a ').removeprefix('an ')}s")
        n = len(parts)
        return ((lambda v: isinstance(v, list) and len(v) == n and all(check(x) for x in v)),
                f"a list of {n} {words.removeprefix('a ').removeprefix('an ')}s")
    return None


def _annotations(cls) -> dict[str, str]:
    return {f.name: f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            for f in fields(cls)}


def check_types(cls, options, *, settings: bool = True) -> None:
    """Raise SettingsError (naming the option) unless `options` is a JSON object whose keys
    have values of the types of `cls`' fields (and, with `settings`, of OptimizerSettings').
    Keys neither declares are not checked here."""
    if not isinstance(options, dict):
        raise SettingsError("CONFIG", f"'options' must be an object, got {show(options)}")
    declared = _annotations(cls)
    shared = _annotations(OptimizerSettings) if settings else {}
    for key, value in options.items():
        field = FIELD_OF.get(key, key)
        annotation = declared.get(field, shared.get(key))
        if annotation is None:
            continue
        rule = describe(annotation)
        if rule is None:
            continue
        check, words = rule
        if not check(value) or (isinstance(value, float) and not math.isfinite(value)):
            raise SettingsError(option_name(key), f"config.json value must be {words}, "
                                f"got {show(value)}")
