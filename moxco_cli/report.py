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
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from moxco_cli import signals
from moxco_cli.errors import STORAGE_ERRNOS, MoxcoError, defer, storage_fault

RUNS_DIR = Path("results") / "runs"
DEFAULT_NAME_TRIES = 1000  # NAME-2 ... for a default folder whose name was taken meanwhile
# The folders published by the command running in this process (`ResultsFolder._publish`),
# recorded with the signals held: a signal after the last rename is not "results discarded".
PUBLISHED: list[Path] = []
INCOMPLETE = ".incomplete-"
PID_DIGITS = 7  # the longest PID (pid_max <= 4194304)
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
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only file system: the error to report is the first one
            pass
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
    import warnings

    from moxco_cli.mplconfig import use_writable_config

    use_writable_config()  # before matplotlib's first import (a read-only HOME)
    import matplotlib.pyplot as plt
    import numpy as np

    # Drawing values the results hold as they are (1e300, inf) makes NumPy and matplotlib
    # warn from inside the scales and layout engines (an overflow in a log scale's exp,
    # "Tight layout not applied"): lines about matplotlib's internals, not about the
    # results, which the figure itself shows. An error still fails the figure, as before.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        fig = figure_function(build)(*args, **(kwargs or {}))
        try:
            _say_empty_log_axes(fig)
            atomic_write_bytes(path, png_bytes(fig))
        finally:
            plt.close(fig)


def _say_empty_log_axes(fig) -> None:
    """A log axis with nothing positive and finite to show (every run diverged: the
    results hold inf) made matplotlib refuse the whole figure ("Data cannot be log-scaled");
    such an axis gets a fixed decade and says, in the panel, that it has nothing to draw.
    Its other axis then spans its own data (autoscaling skips points without a y)."""
    import numpy as np
    from matplotlib.collections import PathCollection

    for ax in fig.axes:
        # only panels of points and lines: a colour bar or an image panel has no such data,
        # and its scale is its own
        if ax.images or any(not isinstance(c, PathCollection) for c in ax.collections) \
                or not (ax.lines or ax.collections):
            continue
        data = {}
        for k, which in enumerate("xy"):
            values = [np.asarray(line.get_xydata(), dtype=float)[:, k] for line in ax.lines]
            values += [np.asarray(c.get_offsets(), dtype=float).reshape(-1, 2)[:, k]
                       for c in ax.collections]
            v = np.concatenate(values) if values else np.empty(0)
            log = (ax.get_xscale() if which == "x" else ax.get_yscale()) == "log"
            data[which] = (log, v[np.isfinite(v) & ((v > 0) if log else True)])
        empty = [w for w, (log, v) in data.items() if log and not len(v)]
        for which in empty:
            (ax.set_xlim if which == "x" else ax.set_ylim)(1.0, 10.0)
            other = "y" if which == "x" else "x"
            log, v = data[other]
            if len(v) and other not in empty:
                lo, hi = float(v.min()), float(v.max())
                if log:
                    lo, hi = lo / 1.5, hi * 1.5
                else:
                    pad = 0.05 * (hi - lo) if hi > lo else 0.5
                    lo, hi = lo - pad, hi + pad
                (ax.set_xlim if other == "x" else ax.set_ylim)(lo, hi)
        if empty and not ax.texts:  # a figure's own note ("every trial diverged") says it
            ax.text(0.5, 0.5, "nothing finite to draw\n(every run here diverged)",
                    transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.3")


def _storage_error(exc) -> bool:
    """An OSError of the storage or of a limit (full disk, quota, ulimit -f or -n...)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def default_folder(command: str, landscape: str, base: Path = RUNS_DIR) -> Path:
    """`results/runs/<command>-<landscape>-<YYYYmmdd-HHMMSS>`, plus `-2`, `-3`... if taken."""
    stem = f"{command}-{landscape}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base / stem, 2
    while path.exists():
        path, k = base / f"{stem}-{k}", k + 1
    return path


# --------------------------------------------------------------- what moxco wrote: manifest

MANIFEST = ".moxco-manifest.json"  # in every results folder: each file moxco wrote, hashed
REPORT = "REPRODUCTION.md"  # `moxco reproduce` writes it beside its figures folder
# What each command wrote before manifests existed (globs, relative to the folder): a folder
# without a manifest is replaced only if every file in it is one of these.
_REPRODUCE_FIGURES = (
    "config.json", "ablation.csv", "ablation.png", "fig1_baselines_summary.csv", "fig1a.png",
    "fig1a_summary.csv", "fig1a_trajectories.csv", "fig1b.png", "fig1b_summary.csv",
    "fig1b_trajectories.csv", "fig2_n*.png", "fig2_n*_counts.csv", "fig2_n*_escape.csv",
    "fig3.png", "fig3_grid.csv", "fig3_starts.png", "fig3_summary.csv", "outcome_map.png",
    "outcome_map_fractions.csv", "phase_beale.csv", "phase_beale.png", "theorem1.csv",
    "theorem1.png", "theorem1_quadratic.csv", "theorem2.csv", "theorem2.png",
    "compare_*.csv", "compare_*.png", "curvature_*.csv", "curvature_*.png",
    "factorization_*.csv", "factorization_*.png", "net_*.csv", "net_*.png")
LEGACY_FILES = {
    "run": ("config.json", "trajectories.csv", "summary.csv", "trajectory.png", "loss.png",
            "goodness.png", "trajectory.gif"),
    "escape-count": ("config.json", "outcomes.csv", "counts.csv", "escape.csv",
                     "escape_count.png"),
    "outcome-map": ("config.json", "outcomes.csv", "fractions.csv", "outcome_map.png"),
    "eos-check": ("config.json", "eos.csv", "eos.png", "eigenpairs.csv"),
    "sweep": ("config.json", "sweep.csv", "sweep-*.png"),
    "reproduce": _REPRODUCE_FIGURES,  # `moxco reproduce`'s figures folder
    "reproduce-rerun": ("config.json", REPORT, "figures",
                        *(f"figures/{name}" for name in _REPRODUCE_FIGURES)),
}
LEGACY_REPORT_START = ("# Reproduction report: MoXCo on toy landscapes\n\n"
                       "Generated by `make reproduce-figures`")


def file_entry(path: Path) -> dict:
    """`{"size", "sha256"}` of a file, read in blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}


def _walk(folder: Path):
    """Every entry under `folder` as `(relative posix path, DirEntry)`, folders first, links
    and special files included (never followed)."""
    stack = [("", folder)]
    while stack:
        prefix, here = stack.pop()
        with os.scandir(here) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + entry.name
                yield rel, entry
                if entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", Path(entry.path)))


# Files that hold run-specific facts (config.json: `created`, how it was executed): listed
# with the hash of their content without those fields (`RUN_FIELDS`), so that the manifest of
# two identical runs is the same bytes while a hand edit (a note added, an option changed)
# still shows as a change. Manifests written before that hash count such a file as moxco's
# while it is a JSON object naming the manifest's command.
RUN_SPECIFIC = ("config.json",)
RUN_FIELDS = ("created", "execution")
OWNER = ".moxco-owner"  # in a hidden folder being written: which moxco process writes it


def config_digest(doc) -> str | None:
    """sha256 of a config.json object without its run-specific fields (None: not an object)."""
    import hashlib

    if not isinstance(doc, dict):
        return None
    kept = {k: v for k, v in doc.items() if k not in RUN_FIELDS}
    text = json.dumps(kept, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _entry(folder: Path, rel: str) -> dict:
    if rel in RUN_SPECIFIC:
        return {"run_specific": True, "content_sha256": config_digest(
            _read_json(folder / rel))}
    return file_entry(folder / rel)


def manifest_document(folder: Path, command: str | None, extra: dict | None = None) -> dict:
    """The manifest of the files now in `folder` (its own manifest excluded)."""
    files = {rel: _entry(folder, rel) for rel, entry in _walk(folder)
             if rel not in (MANIFEST, OWNER) and entry.is_file(follow_symlinks=False)}
    return {"written_by": "moxco", "format": 1, "command": command, **(extra or {}),
            "files": files}


@dataclass
class Ownership:
    """What moxco knows of an existing folder. `command`: the moxco command that wrote it
    (None: not moxco's); `foreign`: entries moxco did not write or that changed since;
    `legacy`: no manifest (written before moxco kept one), judged by file names; `figures`:
    a `moxco reproduce` figures folder (its report lives beside it); `report_sha256`: the
    hashes of REPRODUCTION.md that belong with it."""

    command: str | None
    foreign: list[str]
    legacy: bool = False
    figures: bool = False
    report_sha256: tuple[str, ...] = ()
    why: str = ""


def _regular_file(path: Path) -> bool:
    """Whether `path` is a regular file (reading a FIFO there blocks forever)."""
    import stat

    return stat.S_ISREG(os.stat(path).st_mode)


def read_json_text(path: Path) -> str:
    """The text of a JSON file moxco reads back (a saved cell, a config.json): OSError for
    what is not a regular file (a FIFO there blocked the reader forever), else its text."""
    if not _regular_file(path):
        raise OSError(f"{path} is not a regular file")
    return Path(path).read_text()


def _read_json(path: Path, limit: int = 1 << 20):
    try:
        if not _regular_file(path):
            return None
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            return None
        return json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None


def ownership(folder: Path) -> Ownership:
    """Who wrote `folder` and what in it moxco did not write (see `Ownership`)."""
    folder = Path(folder)
    if os.path.lexists(folder / MANIFEST):
        doc = _read_json(folder / MANIFEST)
        files = doc.get("files") if isinstance(doc, dict) else None
        if not (isinstance(files, dict) and doc.get("written_by") == "moxco"
                and all(isinstance(v, dict) for v in files.values())):
            return Ownership(None, [], why=f"its {MANIFEST} is not one moxco wrote")
        dirs = {str(Path(rel).parent) for rel in files} | {"."}
        dirs |= {str(p) for rel in files for p in Path(rel).parents}
        foreign: list[str] = []
        skip: tuple[str, ...] = ()
        for rel, entry in _walk(folder):
            if rel in (MANIFEST, OWNER) or (skip and rel.startswith(skip)):
                continue
            if entry.is_dir(follow_symlinks=False):
                if rel not in dirs:
                    foreign.append(rel + "/")
                    skip += (rel + "/",)
            elif not entry.is_file(follow_symlinks=False) or rel not in files:
                foreign.append(rel)
            else:
                want = files[rel]
                if want.get("run_specific"):
                    config = _read_json(Path(entry.path))
                    same = (isinstance(config, dict)
                            and str(config.get("command")) == str(doc.get("command")))
                    if "content_sha256" in want:  # else written before the hash was kept
                        same = same and config_digest(config) == want["content_sha256"]
                else:
                    same = (os.path.getsize(entry.path) == want.get("size")
                            and file_entry(Path(entry.path))["sha256"] == want.get("sha256"))
                if not same:
                    foreign.append(f"{rel} (changed since moxco wrote it)")
        report = doc.get("report") if isinstance(doc.get("report"), dict) else {}
        hashes = tuple(h for h in (report.get("sha256"), report.get("replaced_sha256"))
                       if isinstance(h, str))
        return Ownership(str(doc.get("command")), foreign, figures="report" in doc,
                         report_sha256=hashes)
    doc = _read_json(folder / "config.json")
    if not isinstance(doc, dict):
        return Ownership(None, [], legacy=True, why="no moxco manifest and no moxco config.json")
    command = str(doc.get("command", ""))
    if command == "reproduce" or set(doc) == {"quick", "sizes", "steps"}:  # its early config
        command = "reproduce-rerun" if (folder / "figures").is_dir() else "reproduce"
    if command not in LEGACY_FILES:
        return Ownership(None, [], legacy=True,
                         why="no moxco manifest, and its config.json names no moxco command")
    from fnmatch import fnmatchcase

    patterns = LEGACY_FILES[command]
    foreign = []
    for rel, entry in _walk(folder):
        kind_ok = (entry.is_dir(follow_symlinks=False) if rel == "figures"
                   else entry.is_file(follow_symlinks=False))
        if not (kind_ok and any(fnmatchcase(rel, p) for p in patterns)):
            foreign.append(rel + ("/" if entry.is_dir(follow_symlinks=False) else ""))
    owner = "reproduce" if command.startswith("reproduce") else command
    if foreign:  # named in the refusal
        return Ownership(owner, foreign, legacy=True, figures=command == "reproduce")
    # A config.json alone never makes a folder moxco's: it must be one moxco wrote, beside
    # at least one other file its command writes.
    if not command.startswith("reproduce") and not (isinstance(doc.get("options"), dict)
                                                    and isinstance(doc.get("versions"), dict)):
        return Ownership(None, [], legacy=True,
                         why="no moxco manifest, and its config.json is not one moxco wrote")
    if not command.startswith("reproduce") and not any(rel != "config.json"
                                                       for rel, _ in _walk(folder)):
        return Ownership(None, [], legacy=True,
                         why="no moxco manifest, and nothing but a config.json")
    return Ownership(owner, foreign, legacy=True, figures=command == "reproduce")


def is_results_folder(path: Path) -> bool:
    """True if `path` is a folder moxco wrote and holds nothing else: its manifest lists every
    file (unchanged since), or, written before manifests, its config.json names a moxco
    command and every file is one that command writes. The only non-empty folders `--force`
    may replace."""
    if not Path(path).is_dir() or Path(path).is_symlink():
        return False
    found = ownership(path)
    return found.command is not None and not found.foreign


def _inside_result(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` that is a moxco result (it holds moxco's
    manifest), or None."""
    try:
        here = Path(folder).resolve()
    except (OSError, RuntimeError):
        return None
    for candidate in (here, *here.parents):
        doc = _read_json(candidate / MANIFEST) if os.path.lexists(candidate / MANIFEST) else None
        if isinstance(doc, dict) and doc.get("written_by") == "moxco":
            return candidate
    return None


def _names(items: list[str], most: int = 5) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def refuse_to_replace(path: Path, option: str = "--out", command: str | None = None,
                      figures: bool = False) -> None:
    """Raise MoxcoError unless the existing folder `path` may be replaced: an empty folder, or
    one moxco wrote that holds nothing else (`ownership`); never a link, a mount point, the
    filesystem root, the working directory, a folder containing it, or the home directory.
    A `moxco reproduce` figures folder (its REPRODUCTION.md lives beside it) is replaced only
    by `moxco reproduce` (`figures=True`), which replaces nothing else."""
    path = Path(path)
    if path.is_symlink():
        raise MoxcoError(f"{option}: {path} is a symbolic link; name the folder itself")
    where = path.resolve()
    if where == Path(where.anchor):
        raise MoxcoError(f"{option}: {path} is the filesystem root; choose a folder")
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
    if os.path.ismount(where):
        raise MoxcoError(f"{option}: {path} is a mount point; it cannot be replaced, name a "
                         "folder inside it")
    if not any(path.iterdir()):
        return
    found = ownership(path)
    if found.command is None:
        raise MoxcoError(f"{option}: {path} is not a moxco results folder ({found.why}); "
                         "only those, or an empty folder, are replaced")
    if found.foreign:
        old = (" It has no moxco manifest (written before moxco kept one), so only the files "
               "its command writes may be in it." if found.legacy else "")
        raise MoxcoError(f"{option}: {path} is not a moxco results folder as moxco wrote it: "
                         f"it holds {_names(found.foreign)}, which moxco did not write; "
                         f"nothing there is replaced (move them, or choose another folder).{old}")
    if found.figures and not figures:
        raise MoxcoError(f"{option}: {path} holds the figures of moxco reproduce, which "
                         f"{REPORT} beside it is computed from; only moxco reproduce "
                         "regenerates them, choose another folder")
    if figures and not found.figures:
        raise MoxcoError(f"{option}: {path} is the results of moxco {found.command}, not of "
                         "moxco reproduce; moxco reproduce replaces only its own figures "
                         "folder, choose another --out")


# ------------------------------------------------------------------------- renames

AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "armv7l": 382, "ppc64le": 357,
                  "s390x": 347, "riscv64": 276, "i686": 353}
_renameat2_fn: list = []  # [function or None], looked up once


def _renameat2():
    """libc's `renameat2` (or the raw syscall) through ctypes; None where there is none."""
    if not _renameat2_fn:
        fn = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes
                import platform

                libc = ctypes.CDLL(None, use_errno=True)
                if hasattr(libc, "renameat2"):
                    raw = libc.renameat2
                    raw.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                    ctypes.c_char_p, ctypes.c_uint]

                    def fn(src, dst, flags, raw=raw):
                        return raw(AT_FDCWD, src, AT_FDCWD, dst, flags)
                elif platform.machine() in _SYS_RENAMEAT2:
                    number, syscall = _SYS_RENAMEAT2[platform.machine()], libc.syscall

                    def fn(src, dst, flags, syscall=syscall, number=number):
                        return syscall(ctypes.c_long(number), ctypes.c_int(AT_FDCWD),
                                       ctypes.c_char_p(src), ctypes.c_int(AT_FDCWD),
                                       ctypes.c_char_p(dst), ctypes.c_uint(flags))
            except (OSError, AttributeError):
                fn = None
        _renameat2_fn.append(fn)
    return _renameat2_fn[0]


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """`renameat2(src, dst, flags)`: True when done, False where the system or the
    filesystem does not support it; OSError for any other failure."""
    import ctypes
    import errno

    fn = _renameat2()
    if fn is None:
        return False
    if fn(os.fsencode(src), os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders `a` and `b` in one atomic step (Linux `RENAME_EXCHANGE`); False
    where unsupported (the caller falls back to two renames)."""
    return _rename2(a, b, RENAME_EXCHANGE)


def _rename_new(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, which must not exist (FileExistsError if it does)."""
    import errno

    try:
        if _rename2(src, dst, RENAME_NOREPLACE):
            return
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(errno.EEXIST, "exists", str(dst)) from None
        raise
    if os.path.lexists(dst):  # without renameat2: an empty folder would be replaced silently
        raise FileExistsError(errno.EEXIST, "exists", str(dst))
    os.rename(src, dst)


def exchange_supported(parent: Path) -> bool:
    """Whether `RENAME_EXCHANGE` works in folder `parent` (tried on two scratch folders)."""
    a = Path(parent) / f".moxco-exchange-a-{os.getpid()}"
    b = Path(parent) / f".moxco-exchange-b-{os.getpid()}"
    try:
        a.mkdir()
        b.mkdir()
        return _exchange(a, b)
    except OSError:
        return False
    finally:
        for p in (a, b):
            shutil.rmtree(p, ignore_errors=True)


def _lock(folder: Path):
    """An exclusive `flock` on `folder` held through the returned descriptor (None where
    locks are unavailable): a live moxco process's hidden folders are never recovered."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd) -> None:
    if fd is not None:
        os.close(fd)


# --------------------------------------------------------- hidden folders of dead processes

HIDDEN = re.compile(r"^\.(?P<name>.+)\.(?P<kind>incomplete|replaced)-(?P<pid>\d+)$")
HIDDEN_FILE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")
OWN_FILES = (REPORT,)  # the files moxco writes (atomically) outside its own folders


def _owner_file(pid: int) -> bytes:
    return json_bytes({"written_by": "moxco", "pid": pid})


def _written_by(path: Path, pid: int) -> bool:
    """Whether the hidden folder `path` is one moxco process `pid` began (its OWNER file)."""
    doc = _read_json(path / OWNER, limit=4096)
    return isinstance(doc, dict) and doc.get("written_by") == "moxco" and doc.get("pid") == pid


def _moxco_process(pid: int) -> bool:
    """Whether `pid` is alive and (as far as can be told) a moxco process: dead, a zombie
    or another program (a reused pid) is not; a live process we cannot inspect is."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # alive, and no way to tell what it is: leave its folders alone
    return b"moxco" in cmdline.lower()


def _in_use(path: Path, pid: int) -> bool:
    """A hidden folder is in use if a process holds its lock, or its pid is a live moxco
    process (versions before the lock)."""
    fd = _lock(path) if path.is_dir() else None
    if fd is None and path.is_dir():
        try:
            import fcntl  # noqa: F401
        except ImportError:
            return _moxco_process(pid)
        return True  # locked by someone (or unreadable): leave it
    _unlock(fd)
    return _moxco_process(pid)


def recover_hidden(parent: Path, say=None) -> list[str]:
    """Finish or undo what dead moxco processes left hidden in `parent`, one line each:

    - `.X.incomplete-PID`: unfinished results (the folder holds moxco's `OWNER` file naming
      PID) are removed; a complete one (its manifest matches) with nothing at X is
      published as X (its process died just before);
    - `.X.replaced-PID` (the earlier X, hidden during a two-rename replacement; only an
      empty folder or a moxco result is ever replaced): put back as X if nothing is at X,
      removed if X is now a complete moxco result, otherwise kept;
    - `.REPRODUCTION.md.tmp-PID` (the one file moxco writes straight into a user's folder,
      cut short) is removed.

    Only what moxco wrote is touched: a folder or file whose name merely looks like these
    (a user's `.backup.incomplete-4000`, `.paper.tex.tmp-4001`) is left as it is, and so are
    the folders of live moxco processes (locked, or a live pid running moxco)."""
    say = say or (lambda line: print(line, file=sys.stderr))
    parent = Path(parent)
    lines: list[str] = []
    try:  # a replaced folder first: put back before its replacement's leftovers are judged
        entries = sorted(os.scandir(parent), key=lambda e: (".replaced-" not in e.name, e.name))
    except OSError:
        return lines
    for entry in entries:
        hidden, loose = HIDDEN.match(entry.name), HIDDEN_FILE.match(entry.name)
        path = Path(entry.path)
        try:
            if hidden and entry.is_dir(follow_symlinks=False):
                line = _recover_folder(path, parent / hidden["name"], hidden["kind"],
                                       int(hidden["pid"]))
            elif loose and loose["name"] in OWN_FILES and entry.is_file(follow_symlinks=False):
                line = None
                if not _moxco_process(int(loose["pid"])):
                    path.unlink()
                    line = (f"moxco: removed {path} (a file write cut short by process "
                            f"{loose['pid']}, which has ended)")
            else:
                continue
        except OSError as exc:
            line = f"moxco: could not recover {path} ({exc.strerror or exc}); left as it is"
        if line:
            lines.append(line)
            say(line)
    return lines


def _recover_folder(path: Path, target: Path, kind: str, pid: int) -> str | None:
    if _in_use(path, pid):
        return None
    ended = f"process {pid}, which has ended"
    complete = os.path.lexists(path / MANIFEST) and is_results_folder(path)
    if kind == "incomplete":
        if complete and not os.path.lexists(target):
            (path / OWNER).unlink(missing_ok=True)
            _rename_new(path, target)
            return f"moxco: published {target} (complete results that {ended} left in {path.name})"
        if not (complete or _written_by(path, pid)):
            return None  # not moxco's: a name alike, never touched
        shutil.rmtree(path)
        return f"moxco: removed {path} (unfinished results of {ended})"
    if not (complete or is_results_folder(path) or not any(path.iterdir())):
        return None  # not a folder moxco replaces: not moxco's
    if not os.path.lexists(target):
        _rename_new(path, target)
        return (f"moxco: restored {target} from {path.name} (its replacement by {ended} "
                "was cut short)")
    if target.is_dir() and not target.is_symlink() and is_results_folder(target):
        shutil.rmtree(path)
        return (f"moxco: removed {path} (the earlier {target.name}, which {ended} replaced "
                f"by the complete {target})")
    return (f"moxco: kept {path} (the earlier {target.name}, hidden by {ended}): {target} "
            "is not a complete moxco result; move one of them by hand")


# ------------------------------------------------- `moxco reproduce`: figures/ + report


class PendingReport:
    """REPRODUCTION.md beside a reproduce figures folder, replaced together with it.

    Written first to `.REPRODUCTION.md.tmp-PID` (`new`), recorded in the new figures
    folder's manifest (`prepare`), renamed into place after the figures are published
    (`publish`); discarded on any error. The earlier report is replaced only if the earlier
    figures folder's manifest names it (or, written before manifests, it is moxco's report
    beside moxco's figures)."""

    def __init__(self, path: Path, figures: Path, option: str = "--out") -> None:
        self.path, self.figures, self.option = Path(path), Path(figures), option
        self.new = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.replaced: str | None = None
        self.check()

    def check(self) -> None:
        """Raise MoxcoError unless the current report (if any) may be replaced."""
        path = self.path
        if not os.path.lexists(path):
            self.replaced = None
            return
        refuse = MoxcoError(f"{self.option}: {path} was not written by moxco reproduce (or "
                            "was changed since); it is never replaced: move it, or choose "
                            "another --out")
        if path.is_symlink() or not path.is_file():
            raise refuse
        found = ownership(self.figures) if self.figures.is_dir() else None
        if found is None or not found.figures:
            raise refuse
        if found.legacy:
            with open(path, "rb") as fh:
                start = fh.read(len(LEGACY_REPORT_START.encode()))
            if start != LEGACY_REPORT_START.encode():
                raise refuse
            self.replaced = file_entry(path)["sha256"]
            return
        digest = file_entry(path)["sha256"]
        if digest not in found.report_sha256:
            raise refuse
        self.replaced = digest

    def prepare(self, figures: ResultsFolder) -> None:
        """Check the current report again and record the new one in `figures`' manifest (the
        earlier report's hash too: a crash between the two renames leaves a pair that the
        next run still recognises)."""
        self.check()
        entry = file_entry(self.new)
        record = {"name": self.path.name, "size": entry["size"], "sha256": entry["sha256"]}
        if self.replaced is not None and self.replaced != entry["sha256"]:
            record["replaced_sha256"] = self.replaced
        figures.manifest_extra = {"report": record}

    def publish(self) -> None:
        try:
            os.replace(self.new, self.path)
        except OSError as exc:
            raise MoxcoError(f"{self.option}: cannot write {self.path} "
                             f"({exc.strerror or exc})") from None

    def __enter__(self) -> PendingReport:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        Path(self.new).unlink(missing_ok=True)


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def figures_folder(out: Path, option: str = "--out") -> tuple[ResultsFolder, PendingReport]:
    """`moxco reproduce --out OUT`: the ResultsFolder for OUT/figures and the pending
    OUT/REPRODUCTION.md, both checked now (before anything is computed). OUT itself is never
    replaced (it may hold other things, e.g. results/runs/); it is created if missing, and
    refused if it is the filesystem root or not a folder."""
    out = Path(out)
    where = out.resolve()
    if where == Path(where.anchor):
        raise MoxcoError(f"{option}: {out} is the filesystem root; choose a folder")
    if os.path.lexists(out) and not out.is_dir():
        raise MoxcoError(f"{option}: {out} exists and is not a folder")
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        # as every command says of a parent it cannot write (exit 2); an existing OUT on a
        # read-only file system was "read-only file system while writing OUT", exit 1
        import errno

        why = os.strerror(errno.EROFS) if _read_only(out) else "permission denied"
        raise MoxcoError(f"{option}: cannot write to {out} ({why})")
    figures = ResultsFolder(out / "figures", force=True, make_parents=True, option=option,
                            command="reproduce", figures=True)
    figures.check()
    if out.is_dir():
        recover_hidden(out)  # a report rename cut short, a figures replacement...
    return figures, PendingReport(out / REPORT, figures.path, option)


def write_figures_manifest(figures: Path, report: Path) -> None:
    """The manifest `moxco reproduce` gives its figures folder, for figures written another
    way (`moxco rerun` of a reproduce config): the same bytes for the same files."""
    entry = file_entry(report)
    atomic_write_bytes(Path(figures) / MANIFEST, json_bytes(manifest_document(
        Path(figures), "reproduce", {"report": {"name": Path(report).name, **entry}})))


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
                 option: str = "--out", command: str | None = None,
                 figures: bool = False, unique: bool = False) -> None:
        self.path = Path(path)
        # a default folder (no --out): if another run takes its name meanwhile (two runs in
        # the same second), publish as NAME-2, NAME-3, ... instead of discarding the results
        self.unique = unique and not force
        self._stem = self.path.name
        if self.path.name in ("", ".", ".."):  # `--out ''` or `--out .`: the folder itself
            self.path = self.path.resolve()
        if self.path.name == "":
            raise MoxcoError(f"{option}: {path} is the filesystem root; choose a folder")
        self.force = force
        self.make_parents = make_parents
        self.option = option
        self.command = command  # recorded in the manifest (else config.json's "command")
        self.figures = figures  # `moxco reproduce`'s figures folder (see refuse_to_replace)
        self.manifest_extra: dict = {}  # more manifest keys (reproduce: its report's hash)
        self.tmp = self.path.with_name(f".{self.path.name}{INCOMPLETE}{os.getpid()}")
        self._figures: list[_PendingFigure] = []  # being drawn by the renderer
        self._lock = None
        self._tmp_is_old = False
        self.before_publish: list = []  # functions run once every figure is drawn
        self._failed_figures: list[tuple[str, str]] = []  # (file name, why) not drawn

    def check(self) -> None:
        """Raise MoxcoError if publishing would overwrite or cannot work; writes nothing."""
        try:
            self._check()
        except OSError as exc:  # e.g. a folder of the path named over NAME_MAX, or a loop
            where = str(self.path)
            where = where if len(where) <= 80 else f"{where[:60]}...{where[-17:]}"
            raise MoxcoError(f"{self.option}: {where} cannot be used "
                             f"({exc.strerror or exc})") from None

    def _check(self) -> None:
        # the name's length first: is_symlink() and exists() of a name over NAME_MAX raise
        # OSError (ENAMETOOLONG) before any other check could say what is wrong
        if len(os.fsencode(self.path.name)) + self._room() > 255:  # NAME_MAX, everywhere
            self._name_too_long()
        if self.path.is_symlink():
            raise MoxcoError(f"{self.option}: {self.path} is a symbolic link; name the folder "
                             "itself")
        if self.path.exists() and not self.force:
            raise MoxcoError(f"{self.option}: {self.path} already exists; pass --force to "
                             "replace it, or choose another folder")
        if self.path.exists() and not self.path.is_dir():
            raise MoxcoError(f"{self.option}: {self.path} exists and is not a folder")
        if self.path.exists():
            self._refuse(self.path)
        parent = self.path.parent
        if not parent.exists() and not self.make_parents:
            raise MoxcoError(f"{self.option}: parent folder {parent} does not exist")
        inside = _inside_result(parent)
        if inside is not None:
            raise MoxcoError(f"{self.option}: {self.path} would be inside the moxco result "
                             f"{inside}, which would then no longer be one; choose a folder "
                             "outside it")

    @staticmethod
    def _room() -> int:
        """Characters the hidden names beside `--out` add: '.', '.incomplete-' (the longest
        suffix) and a PID of PID_DIGITS digits (Linux's largest pid_max has 7), so that the
        limit does not depend on which PID a run happens to get."""
        return 1 + len(INCOMPLETE) + PID_DIGITS

    def _name_too_long(self):
        room = self._room()
        raise MoxcoError(f"{self.option}: the name {self.path.name[:40]}... is too long "
                         f"({len(self.path.name)} characters); moxco writes beside it under a "
                         f"name {room} characters longer, so at most {255 - room} fit")

    def _refuse(self, path: Path) -> None:
        refuse_to_replace(path, self.option, self.command, self.figures)

    def recover(self) -> list[str]:
        """Recover what dead moxco processes left hidden beside the target (`recover_hidden`)."""
        return recover_hidden(self.path.parent) if self.path.parent.is_dir() else []

    def __enter__(self) -> ResultsFolder:
        self.check()
        self.recover()
        try:
            if self.make_parents:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir()
        except OSError as exc:
            import errno

            if exc.errno == errno.ENAMETOOLONG:
                self._name_too_long()
            if _storage_error(exc) and exc.errno != errno.EROFS:
                raise storage_fault(exc, self.path) from None
            raise MoxcoError(f"{self.option}: cannot write to {self.path.parent} "
                             f"({exc.strerror or exc})") from None
        try:
            self._lock = _lock(self.tmp)
            # which process writes it: the next run removes it only if it is moxco's
            (self.tmp / OWNER).write_bytes(_owner_file(os.getpid()))
        except BaseException as exc:  # a signal or a full disk right here: no `__exit__`
            _unlock(self._lock)
            self._lock = None
            shutil.rmtree(self.tmp, ignore_errors=True)
            if _storage_error(exc):
                raise storage_fault(exc, self.path) from None
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self._finish_figures()
                    for step in self.before_publish:
                        step()
                except BaseException as failed:
                    self._discard()
                    if _storage_error(failed):
                        raise self._fault(failed) from None
                    raise
                self._publish()
            else:
                self._discard()
                if _storage_error(exc):  # a full disk, a file-size or open-files limit...
                    raise self._fault(exc) from None
        finally:
            _unlock(self._lock)
            self._lock = None
        for name, why in self._failed_figures:
            defer(f"figure {name} could not be drawn ({why}); every other result is in "
                  f"{self.path}")

    def _fault(self, exc: OSError):
        kept = (f"; the earlier {self.path} is untouched" if os.path.lexists(self.path)
                else "; nothing was published")
        fault = storage_fault(exc, self.path)
        return type(fault)(str(fault) + kept)

    def _figure_failed(self, target: Path, exc: Exception) -> None:
        """A figure that cannot be drawn costs only itself: its partial file is removed and
        the rest is published (the failure is the command's last line, exit code 1)."""
        if _storage_error(exc):
            raise exc
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            stale.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        self._failed_figures.append((target.name, why[:200]))

    def _finish_figures(self) -> None:
        """Wait for the renderer's figures; draw here any it did not (raising what it raised)."""
        while self._figures:
            fig = self._figures[0]  # still listed while we wait: `_discard` must see it
            if not fig.ticket.drawn():
                for stale in fig.target.parent.glob(f".{fig.target.name}.tmp-*"):
                    stale.unlink(missing_ok=True)  # a child killed while writing it
                try:
                    draw_png(fig.target, fig.build, fig.args, fig.kwargs)
                except Exception as exc:  # noqa: BLE001 - any failure to draw, see below
                    self._figure_failed(fig.target, exc)
            self._figures.pop(0)

    def _discard(self) -> None:
        if self._figures:  # the renderer may still be writing into `tmp`: end it first
            from moxco_cli import renderer

            renderer.stop()
            self._figures.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_manifest(self) -> None:
        """`MANIFEST` in the temporary folder: every file written so far, with size and hash."""
        command = self.command
        if command is None:
            doc = _read_json(self.tmp / "config.json")
            command = doc.get("command") if isinstance(doc, dict) else None
        atomic_write_bytes(self.tmp / MANIFEST, json_bytes(manifest_document(
            self.tmp, command, self.manifest_extra)))

    def _publish(self) -> None:
        """Rename the temporary folder into place. Replacing (`--force`) swaps the two folders
        in one atomic `renameat2(RENAME_EXCHANGE)` where the system has it; elsewhere the old
        folder is first hidden as `.X.replaced-PID` (a crash there is undone by the next run,
        `recover_hidden`)."""
        try:
            self.write_manifest()
            (self.tmp / OWNER).unlink(missing_ok=True)  # complete now: the manifest says whose
            # Signals held from the rename until it is recorded: a Ctrl-C in between would
            # otherwise be reported as "results discarded" for results just published.
            for attempt in range(2, 2 + (DEFAULT_NAME_TRIES if self.unique else 1)):
                if os.path.lexists(self.path):
                    if not self.unique:
                        break
                    self.path = self.path.with_name(f"{self._stem}-{attempt}")
                    continue
                try:
                    with signals.held():
                        _rename_new(self.tmp, self.path)
                        PUBLISHED.append(self.path)
                    return
                except FileExistsError:
                    if self.unique:  # the default name, taken just now by another run
                        self.path = self.path.with_name(f"{self._stem}-{attempt}")
            if not self.force:  # appeared while we were computing
                raise MoxcoError(f"{self.option}: {self.path} appeared during the run; "
                                 "results discarded, pass --force to replace it")
            self._refuse(self.path)  # it may have changed meanwhile
            with signals.held():  # swap, check the old folder, delete or put it back: whole
                if not self._swap():
                    self._two_renames()
                PUBLISHED.append(self.path)
        except BaseException as exc:
            if self._tmp_is_old:  # the earlier results, swapped out and not back: keep them
                raise MoxcoError(f"{self.option}: {self.path} changed while it was being "
                                 f"replaced and could not be put back; the earlier folder "
                                 f"is {self.tmp}, the new results are at {self.path}") from exc
            shutil.rmtree(self.tmp, ignore_errors=True)
            if _storage_error(exc):
                raise self._fault(exc) from None
            if isinstance(exc, OSError):
                raise MoxcoError(f"{self.option}: cannot publish {self.path} "
                                 f"({exc.strerror or exc}); results discarded") from None
            raise

    def _swap(self) -> bool:
        """Exchange the new folder with the old one, then delete the old one (now at `tmp`)
        after checking again that it may be; False where exchanging is unsupported."""
        try:
            if not _exchange(self.tmp, self.path):
                return False
        except FileNotFoundError:  # the old folder went away meanwhile
            _rename_new(self.tmp, self.path)
            return True
        try:
            self._refuse_contents(self.tmp)
        except MoxcoError:
            self._tmp_is_old = True  # until it is back: never delete `tmp` now
            _exchange(self.tmp, self.path)  # put it back as it was; `tmp` is ours again
            self._tmp_is_old = False
            raise
        shutil.rmtree(self.tmp, ignore_errors=True)
        return True

    def _refuse_contents(self, old: Path) -> None:
        """What `refuse_to_replace` checks of a folder's contents, for the old folder after
        it was swapped to `old` (a file added in the last instant is not deleted)."""
        if any(old.iterdir()):
            found = ownership(old)
            if found.command is None or found.foreign or found.figures != self.figures:
                raise MoxcoError(f"{self.option}: {self.path} changed while it was being "
                                 "replaced; it is kept as it was and the new results are "
                                 "discarded")

    def _two_renames(self) -> None:
        old = self.path.with_name(f".{self.path.name}.replaced-{os.getpid()}")
        lock = _lock(self.path)
        try:
            os.rename(self.path, old)
            try:
                _rename_new(self.tmp, self.path)
            except BaseException:
                os.rename(old, self.path)
                raise
        finally:
            _unlock(lock)
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
            try:
                draw_png(target, build, args, kwargs)
            except Exception as exc:  # noqa: BLE001 - costs this figure only
                self._figure_failed(target, exc)
        else:
            self._figures.append(_PendingFigure(ticket, target, build, args, kwargs))
        return self.path / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        return self._write(name, data)

    def write_rendered(self, name: str, render, /, *args, **kwargs) -> Path:
        """The bytes `render(*args, **kwargs)` (an animation, say), made here; like a figure,
        a failure to make them costs only this file (`write_figure`)."""
        target = self._target(name)
        try:
            data = render(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - costs this file only
            self._figure_failed(target, exc)
            return self.path / name
        atomic_write_bytes(target, data)
        return self.path / name

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
