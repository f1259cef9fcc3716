"""moxco: explore-then-commit optimizers (MoXCo) on toy landscapes, batched and exact.

Python API (everything the CLI runs)::

    import numpy as np
    from moxco_cli import landscapes, simulate, build_method, OptimizerSettings

    beale = landscapes.get("beale")
    method = build_method("gd+moxco", OptimizerSettings())      # Figure 1 settings
    traj = simulate(beale, method, np.array([[-2.5, 1.2]]), steps=800, record=True)
    traj.final, traj.commit_step, traj.records.goodness[:, 0]

Building blocks: `optimizers.gd/adam` (pure init/update), `inertia.inertia` (the wrapper),
`goodness.goodness` and `goodness.CommitRule`, `prox.make_prox`, `engine.Method`.
"""

import landscapes
from moxco_cli import optim as optimizers
from moxco_cli.engine import Method, Records, Trajectory, simulate
from moxco_cli.goodness import CommitRule, goodness, inv_eta_eff
from moxco_cli.settings import METHOD_NAMES, OptimizerSettings, SettingsError, build_method

__version__ = "0.1.0"

__all__ = [
    "METHOD_NAMES", "CommitRule", "Method", "OptimizerSettings", "Records", "SettingsError",
    "Trajectory", "build_method", "goodness", "inv_eta_eff", "landscapes", "optimizers",
    "simulate",
]
