"""A terminal that cannot show moxco's characters (issue 20): ASCII stand-ins, no crash."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_escape_count_table_degrades_to_ascii(tmp_path, encoding):
    env = dict(os.environ, PYTHONIOENCODING=encoding, MPLBACKEND="Agg", MOXCO_RENDERER="0")
    proc = subprocess.run([sys.executable, "-m", "moxco_cli", "escape-count", "--inits", "5",
                           "--steps", "20", "--out", str(tmp_path / "out")], env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("ascii")  # nothing but ASCII
    assert "sharp->flat" in out and "escaped A->B" in out and "Traceback" not in out
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert len({len(line) for line in lines}) == 1  # the table's columns stay aligned
    error = subprocess.run([sys.executable, "-m", "moxco_cli", "run", "beale", "--steps", "0"],
                           env=env, capture_output=True, timeout=60)
    assert error.returncode == 2 and error.stderr.decode("ascii").startswith("Error: --steps")
