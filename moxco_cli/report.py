"""Results folders and atomic writers for CSV, JSON and PNG outputs.

A command writes into a hidden temporary folder beside its target and renames it into place
when everything is written, so an interrupted run leaves no folder that looks finished (the
temporary one is removed, or, after a hard kill, stays hidden as `.<name>.incomplete-<pid>`).
An existing folder is never overwritten unless the caller passes `force=True`.
Single files (e.g. committed figures) are written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from moxco_cli.errors import MoxcoError

RUNS_DIR = Path("results") / "runs"
INCOMPLETE = ".incomplete-"
CSV_FORMAT = dict(index=False, lineterminator="\n")  # floats: shortest round-trip repr digits


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    atomic_write_with(path, lambda fh: fh.write(data))


def atomic_write_with(path: Path, write) -> None:
    """Call `write(binary file)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_csv_file(path: Path, frame) -> None:
    """`frame` as CSV (round-trip floats) streamed to `path` atomically: a large table is
    never held in memory as one string."""
    atomic_write_with(path, lambda fh: frame.to_csv(fh, chunksize=100_000, **CSV_FORMAT))


def csv_bytes(frame) -> bytes:
    """A DataFrame as CSV bytes, exactly as `write_csv_file` writes it."""
    return frame.to_csv(**CSV_FORMAT).encode()


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode()


def png_bytes(fig, dpi: int = 130) -> bytes:
    """A matplotlib figure as PNG without date or version metadata (byte-stable reruns)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_function(build):
    """`build` itself, or the function a `"module:function"` string names (imported now)."""
    if not isinstance(build, str):
        return build
    import importlib

    module, name = build.split(":")
    return getattr(importlib.import_module(module), name)


def draw_png(path: Path, build, args: tuple = (), kwargs: dict | None = None) -> None:
    """Write the figure `build(*args, **kwargs)` to `path` as PNG (atomically), then close it.

    `build`: a function returning a matplotlib Figure, or its `"module:function"` name (so the
    caller need not import matplotlib). The renderer child and the in-process path both draw
    through here: the same bytes."""
    import matplotlib.pyplot as plt

    fig = figure_function(build)(*args, **(kwargs or {}))
    try:
        atomic_write_bytes(path, png_bytes(fig))
    finally:
        plt.close(fig)


def default_folder(command: str, landscape: str, base: Path = RUNS_DIR) -> Path:
    """`results/runs/<command>-<landscape>-<YYYYmmdd-HHMMSS>`, plus `-2`, `-3`... if taken."""
    stem = f"{command}-{landscape}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base / stem, 2
    while path.exists():
        path, k = base / f"{stem}-{k}", k + 1
    return path


def is_results_folder(path: Path) -> bool:
    """True if `path` holds a `config.json` written by moxco (a JSON object naming one of
    its commands; or the reproduce config of versions before it did): the only non-empty
    folders `--force` may replace."""
    from moxco_cli.commands import command_modules

    try:
        doc = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    command = str(doc.get("command", "")).replace("-", "_")
    return command in command_modules() or set(doc) == {"quick", "sizes", "steps"}


def refuse_to_replace(path: Path, option: str = "--out") -> None:
    """Raise MoxcoError unless the existing folder `path` may be replaced by `--force`: an
    empty folder or a moxco results folder, and never the working directory, a folder
    containing it, or the home directory (deleting those would lose work)."""
    if Path(path).is_symlink():
        raise MoxcoError(f"{option}: {path} is a symbolic link; name the folder itself")
    where = Path(path).resolve()
    cwd = Path.cwd().resolve()
    if where == cwd or where in cwd.parents:
        raise MoxcoError(f"{option}: {path} is the working directory or contains it; "
                         "it is never replaced, choose a new folder")
    try:
        home = Path.home().resolve()
    except RuntimeError:  # no HOME and no passwd entry (some containers)
        home = None
    if where == home:
        raise MoxcoError(f"{option}: {path} is the home directory; it is never "
                         "replaced, choose a new folder")
    if any(Path(path).iterdir()) and not is_results_folder(path):
        raise MoxcoError(f"{option}: {path} is not a moxco results folder (no moxco "
                         "config.json); only those, or an empty folder, are replaced")


@dataclass
class _PendingFigure:
    """A figure handed to the renderer, with what it takes to draw it here instead."""

    ticket: object  # renderer.Ticket
    target: Path
    build: object
    args: tuple
    kwargs: dict


class ResultsFolder:
    """Context manager collecting a command's outputs and publishing them all at once.

        with ResultsFolder(path, force=False) as out:
            out.write_csv("summary.csv", frame)
            out.write_json("config.json", config)
            out.write_figure("loss.png", "moxco_cli.plots.run:loss_figure", land, paths, title)
        # now `path` exists with every file, or (on error/interrupt) is untouched

    Args:
        path: the folder to publish. Its parent must exist unless `make_parents` (used for
            the default `results/runs/...` location).
        force: replace an existing folder at `path` (only its contents at publish time), if
            `refuse_to_replace` allows it: an empty folder or an earlier moxco result.
    """

    def __init__(self, path: Path, *, force: bool = False, make_parents: bool = False,
                 option: str = "--out") -> None:
        self.path = Path(path)
        if self.path.name in ("", ".", ".."):  # `--out ''` or `--out .`: the folder itself
            self.path = self.path.resolve()
        if self.path.name == "":
            raise MoxcoError(f"{option}: {path} is the filesystem root; choose a folder")
        self.force = force
        self.make_parents = make_parents
        self.option = option
        self.tmp = self.path.with_name(f".{self.path.name}{INCOMPLETE}{os.getpid()}")
        self._figures: list[_PendingFigure] = []  # being drawn by the renderer

    def check(self) -> None:
        """Raise MoxcoError if publishing would overwrite or cannot work; writes nothing."""
        if self.path.exists() and not self.force:
            raise MoxcoError(f"{self.option}: {self.path} already exists; pass --force to "
                             "replace it, or choose another folder")
        if self.path.exists() and not self.path.is_dir():
            raise MoxcoError(f"{self.option}: {self.path} exists and is not a folder")
        if self.path.exists():
            refuse_to_replace(self.path, self.option)
        parent = self.path.parent
        if not parent.exists() and not self.make_parents:
            raise MoxcoError(f"{self.option}: parent folder {parent} does not exist")

    def __enter__(self) -> ResultsFolder:
        self.check()
        try:
            if self.make_parents:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir()
        except OSError as exc:
            raise MoxcoError(f"{self.option}: cannot write to {self.path.parent} "
                             f"({exc.strerror or exc})") from None
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self._finish_figures()
            except BaseException:
                self._discard()
                raise
            self._publish()
        else:
            self._discard()

    def _finish_figures(self) -> None:
        """Wait for the renderer's figures; draw here any it did not (raising what it raised)."""
        while self._figures:
            fig = self._figures[0]  # still listed while we wait: `_discard` must see it
            if not fig.ticket.drawn():
                for stale in fig.target.parent.glob(f".{fig.target.name}.tmp-*"):
                    stale.unlink(missing_ok=True)  # a child killed while writing it
                try:
                    draw_png(fig.target, fig.build, fig.args, fig.kwargs)
                except Exception as exc:
                    exc.add_note(f"while drawing {fig.target.name} (ResultsFolder.write_figure)")
                    raise
            self._figures.pop(0)

    def _discard(self) -> None:
        if self._figures:  # the renderer may still be writing into `tmp`: end it first
            from moxco_cli import renderer

            renderer.stop()
            self._figures.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _publish(self) -> None:
        old = None
        if self.path.exists():
            if not self.force:  # appeared while we were computing
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise MoxcoError(f"{self.option}: {self.path} appeared during the run; "
                                 "results discarded, pass --force to replace it")
            try:
                refuse_to_replace(self.path, self.option)  # it may have changed meanwhile
            except MoxcoError:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
            old = self.path.with_name(f".{self.path.name}.replaced-{os.getpid()}")
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _target(self, name: str) -> Path:
        target = self.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _write(self, name: str, data: bytes) -> Path:
        atomic_write_bytes(self._target(name), data)
        return self.path / name

    def write_csv(self, name: str, frame) -> Path:
        write_csv_file(self._target(name), frame)
        return self.path / name

    def write_json(self, name: str, obj) -> Path:
        return self._write(name, json_bytes(obj))

    def write_figure(self, name: str, build, /, *args, **kwargs) -> Path:
        """The figure `build(*args, **kwargs)` as PNG; `build` is a `"module:function"` name
        (or a module-level function) returning a matplotlib Figure. Drawn by the renderer
        child if one runs (`moxco_cli.renderer`), here otherwise; the folder waits for it
        before it is published."""
        from moxco_cli import renderer

        target = self._target(name)
        running = renderer.current()
        ticket = running.submit(target, build, args, kwargs) if running else None
        if ticket is None:
            draw_png(target, build, args, kwargs)
        else:
            self._figures.append(_PendingFigure(ticket, target, build, args, kwargs))
        return self.path / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        return self._write(name, data)

    def write_text(self, name: str, text: str) -> Path:
        return self._write(name, text.encode())


def library_versions() -> dict:
    """Versions of moxco and the numerical libraries, for config.json."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("moxco", "numpy", "scipy", "matplotlib", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def config_document(command: str, options: dict, extra: dict | None = None) -> dict:
    """The config.json of a run: the command, every option (enough to rerun it), versions.

    `created` is the only field that differs between two identical runs.
    """
    doc = {"command": command, "options": options}
    doc.update(extra or {})
    doc["versions"] = library_versions()
    doc["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return doc
