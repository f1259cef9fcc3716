"""Inner optimizers, by name: `REGISTRY["adam"].factory(lr=0.005)`.

Each lives in its own module, which declares its hyperparameters and exports `SPEC` (an
`InnerSpec`). Adding one = a new module here plus its name in `MODULES`; the CLI, spec parsing,
validation, config.json and rerun pick it up from the registry.
"""

from importlib import import_module

from moxco_cli.optim.adam import AdamState, adam
from moxco_cli.optim.base import LR, InnerSpec, Optimizer
from moxco_cli.optim.gd import GDState, gd

MODULES = ("gd", "adam", "rmsprop")  # registry order = order in --help

REGISTRY: dict[str, InnerSpec] = {
    spec.name: spec for spec in (import_module(f"moxco_cli.optim.{m}").SPEC for m in MODULES)
}

__all__ = ["LR", "MODULES", "REGISTRY", "AdamState", "GDState", "InnerSpec", "Optimizer",
           "adam", "gd"]
