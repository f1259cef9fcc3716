"""`moxco rerun CONFIG`: re-run the command that wrote a config.json, byte for byte.

The options in config.json go through the same validation as the command-line options
(the command module's `config_from_options`), so a hand-edited invalid value gets the same
one-line message as the flag would.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer

from moxco_cli.errors import MoxcoError

EPILOG = ("Example:\n\n  moxco rerun results/runs/run-beale-20261128-101500/config.json "
          "--out results/runs/again")


def rerun(
    config: Annotated[Path, typer.Argument(help="A config.json written by any moxco command.")],
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/<command>-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
) -> None:
    """Re-run the command recorded in CONFIG with exactly its options."""
    from moxco_cli.commands.common import launch, start_renderer

    start_renderer()
    try:
        doc = json.loads(config.read_text())
    except FileNotFoundError:
        raise MoxcoError(f"CONFIG: no such file: {config}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MoxcoError(f"CONFIG: {config} is not a readable JSON file ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("options"), dict):
        raise MoxcoError(f"CONFIG: {config} has no 'options' object; is it a moxco config.json?")
    command = doc.get("command")
    module = _command_module(command)
    cfg = module.config_from_options(doc["options"])
    launch(cfg, out, force, str(command), module.execute)


def _command_module(command):
    name = str(command).replace("-", "_")
    try:
        module = import_module(f"moxco_cli.commands.{name}")
    except ImportError:
        module = None
    if module is None or not hasattr(module, "config_from_options"):
        raise MoxcoError(f"CONFIG: command {command!r} cannot be re-run")
    return module


def register(app: typer.Typer) -> None:
    app.command("rerun", epilog=EPILOG)(rerun)
