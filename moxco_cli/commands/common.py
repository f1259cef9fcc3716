"""Helpers every command uses: output folders, progress bars, printing. No numerics here."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from moxco_cli.errors import MoxcoError
from moxco_cli.settings import SettingsError


def results_folder(out: Path | None, force: bool, command: str, landscape: str):
    """The ResultsFolder for `--out`/`--force`, or the default timestamped folder."""
    from moxco_cli.report import ResultsFolder, default_folder

    if out is None:
        if force:
            raise MoxcoError("--force: only applies together with --out DIR")
        return ResultsFolder(default_folder(command, landscape), make_parents=True,
                             command=command, unique=True)
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
    degrade_output_to_ascii()
    import_numpy()
    from moxco_cli import renderer

    renderer.start(renderer.PRELOAD + figure_modules)


def import_numpy() -> None:
    """Import numpy, saying so when memory is too short for it to start.

    Under a small address-space limit (`ulimit -v`) OpenBLAS cannot create its threads while
    numpy is imported, and raises SIGINT at itself, which used to surface as "Interrupted"."""
    import signal

    from moxco_cli import signals
    from moxco_cli.errors import Fault, _limit

    try:
        import numpy  # noqa: F401
    except KeyboardInterrupt:
        limit = _limit("RLIMIT_AS", 1024, " KiB")
        if signals.received() != signal.SIGINT or limit == "unlimited":
            raise
        raise Fault(f"out of memory at start: numpy's BLAS could not create its threads under "
                    f"the address-space limit (ulimit -v) of {limit}; raise the limit, or set "
                    "OPENBLAS_NUM_THREADS=1") from None


def launch(cfg, out: Path | None, force: bool, command: str, execute,
           scheduler: str | None = None) -> None:
    """Check the results folder (refuse before computing anything), then `execute(cfg, folder)`,
    with the engine's chunks on Dask when `scheduler` is given (the same bytes).

    `execute` is the command module's own, shared with `moxco rerun`."""
    if scheduler is not None:
        from moxco_cli.scheduler import parse_scheduler

        backend = getattr(getattr(cfg, "settings", None), "backend", "numpy")
        if backend != "numpy":
            raise SettingsError("--scheduler", f"sends the NumPy engine's chunks to Dask; "
                                f"--backend {backend} runs in this process (give one of the two)")
        parse_scheduler(scheduler)  # a bad spec fails before anything is written
    from moxco_cli import memory

    memory.check(command, cfg)  # refuses what would not fit, before anything is computed
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


class PlainProgress:
    """Progress as plain lines on stderr, for output that is not a terminal (a cluster job's
    log, `| tee`): `description: 40% (4,800 of 12,000), 12 s elapsed, about 18 s left`.

    Rate: nothing in the first FIRST_S seconds (a short command stays silent), then a line
    each time another STEP of the work is done, but at most one every MIN_GAP_S seconds, and
    at least one every MAX_GAP_S seconds while work goes on (a slow step still shows life)."""

    FIRST_S, MIN_GAP_S, MAX_GAP_S, STEP = 2.0, 5.0, 60.0, 0.1

    def __init__(self, description: str, total: int, write=None, clock=None) -> None:
        import time

        self.description, self.total = description, max(int(total), 1)
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.clock = clock or time.monotonic
        self.start = self.last = self.clock()
        self.done = self.shown = 0

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        since, elapsed = now - self.last, now - self.start
        if elapsed < self.FIRST_S or since < self.MIN_GAP_S and self.done < self.total:
            return
        stepped = (self.done - self.shown) >= self.STEP * self.total
        if not (stepped or since >= self.MAX_GAP_S or self.done >= self.total > self.shown):
            return
        self.last, self.shown = now, self.done
        fraction = min(self.done / self.total, 1.0)
        left = (f", about {elapsed * (1 - fraction) / fraction:.0f} s left"
                if 0 < fraction < 1 else "")
        self.write(f"{self.description}: {100 * fraction:.0f}% ({self.done:,} of "
                   f"{self.total:,}), {elapsed:.0f} s elapsed{left}")


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True):
    """A rich progress bar on stderr, or plain lines where stderr is not a terminal
    (`PlainProgress`); yields `advance(n)` (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield PlainProgress(description, total).advance
        return
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
    # As wide as the table needs: a fixed width cut cells to "0.…" when stdout is a file
    # (0.01 and 0.05 looked the same); a terminal narrower than that wraps the lines.
    natural = Console(width=10_000).measure(table).maximum
    Console(width=max(120, natural)).print(table)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
