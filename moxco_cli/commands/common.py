"""Helpers every command uses: output folders, progress bars, printing. No numerics here."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from moxco_cli.errors import MoxcoError


def results_folder(out: Path | None, force: bool, command: str, landscape: str):
    """The ResultsFolder for `--out`/`--force`, or the default timestamped folder."""
    from moxco_cli.report import ResultsFolder, default_folder

    if out is None:
        if force:
            raise MoxcoError("--force: only applies together with --out DIR")
        return ResultsFolder(default_folder(command, landscape), make_parents=True,
                             command=command)
    return ResultsFolder(out, force=force, command=command)


# What a character moxco prints becomes where the terminal cannot show it (PYTHONIOENCODING
# =ascii, LC_ALL=POSIX): ASCII, never a UnicodeEncodeError.
ASCII = {"\u2192": "->", "\u2190": "<-", "\u2248": "~", "\u2264": "<=", "\u2265": ">=",
         "\u00b1": "+/-", "\u2026": "...", "\u00d7": "x", "\u2013": "-", "\u2014": "-",
         "\u03b1": "alpha", "\u03b2": "beta", "\u03b7": "eta", "\u03bb": "lambda",
         "\u03b8": "theta", "\u00b2": "^2", "\u2212": "-", "\u2713": "v", "\u2717": "x"}


def _ascii_fallback(exc: UnicodeError):
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    out = []
    for ch in text:
        if ch in ASCII:
            out.append(ASCII[ch])
        elif "\u2500" <= ch <= "\u257f":  # box drawing (tables)
            out.append("|" if ch in "\u2502\u2503\u2551" else "-" if ch in
                       "\u2500\u2501\u2550" else "+")
        else:
            out.append("?")
    return "".join(out), exc.end


def _encodes(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def degrade_output_to_ascii() -> None:
    """Where stdout or stderr cannot encode moxco's characters (an ASCII or Latin-1
    locale), let them write ASCII stand-ins (`->` for the arrow, `+-|` for table borders)
    instead of raising UnicodeEncodeError. Called as every command starts."""
    import codecs

    try:
        codecs.lookup_error("moxco-ascii")
    except LookupError:
        codecs.register_error("moxco-ascii", _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        if not _encodes(stream, "\u2192\u2503"):
            try:
                stream.reconfigure(errors="moxco-ascii")
            except (AttributeError, ValueError, OSError):
                pass


def start_renderer(*figure_modules: str) -> None:
    """Fork the figure renderer (`moxco_cli.renderer`) now, before the command's heavy
    imports, so that it imports matplotlib and `figure_modules` while this process imports
    the rest. (Every command starts here: its output is also made safe for a non-UTF-8
    terminal, `degrade_output_to_ascii`.)"""
    from moxco_cli import renderer

    degrade_output_to_ascii()

    renderer.start(renderer.PRELOAD + figure_modules)


def launch(cfg, out: Path | None, force: bool, command: str, execute,
           scheduler: str | None = None) -> None:
    """Check the results folder (refuse before computing anything), then `execute(cfg, folder)`,
    with the engine's chunks on Dask when `scheduler` is given (the same bytes).

    `execute` is the command module's own, shared with `moxco rerun`."""
    if scheduler is not None:
        from moxco_cli.scheduler import parse_scheduler

        parse_scheduler(scheduler)  # a bad spec fails before anything is written
    folder = results_folder(out, force, command, getattr(cfg, "landscape", command))
    folder.check()
    if scheduler is None:
        execute(cfg, folder)
        return
    from moxco_cli.scheduler import engine_on

    with engine_on(scheduler):
        execute(cfg, folder)


# The --scheduler option of the commands that run the engine (sweep has its own wording).
SCHEDULER_HELP = ("Run the engine's chunks on Dask: tcp://HOST:PORT, or local-cluster:K to start "
                  "K local workers (same results, byte for byte). Needs pip install "
                  "'moxco\\[distributed]'.")


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True):
    """A rich progress bar on stderr; yields `advance(n)` (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  "[progress.percentage]{task.percentage:>3.0f}%", TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def warn(message: str) -> None:
    print(f"Warning: {' '.join(message.split())}", file=sys.stderr)


def print_table(frame, title: str, columns: list[str], formats: dict | None = None) -> None:
    """Print `frame[columns]` as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    formats = formats or {}
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if frame[col].dtype == object else "right",
                         no_wrap=True)
    ascii_only = not _encodes(sys.stdout, "\u2192")
    for _, row in frame[columns].iterrows():
        cells = [formats.get(c, _fmt)(row[c]) for c in columns]
        if ascii_only:  # measured after the stand-ins, so that columns stay aligned
            cells = ["".join(ASCII.get(ch, ch) for ch in cell) for cell in cells]
        table.add_row(*cells)
    Console(width=max(120, len(columns) * 16)).print(table)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
