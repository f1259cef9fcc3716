"""Inner optimizers, by name: `REGISTRY["adam"](lr=0.005)`."""

from moxco_cli.optim.adam import AdamState, adam
from moxco_cli.optim.base import Optimizer
from moxco_cli.optim.gd import GDState, gd

REGISTRY = {"gd": gd, "adam": adam}

__all__ = ["REGISTRY", "AdamState", "GDState", "Optimizer", "adam", "gd"]
