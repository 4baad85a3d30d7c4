"""Where files are extracted (``NX_EXECUTOR``): this machine's process pool or a Dask cluster.

An executor maps one function over many tasks and hands each result back, in
completion order, to a callback in the coordinating process. It knows nothing of files,
sessions or records; the extract stage (:mod:`nexuslims.extract.stage`) decides what a task
is, and the pipeline what a result means.

- ``local`` (the default): the fork-server pool of :mod:`nexuslims.extract.workers`, with its time
  limit, memory ceiling and poison-file rule; nothing to install or start.
- ``local:N``: a Dask ``LocalCluster`` of N worker processes, started for the pass.
- ``dask``: the Dask cluster whose scheduler is ``NX_DASK_SCHEDULER``.

``dask.distributed`` is imported only when a Dask executor is opened (it costs a second
of start-up). A cluster that cannot be reached raises :class:`ExecutorUnavailable`, a
passing fault: the pass never falls back to local execution. See docs/cluster.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from nexuslims.config import ExecutorChoice
from nexuslims.extract.workers import Failure, Limits, run_tasks
from nexuslims.faults import Deferred

logger = logging.getLogger(__name__)

#: The Dask settings of the clusters nexuslims starts itself (an existing cluster keeps
#: its own; docs/cluster.md recommends these, :func:`cluster_environment` gives them as
#: environment variables): a task that killed two workers is given up
#: (``KilledWorker``), like a poison file in the local pool; a worker holds only the task
#: it runs, so a file queued behind a poison one is not blamed for its worker's death;
#: no statistical profiler (it samples the stack of a busy worker thread every 10 ms for
#: the dashboard's Profile page, and cost a worker some 13% more CPU a file); and event
#: loops checked for stalls every second rather than every 20 ms (each of these checks
#: kept an idle scheduler, nanny or worker 1-2% busy). Both: a worker used 22% more CPU
#: a file with Dask's defaults (300 files: 7.76 against 6.36 CPU-s).
CLUSTER_CONFIG = {"distributed.scheduler.allowed-failures": 1,
                  "distributed.scheduler.worker-saturation": 1.0,
                  "distributed.worker.profile.enabled": False,
                  "distributed.admin.tick.interval": "1s"}

#: Tasks run together in one Dask task, at most (fewer when there are few: each worker
#: thread gets some 8 batches of a map), and the bytes they may read together (a task
#: larger than that goes alone). Each Dask task costs the scheduler, the worker's event
#: loop and this process's client some 10 ms of CPU in all (messages, bookkeeping), a
#: third of what reading a typical instrument file costs.
BATCH_TASKS = 64
BATCH_BYTES = 256 * 2**20

OnResult = Callable[[int, Any], None]


class Executor(Protocol):
    """Runs ``func(*tasks[i])`` for every ``i``; ``on_result(i, result)`` in this process,
    in completion order, with what ``func`` returned or a :class:`Failure`."""

    remote: bool
    """True when the function runs on other machines (plain data in, plain data out)."""

    def map(self, func: Callable[..., Any], tasks: Sequence[tuple], *,
            sizes: Sequence[int], on_result: OnResult) -> None: ...

    def close(self) -> None: ...


class ExecutorUnavailable(Deferred):
    """The Dask cluster could not be reached, or was lost, during a pass."""

    def __init__(self, message: str):
        super().__init__("environment", message)


class DaskExecutor:
    """Tasks on a Dask cluster: an existing one, or a ``LocalCluster`` started here."""

    remote = True

    def __init__(self, choice: ExecutorChoice, *, memory_mb: int | None = None):
        import dask
        from distributed import Client

        self.choice = choice
        self.worker_root = choice.data_path
        self.cluster: Any = None
        self.client: Any = None
        where = choice.scheduler
        try:
            if choice.kind == "local-cluster":
                from distributed import LocalCluster

                with dask.config.set(CLUSTER_CONFIG):
                    self.cluster = LocalCluster(
                        n_workers=choice.workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, host="127.0.0.1",
                        memory_limit=f"{memory_mb}MB" if memory_mb else "auto")
                where = self.cluster.scheduler_address
            self.client = Client(where if self.cluster is None else self.cluster,
                                 timeout=f"{choice.timeout}s", set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the pass cannot extract
            self.close()
            what = ("could not be reached (NX_DASK_SCHEDULER)" if choice.kind == "dask"
                    else "could not be started")
            raise ExecutorUnavailable(f"{choice.describe()} {what}: {_reason(exc)}") from None
        try:
            self.client.wait_for_workers(1, timeout=choice.timeout)
        except (OSError, TimeoutError):
            self.close()
            raise ExecutorUnavailable(f"{choice.describe()} has no workers "
                                      f"(none joined within {choice.timeout:g} s)") from None
        logger.info("extracting on %s (%d worker(s))", choice.describe(),
                    len(self.client.scheduler_info().get("workers", {})))

    def map(self, func: Callable[..., Any], tasks: Sequence[tuple], *,
            sizes: Sequence[int], on_result: OnResult) -> None:
        """Tasks go in consecutive batches (:func:`batches`), one Dask task each; a batch
        that killed its workers (or failed as a whole) is sent again one task per Dask
        task, so that only the task at fault is given up."""
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        futures: dict[Any, range] = {}

        def submit(indexes: range) -> Any:
            future = self.client.submit(run_batch, Batch(func, [tasks[i] for i in indexes]),
                                        pure=False, retries=0)
            futures[future] = indexes
            return future

        slots = sum(self.client.nthreads().values()) or 1
        if len(sizes) != len(tasks):
            sizes = [0] * len(tasks)
        # In submission order (Dask's default): the pass's first sessions finish first.
        running = as_completed([submit(indexes) for indexes in batches(sizes, slots)],
                               loop=self.client.loop)
        try:
            for future in running:
                indexes = futures.pop(future)
                try:
                    results = future.result()
                except (FutureCancelledError, OSError, TimeoutError) as exc:
                    raise ExecutorUnavailable(f"{self.choice.describe()} was lost: "
                                              f"{_reason(exc)}") from None
                except Exception as exc:  # noqa: BLE001 - e.g. unpicklable: the file's own
                    if len(indexes) > 1:  # which task of the batch is at fault?
                        logger.warning("a batch of %d Dask tasks failed (%s); each is sent "
                                       "again alone", len(indexes), _reason(exc))
                        for i in indexes:
                            running.add(submit(range(i, i + 1)))
                        future.release()
                        continue
                    if isinstance(exc, KilledWorker):
                        results = [Failure(f"the reader killed its Dask worker "
                                           f"{_deaths(exc)}; a poison file, not read again")]
                    else:
                        results = [Failure(f"Dask worker failed: {type(exc).__name__}: "
                                           f"{exc}")]
                future.release()
                for i, result in zip(indexes, results, strict=True):
                    if isinstance(result, TaskError):
                        result = Failure(f"Dask worker failed: {result.error}")
                    on_result(i, result)
        finally:
            # However we leave (Ctrl-C, SIGTERM, a lost cluster): no work left queued.
            if futures:
                try:
                    self.client.cancel(list(futures), force=True)
                except Exception as exc:  # noqa: BLE001 - the cluster may be gone
                    logger.debug("could not cancel Dask tasks: %s", exc)
                logger.warning("%d Dask task(s) cancelled", len(futures))

    def close(self) -> None:
        client, cluster = getattr(self, "client", None), self.cluster
        self.client = self.cluster = None
        try:
            if client is not None:
                client.close(timeout=5)
            if cluster is not None:
                cluster.close(timeout=10)
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            logger.debug("closing the Dask client: %s", exc)


class LocalPool:
    """This machine's fork-server pool (:func:`nexuslims.extract.workers.run_tasks`), or this very
    process with ``workers`` 0 (no limits: tests, debugging)."""

    remote = False

    def __init__(self, workers: int, limits: Limits, context: Callable[[], Any],
                 initializer: Callable[[], None] | None = None):
        self.workers, self.limits = workers, limits
        self.context, self.initializer = context, initializer

    def map(self, func: Callable[..., Any], tasks: Sequence[tuple], *,
            sizes: Sequence[int], on_result: OnResult) -> None:
        if self.workers <= 0:
            for i, task in enumerate(tasks):
                try:
                    result = func(*task)
                except MemoryError:
                    result = Failure("ran out of memory")
                on_result(i, result)
        elif tasks:
            # One file per task; a pool costs only forks once the fork server is up.
            run_tasks(func, tasks, context=self.context(), workers=min(self.workers,
                      len(tasks)), limits=self.limits, sizes=sizes, on_result=on_result,
                      initializer=self.initializer)

    def close(self) -> None:
        """Nothing: idle workers wait for the next pass (see ``workers._parked``)."""


def open_executor(choice: ExecutorChoice, *, memory_mb: int | None,
                  make_local: Callable[[], Executor]) -> Executor:
    """The executor of ``choice``; ``make_local`` builds the local pool.

    Raises
    ------
    ExecutorUnavailable
        The Dask scheduler (or every worker) is out of reach.
    """
    if choice.kind == "local":
        return make_local()
    return DaskExecutor(choice, memory_mb=memory_mb)


@dataclass(frozen=True)
class Batch:
    """Tasks that run one after the other in one Dask task (an object, so that Dask does
    not look into the tasks' arguments for work of its own)."""

    func: Callable[..., Any]
    tasks: list[tuple]


@dataclass(frozen=True)
class TaskError:
    """What a task of a :class:`Batch` raised (``"TypeName: message"``)."""

    error: str


def run_batch(batch: Batch) -> list[Any]:
    """On a Dask worker: ``batch.func(*task)`` for each task, in order; what each returned,
    or a :class:`TaskError` for what it raised."""
    results: list[Any] = []
    for task in batch.tasks:
        try:
            results.append(batch.func(*task))
        except Exception as exc:  # noqa: BLE001 - the task's own failure, not the batch's
            results.append(TaskError(f"{type(exc).__name__}: {exc}"))
    return results


def batches(sizes: Sequence[int], slots: int) -> list[range]:
    """Consecutive runs of the indexes of tasks reading ``sizes`` bytes, one Dask task
    each: at most :data:`BATCH_TASKS` tasks (fewer when a cluster of ``slots`` worker
    threads would get fewer than some 8 batches each) and :data:`BATCH_BYTES` bytes."""
    most = max(1, min(BATCH_TASKS, len(sizes) // (max(slots, 1) * 8)))
    runs: list[range] = []
    start = total = 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= most or total + size > BATCH_BYTES):
            runs.append(range(start, i))
            start, total = i, 0
        total += size
    if len(sizes) > start:
        runs.append(range(start, len(sizes)))
    return runs


def cluster_environment() -> dict[str, str]:
    """:data:`CLUSTER_CONFIG` as the ``DASK_*`` environment variables that a ``dask
    scheduler`` or ``dask worker`` started with them reads."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
            for key, value in CLUSTER_CONFIG.items()}


def _deaths(exc: BaseException) -> str:
    allowed = exc.args[2] if len(exc.args) > 2 else None
    return f"{allowed + 1} times" if isinstance(allowed, int) else "more than once"


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]
