"""Extract stage: metadata, JSON sidecars and PNG previews for a session's files.

For each file the extractor registry answers (it never raises); the stage writes, under
``data_root`` and mirroring the file's path relative to ``instrument_root``:

- ``<relative path>.json``: one sidecar per file, written atomically (temp file, then
  ``os.replace``): ``{"file", "extractor", "datasets": [{"name", "dataset_type",
  "nx_meta", "unreliable", "warnings", "error", "preview", "fields"}]}``; ``fields`` is
  the machine-readable form (value, unit, file key, EM Glossary term: see
  :mod:`nexuslims.extractors.fields`); after a clean extraction also ``"fingerprint"``, what
  the extraction cache (:mod:`nexuslims.extraction_cache`) compares to reuse it;
- ``<relative path>.thumb.png`` for a single dataset, ``<relative path>.<i>.thumb.png``
  (1-based) for the i-th of several.

A preview that cannot be drawn becomes a placeholder PNG and a warning. Files are read in
worker processes (:mod:`nexuslims.workers`; HyperSpy readers hold the GIL and are
CPU-bound), each under a time limit and a memory ceiling: no file can stop the stage. A
file past a limit, or one that kills its worker twice, gets the basic file information
and an error saying why; a worker that dies costs its file one retry, nothing more.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexuslims.atomic import write_atomically
from nexuslims.executors import Executor, LocalPool
from nexuslims.extractors._quiet import quiet_hyperspy, reader_messages
from nexuslims.extractors.base import ExtractedDataset, ExtractionContext
from nexuslims.workers import Failure, Limits, short_socket_dir

if TYPE_CHECKING:
    from nexuslims.extraction_cache import CacheUse

logger = logging.getLogger(__name__)

MAX_DEFAULT_WORKERS = 4


@dataclass
class Dataset:
    """One dataset of the record: an extracted signal with where it lives."""

    name: str
    """``"<file name>"``, or ``"<file name> (i of N)"`` for multi-signal files."""
    path: Path
    """Absolute path of the file it came from."""
    location: str
    """Path relative to the instrument data root, with forward slashes (not yet URL-quoted)."""
    dataset_type: str
    nx_meta: dict[str, Any]
    unreliable: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    extractor: str = "basic"
    error: str | None = None
    preview: Path | None = None
    """Absolute path of the PNG preview, or None if none could be made."""
    preview_location: str | None = None
    """Preview path relative to NX_DATA_PATH (forward slashes), or None."""
    sidecar: Path | None = None
    mtime: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)
    """nx_meta key -> where in the file the value came from."""


def relative_location(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes (the file name if outside it)."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.name


def preview_path(data_root: Path, location: str, index: int, total: int) -> Path:
    """Where the preview of dataset ``index`` (1-based) of ``total`` goes."""
    suffix = ".thumb.png" if total == 1 else f".{index}.thumb.png"
    return data_root / (location + suffix)


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    from nexuslims.extractors._common import scalar

    return {str(k): scalar(v) for k, v in meta.items()}


def _render(ds: ExtractedDataset, source: Path, out: Path) -> tuple[bool, str | None]:
    """Draw ``ds``'s preview to ``out`` atomically; (written, warning)."""
    from nexuslims.extractors.registry import preview_generator

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.png")
    renderer: Callable[[Path], None] | None = ds.render_preview
    if renderer is None:
        generator = preview_generator(source)
        if generator is not None:
            def renderer(target: Path, _gen: Any = generator) -> None:
                _gen.render(source, target)
    warning = None
    try:
        from nexuslims.previews import render_placeholder

        if renderer is None:
            render_placeholder(tmp, f"no preview for {source.suffix or 'this'} files")
        else:
            try:
                renderer(tmp)
                if not tmp.is_file() or tmp.stat().st_size == 0:
                    raise RuntimeError("renderer wrote no image")
            except Exception as exc:  # noqa: BLE001 - any drawing failure gets a placeholder
                warning = f"preview could not be drawn ({type(exc).__name__}: {exc}); " \
                          "a placeholder is shown"
                render_placeholder(tmp, f"preview failed: {exc}")
        os.replace(tmp, out)
        return True, warning
    except Exception as exc:  # noqa: BLE001 - even the placeholder failed: no preview
        tmp.unlink(missing_ok=True)
        return False, f"no preview: {type(exc).__name__}: {exc}"


def extract_one(
    path: Path,
    instrument_root: Path,
    data_root: Path | None,
    context: ExtractionContext,
    previews: bool = True,
    fingerprint: dict[str, Any] | None = None,
    *,
    sidecar: bool = True,
) -> list[Dataset]:
    """Extract one file: datasets, and (with ``data_root``) its previews and (with
    ``sidecar``) its sidecar.

    ``fingerprint`` (:mod:`nexuslims.extraction_cache`) goes into the sidecar if the
    extraction is clean, so that a later build may reuse it.
    """
    from nexuslims.extractors.registry import extract

    path = Path(path)
    location = relative_location(path, instrument_root)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    with reader_messages() as reading:  # the readers' own notices, kept with the file
        extracted = extract(path, context)
    if context.profile is not None:  # the site's corrections for this instrument
        from nexuslims.profiles import apply_profile

        extracted = apply_profile(extracted, context.profile)
    total = len(extracted)
    out: list[Dataset] = []
    for index, ds in enumerate(extracted, 1):
        warnings = list(ds.warnings)
        if index == 1:  # about the file: said once, with its first dataset
            warnings.extend(f"reading the file: {m}" for m in reading if m not in warnings)
        preview = preview_loc = None
        if previews and data_root is not None:
            target = preview_path(Path(data_root), location, index, total)
            with reader_messages() as drawing:
                written, warning = _render(ds, path, target)
            if warning:
                warnings.append(warning)
            warnings.extend(f"preview: {m}" for m in drawing)
            if written:
                preview = target
                preview_loc = relative_location(target, Path(data_root))
        out.append(
            Dataset(
                name=ds.name,
                path=Path(os.path.abspath(path)),
                location=location,
                dataset_type=ds.dataset_type,
                nx_meta=_json_safe(ds.nx_meta),
                unreliable=set(ds.unreliable),
                warnings=warnings,
                extractor=ds.extractor,
                error=ds.error,
                preview=preview,
                preview_location=preview_loc,
                mtime=mtime,
                sources=dict(ds.sources),
            )
        )
    if data_root is not None and sidecar:
        _write_sidecar(Path(data_root), location, out,
                       out[0].extractor if out else _chosen(path), fingerprint=fingerprint)
    return out


def _write_sidecar(data_root: Path, location: str, datasets: list[Dataset],
                   extractor: str, fingerprint: dict[str, Any] | None = None) -> None:
    """``<location>.json`` under ``data_root``, atomically; notes a failure on the datasets."""
    from nexuslims import extraction_cache
    from nexuslims.extractors.fields import field_records

    sidecar = data_root / (location + ".json")
    body: dict[str, Any] = {
        "file": location,
        "extractor": extractor,
        "datasets": [
            {
                "name": d.name,
                "dataset_type": d.dataset_type,
                "nx_meta": d.nx_meta,
                "unreliable": sorted(d.unreliable),
                "warnings": d.warnings,
                "error": d.error,
                "preview": d.preview_location,
                "fields": field_records(d.nx_meta, d.sources),
            }
            for d in datasets
        ],
    }
    # Only a clean extraction is stamped for reuse by the extraction cache.
    stamp = extraction_cache.storable(fingerprint, datasets)
    if stamp is not None:
        body[extraction_cache.KEY] = stamp
    try:
        # A name that is not UTF-8 holds lone surrogates: written as JSON \udcXX escapes.
        # Not indented: indenting makes json use its pure-Python encoder (5x the CPU).
        write_atomically(sidecar, json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                                             default=str).encode("utf-8", "backslashreplace"))
        for d in datasets:
            d.sidecar = sidecar
    except OSError as exc:
        logger.warning("could not write %s: %s", sidecar, exc)
        for d in datasets:
            d.warnings.append(f"sidecar not written: {exc}")


def _chosen(path: Path) -> str:
    from nexuslims.extractors.registry import select

    try:
        return str(select(path).name)
    except Exception:  # noqa: BLE001
        return "basic"


def _safe_extract_one(*args: Any) -> list[Dataset]:
    """:func:`extract_one` that turns even an unexpected crash into a basic dataset."""
    path, instrument_root, data_root, context = args[:4]
    try:
        return extract_one(*args)
    except MemoryError:
        raise  # in a worker: the pool reports the memory ceiling and replaces the worker
    except Exception as exc:  # noqa: BLE001 - one bad file never fails the stage
        logger.exception("extraction of %s failed", path)
        return _failed(Path(path), instrument_root, context, f"extraction failed: {exc}")


def _failed(path: Path, instrument_root: Path, context: ExtractionContext,
            reason: str) -> list[Dataset]:
    from nexuslims.extractors.basic import basic_dataset

    ds = basic_dataset(path, context, error=reason)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return [Dataset(name=ds.name, path=Path(os.path.abspath(path)), mtime=mtime,
                        location=relative_location(Path(path), instrument_root),
                        dataset_type=ds.dataset_type, nx_meta=_json_safe(ds.nx_meta),
                        warnings=ds.warnings, extractor=ds.extractor, error=ds.error)]


_PRELOAD = ["nexuslims.extractors._quiet", "rsciio", "nexuslims.extraction",
            "nexuslims.extractors.registry"]
"""What the fork server always imports first (``nexuslims._forkserver`` comes last).
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
        modules.append("nexuslims.previews")
    return [*modules, "nexuslims._forkserver"]


def _start_worker() -> None:
    """Run in each worker before its first file."""
    import sys

    quiet_hyperspy()
    warmed = sys.modules.get("nexuslims._forkserver")
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
    hangs for good. ``nexuslims._forkserver`` makes the fork server die with us and loads
    the extractor registry once.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    short_socket_dir()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload or _wanted or _preload([], False))
    return context


def local_pool(workers: int | None = None, limits: Limits | None = None) -> LocalPool:
    """This machine's pool of extraction workers (``NX_EXECUTOR=local``).

    ``workers`` defaults to ``min(4, os.cpu_count())``; 0 reads in this process, without
    time or memory limits. ``limits`` defaults to :class:`Limits` with the memory
    ceiling at most half the machine's memory.
    """
    if workers is None:
        workers = min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)
    if limits is None:
        from nexuslims.workers import default_memory_mb

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
                 on_plan: Callable[[set[int]], None] | None = None) -> None:
    """Extract every job's file on ``executor``; ``on_file(i, datasets)`` as each is done.

    The coordinator's side of the stage: here it is decided which files are submitted,
    and here (for a Dask executor) their previews and sidecars are written, so workers
    only read. Files of many sessions go in one call, so workers stay busy across
    sessions. ``on_file`` runs in this process, in completion order; a file that could
    not be read within the limits, or that killed its workers, gets one basic dataset
    whose ``error`` says why (and a sidecar saying so).

    With ``reuse``, a file unchanged since its sidecar was written
    (:mod:`nexuslims.extraction_cache`) is not submitted: its datasets come from the
    sidecar, before any file is read. ``on_plan`` is first told the indexes of those.
    """
    from nexuslims import extraction_cache

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
    if remote:
        from nexuslims.extraction_remote import PlainFile, extract_plain, store_plain

        tasks: list[tuple[Any, ...]] = [
            (_on_worker(jobs[i].path, root, worker_root), worker_root, jobs[i].context,
             previews) for i in todo]
        func: Callable[..., Any] = extract_plain
    else:
        tasks = [(jobs[i].path, root, data, jobs[i].context, previews, plan.fingerprints[i])
                 for i in todo]
        func = _safe_extract_one
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
        on_file(i, result)

    executor.map(func, tasks, sizes=[_size(jobs[i].path) for i in todo], on_result=collect)


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
        (:mod:`nexuslims.extraction_cache`), unless ``cache.enabled`` is false; the
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
