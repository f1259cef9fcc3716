"""Value lists typed on the command line: `V1,V2,...` or `LO:HI:COUNT`, parsed in one place.

`LO:HI:COUNT` is COUNT evenly spaced values with both ends included, the values of
`numpy.linspace(LO, HI, COUNT)` (`LO + k * (HI - LO) / (COUNT - 1)`, the last one exactly HI).
Imports no numerical library at module level.
"""

from __future__ import annotations

import math

from moxco_cli.settings import SettingsError

MAX_COUNT = 1000


def linspace_values(lo: float, hi: float, count: int, digits: int | None = None
                    ) -> tuple[float, ...]:
    """`numpy.linspace(lo, hi, count)` as floats (`(lo,)` for count 1), each rounded to
    `digits` significant digits when given (`0.09`, not `0.09000000000000001`)."""
    import numpy as np

    raw = np.linspace(lo, hi, count) if count > 1 else np.array([lo])
    if digits is None:
        return tuple(float(v) for v in raw)
    return tuple(float(f"{v:.{digits}g}") for v in raw)


def parse_values(text: str, option: str, *, name: str = "", max_count: int = MAX_COUNT,
                 digits: int | None = None, ascending: bool = False) -> tuple[float, ...]:
    """`"V1,V2,..."` or `"LO:HI:COUNT"` -> tuple of floats; one-line `SettingsError(option,
    ...)` otherwise, its message starting with `name: ` when a name is given.

    A range needs finite ends (and `LO <= HI` if `ascending`), COUNT in [1, max_count], and
    COUNT 1 only when `LO == HI`; its values are `linspace_values(LO, HI, COUNT, digits)`.
    A list is returned as typed (checking its values is the caller's business).
    """
    label = f"{name}: " if name else ""
    rhs = str(text).strip()
    if ":" in rhs:
        parts = [p.strip() for p in rhs.split(":")]
        if len(parts) != 3:
            raise SettingsError(option, f"{label}a range is LO:HI:COUNT, got {rhs!r}")
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise SettingsError(option, f"{label}LO and HI must be numbers, "
                                f"got {rhs!r}") from None
        try:
            count = int(parts[2])
        except ValueError:
            raise SettingsError(option, f"{label}COUNT must be an integer, "
                                f"got {parts[2]!r}") from None
        if count < 1:
            raise SettingsError(option, f"{label}COUNT must be >= 1, got {count}")
        if not (math.isfinite(lo) and math.isfinite(hi)) or (ascending and lo > hi):
            need = "finite LO <= HI" if ascending else "finite LO and HI"
            raise SettingsError(option, f"{label}needs {need}, got {rhs!r}")
        if count == 1 and hi != lo:
            write = f"{name}={parts[0]}" if name else parts[0]
            raise SettingsError(option, f"{label}COUNT 1 would drop HI; write {write}")
        if count > max_count:
            raise SettingsError(option, f"{label}at most {max_count} values per axis, "
                                f"got {count}")
        return linspace_values(lo, hi, count, digits)
    try:
        return tuple(float(p) for p in rhs.split(","))
    except ValueError:
        raise SettingsError(option, f"{label}expects comma-separated numbers or "
                            f"LO:HI:COUNT, got {rhs!r}") from None
