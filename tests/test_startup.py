"""`moxco --help` stays fast: no heavy library is imported before a command needs it."""

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "pandas", "scipy", "sympy", "dask", "numpy")

_PROBE = """
import sys
from moxco_cli.cli import main
sys.argv = ["moxco", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("\\nLOADED:" + ",".join(m for m in {heavy!r} if m in sys.modules), "CODE:", code)
"""


def _loaded(*args):
    out = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
                         capture_output=True, text=True, timeout=60)
    last = out.stdout.strip().splitlines()[-1]
    loaded, code = last.removeprefix("LOADED:").split(" CODE: ")
    return [m for m in loaded.split(",") if m], int(code), out.stdout


def test_top_level_help_imports_no_heavy_library_nor_numpy():
    loaded, code, text = _loaded("--help")
    assert code == 0 and "escape-count" in text
    assert loaded == []


@pytest.mark.parametrize("command", ["run", "escape-count", "outcome-map", "eos-check", "sweep",
                                     "reproduce", "rerun"])
def test_command_help_imports_no_heavy_library(command):
    loaded, code, text = _loaded(command, "--help")
    assert code == 0 and "Usage" in text
    assert loaded == [], f"`moxco {command} --help` imported {loaded}"


def test_probe_sees_a_heavy_import_when_a_command_runs(tmp_path):
    loaded, code, _ = _loaded("run", "beale", "--steps", "5", "--out", str(tmp_path / "r"))
    assert code == 0 and {"numpy", "matplotlib", "pandas"} <= set(loaded)
