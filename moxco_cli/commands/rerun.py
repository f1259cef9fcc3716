"""`moxco rerun CONFIG`: re-run the command that wrote a config.json, byte for byte.

The options in config.json go through the same validation as the command-line options
(the command module's `config_from_options`), so a hand-edited invalid value gets the same
one-line message as the flag would.

`moxco reproduce` writes a different config.json (into its figures/ folder: `quick`, `sizes`,
`steps`, no `options`). Re-running one regenerates the same steps into a new results folder,
`--out` or `results/runs/reproduce-paper-<time>`, under the same `--out`/`--force` rules as
every other command (never in place: `moxco reproduce` itself is what regenerates
`results/figures/`). The folder gets `figures/` and `REPRODUCTION.md`, the layout `moxco
reproduce --out` writes, plus a copy of the config at its top so that it is a moxco results
folder (rerun-able, replaceable with `--force`).
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer

from moxco_cli.errors import MoxcoError

EPILOG = ("Examples:\n\n"
          "  moxco rerun results/runs/run-beale-20261128-101500/config.json "
          "--out results/runs/again\n\n"
          "  moxco rerun results/figures/config.json --out /tmp/repro   "
          "# a `moxco reproduce` config")


def rerun(
    config: Annotated[Path, typer.Argument(help="A config.json written by any moxco command (`moxco reproduce` too).")],
    out: Annotated[Path | None, typer.Option("--out", help="Results folder. Default: results/runs/<command>-<landscape>-<time>.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out folder if it exists.")] = False,
) -> None:
    """Re-run the command recorded in CONFIG with exactly its options."""
    from moxco_cli.commands.common import launch, start_renderer

    start_renderer()
    doc = read_config(config)
    if isinstance(doc, dict) and doc.get("command") == "reproduce" and "options" not in doc:
        _rerun_reproduce(config, doc, out, force)
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("options"), dict):
        raise MoxcoError(f"CONFIG: {config} has no 'options' object; is it a moxco config.json?")
    command = doc.get("command")
    module = _command_module(command)
    cfg = module.config_from_options(doc["options"])
    _say_defaults_used(doc["options"], cfg.to_options())
    launch(cfg, out, force, str(command), module.execute)


def _say_defaults_used(given: dict, written: dict) -> None:
    """A warning naming the options config.json lacks (deleted by hand, or from an older
    moxco): their defaults are used, which used to happen without a word."""
    from moxco_cli.commands.common import warn
    from moxco_cli.config_types import option_name

    missing = [option_name(k) for k in written if k not in given]
    if missing:
        warn(f"config.json has no value for {', '.join(dict.fromkeys(missing))}; "
             "the defaults are used")


MAX_CONFIG_BYTES = 1 << 20  # a config.json moxco writes is a few kB


def read_config(config: Path):
    """The JSON document in `config`: a regular file of at most MAX_CONFIG_BYTES (never a
    FIFO, a device such as /dev/zero, or a folder), UTF-8, any nesting depth or number size
    refused in one line instead of a decoder crash."""
    import os
    import stat

    try:
        info = os.stat(config)
    except FileNotFoundError:
        raise MoxcoError(f"CONFIG: no such file: {config}") from None
    except (OSError, ValueError) as exc:
        raise MoxcoError(f"CONFIG: cannot read {config} ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise MoxcoError(f"CONFIG: {config} is not a regular file (a folder, FIFO or device); "
                         "name a config.json")
    if info.st_size > MAX_CONFIG_BYTES:
        raise MoxcoError(f"CONFIG: {config} is {info.st_size} bytes; a moxco config.json is "
                         f"at most {MAX_CONFIG_BYTES} bytes")
    try:
        fd = os.open(config, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped since the stat
                raise MoxcoError(f"CONFIG: {config} is not a regular file")
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise MoxcoError(f"CONFIG: cannot read {config} ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise MoxcoError(f"CONFIG: {config} is larger than {MAX_CONFIG_BYTES} bytes; a moxco "
                         "config.json is never that large")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MoxcoError(f"CONFIG: {config} is not UTF-8 text ({exc.reason} at byte "
                         f"{exc.start})") from None
    except RecursionError:
        raise MoxcoError(f"CONFIG: {config} nests arrays or objects too deeply to be a moxco "
                         "config.json") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of thousands of digits
        raise MoxcoError(f"CONFIG: {config} is not a readable JSON file "
                         f"({str(exc)[:120]})") from None


def _command_module(command):
    name = command.replace("-", "_") if isinstance(command, str) else ""
    try:
        module = (import_module(f"moxco_cli.commands.{name}")
                  if name.isidentifier() and not name.startswith("_") else None)
    except ImportError:
        module = None
    if module is None or not hasattr(module, "config_from_options"):
        from moxco_cli.config_types import show

        raise MoxcoError(f"CONFIG: command {show(command)} cannot be re-run")
    return module


def _reproduce_steps(config: Path, doc: dict) -> tuple[bool, tuple[str, ...]]:
    """`(quick, steps)` of a reproduce config, refused unless this version runs exactly it."""
    from moxco_cli.experiments.reproduce import FULL, QUICK, STEPS

    quick, steps = doc.get("quick"), doc.get("steps")
    extra = sorted(set(doc) - {"command", "quick", "sizes", "steps"})
    if extra:  # as every other config: a key nobody reads is refused, not ignored
        raise MoxcoError(f"CONFIG: {config}: unknown key {extra[0]!r} (a reproduce config "
                         "holds command, quick, sizes and steps)")
    if not isinstance(quick, bool):
        raise MoxcoError(f"CONFIG: {config}: 'quick' must be true or false, got {quick!r}")
    known = [s.name for s in STEPS]
    if (not isinstance(steps, list) or not steps
            or not all(isinstance(s, str) and s in known for s in steps)):
        raise MoxcoError(f"CONFIG: {config}: 'steps' must be a list of reproduce steps "
                         f"({', '.join(known)}), got {steps!r}")
    sizes = QUICK if quick else FULL
    if doc.get("sizes") != sizes:
        raise MoxcoError(f"CONFIG: {config}: 'sizes' {doc.get('sizes')!r} are not this "
                         f"version's {'quick' if quick else 'full'} sizes {sizes!r}; "
                         "they cannot be re-run exactly")
    return quick, tuple(s for s in known if s in steps)


class _Subfolder:
    """The part of a ResultsFolder under `prefix/`: what the reproduce pipeline writes into."""

    def __init__(self, folder, prefix: str) -> None:
        self._folder, self._prefix = folder, prefix

    def __getattr__(self, name: str):
        method = getattr(self._folder, name)
        if not name.startswith("write_"):
            raise AttributeError(name)
        return lambda file, *args, **kwargs: method(f"{self._prefix}/{file}", *args, **kwargs)


def _rerun_reproduce(config: Path, doc: dict, out: Path | None, force: bool) -> None:
    import sys
    import time

    from moxco_cli.commands.common import results_folder
    from moxco_cli.experiments.reproduce import reproduce as run_pipeline

    quick, steps = _reproduce_steps(config, doc)
    if out is not None and out.resolve() == config.resolve().parent:
        raise MoxcoError(f"--out: {out} holds CONFIG itself; rerun writes a new folder "
                         "(`moxco reproduce --out` regenerates figures in place)")
    folder = results_folder(out, force, "reproduce", "paper")
    folder.check()  # refuse before computing anything
    started = time.perf_counter()

    def progress(description: str, k: int, total: int) -> None:
        print(f"[{k + 1}/{total}] {description} ({time.perf_counter() - started:.0f} s)",
              file=sys.stderr, flush=True)

    from moxco_cli.experiments.report_md import write_report
    from moxco_cli.report import write_figures_manifest

    with folder:
        run_pipeline(_Subfolder(folder, "figures"), quick=quick, progress=progress, only=steps)
        written = folder.tmp / "figures" / "config.json"
        folder.write_bytes("config.json", written.read_bytes())
        write_report(folder.tmp / "figures", folder.tmp / "REPRODUCTION.md")
        folder.before_publish.append(lambda: write_figures_manifest(
            folder.tmp / "figures", folder.tmp / "REPRODUCTION.md"))  # once all are drawn
    print(f"Figures: {folder.path / 'figures'}\nReport: {folder.path / 'REPRODUCTION.md'}")
    print(f"Results: {folder.path}")
    print(f"Done in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("rerun", epilog=EPILOG)(rerun)
