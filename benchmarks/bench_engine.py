"""Engine throughput benchmark (issue 6): trajectory-steps per second, one table, one CSV.

    make bench                                   # or: .venv/bin/python benchmarks/bench_engine.py
    .venv/bin/python benchmarks/bench_engine.py --only engine,baseline --repeats 5
    .venv/bin/python benchmarks/bench_engine.py --only d1fe096,sweep   # the two target ratios

Unit: trajectory-steps per second = N starts x T steps / wall seconds, goodness (exact lam_max)
evaluated every step; workload Adam+MoXCo (SPEC defaults: lr 0.005, alpha, beta = 0.95, 0.5,
latch, threshold 0.85, tau 0.15) on Beale, float64, T = 1000, starts uniform on [-4.5, 4.5]^2
from `default_rng(0)`.

Cases (all in one run, each the median of >= 3 repeats):
- `baseline`: a naive per-trajectory loop over NumPy 2-vectors, written below. Its rate does
  not depend on N, so it runs on a small sample of starts; every ratio is against it.
- `generic (the definition)` (`--only generic`): the engine's generic path,
  `simulate(..., path="generic")`, which runs the method's pieces as they are written
  (`inertia.inertia`, `goodness.goodness`, `CommitRule.apply`, the inner optimizer, the prox),
  with the engine's default workers, at each N.
- `engine`: `moxco_cli.engine.simulate` with its defaults at each N: forked worker processes
  on every core from 2 x 2048 starts, else in-process.
- `engine-1core`: the same engine held to one core (`processes=1, threads=1`): how close the
  NumPy code itself runs to the single-core limit.
- `engine-1e6-rss`: N = 1e6 without per-step records, in a fresh process: peak RSS.
- `fused-numba`, `fused-numba-exact` (only if numba is installed; an evaluation of one
  workload, not adopted: see `fused_numba.py` for why): the
  evaluation of a compiled backend (`benchmarks/fused_numba.py`) at N = 1e4 and 1e5, two
  threads, with its largest difference from the engine's results and its speed-up over the
  engine's row at the same N (issue 6 adopts a backend only at >= 3x).
- `backend-jax` (`--only backend`, target 4; only with the `jax` extra): `--backend jax`
  (moxco_cli/backends) against the engine with its defaults, alternating in this process,
  at N = 1e4 and 1e5 (the program compiled by an untimed first call); the first call's cost
  in fresh processes (medians of FIRST_CALLS pairs), with an empty disk cache and with the
  cache that process left, and the ratio at N = 1e5 with that cost included; rastrigin
  d = 50 power:1 (N = 1e4, 20 steps; no target); two-layer-net:hidden=16 (d = 49, GD+MoXCo
  lr 0.05, exact lam_max, N = 1000, 20 steps; no target); and
  `moxco outcome-map beale --grid 301` as whole processes, jax (after one run filling an
  empty cache, reported) against the default, alternating.
- `engine-d1fe096` (`--only d1fe096`, target 1): the engine as of commit d1fe096 (before the
  method specs), loaded at bench time from `git show d1fe096:moxco_cli/engine.py` into a
  temporary module (it imports today's landscapes, optimizers, goodness, prox and workers;
  only engine.py is the old one), at N = 1e4, T as above. It must give the current engine's
  results bit for bit; then the two run alternately, `--ratio-repeats` times each, with the
  default worker processes and held to one process (`processes=1`). The `engine (vs
  engine-d1fe096)` rows give the ratio of the rates (current / old; target >= 0.9). Without
  git or the commit the case is skipped with a note.
- `sweep` (target 2): the 12 x 12 (alpha, beta) phase diagram with 441 starts, i.e.
  `moxco sweep beale --optimizer gd+moxco --grid alpha=0:0.99:12 --grid beta=0:0.95:12
  --starts grid:21` (800 steps, 144 cells + the plain-GD baseline), through `run_sweep` with
  one `LocalExecutor(2)`: batched (the default `ROWS_PER_JOB`) against cell by cell
  (`ROWS_PER_JOB = 1`: one engine call per task), alternating, `--ratio-repeats` each, after
  one untimed batched run (the pool's workers import what the jobs need); the two sweep
  frames must be byte-identical (`moxco_cli.report.csv_bytes`). Target: batched
  >= 3x. The whole CLI command is also timed (`--sweep-cli-repeats` times).
- `cli`: `moxco --help`, `moxco run beale`, `moxco escape-count --inits 50` as whole processes
  (wall time, and the peak RSS of the largest process the command ran: `RUSAGE_CHILDREN`
  reports a maximum, not a sum over the command and its renderer or worker children); a
  command that fails is reported "not available".
  `run` and `escape-count` also run with `MOXCO_RENDERER=0` (figures drawn in the command's
  own process, no renderer child: `moxco_cli/renderer.py`), alternating with the default,
  and the default's row gives the ratio of the two medians.
  `cli: import floor` is `python -c "import ..."` of the libraries escape-count needs (typer,
  rich, numpy, pandas, scipy.stats, matplotlib.pyplot), leaving through `os._exit` as `moxco`
  does: the least any such command can take.

Before timing, the engine (fused path) is checked against its generic path on a sample
(records included, plus noisy, reversible and chunked/threaded/forked runs): every array must
be equal bit for bit.
Rows with a target carry `compared_with` (the row measured alternately with it in the same
run), `ratio` (that row's median time / this row's: > 1 is faster) and `target` in the CSV;
their note adds the median CPU seconds of each side (this process, its children, a pool's
workers) and the CPU-time ratio, which waiting for a core on a loaded host does not inflate.
Peak RSS: the high-water mark of this process during the case (reset through
`/proc/self/clear_refs` before each case; where that is unavailable, the process-wide peak),
plus, where the engine forks, workers x the largest worker's peak (pages a worker shares with
this process are counted twice: an upper bound).
The machine is shared: the 1-minute load average is printed with each case.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import landscapes  # noqa: E402
from moxco_cli.engine import _default_processes, simulate  # noqa: E402
from moxco_cli.goodness import CommitRule  # noqa: E402
from moxco_cli.optim import adam  # noqa: E402
from moxco_cli.prox import identity  # noqa: E402
from moxco_cli.renderer import DISABLE_ENV  # noqa: E402
from moxco_cli.settings import ALL_METHOD_NAMES, OptimizerSettings, build_method  # noqa: E402

STEPS = 1000
SIZES = (1, 50, 1_000, 10_000, 100_000)
METHOD = "adam+moxco"
GENERIC = "generic (the definition)"
OLD_COMMIT = "d1fe096"  # the engine before method specs / per-row values / the generic path
OLD_N = 10_000
OLD_TARGET = 0.9  # the current engine's rate / the old one's, at least
SWEEP_ARGS = ["sweep", "beale", "--optimizer", "gd+moxco", "--grid", "alpha=0:0.99:12",
              "--grid", "beta=0:0.95:12", "--starts", "grid:21"]
SWEEP_TARGET = 3.0  # batched / cell-by-cell speed, at least
CURV_TARGET = 10.0  # power:1 / exact (eigvalsh) speed on rastrigin d = 50, at least
CURV_N, CURV_D, CURV_STEPS = 10_000, 50, 20
COMPARE_ARGS = ["compare", "beale", "--methods", "gd,adam,gd+moxco,adam+moxco,nesterov"]


# ---- the naive baseline: one trajectory at a time, NumPy 2-vectors ---------------------------

_C = np.array([1.5, 2.25, 2.625])
_POW = np.array([1.0, 2.0, 3.0])


def _beale_f_grad_hess(p):
    """Beale at one point `p (2,)`: f, grad (2,), Hessian entries (hxx, hxy, hyy)."""
    x, y = p
    yp = y ** _POW  # y, y^2, y^3
    r = _C + x * (yp - 1.0)
    rx = yp - 1.0
    ry = x * _POW * y ** (_POW - 1.0)
    rxy = _POW * y ** (_POW - 1.0)
    ryy = x * _POW * (_POW - 1.0) * y ** np.maximum(_POW - 2.0, 0.0)
    f = r @ r
    grad = 2.0 * np.array([r @ rx, r @ ry])
    hxx = 2.0 * (rx @ rx)
    hxy = 2.0 * (rx @ ry + r @ rxy)
    hyy = 2.0 * (ry @ ry + r @ ryy)
    return f, grad, (hxx, hxy, hyy)


def _beale_grad(p):
    x, y = p
    yp = y ** _POW
    r = _C + x * (yp - 1.0)
    return 2.0 * np.array([r @ (yp - 1.0), r @ (x * _POW * y ** (_POW - 1.0))])


def naive_trajectory(x0, steps, s: OptimizerSettings):
    """Adam+MoXCo (latch) from one start; returns (final (2,), commit_step, diverged_step)."""
    alpha, beta = s.adam_moxco
    a_restart, b_restart = s.restart
    lr, b1, b2, eps = s.lr, 0.9, 0.999, 1e-8
    inv_eta = 2.0 * (1.0 + alpha) / (lr * (1.0 + 2.0 * beta))
    x = np.array(x0, dtype=float)
    prev = x.copy()
    m = np.zeros(2)
    v2 = np.zeros(2)
    committed, commit_step, diverged_step = False, -1, -1
    for t in range(steps):
        f, g, (hxx, hxy, hyy) = _beale_f_grad_hess(x)
        mean = 0.5 * (hxx + hyy)
        rad = np.hypot(0.5 * (hxx - hyy), hxy)
        lam = mean + rad if mean >= 0 or mean - rad == 0 else (hxx * hyy - hxy * hxy) / (mean - rad)
        good = np.exp(-s.tau * (g @ g + max(lam - inv_eta, 0.0) + abs(f)))
        if not committed and np.isfinite(good) and good > s.threshold:
            committed, commit_step = True, t
        a, b = (a_restart, b_restart) if committed else (alpha, beta)
        d = x - prev
        gv = _beale_grad(x + b * d)
        m = b1 * m + (1.0 - b1) * gv
        v2 = b2 * v2 + (1.0 - b2) * gv * gv
        step = lr * (m / (1.0 - b1 ** (t + 1))) / (np.sqrt(v2 / (1.0 - b2 ** (t + 1))) + eps)
        x_new = x + a * d - step
        if not np.all(np.abs(x_new) <= 1e6):
            diverged_step = t
            break
        prev, x = x, x_new
    return x, commit_step, diverged_step


# ---- measurement helpers ----------------------------------------------------------------------


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> float:
    return os.getloadavg()[0]


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo; `platform.processor()` elsewhere): the ratios
    against the NumPy engine differ by machine type (the engine ran Beale Adam+MoXCo at
    N = 1e5 in 2.5 s on one of this project's machine types and 4.8 s on another, the
    backend in 0.39 s and 0.79 s), so every table names the machine it was measured on."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@dataclass
class Row:
    case: str
    n: int | None
    steps: int | None
    times: list[float] = field(default_factory=list)
    rss_mib: float | None = None
    status: str = "ok"
    note: str = ""
    load: float = 0.0
    compared_with: str = ""  # a row measured alternately with this one, in the same run
    ratio: float | None = None  # compared_with's median time / this row's: > 1 is faster
    target: float | None = None  # the least `ratio` wanted
    same_workload: bool = True  # False: no ratio to the (Adam+MoXCo) naive baseline

    @property
    def median(self) -> float | None:
        return float(np.median(self.times)) if self.times else None

    @property
    def rate(self) -> float | None:
        if not self.times or self.n is None or self.steps is None:
            return None
        return self.n * self.steps / self.median


def _starts(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-4.5, 4.5, size=(n, 2))


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _children_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _measure(case, n, steps, fn, repeats, note="", workers=1) -> Row:
    row = Row(case, n, steps, note=note, load=_load())
    exact = _reset_peak_rss()
    row.times = _timed(fn, repeats)
    row.rss_mib = _peak_rss_mib()
    if workers > 1:  # RUSAGE_CHILDREN cannot be reset: sizes run in ascending order
        row.rss_mib += workers * _children_peak_mib()
        row.note = (row.note + "; " if row.note else "") + f"{workers} worker processes"
    if not exact:
        row.note = (row.note + "; " if row.note else "") + "RSS = process peak"
    return row


# ---- equality with the generic path (the definition) -----------------------------------------


def _assert_same(fast, ref, what: str) -> None:
    for key in ("final", "final_loss", "commit_step", "diverged_step"):
        np.testing.assert_array_equal(getattr(fast, key), getattr(ref, key),
                                      err_msg=f"{what}: {key}")
    if ref.records is not None:
        for key in vars(ref.records):
            np.testing.assert_array_equal(getattr(fast.records, key), getattr(ref.records, key),
                                          err_msg=f"{what}: records.{key}")


def _generic(landscape, method, x0, steps, **kw):
    return simulate(landscape, method, x0, steps, path="generic", **kw)


def check_equality(sample: int, steps: int) -> str:
    """Engine (fused) == its generic path, bit for bit, on a sample; raises AssertionError
    otherwise. The generic runs are held to one process and one thread."""
    one = dict(processes=1, threads=1)
    beale, wells = landscapes.get("beale"), landscapes.get("two-wells")
    starts = _starts(sample, seed=1)
    starts[:3] = [[4.0, 4.0], [0.0, 1.0], [3.0, 0.5]]  # saddle, minimum; [4, 4] diverges at lr .05
    checks = 0
    for name in ALL_METHOD_NAMES:
        for s in (OptimizerSettings(), OptimizerSettings(lr=0.05, commit="reversible"),
                  OptimizerSettings(noise_std=0.3, seed=4, prox="l1", prox_weight=0.5)):
            m = build_method(name, s)
            kw = dict(noise_std=s.noise_std, seed=s.seed)
            _assert_same(simulate(beale, m, starts, steps, record=True, **kw),
                         _generic(beale, m, starts, steps, record=True, **kw, **one),
                         f"beale {name} {s}")
            checks += 1
    wide = np.random.default_rng(2).uniform(-4, 4, (3 * 4096 + 5, 1))
    m = build_method("adam+moxco", OptimizerSettings(noise_std=0.1))
    want = _generic(wells, m, wide, 50, noise_std=0.1, seed=3, **one)
    _assert_same(simulate(wells, m, wide, 50, noise_std=0.1, seed=3, threads=2, processes=1),
                 want, "two-wells chunked, threaded, noisy")
    _assert_same(simulate(wells, m, wide, 50, noise_std=0.1, seed=3, processes=2), want,
                 "two-wells chunked, forked, noisy")
    big = _starts(20_000, seed=3)
    m = build_method(METHOD, OptimizerSettings())
    _assert_same(simulate(beale, m, big, 100), _generic(beale, m, big, 100, **one),
                 "beale 20000 starts, engine defaults (forked workers)")
    return (f"fused == generic path in {checks + 3} runs, bit for bit ({sample} starts x {steps}"
            f" steps with records, {len(ALL_METHOD_NAMES)} methods x 3 settings; plus threaded"
            " and forked two-wells, 20000-start Beale)")


def check_baseline(n: int, steps: int, settings: OptimizerSettings) -> str:
    """The naive loop computes the same thing: final points agree to 1e-9 on most starts."""
    starts = _starts(n)
    tr = simulate(landscapes.get("beale"), build_method(METHOD, settings), starts, steps)
    close = 0
    for i, x0 in enumerate(starts):
        final, commit_step, _ = naive_trajectory(x0, steps, settings)
        close += bool(np.allclose(final, tr.final[i], rtol=0, atol=1e-9)
                      and commit_step == tr.commit_step[i])
    return f"naive baseline agrees with the engine (final to 1e-9, same commit step) on {close}/{n}"


# ---- cases ------------------------------------------------------------------------------------


def bench_baseline(sample: int, steps: int, repeats: int, settings) -> Row:
    starts = _starts(sample)

    def run():
        for x0 in starts:
            naive_trajectory(x0, steps, settings)

    return _measure("baseline", sample, steps, run, repeats,
                    note=f"naive per-trajectory loop; rate independent of N; every row of this "
                    f"table measured on one machine: {os.cpu_count()} x {cpu_model()}")


def bench_engine(case, fn_simulate, n, steps, repeats, method, workers=1) -> Row:
    beale, starts = landscapes.get("beale"), _starts(n)
    return _measure(case, n, steps, lambda: fn_simulate(beale, method, starts, steps), repeats,
                    workers=workers)


def _one_core(landscape, method, x0, steps):
    return simulate(landscape, method, x0, steps, processes=1, threads=1)


_RSS_CHILD = """
import resource, sys, time, numpy as np
import landscapes
from moxco_cli.engine import simulate
from moxco_cli.settings import OptimizerSettings, build_method
n, steps = int(sys.argv[1]), int(sys.argv[2])
starts = np.random.default_rng(0).uniform(-4.5, 4.5, size=(n, 2))
t0 = time.perf_counter()
method = build_method("adam+moxco", OptimizerSettings())
tr = simulate(landscapes.get("beale"), method, starts, steps)
seconds = time.perf_counter() - t0
peak = lambda who: resource.getrusage(who).ru_maxrss / 1024
print(seconds, peak(resource.RUSAGE_SELF), peak(resource.RUSAGE_CHILDREN))
"""


def bench_million(n: int, steps: int, repeats: int) -> Row:
    workers = _default_processes(n, steps, record=False)
    row = Row("engine-1e6-rss", n, steps, load=_load(),
              note=f"no per-step records; fresh process each repeat; {workers} worker processes"
                   " (RSS: parent + workers x largest worker)")
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(n), str(steps)], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        seconds, parent, child = (float(v) for v in out.stdout.split())
        row.times.append(seconds)
        rss = parent + (workers * child if workers > 1 else 0.0)
        row.rss_mib = max(row.rss_mib or 0.0, rss)
    return row


# ---- targets: ratios against a baseline measured alternately in the same run -----------------


def _cpu_seconds(pids=()) -> float:
    """CPU seconds (user + system) of this process, its reaped children and the live
    processes `pids` (e.g. a process pool's workers, read from /proc)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:  # fields 14, 15 (utime, stime) after the ")" that ends the command name
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def _alternating(sides: list[tuple[Row, object]], repeats: int, pids=()) -> dict[str, float]:
    """Time each `(row, fn)` `repeats` times, interleaved (the first side first on even
    repeats, last on odd ones), so that both see the same host load. Returns each row's
    median CPU seconds (this process, its children and `pids`): on a shared host the wall
    time also counts waiting for a core, the CPU time does not."""
    cpu: dict[str, list[float]] = {row.case: [] for row, _ in sides}
    for i in range(repeats):
        for row, fn in (sides if i % 2 == 0 else sides[::-1]):
            c0, t0 = _cpu_seconds(pids), time.perf_counter()
            fn()
            row.times.append(time.perf_counter() - t0)
            cpu[row.case].append(_cpu_seconds(pids) - c0)
    for row, _ in sides:
        row.load = (row.load + _load()) / 2  # mean of the load at the start and at the end
        row.note += f"; median CPU {np.median(cpu[row.case]):.3g} s (all processes)"
    return {case: float(np.median(values)) for case, values in cpu.items()}


def _compare(row: Row, base: Row, target: float, cpu: dict[str, float]) -> None:
    row.compared_with, row.target = base.case, target
    row.ratio = base.median / row.median
    verdict = "meets" if row.ratio >= target else "BELOW"
    row.note += (f"; {row.ratio:.3g}x '{base.case}' (alternating, median wall times; "
                 f"{verdict} target >= {target:g}x; CPU-time ratio "
                 f"{cpu[base.case] / cpu[row.case]:.3g}x)")


def load_old_engine(commit: str = OLD_COMMIT):
    """moxco_cli/engine.py as of `commit`, as a temporary module (never written to disk), or
    the reason it cannot be loaded (a string)."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:moxco_cli/engine.py"],
                             capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        return "git is not installed"
    except subprocess.CalledProcessError as exc:
        return f"git show {commit}:moxco_cli/engine.py failed ({exc.stderr.strip()[:120]})"
    name = f"_moxco_engine_{commit}"
    spec = importlib.util.spec_from_loader(name, loader=None,
                                           origin=f"git show {commit}:moxco_cli/engine.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building the class
    try:
        exec(compile(src, spec.origin, "exec"), module.__dict__)
    except Exception as exc:  # e.g. a name it imports is gone: report, do not guess a shim
        del sys.modules[name]
        return f"engine.py of {commit} does not import against today's modules ({exc!r})"
    return module


def bench_old_engine(steps: int, repeats: int, settings: OptimizerSettings,
                     n: int = OLD_N) -> list[Row]:
    """Target 1: the current engine against the engine of OLD_COMMIT (see the docstring)."""
    old = load_old_engine()
    if isinstance(old, str):
        print(f"engine-{OLD_COMMIT}: skipped: {old}", flush=True)
        return []
    beale, starts = landscapes.get("beale"), _starts(n)
    method = build_method(METHOD, settings)
    old_method = old.Method(METHOD, adam(settings.lr),
                            CommitRule("latch", settings.threshold, *settings.adam_moxco,
                                       *settings.restart), settings.tau, identity)
    workers = _default_processes(n, steps, False)
    rows = []
    for label, kw in ((f"{workers} worker processes (default)", {}),
                      ("1 process (processes=1)", {"processes": 1})):
        new_tr = simulate(beale, method, starts, steps, **kw)  # also the warm-up
        old_tr = old.simulate(beale, old_method, starts, steps, **kw)
        _assert_same(new_tr, old_tr, f"engine vs engine-{OLD_COMMIT}, {label}")
        base = Row(f"engine-{OLD_COMMIT}", n, steps, load=_load(),
                   note=f"{label}; git show {OLD_COMMIT}:moxco_cli/engine.py")
        cur = Row(f"engine (vs engine-{OLD_COMMIT})", n, steps, load=base.load,
                  note=f"{label}; final points bit-identical to engine-{OLD_COMMIT}")
        cpu = _alternating([(base, lambda kw=kw: old.simulate(beale, old_method, starts,
                                                                steps, **kw)),
                            (cur, lambda kw=kw: simulate(beale, method, starts, steps, **kw))],
                           repeats)
        _compare(cur, base, OLD_TARGET, cpu)
        rows += [base, cur]
    return rows


class _EigvalshLandscape:
    """A landscape whose exact lam_max is `eigvalsh` of its Hessian (SPEC's `exact` beyond
    d = 2), whatever fast form the landscape itself has (rastrigin: its diagonal)."""

    def __init__(self, land):
        self.land = land

    def __getattr__(self, name):
        return getattr(self.land, name)

    def lam_max(self, x):
        from landscapes.base import lam_max_from_hessian

        return lam_max_from_hessian(self.land.hess(x))

    def evaluate(self, x):
        return self.land.f(x), self.land.grad(x), self.lam_max(x)

    def evaluator(self, n):
        from landscapes.base import Evaluator

        return Evaluator(self, n)


def bench_curvature(repeats: int, settings: OptimizerSettings) -> list[Row]:
    """Issue 15's target: rastrigin d = 50, N = 1e4, Adam+MoXCo scored every step, with
    power:1 against exact lam_max by eigvalsh, alternating in one run; the landscape's own
    exact form (a diagonal Hessian: max of the diagonal) is measured beside them."""
    land = landscapes.get("rastrigin", dim=CURV_D)
    x0 = np.random.default_rng(0).uniform(-5.12, 5.12, (CURV_N, CURV_D))
    power = build_method(f"{METHOD}:curvature=power:1", settings)
    exact = build_method(METHOD, settings)
    slow = _EigvalshLandscape(land)
    rows = [Row(f"rastrigin d={CURV_D} {METHOD} curvature=power:1", CURV_N, CURV_STEPS,
                note="generic path, 1 HVP per step", load=_load()),
            Row(f"rastrigin d={CURV_D} {METHOD} exact (eigvalsh)", CURV_N, CURV_STEPS,
                note="the Hessian (N, d, d) and eigvalsh every step", load=_load()),
            Row(f"rastrigin d={CURV_D} {METHOD} exact (its diagonal)", CURV_N, CURV_STEPS,
                note="rastrigin's lam_max: the largest diagonal entry", load=_load())]
    sides = [(rows[0], lambda: simulate(land, power, x0, CURV_STEPS)),
             (rows[1], lambda: simulate(slow, exact, x0, CURV_STEPS, processes=1)),
             (rows[2], lambda: simulate(land, exact, x0, CURV_STEPS))]
    cpu = _alternating(sides, repeats)
    _compare(rows[0], rows[1], CURV_TARGET, cpu)
    for row in rows:
        row.status = "ok"
    return rows


# ---- the JAX backend (issue 18) -----------------------------------------------------------

BACKEND_TARGET = 4.0  # JAX / NumPy engine speed at N = 1e4 and 1e5, at least
BACKEND_SIZES = (10_000, 100_000)
FIRST_CALLS = 5  # fresh processes per first-call case (medians)
OUTCOME_ARGS = ["outcome-map", "beale", "--grid", "301"]
NET_HIDDEN, NET_N, NET_METHOD = 16, 1000, "gd+moxco:lr=0.05"
# A fresh process: JAX's import, then the first call (trace, compile or load from the disk
# cache, run) and a second call of the same program, at N starts and T steps.
_FIRST_CALL = r"""
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from moxco_cli.backends.jax_setup import load
load()
t1 = time.perf_counter()
from moxco_cli import landscapes
from moxco_cli.backends import jax_engine
from moxco_cli.settings import OptimizerSettings, build_method
n, steps = int(sys.argv[1]), int(sys.argv[2])
land, m = landscapes.get("beale"), build_method("adam+moxco", OptimizerSettings())
x0 = np.random.default_rng(0).uniform(-4.5, 4.5, size=(n, 2))
t2 = time.perf_counter()
jax_engine.simulate(land, m, x0, steps)
t3 = time.perf_counter()
jax_engine.simulate(land, m, x0, steps)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t3 - t2, "second": t4 - t3}))
"""


def _first_call(n: int, steps: int, cache: Path) -> dict:
    env = dict(os.environ, MOXCO_JAX_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL, str(n), str(steps)], env=env,
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return __import__("json").loads(out.stdout.strip().splitlines()[-1])


def bench_backend(steps: int, repeats: int, settings: OptimizerSettings) -> list[Row]:
    """`--backend jax` against the NumPy engine (its defaults: forked workers on every core),
    alternating in this process; the JAX programs are compiled by an untimed first call, whose
    cost is measured in fresh processes (empty and warm disk cache) and amortised over the
    N = 1e5 run; rastrigin d = 50 power:1; `moxco outcome-map beale --grid 301` whole."""
    try:
        from moxco_cli.backends import jax_engine
        from moxco_cli.backends.jax_setup import load, versions

        load()
    except Exception as exc:  # noqa: BLE001 - the extra is optional
        print(f"backend: jax not available ({exc}); skipped", flush=True)
        return []
    info = versions()
    beale, method = landscapes.get("beale"), build_method(METHOD, settings)
    rows = []
    steady = {}
    for n in BACKEND_SIZES:
        x0 = _starts(n)
        jax_engine.simulate(beale, method, x0, steps)  # compiles (or loads) the program
        ref = simulate(beale, method, x0, steps)
        got = jax_engine.simulate(beale, method, x0, steps)
        finite = np.isfinite(ref.final).all(axis=1)
        same = float(np.mean(np.abs(got.final - ref.final).max(axis=1)[finite] <= 1e-9))
        jx = Row("backend-jax", n, steps, load=_load(),
                 note=f"jax {info['jax']}, {info['devices']} devices ({cpu_model()}), float64; "
                      f"compiled "
                      f"program (first call untimed); final points within 1e-9 of the "
                      f"engine's on {same:.1%} of the finite rows")
        npy = Row("engine (vs backend-jax)", n, steps, load=_load(),
                  note=f"{_default_processes(n, steps, False)} worker processes")
        cpu = _alternating([(npy, lambda x0=x0: simulate(beale, method, x0, steps)),
                            (jx, lambda x0=x0: jax_engine.simulate(beale, method, x0, steps))],
                           repeats)
        _compare(jx, npy, BACKEND_TARGET, cpu)
        steady[n] = (jx.median, npy.median)
        rows += [npy, jx]
    rows += _vector_width(beale, method, steps, repeats)
    n = BACKEND_SIZES[-1]
    calls = {"cold": [], "warm": []}
    for _ in range(FIRST_CALLS):  # each pair: a fresh empty cache, then the one it left
        with tempfile.TemporaryDirectory() as tmp:
            calls["cold"].append(_first_call(n, steps, Path(tmp)))
            calls["warm"].append(_first_call(n, steps, Path(tmp)))
    jax_time, numpy_time = steady[n]
    for label, which in (("empty disk cache", "cold"),
                         ("disk cache from the run before", "warm")):
        call = {key: float(np.median([c[key] for c in calls[which]]))
                for key in ("import", "first", "second")}
        row = Row(f"backend-jax first call ({label})", n, steps,
                  times=[c["first"] for c in calls[which]], load=_load())
        # the median over fresh processes of each one's (first - second call)
        compile_s = float(np.median([c["first"] - c["second"] for c in calls[which]]))
        # the compile's cost added to the alternating median (the fresh process ran at
        # another moment, under another load: its own run time is not compared)
        ratio = numpy_time / (jax_time + compile_s)
        row.note = (f"medians of {FIRST_CALLS} fresh processes: importing JAX "
                    f"{call['import']:.2f} s (not included), first call {call['first']:.2f} s "
                    f"= trace + compile/load {compile_s:.2f} s + run ({call['second']:.2f} s "
                    f"in those processes); "
                    f"the engine's median at N = {n:g} / (backend-jax's + {compile_s:.2f} s) "
                    f"= {ratio:.3g}x ({'meets' if ratio >= BACKEND_TARGET else 'BELOW'} target "
                    f">= {BACKEND_TARGET:g}x); with the import too: "
                    f"{numpy_time / (jax_time + compile_s + call['import']):.3g}x")
        rows.append(row)
    land = landscapes.get("rastrigin", dim=CURV_D)
    x0 = np.random.default_rng(0).uniform(-5.12, 5.12, (CURV_N, CURV_D))
    power = build_method(f"{METHOD}:curvature=power:1", settings)
    jax_engine.simulate(land, power, x0, CURV_STEPS)
    jx = Row(f"backend-jax rastrigin d={CURV_D} power:1", CURV_N, CURV_STEPS, load=_load(),
             note="compiled program", same_workload=False)
    npy = Row(f"engine rastrigin d={CURV_D} power:1 (vs backend-jax)", CURV_N, CURV_STEPS,
              load=_load(), note="generic path", same_workload=False)
    cpu = _alternating([(npy, lambda: simulate(land, power, x0, CURV_STEPS)),
                        (jx, lambda: jax_engine.simulate(land, power, x0, CURV_STEPS))], repeats)
    jx.compared_with, jx.ratio = npy.case, npy.median / jx.median
    jx.note += (f"; {jx.ratio:.3g}x '{npy.case}' (alternating, median wall times; CPU-time "
                f"ratio {cpu[npy.case] / cpu[jx.case]:.3g}x)")
    rows += [npy, jx]
    net = landscapes.get("two-layer-net", hidden=NET_HIDDEN)
    net_method = build_method(NET_METHOD, settings)
    x0 = net.sample_starts(NET_N, np.random.default_rng(0))
    jax_engine.simulate(net, net_method, x0, CURV_STEPS)
    jx = Row(f"backend-jax two-layer-net:hidden={NET_HIDDEN} {NET_METHOD}", NET_N, CURV_STEPS,
             load=_load(), note=f"d = {net.dim}, exact lam_max (autodiff Hessian, eigvalsh, "
             "one device)", same_workload=False)
    npy = Row(f"engine two-layer-net:hidden={NET_HIDDEN} {NET_METHOD} (vs backend-jax)",
              NET_N, CURV_STEPS, load=_load(), note="exact Hessian, eigvalsh",
              same_workload=False)
    cpu = _alternating([(npy, lambda: simulate(net, net_method, x0, CURV_STEPS)),
                        (jx, lambda: jax_engine.simulate(net, net_method, x0, CURV_STEPS))],
                       repeats)
    jx.compared_with, jx.ratio = npy.case, npy.median / jx.median
    jx.note += (f"; {jx.ratio:.3g}x '{npy.case}' (alternating, median wall times; CPU-time "
                f"ratio {cpu[npy.case] / cpu[jx.case]:.3g}x)")
    rows += [npy, jx]
    rows += bench_outcome_map_cli(repeats)
    return rows


def _vector_width(beale, method, steps: int, repeats: int) -> list[Row]:
    """The backend's default compile options (512-bit vectors where the CPU has AVX-512,
    `jax_setup.compiler_options`) against XLA's default (256), alternating at N = 1e4."""
    from moxco_cli.backends import jax_engine, jax_setup

    default = jax_setup.compiler_options()
    if not default:
        return []  # nothing to compare: this CPU compiles with XLA's default
    x0, n = _starts(BACKEND_SIZES[0]), BACKEND_SIZES[0]

    def run(options):
        def call():
            jax_setup._OPTIONS = options  # the programs are cached per options below
            saved = dict(jax_engine._PROGRAMS)
            jax_engine._PROGRAMS.clear()
            jax_engine._PROGRAMS.update(programs[str(options)])
            jax_engine.simulate(beale, method, x0, steps)
            programs[str(options)] = dict(jax_engine._PROGRAMS)
            jax_engine._PROGRAMS.clear()
            jax_engine._PROGRAMS.update(saved)
        return call

    programs = {str(default): {}, str({}): {}}
    run(default)(), run({})()  # compile both
    wide = Row("backend-jax compile options (vs XLA's default)", n, steps, load=_load(),
               note=f"{default}")
    narrow = Row("backend-jax XLA's default compile options", n, steps, load=_load(),
                 note="256-bit vectors")
    cpu = _alternating([(narrow, run({})), (wide, run(default))], repeats)
    jax_setup._OPTIONS = default
    wide.compared_with, wide.ratio = narrow.case, narrow.median / wide.median
    wide.note += (f"; {wide.ratio:.3g}x '{narrow.case}' (alternating, median wall times; "
                  f"CPU-time ratio {cpu[narrow.case] / cpu[wide.case]:.3g}x)")
    return [narrow, wide]


def bench_outcome_map_cli(repeats: int) -> list[Row]:
    """`moxco outcome-map beale --grid 301`, whole processes: --backend jax (after one run that
    fills an empty disk cache, reported on its own) against the default, alternating."""
    label = "moxco " + " ".join(OUTCOME_ARGS)
    with tempfile.TemporaryDirectory() as cache:
        jax_env = dict(os.environ, MPLBACKEND="Agg", MOXCO_JAX_CACHE=cache)
        args = [*OUTCOME_ARGS, "--out", "{out}"]
        code, first, _, last = _run_launcher([*args, "--backend", "jax"], None, jax_env, 0)
        cold = Row(f"cli: {label} --backend jax (empty disk cache)", None, None,
                   times=[first] if code == 0 else [], load=_load(),
                   status="ok" if code == 0 else "not available",
                   note="whole process (wall), compiling its 4 programs")
        rows = [Row(f"cli: {label}", None, None, load=_load()),
                Row(f"cli: {label} --backend jax", None, None, load=_load())]
        variants = [(rows[0], args, dict(os.environ, MPLBACKEND="Agg")),
                    (rows[1], [*args, "--backend", "jax"], jax_env)]
        for i in range(repeats):
            for row, argv, env in (variants if i % 2 == 0 else variants[::-1]):
                code, elapsed, rss, last = _run_launcher(argv, None, env, i + 1)
                if code != 0:
                    row.status, row.note = "not available", (last or f"exit {code}")[:120]
                    continue
                row.times.append(elapsed)
                row.rss_mib = max(row.rss_mib or 0.0, rss)
    rows[0].note = "whole process (wall), NumPy engine"
    if rows[0].times and rows[1].times:
        rows[1].compared_with = rows[0].case
        rows[1].ratio = rows[0].median / rows[1].median
        rows[1].note = (f"whole process (wall), programs from the disk cache; "
                        f"{rows[1].ratio:.3g}x the default (alternating, medians)")
    return [*rows, cold]


def _phase_config():
    from moxco_cli.experiments import sweep

    return sweep.SweepConfig(landscape="beale", optimizer="gd+moxco",
                             grid=(sweep.parse_grid("alpha=0:0.99:12"),
                                   sweep.parse_grid("beta=0:0.95:12")),
                             starts="grid:21").validate()


def bench_sweep(repeats: int, workers: int = 2) -> list[Row]:
    """Target 2: the phase-diagram sweep batched against cell by cell (see the docstring)."""
    from moxco_cli.experiments import sweep
    from moxco_cli.report import csv_bytes

    cfg = _phase_config()
    tasks = sweep.tasks_for(cfg)
    n_starts = len(sweep.make_starts(cfg.build_landscape(), cfg.starts, cfg.settings.seed))
    batched_rows = sweep.ROWS_PER_JOB
    frames: dict[int, bytes] = {}
    executor = sweep.LocalExecutor(workers)  # one pool for both sides (started here)

    def run(rows_per_job: int):
        def go():
            sweep.ROWS_PER_JOB = rows_per_job
            try:
                frame = csv_bytes(sweep.run_sweep(cfg, executor=executor).frame)
            finally:
                sweep.ROWS_PER_JOB = batched_rows
            if frames.setdefault(rows_per_job, frame) != frame:
                raise AssertionError(f"sweep with ROWS_PER_JOB={rows_per_job}: not reproducible")
        return go

    trajectories = len(tasks) * n_starts
    what = (f"{len(tasks)} tasks (144 cells + plain baseline) x {n_starts} starts, "
            f"LocalExecutor({workers})")
    jobs = {}
    for rows_per_job in (1, batched_rows):
        sweep.ROWS_PER_JOB = rows_per_job
        jobs[rows_per_job] = len(sweep.plan_jobs(cfg, tasks, n_starts, workers))
    sweep.ROWS_PER_JOB = batched_rows
    base = Row("sweep 12x12 cell-by-cell", trajectories, cfg.steps, load=_load(),
               note=f"{what}; ROWS_PER_JOB=1: {jobs[1]} engine calls", same_workload=False)
    cur = Row("sweep 12x12 batched", trajectories, cfg.steps, load=base.load,
              note=f"{what}; ROWS_PER_JOB={batched_rows}: {jobs[batched_rows]} engine calls",
              same_workload=False)
    try:
        run(batched_rows)()  # warm-up: the pool's workers import what the jobs need
        pids = list(executor.pool._processes) if executor.pool is not None else []
        cpu = _alternating([(base, run(1)), (cur, run(batched_rows))], repeats, pids)
    finally:
        executor.close()
    if frames[1] != frames[batched_rows]:
        raise AssertionError("sweep frames differ: batched vs cell-by-cell")
    cur.note += "; sweep.csv byte-identical to cell-by-cell"
    _compare(cur, base, SWEEP_TARGET, cpu)
    return [base, cur]


def _moxco() -> list[str]:
    script = Path(sys.executable).parent / "moxco"
    return [str(script)] if script.exists() else [sys.executable, "-m", "moxco_cli"]


def bench_fused(steps: int, repeats: int, settings, base_rate, engine_rates) -> list[Row]:
    """The numba evaluation rows (empty, with a message, when numba is not installed)."""
    try:
        import fused_numba
    except ImportError:
        print("fused-numba: numba not installed, evaluation skipped", flush=True)
        return []
    beale, method = landscapes.get("beale"), build_method(METHOD, settings)
    fused_numba.simulate_adam_moxco_beale(_starts(4), 3, settings)  # compile or load the cache
    fused_numba.simulate_adam_moxco_beale_exact(_starts(4), 3, settings)
    rows = []
    for n in (10_000, 100_000):
        starts = _starts(n)
        want = simulate(beale, method, starts, steps)
        for case, fn in (("fused-numba", fused_numba.simulate_adam_moxco_beale),
                         ("fused-numba-exact", fused_numba.simulate_adam_moxco_beale_exact)):
            final, commit_step, diverged_step = fn(starts, steps, settings)
            same = (np.array_equal(commit_step, want.commit_step)
                    and np.array_equal(diverged_step, want.diverged_step))
            diff = float(np.abs(final - want.final).max())
            note = (f"vs engine: max |final diff| {diff:.3g}, steps {'equal' if same else 'DIFFER'}"
                    "; evaluation of this workload only, not adopted")
            row = _measure(case, n, steps, lambda fn=fn, s=starts: fn(s, steps, settings),
                           repeats, note=note)
            if engine_rates.get(n):
                row.note += f"; {row.rate / engine_rates[n]:.2f}x the engine row at this N"
            rows.append(row)
            print_row(rows[-1], base_rate)
    return rows


# Runs one command and reports its wall time and peak RSS. A small process of its own, so that
# the child's peak RSS does not include a copy of this (large) benchmark process made at fork.
_LAUNCHER = """
import os, resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
last = (proc.stderr.strip().splitlines() or [""])[-1]
print(proc.returncode, elapsed, rss, last, sep="\\n")
"""


def _run_launcher(args: list[str], command: list[str] | None, env: dict, i: int):
    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.replace("{out}", str(Path(tmp) / f"out{i}")) for a in args]
        out = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *(command or _moxco()), *argv],
                             cwd=tmp, env=env, capture_output=True, text=True, check=True)
    code, elapsed, rss, last = out.stdout.split("\n")[:4]
    return int(code), float(elapsed), float(rss), last


def bench_cli(label: str, args: list[str], repeats: int, command: list[str] | None = None,
              baseline_env: dict | None = None, baseline_label: str = "") -> list[Row]:
    """Whole-process wall time and peak RSS of a command; with `baseline_env`, also of the
    command under that environment, the two alternating so that both see the same host."""
    variants = [(f"cli: {label}", {})]
    if baseline_env:
        variants.append((f"cli: {label} ({baseline_label})", baseline_env))
    rows = [Row(case, None, None, load=_load()) for case, _ in variants]
    for i in range(repeats):
        for row, (_, extra) in zip(rows, variants, strict=True):
            if row.status != "ok":
                continue
            env = dict(os.environ, MPLBACKEND="Agg", **extra)
            code, elapsed, rss, last = _run_launcher(args, command, env, i)
            if code != 0:
                row.status, row.times = "not available", []
                row.note = (last or f"exit {code}")[:120]
                continue
            row.times.append(elapsed)
            row.rss_mib = max(row.rss_mib or 0.0, rss)
    for row in rows:
        if row.status == "ok":
            row.note = "whole process (wall); peak RSS of the command"
    if len(rows) == 2 and rows[0].times and rows[1].times:
        rows[0].note += (f"; {rows[0].median / rows[1].median:.2f}x the time of "
                         f"'{baseline_label}', alternating runs")
    return rows


# Ends like `moxco` does (os._exit after the work, see `moxco_cli.cli._leave`): without it,
# tearing these modules down would add 0.3-0.4 s that no moxco command pays.
IMPORT_FLOOR = ("import typer, rich, numpy, pandas, scipy.stats, matplotlib; "
                "matplotlib.use('Agg'); import matplotlib.pyplot, os; os._exit(0)")


# ---- report -----------------------------------------------------------------------------------

HEADER = ("case", "N", "T", "repeats", "median s", "traj-steps/s", "x baseline", "peak RSS MiB",
          "load", "note")


def _fmt(row: Row, base_rate: float | None) -> list[str]:
    rate = row.rate
    ratio = ""
    if rate and base_rate and row.same_workload:
        ratio = f"{rate / base_rate:.2g}x" if rate < 10 * base_rate else f"{rate / base_rate:.0f}x"
    if row.case == "baseline":
        ratio = "1x"
    med = row.median
    return [row.case, "" if row.n is None else f"{row.n:g}", "" if row.steps is None else str(
        row.steps), str(len(row.times)), "" if med is None else f"{med:.4g}",
        "" if rate is None else f"{rate:.3g}", ratio,
        "" if row.rss_mib is None else f"{row.rss_mib:.0f}", f"{row.load:.2f}",
        row.status if row.status != "ok" else row.note]


def print_row(row: Row, base_rate: float | None) -> None:
    cells = _fmt(row, base_rate)
    print(" | ".join(cells), flush=True)


def write_csv(rows: list[Row], base_rate: float | None, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "n", "steps", "repeats", "median_s", "min_s", "max_s",
                    "traj_steps_per_s", "ratio_to_baseline", "peak_rss_mib", "load_1min",
                    "status", "note", "compared_with", "ratio", "target"])
        for r in rows:
            rate = r.rate
            w.writerow([r.case, r.n if r.n is not None else "", r.steps or "", len(r.times),
                        repr(r.median) if r.times else "", repr(min(r.times)) if r.times else "",
                        repr(max(r.times)) if r.times else "", repr(rate) if rate else "",
                        repr(rate / base_rate) if rate and base_rate and r.same_workload
                        else "",
                        f"{r.rss_mib:.1f}" if r.rss_mib is not None else "", f"{r.load:.2f}",
                        r.status, r.note, r.compared_with,
                        repr(r.ratio) if r.ratio is not None else "",
                        f">= {r.target:g}" if r.target is not None else ""])
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="repeats per case (>= 3)")
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    ap.add_argument("--only",
                    default="equality,baseline,generic,engine,d1fe096,sweep,curvature,compare,"
                            "fused,backend,million,cli",
                    help="comma-separated subset of the cases ('reference' = 'generic')")
    ap.add_argument("--baseline-sample", type=int, default=20)
    ap.add_argument("--million", type=int, default=1_000_000, help="N of the RSS case")
    ap.add_argument("--million-steps", type=int, default=100,
                    help="T of the RSS case (peak RSS does not grow with T without records)")
    ap.add_argument("--ratio-repeats", type=int, default=5,
                    help="repeats of each side of the d1fe096 and sweep comparisons (>= 3)")
    ap.add_argument("--sweep-cli-repeats", type=int, default=2,
                    help="runs of the whole `moxco sweep` command (0: none)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks.csv")
    args = ap.parse_args(argv)
    if args.repeats < 3 or args.ratio_repeats < 3:
        ap.error("--repeats and --ratio-repeats must be >= 3 (the table quotes medians)")
    only = set(args.only.split(","))
    if "reference" in only:  # the old name of the generic row
        only.add("generic")
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    settings = OptimizerSettings()
    method = build_method(METHOD, settings)

    print(f"moxco engine benchmark: {METHOD} on beale, float64, T={args.steps}, "
          f"goodness every step | python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} cpus ({cpu_model()}), load {_load():.2f}", flush=True)
    if "equality" in only:
        print("equality:", check_equality(256, 300), flush=True)
    rows: list[Row] = []
    base_rate = None
    print(" | ".join(HEADER), flush=True)
    if "baseline" in only:
        row = bench_baseline(args.baseline_sample, args.steps, args.repeats, settings)
        rows.append(row)
        base_rate = row.rate
        print_row(row, base_rate)
    engine_rates = {}
    for n in sorted(sizes):
        for key, case, fn in (("generic", GENERIC, _generic), ("engine", "engine-1core", _one_core),
                              ("engine", "engine", simulate)):
            if key in only:
                workers = 1 if case == "engine-1core" else _default_processes(n, args.steps, False)
                rows.append(bench_engine(case, fn, n, args.steps, args.repeats, method, workers))
                print_row(rows[-1], base_rate)
                if case == "engine":
                    engine_rates[n] = rows[-1].rate
    if "d1fe096" in only:
        for row in bench_old_engine(args.steps, args.ratio_repeats, settings):
            rows.append(row)
            print_row(row, base_rate)
    if "sweep" in only:
        for row in bench_sweep(args.ratio_repeats):
            rows.append(row)
            print_row(row, base_rate)
        if args.sweep_cli_repeats > 0:
            label = "moxco " + " ".join(SWEEP_ARGS)
            for row in bench_cli(label, [*SWEEP_ARGS, "--out", "{out}"], args.sweep_cli_repeats):
                rows.append(row)
                if row.status != "ok":
                    print(f"{row.case}: not available ({row.note})", flush=True)
                print_row(row, base_rate)
    if "curvature" in only:
        for row in bench_curvature(args.ratio_repeats, settings):
            rows.append(row)
            print_row(row, base_rate)
    if "compare" in only:
        label = "moxco " + " ".join(COMPARE_ARGS)
        for row in bench_cli(label, [*COMPARE_ARGS, "--out", "{out}"], args.sweep_cli_repeats):
            rows.append(row)
            print_row(row, base_rate)
    if "fused" in only:
        rows.extend(bench_fused(args.steps, args.repeats, settings, base_rate, engine_rates))
    if "backend" in only:
        for row in bench_backend(args.steps, args.ratio_repeats, settings):
            rows.append(row)
            print_row(row, base_rate)
    if "million" in only:
        rows.append(bench_million(args.million, args.million_steps, args.repeats))
        print_row(rows[-1], base_rate)
    if "cli" in only:
        in_process = {DISABLE_ENV: "0"}  # the baseline: figures drawn by the command itself
        commands = (("moxco --help", ["--help"], None, None),
                    ("moxco run beale", ["run", "beale", "--out", "{out}"], None, in_process),
                    ("moxco escape-count --inits 50",
                     ["escape-count", "--inits", "50", "--out", "{out}"], None, in_process),
                    ("import floor (python -c 'import typer, rich, numpy, pandas, scipy.stats, "
                     "matplotlib.pyplot')", ["-c", IMPORT_FLOOR], [sys.executable], None))
        for label, cmd, command, baseline in commands:
            for row in bench_cli(label, cmd, args.repeats, command, baseline,
                                 f"{DISABLE_ENV}=0: no renderer process"):
                rows.append(row)
                if row.status != "ok":
                    print(f"{row.case}: not available ({row.note})", flush=True)
                print_row(row, base_rate)
    if "baseline" in only:
        print(check_baseline(args.baseline_sample, args.steps, settings), flush=True)
    write_csv(rows, base_rate, args.out)
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
