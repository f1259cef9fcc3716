"""One module per command; `register(app)` attaches them all.

Command modules import only typer and `moxco_cli.options`/`settings` at module level;
numerical work is imported inside the command body.
"""

from importlib import import_module

COMMANDS = ("run",)


def register(app) -> None:
    for name in COMMANDS:
        import_module(f"moxco_cli.commands.{name}").register(app)
