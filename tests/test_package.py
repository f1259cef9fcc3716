"""`moxco_cli/__init__.py`: the lazy package attributes are the same objects in any import order."""

import importlib.util
import subprocess
import sys

import pytest

import moxco_cli

_PROBE = """
import importlib, sys
import moxco_cli
for name in {first!r}:
    importlib.import_module(name)
from moxco_cli import goodness
import moxco_cli.goodness as module
from moxco_cli.goodness import goodness as function
print(goodness is module, moxco_cli.goodness is module, moxco_cli.goodness_score is function,
      callable(function), type(function).__name__)
"""


@pytest.mark.parametrize("first", [[], ["moxco_cli.goodness"], ["moxco_cli.engine"]],
                         ids=["attribute-first", "submodule-first", "engine-first"])
def test_goodness_is_the_submodule_in_either_import_order(first):
    out = subprocess.run([sys.executable, "-c", _PROBE.format(first=first)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True", "True", "function"]


def test_every_lazy_name_that_is_a_submodule_resolves_to_that_submodule():
    for name, (module, attr) in moxco_cli._LAZY.items():
        if importlib.util.find_spec(f"moxco_cli.{name}") is not None:
            assert (module, attr) == (f"moxco_cli.{name}", None), name


def test_optimizers_is_an_alias_of_optim_and_unknown_names_raise():
    assert importlib.util.find_spec("moxco_cli.optimizers") is None  # no such module
    assert moxco_cli.optimizers is moxco_cli.optim is importlib.import_module("moxco_cli.optim")
    assert moxco_cli.goodness_score is importlib.import_module("moxco_cli.goodness").goodness
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        moxco_cli.nope  # noqa: B018
    assert set(moxco_cli.__all__) == set(moxco_cli._LAZY)
