"""A real Dask cluster on 127.0.0.1: a ``dask scheduler`` and two ``dask worker`` processes.

Started once per test session from the virtualenv's ``distributed`` command-line entry
points, as separate processes (each worker under its nanny, which restarts it when a
reader kills it), on free ports. The workers see this checkout and a site folder holding
the misbehaving plug-in extractor of :mod:`tests.faulty_plugin` on their ``PYTHONPATH``;
they run with the settings ``NX_EXECUTOR=local:N`` sets and docs/cluster.md recommends
(:data:`nexuslims.extract.executors.CLUSTER_CONFIG`): the scheduler gives a task up after
it killed two workers and sends each worker only the task it runs. Every process is
stopped afterwards, with its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nexuslims.extract.executors import cluster_environment
from tests.faulty_plugin import make_plugin_site

REPO = Path(__file__).resolve().parents[1]
WORKERS = 2


@dataclass
class DaskCluster:
    """A running cluster: its scheduler's address, the plug-in site its workers load."""

    address: str
    plugins: Path
    processes: list[subprocess.Popen]

    def client(self):  # type: ignore[no-untyped-def]
        from distributed import Client

        return Client(self.address, timeout="20s", set_as_default=False)

    def wait_for_workers(self, count: int = WORKERS, timeout: float = 120) -> None:
        """Until ``count`` workers are registered (a killed one restarts under its nanny)."""
        with self.client() as client:
            client.wait_for_workers(count, timeout=timeout)

    def scheduler_tasks(self) -> int:
        """Tasks the scheduler still holds (queued, running or kept for a client)."""
        with self.client() as client:
            return int(client.run_on_scheduler(_task_count))


def _task_count(dask_scheduler=None) -> int:  # type: ignore[no-untyped-def]
    return len(dask_scheduler.tasks)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # Its own process group: the nanny's worker process is stopped with it.
    return subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=log.parent,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in reversed(processes):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):  # the group, stragglers included
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@contextlib.contextmanager
def running_cluster(base: Path) -> Iterator[DaskCluster]:
    """Start the scheduler and two workers under ``base``; stop them all on leaving."""
    plugins = make_plugin_site(base / "site")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NX_", "DASK_"))}
    env.update({"PYTHONPATH": os.pathsep.join([str(REPO), str(plugins)]),
                **cluster_environment()})
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                         str(port), "--no-dashboard"], env, base / "scheduler.log")]
    cluster = DaskCluster(address, plugins, processes)
    try:
        for i in range(WORKERS):
            processes.append(_start(
                ["distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                 "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                 "--name", f"worker-{i}", "--death-timeout", "60",
                 "--local-directory", str(base / f"worker-{i}")], env,
                base / f"worker-{i}.log"))
        try:
            cluster.wait_for_workers(WORKERS, timeout=120)
        except (OSError, TimeoutError) as exc:
            logs = "\n".join(p.read_text(errors="replace")[-2000:]
                             for p in sorted(base.glob("*.log")))
            raise RuntimeError(f"the Dask cluster did not start: {exc}\n{logs}") from exc
        yield cluster
    finally:
        _stop(processes)


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A real scheduler and two workers on 127.0.0.1 for the whole test session."""
    pytest.importorskip("distributed")
    with running_cluster(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster
