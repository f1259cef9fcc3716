"""One module per command, discovered automatically; `register(app)` attaches them all.

A module here that defines `register(app)` is a command (helpers such as `common` define none).
Command modules import only typer and `moxco_cli.options`/`settings` at module level;
numerical work is imported inside the command body, so `moxco --help` stays fast.
"""

import pkgutil
from importlib import import_module

# Order of the commands in `moxco --help`; modules not listed come after, alphabetically.
ORDER = ("run", "escape_count", "outcome_map", "eos_check", "sweep", "reproduce", "rerun")


def command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def register(app) -> None:
    for name in command_modules():
        module = import_module(f"{__name__}.{name}")
        if hasattr(module, "register"):
            module.register(app)
