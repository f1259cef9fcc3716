"""Matplotlib's config folder where the user's own cannot be written.

With HOME read-only (or a file), importing matplotlib logged two lines on every command
("mkdir -p failed for path ..." and "Matplotlib created a temporary cache directory ...")
and the figures were the same. `use_writable_config()`, called before matplotlib is first
imported, points `MPLCONFIGDIR` in that case only at one folder per user in the temporary
directory (`moxco-matplotlib-<uid>`, made once and kept: a fresh folder per command would
pile up, as the process ends without running exit handlers), which matplotlib then uses
without a word and keeps its font cache in. A user's own MPLCONFIGDIR is never changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _default_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "matplotlib"


def _writable(folder: Path) -> bool:
    """Whether `folder` exists as a writable folder or can be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def use_writable_config() -> None:
    if "matplotlib" in sys.modules or os.environ.get("MPLCONFIGDIR"):
        return
    try:
        if _writable(_default_config_dir()):
            return
    except RuntimeError:  # no home directory at all
        pass
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"moxco-matplotlib-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        mine = folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == \
            os.getuid() and os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        mine = False
    os.environ["MPLCONFIGDIR"] = str(folder) if mine else tempfile.mkdtemp(prefix="matplotlib-")
