"""Extract stage: metadata, JSON sidecars and PNG previews for a session's files.

For each file the extractor registry answers (it never raises); the stage writes, under
``data_root`` and mirroring the file's path relative to ``instrument_root``:

- ``<relative path>.json``: one sidecar per file, written atomically (temp file, then
  ``os.replace``): ``{"file", "extractor", "datasets": [{"name", "dataset_type",
  "nx_meta", "unreliable", "warnings", "error", "preview", "fields"}]}``; ``fields`` is
  the machine-readable form (value, unit, file key, EM Glossary term: see
  :mod:`nexuslims.extractors.fields`); after a clean extraction also ``"fingerprint"``, what
  the extraction cache (:mod:`nexuslims.extract.cache`) compares to reuse it;
- ``<relative path>.thumb.png`` for a single dataset, ``<relative path>.<i>.thumb.png``
  (1-based) for the i-th of several.

A preview that cannot be drawn becomes a placeholder PNG and a warning. Files are read in
worker processes (:mod:`nexuslims.extract.workers`; HyperSpy readers hold the GIL and are
CPU-bound), each under a time limit and a memory ceiling: no file can stop the stage. A
file past a limit, or one that kills its worker twice, gets the basic file information
and an error saying why; a worker that dies costs its file one retry, nothing more.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexuslims.extract.executors import Executor, LocalPool
from nexuslims.extract.one import _failed, _safe_extract_one, _write_sidecar
from nexuslims.extract.workers import Failure, Limits, short_socket_dir
from nexuslims.extractors._quiet import quiet_hyperspy
from nexuslims.extractors.base import ExtractionContext
from nexuslims.model.dataset import Dataset

if TYPE_CHECKING:
    from nexuslims.extract.cache import CacheUse

logger = logging.getLogger(__name__)

MAX_DEFAULT_WORKERS = 4


_PRELOAD = ["nexuslims.extractors._quiet", "rsciio", "nexuslims.extract.stage",
            "nexuslims.extractors.registry"]
"""What the fork server always imports first (``nexuslims.extract._forkserver`` comes last).
``rsciio`` alone (not its readers) is cheap, and sets up its logger once for every worker
(see :func:`nexuslims.extractors._quiet.reader_messages`)."""


def _preload(paths: Sequence[Path], previews: bool) -> list[str]:
    """The fork server's imports for reading ``paths``: only what these files need.

    The reader stack (dask, HyperSpy's loader, RosettaSciIO's readers: a second or
    more) only when some file is read through it, the renderers only with previews; a
    worker imports whatever else it meets on first use.
    """
    from nexuslims.extractors._imports import PLAIN_MODULES, READER_MODULES

    modules = list(_PRELOAD)
    extensions = {p.suffix.lower().lstrip(".") for p in paths}
    stack = sorted(extensions & READER_MODULES.keys())
    if stack:
        modules.append("nexuslims.extractors._preload")  # first: dask without sparse
        for ext in stack:
            modules.extend(m for m in READER_MODULES[ext] if m not in modules)
    for ext in sorted(extensions & PLAIN_MODULES.keys()):
        modules.extend(m for m in PLAIN_MODULES[ext] if m not in modules)
    if previews:
        modules += ["nexuslims.previews", "imagecodecs._png"]  # libpng writes the PNGs
    return [*modules, "nexuslims.extract._forkserver"]


def _start_worker() -> None:
    """Run in each worker before its first file."""
    import sys

    quiet_hyperspy()
    warmed = sys.modules.get("nexuslims.extract._forkserver")
    # The fork server runs with "" first on its path; the rest tells if plug-ins may differ.
    if warmed is None or set(sys.path) - {""} != set(warmed.SYS_PATH) - {""}:
        from nexuslims.extractors.registry import reload

        reload()  # plug-ins installed since the fork server loaded them


_wanted: list[str] | None = None
"""The preload of the files the next local pool reads (set by :func:`extract_jobs`)."""


def _pool_context(preload: list[str] | None = None) -> Any:
    """A start method whose workers begin with the readers imported, and safely.

    Workers come from a fork server: a fresh process that imports ``preload`` (the
    reader stack and the renderers, when the files need them) once and then forks each
    worker in milliseconds; one already running keeps what it imported. Plain fork
    is not safe here: after in-process extraction the parent holds dask/BLAS threads, a
    lock held by one of them at fork time is never released in the child, and the pool
    hangs for good. ``nexuslims.extract._forkserver`` makes the fork server die with us and loads
    the extractor registry once.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    short_socket_dir()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload or _wanted or _preload([], False))
    with _fork_server_environment():
        from multiprocessing import forkserver

        forkserver.ensure_running()  # started here, in that environment, if not running
    return context


ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Set to 1 in the fork server's environment (unless set already): each worker is one
process per core, so the numeric libraries' own thread pools would only contend for the
same cores (as joblib's and Dask's worker processes do); OpenBLAS also starts a thread
per core when NumPy is imported, 0.05 CPU-s of the fork server's start."""


@contextlib.contextmanager
def _fork_server_environment() -> Iterator[None]:
    """While the fork server starts: :data:`ONE_THREAD` set to 1 where not set, and
    ``PYTHONSAFEPATH`` (:func:`_safe_path`)."""
    added = [name for name in ONE_THREAD if name not in os.environ]
    if _safe_path() and "PYTHONSAFEPATH" not in os.environ:
        added.append("PYTHONSAFEPATH")
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _safe_path() -> bool:
    """Whether the fork server is to start without the working directory on its path.

    multiprocessing starts it with ``python -c``, which puts the working directory first
    on ``sys.path``, and (Python 3.11) does not give it ours: run from a folder holding a
    ``nexuslims`` or ``numpy`` folder (a clone of this repository, a site's own scripts),
    the workers would import those and this process the installed ones. Unless this
    process itself took nexuslims from the working directory (``python -m nexuslims`` in
    an uninstalled clone), the fork server starts with ``PYTHONSAFEPATH=1``: it imports
    what this process imports.
    """
    import nexuslims

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(nexuslims.__file__)))
    return package_root != os.path.abspath(os.getcwd())


def local_pool(workers: int | None = None, limits: Limits | None = None) -> LocalPool:
    """This machine's pool of extraction workers (``NX_EXECUTOR=local``).

    ``workers`` defaults to ``min(4, os.cpu_count())``; 0 reads in this process, without
    time or memory limits. ``limits`` defaults to :class:`Limits` with the memory
    ceiling at most half the machine's memory.
    """
    if workers is None:
        workers = min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)
    if limits is None:
        from nexuslims.extract.workers import default_memory_mb

        limits = Limits(memory_mb=default_memory_mb())
    return LocalPool(workers, limits, _pool_context, _start_worker)


# -- in the coordinator ----------------------------------------------------------------


@dataclass(frozen=True)
class FileJob:
    """One file to extract, and what its extractor may know (its session's instrument)."""

    path: Path
    context: ExtractionContext


def extract_jobs(jobs: Sequence[FileJob], *, instrument_root: Path, data_root: Path | None,
                 executor: Executor, on_file: Callable[[int, list[Dataset]], None],
                 previews: bool = True, reuse: bool = False,
                 on_plan: Callable[[set[int]], None] | None = None,
                 sources: bool = True) -> None:
    """Extract every job's file on ``executor``; ``on_file(i, datasets)`` as each is done.

    The coordinator's side of the stage: here it is decided which files are submitted,
    and here (for a Dask executor whose workers do not see ``data_root`` where this process
    does) their previews and sidecars are written. Files of many sessions go in one call, so
    workers stay busy across sessions. ``on_file`` runs in this process, in completion
    order; a file that could not be read within the limits, or that killed its workers, gets
    one basic dataset whose ``error`` says why (and a sidecar saying so).

    With ``reuse``, a file unchanged since its sidecar was written
    (:mod:`nexuslims.extract.cache`) is not submitted: its datasets come from the
    sidecar, before any file is read. ``on_plan`` is first told the indexes of those.

    Without ``sources``, the local pool's workers send datasets back without their
    :attr:`~nexuslims.model.dataset.Dataset.sources` (their sidecars have them): a
    caller that only builds records from them takes in half the bytes.
    """
    from nexuslims.extract import cache as extraction_cache

    root = Path(instrument_root)
    data = Path(data_root) if data_root is not None else None
    plan = extraction_cache.plan([job.path for job in jobs], instrument_root=root,
                                 data_root=data, contexts=[job.context for job in jobs],
                                 previews=previews, reuse=reuse)
    todo = plan.todo
    if on_plan is not None:
        on_plan(set(plan.reused))
    for i, datasets in plan.reused.items():
        on_file(i, datasets)
    if not todo:
        return
    remote = getattr(executor, "remote", False)
    worker_root = getattr(executor, "worker_root", None) or root
    marked = contextlib.ExitStack()
    if remote:
        from nexuslims.extract.remote import (
            PlainFile,
            extract_plain,
            extract_shared,
            pass_marker,
            store_plain,
        )

        # Workers that see NX_DATA_PATH where we do write previews and sidecars themselves.
        marker = marked.enter_context(pass_marker(data)) if data is not None else None
        tasks: list[tuple[Any, ...]] = [
            (_on_worker(jobs[i].path, root, worker_root), worker_root,
             _context_on_worker(jobs[i].context, root, worker_root), previews)
            for i in todo]
        func: Callable[..., Any] = extract_plain
        if marker is not None:
            tasks = [(*task[:2], data, *task[2:], plan.fingerprints[i], marker, sources)
                     for task, i in zip(tasks, todo, strict=True)]
            func = extract_shared
    else:
        tasks = [(jobs[i].path, root, data, jobs[i].context, previews, plan.fingerprints[i])
                 for i in todo]
        func = _safe_extract_one if sources or data is None else _extract_without_sources
        global _wanted
        _wanted = _preload([jobs[i].path for i in todo], previews and data is not None)

    def collect(j: int, result: Any) -> None:
        i = todo[j]
        path = Path(jobs[i].path)
        if isinstance(result, Failure):
            logger.error("%s: %s", path, result.reason)
            result = _failed(path, root, jobs[i].context, result.reason)
            if data is not None:  # the worker was stopped before it wrote one
                _write_sidecar(data, result[0].location, result, "basic")
        elif remote and isinstance(result, PlainFile):
            result = store_plain(result, path, data, fingerprint=plan.fingerprints[i])
        elif remote:  # written by the worker: only its path is as the worker saw it
            here = Path(os.path.abspath(path))
            for dataset in result:
                dataset.path = here
        on_file(i, result)

    with marked:
        executor.map(func, tasks, sizes=[_size(jobs[i].path) for i in todo],
                     on_result=collect)


def _extract_without_sources(*args: Any) -> list[Dataset]:
    """:func:`_safe_extract_one` (in a worker), its datasets sent back without the
    source of each value: written to the sidecar, and more than half of what would
    travel back (a pass's records do not use them)."""
    datasets = _safe_extract_one(*args)
    for dataset in datasets:
        dataset.sources = {}
    return datasets


def _context_on_worker(context: ExtractionContext, root: Path,
                       worker_root: Path) -> ExtractionContext:
    """``context`` with its allowed roots as a worker that mounts the share under
    ``worker_root`` sees them; when one lies outside the share (an extra root the worker
    may mount anywhere), nothing is checked there and the walk's check stands alone."""
    if worker_root == root or not context.allowed_roots:
        return context
    mapped = []
    for allowed in context.allowed_roots:
        try:
            rel = Path(os.path.abspath(allowed)).relative_to(os.path.abspath(root))
        except ValueError:
            return dataclasses.replace(context, allowed_roots=())
        mapped.append(str(worker_root / rel))
    return dataclasses.replace(context, allowed_roots=tuple(mapped))


def _on_worker(path: Path, root: Path, worker_root: Path) -> Path:
    """``path`` (under ``root`` here) as a worker sees it, under ``worker_root``."""
    if worker_root == root:
        return Path(path)
    try:
        return worker_root / Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return Path(path)


def extract_files(
    files: Sequence[Path],
    *,
    instrument_root: Path,
    data_root: Path | None,
    context: ExtractionContext,
    previews: bool = True,
    workers: int | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
    cache: CacheUse | None = None,
) -> list[Dataset]:
    """Extract metadata (and previews) of ``files``; datasets in input order.

    Parameters
    ----------
    files
        The files to read.
    instrument_root
        Root that ``Dataset.location`` and the mirrored output paths are relative to.
    data_root
        Where sidecars and previews go; None writes nothing (dry run).
    context
        What extractors may know beyond the file (the instrument's timezone).
    previews
        Whether to draw PNG previews (only with ``data_root``).
    workers
        Worker processes; default ``min(4, os.cpu_count())``. 0 reads in this process,
        without time or memory limits (tests, debugging).
    limits
        Time and memory each file may use in a worker (default: :class:`Limits` with
        the memory ceiling at most half the machine's memory).
    progress
        Called with ``(files done, files total)`` after each file.
    executor
        Where files are read (default: :func:`local_pool` of ``workers`` and ``limits``).
    cache
        Reuse the sidecars and previews of files unchanged since they were written
        (:mod:`nexuslims.extract.cache`), unless ``cache.enabled`` is false; the
        counts of reused and read files are set on it. None reads every file.

    Returns
    -------
    list of Dataset
        Datasets of one file are consecutive; a file described by a sibling (a TIA
        ``.emi``) contributes none. A file that could not be read within the limits, or
        that killed two workers, has one basic dataset whose ``error`` says why.
    """
    jobs = [FileJob(Path(f), context) for f in files]
    results: list[list[Dataset]] = [[] for _ in jobs]
    done = 0

    def collect(i: int, datasets: list[Dataset]) -> None:
        nonlocal done
        results[i] = datasets
        done += 1
        if progress:
            progress(done, len(jobs))

    def planned(reused: set[int]) -> None:
        if cache is not None:
            cache.reused, cache.extracted = len(reused), len(jobs) - len(reused)

    extract_jobs(jobs, instrument_root=instrument_root, data_root=data_root,
                 executor=executor or local_pool(workers, limits), on_file=collect,
                 previews=previews, reuse=cache is not None and cache.enabled,
                 on_plan=planned)
    return [ds for group in results for ds in group]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
