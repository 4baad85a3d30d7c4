"""Build the due sessions a batch at a time, their files extracted together.

:func:`build_sessions` takes the due sessions in order, in batches of about
:data:`BATCH_FILES` files: it starts each session of a batch
(:func:`~nexuslims.builder.session.start_session`), extracts the files of all of them
at once on one executor (``NX_EXECUTOR``, opened once for the pass) so that its workers
stay busy across sessions, and finishes each session
(:func:`~nexuslims.builder.session.finish_session`) as soon as its own files are in.
What a batch held, its sessions' files and datasets, is let go before the next one
starts: the pass's memory follows its batch, not its backlog.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from nexuslims.builder import progress
from nexuslims.builder.outcome import SessionOutcome
from nexuslims.builder.session import Building, finish_session, record_interrupted, start_session
from nexuslims.config import Settings
from nexuslims.export import Exporter
from nexuslims.extract.executors import Executor, ExecutorUnavailable, open_executor
from nexuslims.extract.stage import FileJob, extract_jobs, local_pool
from nexuslims.extract.workers import limits
from nexuslims.extractors.base import Profile
from nexuslims.find import FindResult
from nexuslims.model.dataset import Dataset
from nexuslims.model.session import Session
from nexuslims.reservations import Harvester

logger = logging.getLogger(__name__)


BATCH_FILES = 2000
"""Files whose sessions a pass starts, extracts and finishes together: enough to keep
every worker busy across sessions, few enough that the coordinator's memory does not
follow the backlog (a session with more files is a batch of its own)."""


def build_sessions(engine, settings: Settings, sessions: list[Session],
                   harvesters: dict[str, Harvester], exporter: Exporter, *, dry_run: bool,
                   now: dt.datetime, found: dict[str, FindResult]) -> list[SessionOutcome]:
    """Build ``sessions``, a batch at a time; outcomes in their order.

    Sessions are taken in order, in batches of about :data:`BATCH_FILES` files. Each
    session of a batch is started in turn (files, reservation, activities); then the
    files of every started session go to the executor (``NX_EXECUTOR``, opened once for
    the pass) at once, so its workers stay busy across sessions, and each session is
    finished (built, validated, written, exported) as soon as its own files are done,
    in whatever order that is. What a batch held (its sessions' files in ``found``,
    their datasets) is let go before the next starts.
    """
    outcomes: dict[str, SessionOutcome] = {}
    claimed: set[Path] = set()
    profiles: dict[str, Profile | None] = {}
    extraction = _Extraction(settings)
    n = 0
    try:
        for batch in _batches(sessions, found, BATCH_FILES):
            building: list[Building] = []
            try:
                for session in batch:
                    n += 1
                    tz = session.instrument.tzinfo
                    logger.info("[%d/%d] session %s on %s, %s to %s", n, len(sessions),
                                session.identifier, session.instrument.pid,
                                session.start.astimezone(tz).isoformat(),
                                session.end.astimezone(tz).isoformat())
                    progress.sessions(len(outcomes), len(sessions), session.identifier)
                    step = start_session(engine, settings, session, harvesters,
                                         dry_run=dry_run, now=now,
                                         found=found.pop(session.identifier), claimed=claimed,
                                         profiles=profiles)
                    if isinstance(step, Building):
                        building.append(step)
                    else:
                        _log_outcome(step, sessions, outcomes)
                if building:
                    _extract_and_finish(engine, settings, building, exporter,
                                        lambda outcome: _log_outcome(outcome, sessions,
                                                                     outcomes),
                                        extraction)
            except KeyboardInterrupt as exc:
                for unfinished in building:
                    if unfinished.outcome.identifier not in outcomes \
                            and not unfinished.finishing:
                        record_interrupted(unfinished, exc)
                _in_pass_order(exc, sessions)
                raise
    finally:
        extraction.close()
    progress.sessions(len(sessions), len(sessions))
    return [outcomes[s.identifier] for s in sessions]


def _in_pass_order(exc: KeyboardInterrupt, sessions: list[Session]) -> None:
    """The sessions an interruption left, named in the pass's order rather than the order
    they happened to unwind in (a session finishing its record unwinds before the others)."""
    left = getattr(exc, "sessions", None)
    if isinstance(left, list):
        order = {s.identifier: i for i, s in enumerate(sessions)}
        left.sort(key=lambda identifier: order.get(identifier, len(order)))


def _batches(sessions: list[Session], found: dict[str, FindResult],
             size: int) -> Iterator[list[Session]]:
    """``sessions`` in order, in runs of about ``size`` files found."""
    batch: list[Session] = []
    files = 0
    for session in sessions:
        batch.append(session)
        files += len(found[session.identifier].files)
        if files >= size:
            yield batch
            batch, files = [], 0
    if batch:
        yield batch


class _Extraction:
    """The pass's executor: opened for the first batch that extracts, kept for the rest.

    A cluster that could not be reached is not asked again for every batch: the same
    error answers them all.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.executor: Executor | None = None
        self.failed: ExecutorUnavailable | None = None

    def get(self) -> Executor:
        if self.failed is not None:
            raise self.failed
        if self.executor is None:
            settings = self.settings
            try:
                self.executor = open_executor(
                    settings.executor, memory_mb=settings.extract_memory_mb,
                    make_local=lambda: local_pool(settings.extract_workers,
                                                  limits(settings.extract_timeout,
                                                         settings.extract_memory_mb)))
            except ExecutorUnavailable as exc:
                self.failed = exc
                raise
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None


def _log_outcome(outcome: SessionOutcome, sessions: list[Session],
                 outcomes: dict[str, SessionOutcome]) -> None:
    outcomes[outcome.identifier] = outcome
    n = next(i for i, s in enumerate(sessions, 1) if s.identifier == outcome.identifier)
    logger.info("[%d/%d] session %s: %s%s", n, len(sessions), outcome.identifier,
                outcome.status, f" ({outcome.message})" if outcome.message else "")
    progress.sessions(len(outcomes), len(sessions))


def _extract_and_finish(engine, settings: Settings, building: list[Building],
                        exporter: Exporter, done: Callable[[SessionOutcome], None],
                        extraction: _Extraction) -> None:
    """Extract the files of every started session at once; finish each when its are done."""
    assert settings.instrument_data_path is not None
    jobs = [FileJob(f.path, b.context) for b in building for f in b.files]
    owner = [(b, k) for b in building for k in range(len(b.files))]
    reports = {id(b): _progress_logger(b.session) for b in building}

    def on_file(i: int, datasets: list[Dataset]) -> None:
        b, k = owner[i]
        b.datasets[k] = datasets
        b.left -= 1
        reports[id(b)](len(b.files) - b.left, len(b.files))
        if b.left == 0:
            done(finish_session(engine, settings, b, exporter))
            b.datasets = []  # in its record now; a large batch need not hold them all

    def on_plan(reused: set[int]) -> None:
        for i in reused:
            owner[i][0].reused += 1

    started = (dt.datetime.now(dt.UTC), time.perf_counter())
    for b in building:
        b.started = started
    try:
        extract_jobs(jobs, instrument_root=settings.instrument_data_path,
                     data_root=settings.data_path, executor=extraction.get(),
                     on_file=on_file, reuse=settings.extract_cache, on_plan=on_plan,
                     sources=False)  # records do not use them; sidecars keep them
    except Exception as exc:  # the executor failed (a cluster out of reach): not the files'
        if isinstance(exc, ExecutorUnavailable):
            logger.error("extraction: %s; %d session(s) left for later", exc,
                         sum(not b.finishing for b in building))
        for b in building:
            if not b.finishing:
                done(finish_session(engine, settings, b, exporter, failed=exc))


def _progress_logger(session: Session) -> Callable[[int, int], None]:
    last = [0.0]

    def report(done: int, total: int) -> None:
        progress.extracting(session.identifier, done, total)
        if done == total or time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            logger.info("session %s: extracted %d/%d files", session.identifier, done, total)

    return report


