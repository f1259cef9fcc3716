"""Memory a command will need, estimated from its options before anything is computed.

`check(command, cfg)` estimates the peak resident memory of `moxco COMMAND` from its
validated config (`estimate`) and refuses, in one line naming the option that drives the
estimate, when that is more than this process can get (`available_bytes`): the address-space
limit (`ulimit -v`) less what the process already maps, the data-segment limit, a cgroup's
memory limit, and the memory the kernel reports available, or instead of that last one
`MOXCO_MEMORY_LIMIT` (bytes, or with a K/M/G suffix) if set. A refused command has
computed and written nothing.

The estimates are sums of the arrays each command holds at its peak, in bytes, with
coefficients measured by peak RSS (`/usr/bin/time -v`, see tests/test_memory.py and the
numbers in docs/method.md, "Memory"); they are deliberately on the high side. Units: bytes.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from moxco_cli.errors import MoxcoError

GIB = 2**30
MIB = 2**20
BASE = 300 * MIB  # interpreter, numpy, pandas, scipy, matplotlib (measured: 120-170 MiB)
FLOAT = 8
# run: the figures of per-step traces (drawn by the renderer process from pickled copies of
# the paths, per coordinate), and bytes per recorded (step, method) row: a constant and one
# per coordinate
# (the engine's records, d + 7 floats, the trajectory table, d + 12 columns, and the copies
# made on the way). Measured peak RSS: beale (d = 2) 377 / 642 MiB at 1e5 / 3e5 steps x 4
# methods (~340 bytes a row); rastrigin d = 50: 646 / 1697 / 2411 MiB at 1e4 / 1e5 / 1.5e5
# steps (~3.6 KiB a row, and ~450 MiB more than 800 steps took); d = 10: 598 MiB at 1e5.
RUN_FIGURES_PER_DIM = 8 * MIB
RUN_ROW = 200
RUN_ROW_PER_DIM = 72
# starts held by the batch commands: per trajectory and method, beyond the chunk arrays.
PER_START = 600
PER_START_PER_DIM = 48
COMPARE_ROW = 120  # bytes per (evaluation start, method, landscape, target) row
CHUNK_ROWS = 16384  # the engine's largest chunk (engine.THREAD_CHUNK); two of them when the
# work is split over two threads or forked workers


class MemoryRefused(MoxcoError):
    """A command whose estimated memory is more than the process can get."""


@dataclass(frozen=True)
class Estimate:
    """`bytes` at the peak, the `option` that drives it and what it counts (`what`)."""

    bytes: int
    option: str
    what: str


def format_bytes(n: float) -> str:
    """`1.5 GiB`, `300 MiB`."""
    if n >= GIB:
        return f"{n / GIB:.1f} GiB"
    return f"{n / MIB:.0f} MiB"


def _chunk_bytes(rows: int, dim: int) -> int:
    """The engine's working arrays for the chunks in flight over `rows` trajectories: state
    and scores `(rows, d)` plus, for d > 2, the Hessian `(rows, d, d)` the exact curvature
    builds and the eigensolver's copy of it (a separable landscape builds neither: this
    errs on the high side)."""
    per_row = 24 * dim * FLOAT + (2 * dim * dim * FLOAT if dim > 2 else 0)
    in_flight = min(rows, CHUNK_ROWS) * (2 if rows > CHUNK_ROWS else 1)
    return in_flight * per_row


def _starts_bytes(n: int, dim: int, methods: int) -> int:
    return n * methods * (PER_START + PER_START_PER_DIM * dim)


def _dim(cfg) -> int:
    from moxco_cli.experiments.run import build_landscape

    return build_landscape(cfg.landscape, cfg.landscape_params).dim


def _estimate_run(cfg) -> Estimate:
    d, methods = _dim(cfg), len(cfg.methods)
    rows = (cfg.steps + 1) * methods
    need = BASE + RUN_FIGURES_PER_DIM * d + rows * (RUN_ROW + RUN_ROW_PER_DIM * d)
    return Estimate(need, "--steps", f"{cfg.steps:,} steps x {methods} methods of per-step "
                    f"records in {d}-D")


def _estimate_escape(cfg) -> Estimate:
    d, methods = _dim(cfg), len(cfg.methods)
    need = BASE + _starts_bytes(cfg.inits, d, methods + 1) + _chunk_bytes(cfg.inits, d)
    return Estimate(need, "--inits", f"{cfg.inits:,} starts x {methods} methods in {d}-D")


def _estimate_outcome_map(cfg) -> Estimate:
    d, methods = _dim(cfg), len(cfg.methods)
    n = cfg.n_starts()
    need = BASE + _starts_bytes(n, d, methods) + _chunk_bytes(n, d)
    return Estimate(need, "--grid", f"{n:,} starts x {methods} methods in {d}-D")


def _estimate_sweep(cfg) -> Estimate:
    from moxco_cli.experiments.sweep import parse_starts

    kind, n = parse_starts(cfg.starts)
    d = _dim(cfg)
    count = n**d if kind == "grid" else n
    # cells run in batched jobs of at most ROWS_PER_JOB trajectories; the starts are shared
    cells = math.prod(len(axis.values) for axis in cfg.grid)
    need = BASE + _starts_bytes(count, d, 1) + _chunk_bytes(cells * count, d)
    return Estimate(need, "--starts", f"{count:,} starts per cell in {d}-D")


def _estimate_compare(cfg) -> Estimate:
    from moxco_cli.experiments.compare import EVAL_CHUNK, TARGETS
    from moxco_cli.experiments.run import build_landscape

    lands = [build_landscape(name, params) for name, params in cfg.landscapes]
    d = max(land.dim for land in lands)
    steps = max(cfg.budget(land) for land in lands)
    chunk = min(cfg.eval_starts, EVAL_CHUNK)
    # evaluation records (T+1) x chunk x (d + 7) floats, and the (T, chunk) gap arrays
    # derived from them (gap, best so far, levels, masks: six at once)
    records = (steps + 1) * chunk * ((d + 7) * FLOAT + 6 * FLOAT)
    tuning = _starts_bytes(cfg.trials * cfg.tuning_starts, d, 1)
    # the runtime tables (ECDF, ERT, success, the IOH export): a row per evaluation start,
    # method, landscape and target (measured: beale, 20,000 evaluation starts x 4 methods,
    # 200 steps, peaked at 618 MiB)
    tables = cfg.eval_starts * len(cfg.methods) * len(lands) * len(TARGETS) * COMPARE_ROW
    need = (BASE + max(records, tuning) + tables
            + _chunk_bytes(cfg.trials * cfg.tuning_starts, d))
    option = "--eval-starts" if records >= tuning else "--tuning-starts"
    return Estimate(need, option, f"{steps:,} steps x {chunk:,} recorded evaluation starts "
                    f"in {d}-D" if option == "--eval-starts" else
                    f"{cfg.trials} trials x {cfg.tuning_starts:,} tuning starts in {d}-D")


# generalize: bytes per engine row (initialization x rate x threshold x method) beyond the
# chunks, as a multiple of a batch command's start: the runs table with its metrics, the
# forked workers' copies and the bootstrap. Measured (summed PSS of every process):
# two-layer-net:hidden=16 (d = 49) at 10,000 initializations, 180,000 rows: 1.54 GiB, i.e.
# 7.3 KiB a row; the largest process alone 251 / 316 MiB at 1000 / 3000 initializations.
GENERALIZE_ROW_FACTOR = 3


def _estimate_generalize(cfg) -> Estimate:
    from moxco_cli.engine import CHUNK_COORDS, DEFAULT_CHUNK, MIN_CHUNK

    land = cfg.land()
    d = land.dim
    per_method = [sum(count for *_, count in cfg.cells(spec, land)) for spec in cfg.specs()]
    rows = sum(per_method)
    # each of two workers holds one chunk at a time: state, and the exact Hessian with the
    # eigensolver's copy beyond d = 2 (the engine's chunks hold at most CHUNK_COORDS numbers)
    chunk = min(max(per_method), DEFAULT_CHUNK, max(MIN_CHUNK, CHUNK_COORDS // d))
    per_chunk_row = 24 * d * FLOAT + (2 * d * d * FLOAT if d > 2 else 0)
    need = (BASE + GENERALIZE_ROW_FACTOR * _starts_bytes(rows, d, 1)
            + 2 * chunk * per_chunk_row)
    return Estimate(need, "--inits", f"{cfg.inits:,} initializations, {rows:,} runs in all "
                    f"in {d}-D")


def _estimate_eos(cfg) -> Estimate:
    pairs = len(cfg.alphas) * len(cfg.betas)
    # bisection runs every pair's curvatures as rows; the per-eigenpair check a 40-D
    # quadratic per pair
    need = BASE + pairs * 64 * (PER_START + PER_START_PER_DIM * 40)
    return Estimate(need, "--alphas", f"{pairs:,} (alpha, beta) pairs")


ESTIMATORS = {
    "run": _estimate_run,
    "escape-count": _estimate_escape,
    "outcome-map": _estimate_outcome_map,
    "sweep": _estimate_sweep,
    "compare": _estimate_compare,
    "eos-check": _estimate_eos,
    "generalize": _estimate_generalize,
}


def estimate(command: str, cfg) -> Estimate | None:
    """The peak memory `moxco COMMAND` needs for the validated `cfg`; None where the command
    has no size a user sets (reproduce: fixed sizes, measured in docs/method.md)."""
    estimator = ESTIMATORS.get(command)
    return None if estimator is None else estimator(cfg)


def _parse_size(text: str) -> int | None:
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not found:
        return None
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[found.group(2).upper()]
    return int(float(found.group(1)) * scale)


def _status_bytes(field: str) -> int | None:
    """`VmSize`/`VmData` of this process from /proc/self/status, in bytes."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as fh:
            return int(limit) - int(fh.read().strip())
    except (OSError, ValueError):
        return None


def available_bytes() -> tuple[int, str] | None:
    """`(bytes, where the limit comes from)`: the most this process may hold resident at its
    peak, its present size included, under the least of the limits it runs under (see the
    module docstring); None if none can be read. An address-space limit counts what is
    mapped but not resident (thread stacks, libraries) against it."""
    import resource

    rss = _status_bytes("VmRSS") or 0
    found = []
    for name, field, label in (("RLIMIT_AS", "VmSize", "ulimit -v"),
                               ("RLIMIT_DATA", "VmData", "ulimit -d")):
        soft = resource.getrlimit(getattr(resource, name))[0]
        if soft != resource.RLIM_INFINITY:
            mapped = _status_bytes(field) or 0
            found.append((soft - max(mapped - rss, 0), label))
    room = _cgroup_room()
    if room is not None:
        found.append((room + rss, "cgroup memory.max"))
    text = os.environ.get("MOXCO_MEMORY_LIMIT")
    if text:  # the user's word replaces the kernel's estimate of free memory (not the limits)
        size = _parse_size(text)
        if size is None:
            raise MoxcoError(f"MOXCO_MEMORY_LIMIT: expects bytes or a size like 2G, "
                             f"got {text!r}")
        found.append((size, "MOXCO_MEMORY_LIMIT"))
    else:
        free = _meminfo_available()
        if free is not None:
            found.append((free + rss, "available memory"))
    return min(found) if found else None


def check(command: str, cfg) -> Estimate | None:
    """Refuse `cfg` (MemoryRefused, one line naming the option) if its estimate exceeds
    `available_bytes()`; return the estimate otherwise."""
    need = estimate(command, cfg)
    if need is None:
        return None
    room = available_bytes()
    if room is not None and need.bytes > room[0]:
        raise MemoryRefused(
            f"{need.option}: {need.what} would need about {format_bytes(need.bytes)} of "
            f"memory; at most {format_bytes(max(room[0], 0))} can be had ({room[1]}); "
            f"use a smaller {need.option}")
    return need
