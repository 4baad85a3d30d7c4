"""One session's trip: find, reservation, activities, then (after extraction) build,
validate, export.

:func:`start_session` runs the stages before extraction, :func:`finish_session` those
after it; :mod:`nexuslims.builder.batch` extracts the files of many started sessions
together and calls :func:`finish_session` for each as soon as its own files are in.
A session's attempt and stages are recorded in the build history as it goes
(:mod:`nexuslims.builder.attempts`); one session's failure never stops the pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from nexuslims.atomic import write_atomically
from nexuslims.builder.attempts import (
    LEFT_FOR_LATER,
    Attempt,
    conclude,
    failed_session,
    finish_interrupted,
)
from nexuslims.builder.due import files_overdue, find_for_sessions, no_files_message
from nexuslims.builder.lease import confirm_lease
from nexuslims.builder.outcome import SessionOutcome
from nexuslims.config import Settings
from nexuslims.export import Exporter
from nexuslims.extract.cache import CacheUse
from nexuslims.extract.executors import ExecutorUnavailable
from nexuslims.extractors.base import ExtractionContext, Profile
from nexuslims.extractors.profiles import load_profile
from nexuslims.faults import Deferred, environmental_text
from nexuslims.find import FindResult, FoundFile
from nexuslims.model.dataset import Dataset
from nexuslims.model.session import Session, Status
from nexuslims.record.build import Activity, record_tree, serialize
from nexuslims.record.index import index_record
from nexuslims.record.paths import record_path
from nexuslims.record.validate import check_built
from nexuslims.reservations import (
    Harvester,
    NoConsent,
    NoReservation,
    Reservation,
    harvester_for,
    unavailable_reason,
)

logger = logging.getLogger(__name__)
events = logging.getLogger("nexuslims.events")


@dataclass
class Building:
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
                  profiles: dict[str, Profile | None] | None = None,
                  ) -> SessionOutcome | Building:
    """The stages before extraction: files, reservation, activities; never raises.

    Returns the session's outcome when it ends here (no files, no reservation, a
    passing fault, a dry run), else what :func:`finish_session` needs once its files
    are extracted. ``found`` is the session's files when the pass already walked its
    instrument's folder (:func:`find_for_sessions`); without it the folder is walked
    here. ``claimed`` collects the record paths given to sessions of this pass;
    ``profiles`` the instruments' extraction profiles read so far in this pass (reading
    one lists every installed package's entry points: 10 ms or more per session).
    """
    assert settings.instrument_data_path is not None and settings.records_path is not None
    tz = session.instrument.tzinfo
    outcome = SessionOutcome(session.identifier, session.instrument.pid, Status.ERROR,
                             start=session.start.astimezone(tz), end=session.end.astimezone(tz))
    harvester = _harvester(session, harvesters, outcome)
    if harvester is None:
        return outcome
    attempt: Attempt | None = None
    try:
        attempt = Attempt(engine, session, dry_run)
        root = settings.instrument_data_path / session.instrument.filestore_path
        found = _find_stage(attempt, settings, session, outcome, found)
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
            from nexuslims.activities import group_files  # NumPy: not for an idle pass

            groups = group_files(found.files, settings.clustering_sensitivity)
            rec.files_found = len(found.files)
            outcome.activities = [[_relative(f.path, settings.instrument_data_path)
                                   for f in group] for group in groups]

        if dry_run:
            outcome.status = Status.COMPLETED
            outcome.message = "dry run: nothing written"
            return outcome
        context = _extraction_context(settings, session, profiles)
        path = record_path(engine, settings, session, claimed)
        return Building(session, attempt, outcome, answer, found.files, groups, path,
                         context, datasets=[[] for _ in found.files], left=len(found.files))
    except KeyboardInterrupt as exc:
        # The pass is being stopped: the session stays TO_BE_BUILT for the next one.
        finish_interrupted(attempt, session, exc)
        raise
    except Exception as exc:  # one session's failure never stops the pass
        return failed_session(engine, attempt, outcome, exc, settings)


def _extraction_context(settings: Settings, session: Session,
                        profiles: dict[str, Profile | None] | None) -> ExtractionContext:
    """What the session's extractors may know: its instrument's timezone, PID and
    extraction profile (read once per pass), and the folders its files may lie in (checked
    again as each file is read: a file swapped for a link after the walk is not read)."""
    assert settings.instrument_data_path is not None
    pid = session.instrument.pid
    if profiles is None:
        profile = load_profile(pid, settings.env)
    else:
        if pid not in profiles:
            profiles[pid] = load_profile(pid, settings.env)
        profile = profiles[pid]
    folder = settings.instrument_data_path / session.instrument.filestore_path
    return ExtractionContext(timezone=session.instrument.tzinfo, instrument=pid,
                             profile=profile, allowed_roots=tuple(
                                 str(p) for p in (folder, *settings.share.extra_roots)))


def _harvester(session: Session, harvesters: dict[str, Harvester],
               outcome: SessionOutcome) -> Harvester | None:
    """The session's calendar, or None with ``outcome`` saying why it is left for later."""
    try:
        return harvester_for(session.instrument.harvester, harvesters)
    except KeyError:
        # Nothing is lost: the session waits until a nexuslims with that harvester runs.
        outcome.status = LEFT_FOR_LATER
        outcome.message = (f"instrument {session.instrument.pid}: "
                           f"{unavailable_reason(session.instrument.harvester)}; "
                           "left for later")
        logger.warning("session %s: %s", session.identifier, outcome.message)
        return None


def _find_stage(attempt: Attempt, settings: Settings, session: Session,
                outcome: SessionOutcome, found: FindResult | None) -> FindResult:
    """The find stage, recorded: the session's files (walked here unless the pass did)."""
    assert settings.instrument_data_path is not None
    root = settings.instrument_data_path / session.instrument.filestore_path
    with attempt.stage("find_files") as rec:
        if found is None:
            found = find_for_sessions(settings, [session])[session.identifier]
        for warning in found.warnings:
            logger.warning("session %s: %s", session.identifier, warning)
        rec.files_found = outcome.files = len(found.files)
        rec.bytes_found = outcome.bytes = sum(f.size for f in found.files)
        # Symlinks out of the instrument's folder, skipped (named once per walk).
        rec.failures = len(found.outside) or None
        if not found.files and not found.complete:
            # An unmounted share or a folder we may not read looks empty: no verdict.
            raise Deferred("filestore", f"cannot tell whether {root} holds files of "
                           f"this session: {'; '.join(found.warnings[:3])}")
    return found


def _count_extraction(rec, b: Building, settings: Settings) -> list[Dataset]:
    """The extract stage's counts (files, datasets, failures, cache use), recorded and
    logged; its datasets. A sidecar or preview that could not be written is deferred."""
    session, outcome = b.session, b.outcome
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
        raise Deferred("environment", f"could not write under {settings.data_path}: {unwritten}")
    return datasets


def finish_session(engine, settings: Settings, b: Building, exporter: Exporter, *,
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
            datasets = _count_extraction(rec, b, settings)
        with attempt.stage("build"):
            activities = _activities(b.groups, datasets, session)
            tree = record_tree(b.answer, session.instrument, activities)
            xml = serialize(tree)

        with attempt.stage("validate") as rec:
            problems = check_built(tree, xml)  # the tree, not the bytes parsed again
            if problems:
                rec.status = "error"
                rec.error = "; ".join(f"line {p.line}: {p.message}" for p in problems[:20])
        if problems:
            return conclude(engine, attempt, outcome, Status.ERROR,
                             message=f"record does not validate: {rec.error}")

        if not attempt.dry_run:
            confirm_lease(engine)  # another pass took over: write and export nothing
        with attempt.stage("export") as rec:
            # The outbox first: a record on disk is never lost to a failed upload.
            write_atomically(b.path, xml, durable=True)
            index_record(engine, b.path, session.identifier, session.instrument.pid, xml,
                         root=tree)
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


def record_interrupted(b: Building, exc: KeyboardInterrupt) -> None:
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


def _unwritten_output(datasets: list[Dataset]) -> str | None:
    """The first sidecar or preview that could not be written for a passing reason."""
    for dataset in datasets:
        for warning in dataset.warnings:
            if warning.startswith(("sidecar not written", "no preview")) \
                    and environmental_text(warning):
                return warning
    return None


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


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
