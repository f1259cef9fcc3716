"""Dask clusters for the engine and for sweep cells: `--scheduler tcp://HOST:PORT` or
`--scheduler local-cluster:K`. Dask is an optional extra (`pip install 'moxco[distributed]'`)
and is imported only here, only when asked for.
"""

from __future__ import annotations

from contextlib import contextmanager

from moxco_cli.settings import SettingsError

DASK_MISSING = ("--scheduler needs Dask distributed, an optional extra: "
                "pip install 'moxco[distributed]'")


def parse_scheduler(spec: str) -> tuple[str, str | int]:
    """`"tcp://HOST:PORT"` -> ("address", spec); `"local-cluster:K"` -> ("local", K)."""
    text = str(spec).strip()
    if text.startswith("local-cluster:"):
        count = text.removeprefix("local-cluster:")
        if not count.isdigit() or not 1 <= int(count) <= 64:
            raise SettingsError("--scheduler", f"local-cluster:K needs K in [1, 64], "
                                f"got {count!r}")
        return "local", int(count)
    if text.startswith("tcp://"):
        host, colon, port = text.removeprefix("tcp://").rpartition(":")
        if host and colon and port.isdigit() and 1 <= int(port) <= 65535:
            return "address", text
    raise SettingsError("--scheduler", f"expects tcp://HOST:PORT or local-cluster:K, got {spec!r}")


def require_dask() -> None:
    """Raise a one-line SettingsError naming the extra to install when Dask is missing."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise SettingsError("--scheduler", DASK_MISSING.removeprefix("--scheduler ")) from None


def connect(scheduler: str, timeout: float = 20.0):
    """`(client, cluster)` for `scheduler` (`cluster` is None for an existing one, else the
    LocalCluster of K single-threaded worker processes on 127.0.0.1 started here); a one-line
    SettingsError naming --scheduler when Dask is missing or the scheduler unreachable."""
    kind, where = parse_scheduler(scheduler)
    require_dask()
    from distributed import Client, LocalCluster

    cluster = client = None
    try:
        if kind == "local":
            cluster = _quiet_local_cluster(LocalCluster, where)
            client = Client(cluster, timeout=timeout)
        else:
            client = Client(where, timeout=timeout)
    except OSError as exc:
        disconnect(client, cluster)
        raise SettingsError("--scheduler", f"cannot reach {scheduler}: "
                            f"{' '.join(str(exc).split())}") from None
    return client, cluster


def disconnect(client, cluster) -> None:
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


@contextmanager
def engine_on(scheduler: str | None):
    """Run every `simulate` call inside the block on `scheduler`'s Dask workers (chunks as
    tasks; the same bytes as a local run); yields a description. None: local, as usual."""
    if scheduler is None:
        yield "local"
        return
    from moxco_cli.engine import distributed

    client, cluster = connect(scheduler)
    try:
        with distributed(client):
            yield f"dask {scheduler}"
    finally:
        disconnect(client, cluster)


def _quiet_local_cluster(local_cluster, workers: int):
    """A LocalCluster whose worker processes leave Ctrl-C to this process (which cancels
    the tasks and closes the cluster) instead of each printing a traceback. Worker logs are
    silenced: a task's error reaches this process through its future, and shutdown races
    (a heartbeat to a scheduler already gone) are noise."""
    import logging
    import signal
    import threading

    def start():
        # Without a dashboard the scheduler still serves its HTTP routes (health, metrics),
        # on port 8787 by default: a free port on 127.0.0.1 instead, so that a busy 8787
        # (another cluster, another user) prints no "Port 8787 is already in use" warning
        return local_cluster(n_workers=workers, threads_per_worker=1, processes=True,
                             host="127.0.0.1", dashboard_address=None,
                             scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                             silence_logs=logging.CRITICAL)

    if threading.current_thread() is not threading.main_thread():
        return start()  # signal dispositions can only be changed from the main thread
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the spawned workers
    try:
        return start()
    finally:
        signal.signal(signal.SIGINT, previous)


