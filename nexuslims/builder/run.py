"""One pass of the record builder: the whole job on one screen.

    session log -> reservation -> find files -> activities -> extract -> build
      -> validate -> write record

Each stage is a plain function in its own module; this module wires them, records what
each did (status, timings, counts) in the build history, and decides what happens on
failure: one session's failure never stops the pass. A passing fault (disk full, database
locked, file store or calendar unreachable; see :mod:`nexuslims.faults`) leaves the
session TO_BE_BUILT with a DEFERRED attempt and a backoff; only a session whose data or
record is at fault becomes ERROR. Each instrument's folder is walked once per pass for
all its waiting sessions; sessions with no files yet cost no database writes. The files
of all started sessions are extracted together on one executor (``NX_EXECUTOR``: this
machine's pool or a Dask cluster, :mod:`nexuslims.extract.executors`), and each session is
finished as soon as its own files are done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nexuslims import db
from nexuslims.activities import cluster_mtimes, group_by_boundaries
from nexuslims.atomic import write_atomically
from nexuslims.builder import progress
from nexuslims.builder.attempts import (
    LEFT_FOR_LATER,
    Attempt,
    conclude,
    failed_session,
    finish_interrupted,
)
from nexuslims.builder.due import (
    Waiting,
    due_sessions,
    files_overdue,
    find_for_sessions,
    no_files_message,
    waits_for_files,
)
from nexuslims.builder.lease import clean_up_after_dead_passes
from nexuslims.builder.outcome import PassSummary, SessionOutcome
from nexuslims.config import Settings
from nexuslims.db import buildstate
from nexuslims.export import Exporter, build_exporter
from nexuslims.extract.cache import CacheUse
from nexuslims.extract.executors import ExecutorUnavailable, open_executor
from nexuslims.extract.stage import Dataset, FileJob, extract_jobs, local_pool
from nexuslims.extract.workers import limits
from nexuslims.extractors.base import ExtractionContext
from nexuslims.extractors.profiles import load_profile
from nexuslims.faults import Deferred, environmental_text
from nexuslims.find import FindResult, FoundFile, instrument_folder_problem
from nexuslims.model.session import Instrument, Session, Status, pair_sessions
from nexuslims.record.build import Activity, build_record
from nexuslims.record.index import index_record
from nexuslims.record.validate import validate_record
from nexuslims.reservations import (
    Harvester,
    NoConsent,
    NoReservation,
    Reservation,
    SessionSource,
    build_harvesters,
    harvester_for,
    unavailable_reason,
)

logger = logging.getLogger(__name__)
events = logging.getLogger("nexuslims.events")


def run_pass(settings: Settings, *, dry_run: bool = False,
             since: dt.datetime | None = None, until: dt.datetime | None = None,
             now: dt.datetime | None = None) -> PassSummary:
    """Build every session waiting in the session log.

    Parameters
    ----------
    settings
        Checked settings.
    dry_run
        Find and group files and report what would be built; write nothing.
    since, until
        Only sessions starting in this window (aware datetimes).
    now
        The current time (tests); decides when "no files" becomes final and when a
        session is due. Whatever it says, no session is built before its end by the
        machine's clock, nor a deferred one before its backoff has passed.
    """
    t0 = time.perf_counter()
    clock = dt.datetime.now(dt.UTC)
    now = now or clock
    harvesters = build_harvesters(settings)
    exporter = build_exporter(settings)
    assert settings.db_url is not None, "load_settings requires a database"
    engine = db.make_engine(settings.db_url, settings.env)
    try:
        db.require_head(engine)
        if not dry_run:
            clean_up_after_dead_passes(engine, settings)
        instruments = db.load_instruments(engine)
        calendar_errors: dict[str, str] = {}
        harvested = [s for h in harvesters.values() if isinstance(h, SessionSource)
                     for s in harvest_sessions(engine, h, instruments, since=since, until=until,
                                               now=now, dry_run=dry_run, errors=calendar_errors)]
        sessions, unbuildable = pair_sessions(db.session_rows(engine, Status.TO_BE_BUILT),
                                              instruments)
        known = {s.identifier for s in sessions}
        sessions += [s for s in harvested if s.identifier not in known]  # dry run: not stored
        sessions = [s for s in sessions
                    if (since is None or s.start >= since) and (until is None or s.start < until)]
        # Preflight (doctor's cheap check): an instrument whose folder is missing or
        # unreadable is skipped for this pass, its sessions untouched, loudly.
        skipped = skip_unreachable_instruments(settings, sessions)
        outcomes: list[SessionOutcome] = [_skipped(s, skipped[s.instrument.pid])
                                          for s in sessions if s.instrument.pid in skipped]
        sessions = [s for s in sessions if s.instrument.pid not in skipped]
        logger.info("%d session(s) to build, %d that cannot be built", len(sessions),
                    len(unbuildable))

        for bad in unbuildable:
            logger.error("session %s: %s", bad.identifier, bad.reason)
            if not dry_run:
                db.mark_unbuildable(engine, bad.identifier, bad.instrument_pid, bad.reason)
            outcomes.append(SessionOutcome(bad.identifier, bad.instrument_pid, Status.ERROR,
                                           message=bad.reason))

        sessions, waiting = due_sessions(sessions, settings, buildstate.deferrals(engine),
                                         now=now, clock=clock)
        outcomes += [_not_due(w) for w in waiting]
        found = find_for_sessions(settings, sessions)
        # A session with no files yet, from a complete walk, waits without a trace.
        empty = [s for s in sessions if waits_for_files(found[s.identifier], s, settings, now)]
        if empty:
            logger.info("%d session(s) have no files yet; looking again on later passes",
                        len(empty))
            outcomes += [_waiting_for_files(s, settings) for s in empty]
            skip = {s.identifier for s in empty}
            sessions = [s for s in sessions if s.identifier not in skip]

        outcomes += build_sessions(engine, settings, sessions, harvesters, exporter,
                                   dry_run=dry_run, now=now, found=found)
        # Records built on earlier passes but not yet exported: again, without rebuilding.
        exports = [SessionOutcome(r.session_identifier, r.instrument, r.status, message=r.message)
                   for r in exporter.retry_pending(engine, now=now, dry_run=dry_run)]
    finally:
        engine.dispose()
        for harvester in harvesters.values():
            close = getattr(harvester, "close", None)
            if close is not None:
                close()
    return PassSummary(outcomes, time.perf_counter() - t0, dry_run, exports,
                       calendar_errors=calendar_errors, skipped_instruments=skipped)


def skip_unreachable_instruments(settings: Settings, sessions: list[Session]) -> dict[str, str]:
    """Instruments with sessions to build whose folder cannot be searched, and why."""
    skipped: dict[str, str] = {}
    waiting = {s.instrument.pid: s.instrument for s in sessions}
    for pid in sorted(waiting):
        problem = instrument_folder_problem(settings, waiting[pid])
        if problem is not None:
            skipped[pid] = problem
            logger.error("instrument %s skipped this pass, its sessions wait: %s", pid, problem)
    return skipped


def harvest_sessions(engine, source: SessionSource, instruments: dict[str, Instrument], *,
                     since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime,
                     dry_run: bool, errors: dict[str, str] | None = None) -> list[Session]:
    """Ask a scheduler for sessions that ended since its last successful harvest.

    They are written to the session log as TO_BE_BUILT (in a dry run, only returned).
    ``since``/``until`` (``--from``/``--to``) override the stored harvest window. A
    server that cannot be reached is logged and asked again from the same point on the
    next pass, so no event is lost to an outage.
    """
    from nexuslims.db import harvest as harvest_db

    result = source.harvest(instruments, harvest_db.harvest_state(engine, source.name),
                            until or now, since)
    for server, error in result.errors.items():
        logger.error("%s server %s could not be harvested: %s", source.name, server, error)
        if errors is not None:
            errors[server] = error
    logger.info("%s: %d finished session(s) reported", source.name, len(result.sessions))
    if not dry_run:
        saved = harvest_db.save_harvest(engine, source.name, result, now=now)
        logger.info("%s: %d session(s) added to the session log, %d updated, %d unchanged",
                    source.name, saved.added, saved.updated, saved.unchanged)
        return []
    sessions = []
    for h in result.sessions:
        instrument = instruments.get(h.instrument)
        if instrument is not None:
            sessions.append(Session(h.identifier, instrument, h.start.astimezone(dt.UTC),
                                    h.end.astimezone(dt.UTC), h.user))
    return sessions


def build_sessions(engine, settings: Settings, sessions: list[Session],
                   harvesters: dict[str, Harvester], exporter: Exporter, *, dry_run: bool,
                   now: dt.datetime, found: dict[str, FindResult]) -> list[SessionOutcome]:
    """Build ``sessions``, extracting all their files together; outcomes in their order.

    Each session is started in turn (files, reservation, activities); then the files of
    every started session go to the executor (``NX_EXECUTOR``) at once, so its workers
    stay busy across sessions, and each session is finished (built, validated, written,
    exported) as soon as its own files are done, in whatever order that is.
    """
    outcomes: dict[str, SessionOutcome] = {}
    building: list[_Building] = []
    claimed: set[Path] = set()
    try:
        for n, session in enumerate(sessions, 1):
            tz = session.instrument.tzinfo
            logger.info("[%d/%d] session %s on %s, %s to %s", n, len(sessions),
                        session.identifier, session.instrument.pid,
                        session.start.astimezone(tz).isoformat(),
                        session.end.astimezone(tz).isoformat())
            progress.sessions(len(outcomes), len(sessions), session.identifier)
            step = start_session(engine, settings, session, harvesters, dry_run=dry_run,
                                 now=now, found=found[session.identifier], claimed=claimed)
            if isinstance(step, _Building):
                building.append(step)
            else:
                _log_outcome(step, sessions, outcomes)
        if building:
            _extract_and_finish(engine, settings, building, exporter,
                                lambda outcome: _log_outcome(outcome, sessions, outcomes))
    except KeyboardInterrupt as exc:
        for unfinished in building:
            if unfinished.outcome.identifier not in outcomes and not unfinished.finishing:
                _interrupted(unfinished, exc)
        raise
    progress.sessions(len(sessions), len(sessions))
    return [outcomes[s.identifier] for s in sessions]


def _log_outcome(outcome: SessionOutcome, sessions: list[Session],
                 outcomes: dict[str, SessionOutcome]) -> None:
    outcomes[outcome.identifier] = outcome
    n = next(i for i, s in enumerate(sessions, 1) if s.identifier == outcome.identifier)
    logger.info("[%d/%d] session %s: %s%s", n, len(sessions), outcome.identifier,
                outcome.status, f" ({outcome.message})" if outcome.message else "")
    progress.sessions(len(outcomes), len(sessions))


@dataclass
class _Building:
    """A started session whose files are being extracted: what finishing it needs."""

    session: Session
    attempt: Attempt
    outcome: SessionOutcome
    answer: Reservation
    files: list[FoundFile]
    groups: list[list[FoundFile]]
    path: Path
    """Its record's path, chosen when it started (:func:`record_path`)."""
    context: ExtractionContext
    datasets: list[list[Dataset]] = field(default_factory=list)
    left: int = 0
    """Files not yet extracted."""
    started: tuple[dt.datetime, float] | None = None
    """When its extraction began (clock, perf counter)."""
    finishing: bool = False
    reused: int = 0
    """Of its files, how many the extraction cache gave back without reading them."""


def start_session(engine, settings: Settings, session: Session,
                  harvesters: dict[str, Harvester], *, dry_run: bool, now: dt.datetime,
                  found: FindResult | None = None, claimed: set[Path] | None = None,
                  ) -> SessionOutcome | _Building:
    """The stages before extraction: files, reservation, activities; never raises.

    Returns the session's outcome when it ends here (no files, no reservation, a
    passing fault, a dry run), else what :func:`finish_session` needs once its files
    are extracted. ``found`` is the session's files when the pass already walked its
    instrument's folder (:func:`find_for_sessions`); without it the folder is walked
    here. ``claimed`` collects the record paths given to sessions of this pass.
    """
    assert settings.instrument_data_path is not None and settings.records_path is not None
    tz = session.instrument.tzinfo
    outcome = SessionOutcome(session.identifier, session.instrument.pid, Status.ERROR,
                             start=session.start.astimezone(tz), end=session.end.astimezone(tz))
    try:
        harvester = harvester_for(session.instrument.harvester, harvesters)
    except KeyError:
        # Nothing is lost: the session waits until a nexuslims with that harvester runs.
        outcome.status = LEFT_FOR_LATER
        outcome.message = (f"instrument {session.instrument.pid}: "
                           f"{unavailable_reason(session.instrument.harvester)}; "
                           "left for later")
        logger.warning("session %s: %s", session.identifier, outcome.message)
        return outcome
    attempt: Attempt | None = None
    try:
        attempt = Attempt(engine, session, dry_run)
        root = settings.instrument_data_path / session.instrument.filestore_path
        with attempt.stage("find_files") as rec:
            if found is None:
                found = find_for_sessions(settings, [session])[session.identifier]
            for warning in found.warnings:
                logger.warning("session %s: %s", session.identifier, warning)
            rec.files_found = outcome.files = len(found.files)
            rec.bytes_found = outcome.bytes = sum(f.size for f in found.files)
            if not found.files and not found.complete:
                # An unmounted share or a folder we may not read looks empty: no verdict.
                raise Deferred("filestore", f"cannot tell whether {root} holds files of "
                               f"this session: {'; '.join(found.warnings[:3])}")

        if not found.files and not files_overdue(session, settings, now):
            attempt.discard()
            return _waiting_for_files(session, settings)

        answer = harvester.reservation_for(session)  # HarvesterError: try again later
        if isinstance(answer, Reservation):
            outcome.reservation = answer
        if isinstance(answer, NoReservation | NoConsent):
            status = Status.NO_RESERVATION if isinstance(answer, NoReservation) \
                else Status.NO_CONSENT
            return conclude(engine, attempt, outcome, status, message=answer.reason)

        if not found.files:
            return conclude(engine, attempt, outcome, Status.NO_FILES_FOUND,
                             message=no_files_message(root, session, found.nearby))

        with attempt.stage("cluster") as rec:
            groups = group_files(found.files, settings.clustering_sensitivity)
            rec.files_found = len(found.files)
            outcome.activities = [[_relative(f.path, settings.instrument_data_path)
                                   for f in group] for group in groups]

        if dry_run:
            outcome.status = Status.COMPLETED
            outcome.message = "dry run: nothing written"
            return outcome
        context = ExtractionContext(timezone=session.instrument.tzinfo,
                                    instrument=session.instrument.pid,
                                    profile=load_profile(session.instrument.pid, settings.env))
        path = record_path(engine, settings, session, claimed)
        return _Building(session, attempt, outcome, answer, found.files, groups, path,
                         context, datasets=[[] for _ in found.files], left=len(found.files))
    except KeyboardInterrupt as exc:
        # The pass is being stopped: the session stays TO_BE_BUILT for the next one.
        finish_interrupted(attempt, session, exc)
        raise
    except Exception as exc:  # one session's failure never stops the pass
        return failed_session(engine, attempt, outcome, exc, settings)


def _extract_and_finish(engine, settings: Settings, building: list[_Building],
                        exporter: Exporter, done: Callable[[SessionOutcome], None]) -> None:
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

    def on_plan(reused: set[int]) -> None:
        for i in reused:
            owner[i][0].reused += 1

    started = (dt.datetime.now(dt.UTC), time.perf_counter())
    for b in building:
        b.started = started
    executor = None
    try:
        executor = open_executor(settings.executor, memory_mb=settings.extract_memory_mb,
                                 make_local=lambda: local_pool(
                                     settings.extract_workers,
                                     limits(settings.extract_timeout,
                                            settings.extract_memory_mb)))
        extract_jobs(jobs, instrument_root=settings.instrument_data_path,
                     data_root=settings.data_path, executor=executor, on_file=on_file,
                     reuse=settings.extract_cache, on_plan=on_plan)
    except Exception as exc:  # the executor failed (a cluster out of reach): not the files'
        if isinstance(exc, ExecutorUnavailable):
            logger.error("extraction: %s; %d session(s) left for later", exc,
                         sum(not b.finishing for b in building))
        for b in building:
            if not b.finishing:
                done(finish_session(engine, settings, b, exporter, failed=exc))
    finally:
        if executor is not None:
            executor.close()


def finish_session(engine, settings: Settings, b: _Building, exporter: Exporter, *,
                   failed: BaseException | None = None) -> SessionOutcome:
    """The stages after extraction: build, validate, write, export; never raises.

    ``failed`` is why the session's files could not be extracted at all (the executor
    failed); its extract stage then records that, and the session is deferred or fails.
    """
    b.finishing = True
    session, attempt, outcome = b.session, b.attempt, b.outcome
    try:
        with attempt.stage("extract", started=b.started) as rec:
            if failed is not None:
                raise failed
            datasets = [d for group in b.datasets for d in group]
            outcome.reused = b.reused
            cache = CacheUse(settings.extract_cache, b.reused, len(b.files) - b.reused)
            logger.info("session %s: %s", session.identifier, cache.summary())
            events.info(json.dumps({"event": "extraction_cache", "session": session.identifier,
                                    "enabled": cache.enabled, "reused": cache.reused,
                                    "extracted": cache.extracted}))
            rec.files_found = len(b.files)
            rec.datasets = outcome.datasets = len(datasets)
            rec.failures = outcome.failures = sum(d.error is not None for d in datasets)
            if rec.failures:
                rec.status = "partial"
            unwritten = _unwritten_output(datasets)
            if unwritten:  # a full or failing disk under NX_DATA_PATH, not a bad file
                raise Deferred("environment",
                               f"could not write under {settings.data_path}: {unwritten}")

        with attempt.stage("build"):
            activities = _activities(b.groups, datasets, session)
            xml = build_record(b.answer, session.instrument, activities)

        with attempt.stage("validate") as rec:
            problems = validate_record(xml)
            if problems:
                rec.status = "error"
                rec.error = "; ".join(f"line {p.line}: {p.message}" for p in problems[:20])
        if problems:
            return conclude(engine, attempt, outcome, Status.ERROR,
                             message=f"record does not validate: {rec.error}")

        with attempt.stage("export") as rec:
            # The outbox first: a record on disk is never lost to a failed upload.
            write_atomically(b.path, xml, durable=True)
            index_record(engine, b.path, session.identifier, session.instrument.pid, xml)
            outcome.record_path = b.path
            exported = exporter.export(engine, session.identifier, session.instrument.pid,
                                       b.path)
            if exported.status != Status.COMPLETED:
                rec.status, rec.error = "error", exported.message
            if exported.status == Status.BUILT_NOT_EXPORTED:
                outcome.problem = "destination"
        return conclude(engine, attempt, outcome, exported.status, record_path=b.path,
                         message=exported.message)
    except KeyboardInterrupt as exc:
        finish_interrupted(attempt, session, exc)
        raise
    except Exception as exc:  # one session's failure never stops the pass
        return failed_session(engine, attempt, outcome, exc, settings,
                               quiet=isinstance(exc, ExecutorUnavailable))


def _interrupted(b: _Building, exc: KeyboardInterrupt) -> None:
    """A started session the pass was stopped before finishing: its extraction (if it
    began) and its attempt are recorded as interrupted."""
    b.finishing = True
    if b.started is not None:
        with contextlib.suppress(KeyboardInterrupt), b.attempt.stage("extract",
                                                                     started=b.started):
            raise exc
    finish_interrupted(b.attempt, b.session, exc)


def _waiting_for_files(session: Session, settings: Settings) -> SessionOutcome:
    tz = session.instrument.tzinfo
    return SessionOutcome(
        session.identifier, session.instrument.pid, LEFT_FOR_LATER,
        start=session.start.astimezone(tz), end=session.end.astimezone(tz),
        message=(f"no files yet; will look again until {settings.file_delay_days:g} days "
                 "after the session end"), waiting=True)


def _skipped(session: Session, reason: str) -> SessionOutcome:
    """A session of an instrument whose folder cannot be searched: untouched, not tried
    (the instrument's own error line says why, once per pass, under ``-q`` too)."""
    tz = session.instrument.tzinfo
    return SessionOutcome(session.identifier, session.instrument.pid, LEFT_FOR_LATER,
                          start=session.start.astimezone(tz), end=session.end.astimezone(tz),
                          message=f"instrument folder: {reason}", problem="filestore",
                          waiting=True)


def _not_due(waiting: Waiting) -> SessionOutcome:
    session, tz = waiting.session, waiting.session.instrument.tzinfo
    return SessionOutcome(session.identifier, session.instrument.pid, LEFT_FOR_LATER,
                          start=session.start.astimezone(tz), end=session.end.astimezone(tz),
                          message=waiting.message, problem=waiting.problem, waiting=True)


def _unwritten_output(datasets: list[Dataset]) -> str | None:
    """The first sidecar or preview that could not be written for a passing reason."""
    for dataset in datasets:
        for warning in dataset.warnings:
            if warning.startswith(("sidecar not written", "no preview")) \
                    and environmental_text(warning):
                return warning
    return None


def group_files(files: list[FoundFile], sensitivity: float) -> list[list[FoundFile]]:
    """Group found files into activities by clustering their modification times."""
    boundaries = cluster_mtimes([f.mtime for f in files], sensitivity)
    return group_by_boundaries(files, key=lambda f: f.mtime, boundaries=boundaries)


def record_filename(session: Session, *, unique: bool = False) -> str:
    """``YYYY-MM-DD_<instrument>_<short id>.xml``, date in the instrument's timezone.

    When the short id loses part of the id's last segment (characters that are not
    file-name safe, or more than 48 of them), or with ``unique``, a hash of the whole
    id is added: ``...-run-0001`` and ``...-run-0002`` never share a record.
    """
    day = session.start.astimezone(session.instrument.tzinfo).strftime("%Y-%m-%d")
    instrument = re.sub(r"[^A-Za-z0-9._-]+", "_", session.instrument.pid)
    token = session.short_id
    last = re.split(r"[/?=&#]", session.identifier.rstrip("/"))[-1]
    if unique or token != last:
        digest = hashlib.sha256(session.identifier.encode("utf-8", "surrogateescape"))
        token = f"{token[:40]}-{digest.hexdigest()[:10]}"
    return f"{day}_{instrument}_{token}.xml"


def record_path(engine, settings: Settings, session: Session,
                claimed: set[Path] | None = None) -> Path:
    """Where the session's record goes: never a path the history gives another session,
    nor one in ``claimed`` (given to another session of this pass; the path is added)."""
    assert settings.records_path is not None
    claimed = set() if claimed is None else claimed
    path = settings.records_path / record_filename(session)
    others = buildstate.record_owners(engine, str(path)) - {session.identifier}
    if others or path in claimed:
        unique = settings.records_path / record_filename(session, unique=True)
        owner = f"session {sorted(others)[0]}" if others else "another session of this pass"
        logger.warning("session %s: %s is the record of %s; writing %s instead",
                       session.identifier, path, owner, unique.name)
        path = unique
    claimed.add(path)
    return path


def _activities(groups: list[list[FoundFile]], datasets: list[Dataset],
                session: Session) -> list[Activity]:
    by_path: dict[Path, list[Dataset]] = {}
    for dataset in datasets:
        by_path.setdefault(dataset.path, []).append(dataset)
    tz = session.instrument.tzinfo
    activities: list[Activity] = []
    for group in groups:
        members = [d for f in group for d in by_path.get(f.path, [])]
        if not members:  # e.g. only .emi files whose data lives in .ser files
            continue
        start = dt.datetime.fromtimestamp(min(f.mtime for f in group), tz)
        activities.append(Activity(seqno=len(activities), start=start, datasets=members))
    return activities


def _progress_logger(session: Session) -> Callable[[int, int], None]:
    last = [0.0]

    def report(done: int, total: int) -> None:
        progress.extracting(session.identifier, done, total)
        if done == total or time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            logger.info("session %s: extracted %d/%d files", session.identifier, done, total)

    return report


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
