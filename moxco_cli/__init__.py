"""moxco: explore-then-commit optimizers (MoXCo) on toy landscapes, batched and exact.

Python API (everything the CLI runs)::

    import numpy as np
    from moxco_cli import landscapes, simulate, build_method, OptimizerSettings

    beale = landscapes.get("beale")
    method = build_method("gd+moxco", OptimizerSettings())      # Figure 1 settings
    traj = simulate(beale, method, np.array([[-2.5, 1.2]]), steps=800, record=True)
    traj.final, traj.commit_step, traj.records.goodness[:, 0]

Building blocks: `optim.gd/adam` (pure init/update; `optimizers` is an alias of `optim`),
`inertia.inertia` (the wrapper), `goodness.goodness` and `goodness.CommitRule`,
`prox.make_prox`, `engine.Method`. The goodness function itself is also exported as
`goodness_score`: the name `goodness` is the submodule `moxco_cli.goodness`, whichever way
it is reached. Attributes are imported on first use, so `import moxco_cli` (and
`moxco --help`) stays light.
"""

from importlib import import_module

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself). A name that is also a submodule
# of moxco_cli must map to that submodule: importing the submodule sets the package attribute
# to the module, so anything else would make `moxco_cli.<name>` depend on import order.
_LAZY = {
    "landscapes": ("landscapes", None),
    "engine": ("moxco_cli.engine", None),
    "goodness": ("moxco_cli.goodness", None),
    "inertia": ("moxco_cli.inertia", None),
    "optim": ("moxco_cli.optim", None),
    "optimizers": ("moxco_cli.optim", None),  # alias of `optim` (no module of this name)
    "prox": ("moxco_cli.prox", None),
    "simulate": ("moxco_cli.engine", "simulate"),
    "Method": ("moxco_cli.engine", "Method"),
    "Records": ("moxco_cli.engine", "Records"),
    "Trajectory": ("moxco_cli.engine", "Trajectory"),
    "CommitRule": ("moxco_cli.goodness", "CommitRule"),
    "goodness_score": ("moxco_cli.goodness", "goodness"),
    "inv_eta_eff": ("moxco_cli.goodness", "inv_eta_eff"),
    "METHOD_NAMES": ("moxco_cli.settings", "METHOD_NAMES"),
    "OptimizerSettings": ("moxco_cli.settings", "OptimizerSettings"),
    "SettingsError": ("moxco_cli.settings", "SettingsError"),
    "build_method": ("moxco_cli.settings", "build_method"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'moxco_cli' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = import_module(module) if attr is None else getattr(import_module(module), attr)
    globals()[name] = value
    return value
