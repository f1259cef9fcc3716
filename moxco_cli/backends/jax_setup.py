"""Importing JAX for the compiled backend: float64, every core, a persistent compile cache.

    jax, jnp = load()

Only the backend imports this module, and only when `--backend jax` runs: the default install
never imports JAX (and need not have it). `load` raises `BackendError` (one line) when the
`jax` extra is missing.

- float64 everywhere (`jax_enable_x64`): the engine's numbers are float64.
- Every usable core: XLA's CPU client runs one computation on one thread, so the batch is
  split over `min(cores, 8)` host devices (`--xla_force_host_platform_device_count`, set
  before JAX starts; a caller that already imported JAX or set the flag keeps its own
  devices). Programs that call the eigensolver run on one of them (`jax_engine`).
- Compiled programs are kept on disk by JAX's persistent compilation cache, keyed by the
  program (so by method structure, landscape and shapes): `MOXCO_JAX_CACHE` or
  `~/.cache/moxco/jax`; `MOXCO_JAX_CACHE=off` disables it.
- On a CPU with AVX-512, programs are compiled for 512-bit vectors (`compiler_options`).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from moxco_cli.errors import MoxcoError

MAX_HOST_DEVICES = 8


class BackendError(MoxcoError, ValueError):
    """The backend cannot run this (not installed, or a piece it cannot lower): one line."""


def cache_dir() -> Path | None:
    """Where compiled programs are kept, or None when caching is off."""
    value = os.environ.get("MOXCO_JAX_CACHE")
    if value is not None and value.strip().lower() in ("", "0", "off", "none"):
        return None
    return Path(value) if value else Path.home() / ".cache" / "moxco" / "jax"


def usable_cache_dir() -> Path | None:
    """`cache_dir()` if it is a folder that exists or can be made, else None after one line
    on stderr saying why (a file, or a path that cannot be created: JAX then warned of an
    unreadable *entry* at every program, and the advice to remove "the folder" was wrong)."""
    folder = cache_dir()
    if folder is None:
        return None
    why = None
    if folder.exists() and not folder.is_dir():
        why = "it is a file, not a folder"
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                why = "it is not a folder moxco can write to"
        except OSError as exc:
            why = exc.strerror or str(exc)
    if why is not None:
        print(f"Warning: MOXCO_JAX_CACHE={folder} cannot hold compiled programs ({why}); "
              "compiling without a disk cache", file=sys.stderr)
        return None
    return folder


def _host_devices() -> int:
    from moxco_cli.workers import usable_cores

    return max(1, min(MAX_HOST_DEVICES, usable_cores()))


_LOADED: tuple | None = None


def load():
    """`(jax, jax.numpy)`, configured (module docstring); BackendError without the extra."""
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            flags = f"{flags} --xla_force_host_platform_device_count={_host_devices()}"
            os.environ["XLA_FLAGS"] = flags.strip()
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise BackendError("--backend jax needs JAX: pip install 'moxco[jax]'") from None
    jax.config.update("jax_enable_x64", True)
    folder = usable_cache_dir()
    if folder is not None:
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    # JAX warns at every os.fork once its threads run. moxco forks only processes that never
    # call JAX (the figure renderer, NumPy engine workers), so the warning says nothing here.
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
    _LOADED = (jax, jnp)
    return _LOADED


VECTOR_WIDTH_OPTION = "xla_cpu_prefer_vector_width"
_OPTIONS: dict | None = None


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return " avx512f" in line
    except OSError:
        pass
    return False


def on_cpu() -> bool:
    """Whether JAX's default devices are the host's CPU (else an accelerator)."""
    jax, _ = load()
    return jax.devices()[0].platform == "cpu"


def compiler_options() -> dict:
    """XLA compile options for this machine's programs: `{xla_cpu_prefer_vector_width: 512}`
    on a CPU with AVX-512, else none. XLA's CPU compiler prefers 256-bit vectors by default
    (some Intel cores lower their clock on 512-bit code); on this project's AMD cores the
    backend's Beale step ran 1.25x to 1.4x faster with 512 (measured, alternating), with
    the same final points bit for bit (Beale, with and without noise; a vectorized
    reduction over coordinates, d > 16, or over a network's units may round otherwise).
    `MOXCO_JAX_VECTOR_WIDTH` sets the width (128, 256, 512; 0: XLA's default). A jaxlib that does
    not know the option makes `jit` drop it (`forget_options`), never fail."""
    global _OPTIONS
    if _OPTIONS is None:
        jax, _ = load()
        value = os.environ.get("MOXCO_JAX_VECTOR_WIDTH", "").strip()
        if value:
            width = env_count("MOXCO_JAX_VECTOR_WIDTH", choices=(0, 128, 256, 512))
        else:
            width = 512 if on_cpu() and _has_avx512() else 0
        _OPTIONS = {VECTOR_WIDTH_OPTION: width} if width else {}
    return dict(_OPTIONS)


def env_count(name: str, choices=None) -> int:
    """The environment variable `name` as a whole number >= 0 (one of `choices` when given);
    BackendError naming it otherwise (`MOXCO_JAX_VECTOR_WIDTH=1e21` reached XLA, which
    failed with a traceback; `MOXCO_JAX_DEVICES=abc` failed in int())."""
    text = os.environ.get(name, "").strip()
    if not text:
        return 0
    # isascii: str.isdigit accepts digits int() refuses ("²")
    if not (text.isascii() and text.isdigit()) or (choices is not None
                                                   and int(text) not in choices):
        allowed = ("one of " + ", ".join(map(str, choices)) if choices is not None
                   else "a whole number >= 0 (0: every device)")
        raise BackendError(f"{name}={text!r}: expects {allowed}")
    return int(text)


def forget_options() -> None:
    """Compile without the options from now on (a jaxlib that does not know them)."""
    global _OPTIONS
    _OPTIONS = {}


def jit(fn):
    """`jax.jit(fn)` with `compiler_options()`, retried without them when this jaxlib
    refuses one ("No such compile option")."""
    jax, _ = load()
    options = compiler_options()
    compiled = jax.jit(fn, compiler_options=options) if options else jax.jit(fn)

    def call(*args):
        nonlocal compiled, options
        try:
            return _cache_warnings_said(compiled, args)
        except Exception as exc:  # noqa: BLE001 - jaxlib's error types vary by version
            if not options or "compile option" not in str(exc):
                raise
            forget_options()
            options, compiled = {}, jax.jit(fn)  # once: a second refusal is raised
            return _cache_warnings_said(compiled, args)
    return call


CACHE_READ_ERROR = "Error reading persistent compilation cache entry"
_CACHE_ERROR_SAID: list[bool] = []
_WARNED: dict = {}  # warnings passed on: shown once per place, as the filters would


def _cache_warnings_said(compiled, args):
    """`compiled(*args)`, with JAX's warning about a cache entry it could not read (a
    truncated or overwritten file: JAX compiles the program again, and leaves the file as
    it is) said once per process in one line naming the folder, instead of a UserWarning
    and its source line per program. Other warnings pass through unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = compiled(*args)
    for w in caught:
        text = str(w.message)
        if CACHE_READ_ERROR not in text:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                                   registry=_WARNED, source=w.source)
        elif not _CACHE_ERROR_SAID:
            _CACHE_ERROR_SAID.append(True)
            cause = text.rsplit(": ", 1)[-1]
            print(f"Warning: the compiled-program cache {cache_dir()} holds an entry that "
                  f"cannot be read ({cause}); its program was compiled again, as it will be "
                  "each time until the folder is removed (or MOXCO_JAX_CACHE=off)",
                  file=sys.stderr)
    return out


def versions() -> dict:
    """`{"jax": ..., "jaxlib": ...}` of the loaded JAX, and its devices (for config.json)."""
    jax, _ = load()
    import jaxlib

    devices = jax.devices()
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "devices": f"{len(devices)} x {devices[0].platform}",
            "compiler_options": compiler_options()}
