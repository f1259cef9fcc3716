"""`moxco_cli.scheduler` and `engine.distributed`: any command's engine chunks on Dask give
the bytes of a local run."""

import numpy as np
import pytest

import landscapes
from moxco_cli.engine import NOISE_BLOCK, distributed, simulate
from moxco_cli.settings import OptimizerSettings, build_method


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    from moxco_cli.scheduler import connect, disconnect

    client, cluster = connect("local-cluster:2")
    from distributed.utils import _offload_executor  # its thread lives as long as the process:

    _offload_executor.submit(int).result()  # start it before the tests count threads
    yield client
    disconnect(client, cluster)


def test_chunks_on_dask_equal_a_local_run_with_records_noise_and_per_row_values(client):
    from moxco_cli import methods

    beale = landscapes.get("beale")
    x0 = np.random.default_rng(2).uniform(-4.5, 4.5, (NOISE_BLOCK + 50, 2))
    noisy = build_method("adam+moxco", OptimizerSettings(noise_std=0.2, seed=3))
    base = methods.resolve(methods.MethodSpec("gd+moxco"))
    per_row = methods.build_from_values("gd+moxco", {
        **base, "alpha": np.linspace(0.0, 0.95, len(x0)), "lr": np.full(len(x0), 0.004)})
    for method, record in ((noisy, False), (per_row, False), (noisy, True)):
        starts = x0 if not record else x0[:7]
        if record and method is noisy:
            method = build_method("nesterov+restart-fn", OptimizerSettings())
        here = simulate(beale, method, starts, 60, record=record, seed=3)
        seen = []
        with distributed(client):
            there = simulate(beale, method, starts, 60, record=record, seed=3,
                             progress=seen.append)
        assert sum(seen) == len(starts) * 60
        for key in ("final", "final_loss", "commit_step", "diverged_step"):
            np.testing.assert_array_equal(getattr(here, key), getattr(there, key))
        if record:
            for key in vars(here.records):
                np.testing.assert_array_equal(getattr(here.records, key),
                                              getattr(there.records, key))
            np.testing.assert_array_equal(here.restart_step, there.restart_step)


def test_commands_with_scheduler_write_the_same_files(tmp_path):
    pytest.importorskip("distributed")
    from typer.testing import CliRunner

    from moxco_cli.cli import app

    runner = CliRunner()
    args = ["outcome-map", "beale", "--grid", "11", "--steps", "100"]
    local = runner.invoke(app, [*args, "--out", str(tmp_path / "local")])
    dask = runner.invoke(app, [*args, "--scheduler", "local-cluster:2",
                               "--out", str(tmp_path / "dask")])
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "dask").iterdir())
    for name in names:
        if name != "config.json":  # it holds the time it was written
            assert (tmp_path / "local" / name).read_bytes() == (
                tmp_path / "dask" / name).read_bytes(), name
    bad = runner.invoke(app, [*args, "--scheduler", "localhost:1"])
    assert bad.exit_code == 2 and "--scheduler: expects tcp://" in bad.output


def test_a_local_cluster_beside_a_busy_port_8787_prints_no_warning():
    """Without a dashboard the scheduler still serves HTTP routes, by default on 8787; a
    local cluster takes a free port instead, so a busy 8787 is no warning line."""
    pytest.importorskip("distributed")
    import socket
    import warnings

    from moxco_cli.scheduler import connect, disconnect

    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 8787))
    except OSError:
        busy.close()
        busy = None  # already busy: the case itself
    else:
        busy.listen()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client, cluster = connect("local-cluster:1")
            try:
                assert client.submit(int, "7").result() == 7
                port = cluster.scheduler.http_server.port
            finally:
                disconnect(client, cluster)
        assert port != 8787
        assert not [w for w in caught if "8787" in str(w.message)], [str(w.message)
                                                                   for w in caught]
    finally:
        if busy is not None:
            busy.close()
