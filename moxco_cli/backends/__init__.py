"""Engines that run a method on a landscape: `numpy` (moxco_cli.engine, the definition) and
`jax` (moxco_cli.backends.jax_engine: the method spec and landscape lowered to JAX, compiled).

    traj = simulate(landscape, method, x0, steps, backend="jax", seed=0)

`simulate` takes `moxco_cli.engine.simulate`'s arguments and returns its `Trajectory` on
either backend. This module imports nothing heavy: the default install never imports JAX
(it is the optional extra `moxco[jax]`), and `moxco --help` stays fast.
"""

from __future__ import annotations

NAMES = ("numpy", "jax")
DEFAULT = "numpy"
# The commands whose engine calls go through `simulate` here (function names of the commands)
COMMANDS = ("run", "escape_count", "outcome_map")
RUNS = ", ".join(c.replace("_", "-") for c in COMMANDS)  # as the CLI names them
HELP = ("Engine: numpy (default) or jax (the method and landscape compiled with JAX, "
        "float64, cached on disk; pip install 'moxco\\[jax]'). Results agree to rounding "
        "on non-chaotic runs, not bit for bit.")


def simulate(landscape, method, x0, steps: int, *, backend: str = DEFAULT, **kwargs):
    """`moxco_cli.engine.simulate(landscape, method, x0, steps, **kwargs)` on `backend`."""
    if backend == "numpy":
        from moxco_cli.engine import simulate as run
    elif backend == "jax":
        from moxco_cli.backends.jax_engine import simulate as run
    else:
        raise ValueError(f"backend must be one of {', '.join(NAMES)}, got {backend!r}")
    return run(landscape, method, x0, steps, **kwargs)


def check(backend: str, landscape, methods) -> None:
    """Refuse, before computing, what `backend` cannot run: `BackendError` (one line) naming
    the piece that is not lowered, or the missing extra."""
    if backend == "numpy":
        return
    from moxco_cli.backends.jax_engine import supported

    for method in methods:
        reason = supported(landscape, method)
        if reason is not None:
            from moxco_cli.backends.jax_setup import BackendError

            raise BackendError(reason)


def describe(backend: str) -> dict:
    """What config.json records about the backend: its name (and JAX's versions, devices)."""
    if backend == "numpy":
        return {"name": "numpy"}
    from moxco_cli.backends.jax_pieces import eigensolver
    from moxco_cli.backends.jax_setup import cache_dir, versions

    folder = cache_dir()
    solver = eigensolver()  # None unless a run called one (exact lam_max beyond d = 2)
    return {"name": backend, **versions(), "float": "float64",
            "compile_cache": "on" if folder is not None else "off",
            **({"eigensolver": solver} if solver is not None else {})}


def caption(backend: str) -> str:
    """The words a figure's title adds for `backend` (none for the default engine)."""
    return "" if backend == DEFAULT else f" [backend: {backend}]"


def check_methods(settings, landscape, names) -> None:
    """`check` for the methods `names` (specs, unset keys from `settings`) on `settings.backend`;
    called by a command's config validation, before anything is computed or written."""
    if settings.backend == DEFAULT:
        return
    from moxco_cli.settings import build_method

    check(settings.backend, landscape, [build_method(name, settings) for name in names])


def config_entry(backend: str) -> dict:
    """config.json's `backend_used` for a run off the default engine (versions, devices);
    the option itself (`options.backend`) is recorded for every run."""
    return {} if backend == DEFAULT else {"backend_used": describe(backend)}
