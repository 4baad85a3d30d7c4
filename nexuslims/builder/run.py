"""One pass of the record builder: the whole job on one screen.

    session log -> reservation -> find files -> activities -> extract -> build
      -> validate -> write record -> export

:func:`run_pass` reads as that list: each stage is a plain function in its own package
(:mod:`nexuslims.sessions`, :mod:`nexuslims.find`, :mod:`nexuslims.activities`,
:mod:`nexuslims.extract`, :mod:`nexuslims.record`, :mod:`nexuslims.export`), a session's
trip through them is :mod:`nexuslims.builder.session`, and what each did is recorded in
the build history. One session's failure never stops the pass. A passing fault (disk
full, database locked, file store or calendar unreachable; see :mod:`nexuslims.faults`)
leaves the session TO_BE_BUILT with a DEFERRED attempt and a backoff; only a session
whose data or record is at fault becomes ERROR. Each instrument's folder is walked once
per pass for all its waiting sessions; sessions with no files yet cost no database
writes.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time

from nexuslims import db
from nexuslims.builder.attempts import LEFT_FOR_LATER, settle_unrecorded
from nexuslims.builder.batch import build_sessions
from nexuslims.builder.due import Waiting, due_sessions, find_for_sessions, waits_for_files
from nexuslims.builder.lease import clean_up_after_dead_passes, confirm_lease
from nexuslims.builder.outcome import PassSummary, SessionOutcome
from nexuslims.builder.session import _waiting_for_files
from nexuslims.config import Settings
from nexuslims.db import buildstate
from nexuslims.export import build_exporter
from nexuslims.find import instrument_folder_problem
from nexuslims.model.session import Session, Status, pair_sessions
from nexuslims.reservations import Harvester, SessionSource, build_harvesters
from nexuslims.sessions.harvest import harvest_sessions

logger = logging.getLogger(__name__)


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
    t0, clock = time.perf_counter(), dt.datetime.now(dt.UTC)
    now = now or clock
    harvesters = build_harvesters(settings)
    exporter = build_exporter(settings)
    assert settings.db_url is not None, "load_settings requires a database"
    engine = db.make_engine(settings.db_url, settings.env)
    # What is loaded by now (modules, settings, plug-ins) outlives the pass: frozen, the
    # garbage collector's full collections, run as the batch's datasets come in, need
    # not walk it again each time (0.4 CPU-s of a 4,000-file pass).
    gc.freeze()
    try:
        db.require_head(engine)
        if not dry_run:
            clean_up_after_dead_passes(engine, settings)
        # sessions: the session log, with what calendars reported since the last pass
        calendar_errors: dict[str, str] = {}
        sessions, outcomes = waiting_sessions(engine, harvesters, since=since, until=until,
                                              now=now, dry_run=dry_run, errors=calendar_errors)
        # preflight: an instrument whose folder cannot be searched waits, loudly
        skipped = skip_unreachable_instruments(settings, sessions)
        outcomes += [_skipped(s, skipped[s.instrument.pid])
                     for s in sessions if s.instrument.pid in skipped]
        sessions = [s for s in sessions if s.instrument.pid not in skipped]
        # due: none before its end, nor a deferred one before its backoff has passed
        sessions, waiting = due_sessions(sessions, settings, buildstate.deferrals(engine),
                                         now=now, clock=clock)
        outcomes += [_not_due(w) for w in waiting]
        # find: one walk per instrument folder; a session with no files yet waits (an
        # empty folder of an instrument that had files before is no verdict)
        found = find_for_sessions(settings, sessions,
                                  had_files=buildstate.instruments_that_found_files(engine))
        empty = [s for s in sessions if waits_for_files(found[s.identifier], s, settings, now)]
        if empty:
            logger.info("%d session(s) have no files yet; looking again on later passes",
                        len(empty))
        outcomes += [_waiting_for_files(s, settings) for s in empty]
        sessions = [s for s in sessions if s.identifier not in {e.identifier for e in empty}]
        # reservation, activities, extract, build, validate, write, export
        outcomes += build_sessions(engine, settings, sessions, harvesters, exporter,
                                   dry_run=dry_run, now=now, found=found)
        # records built on earlier passes but not yet exported: again, without rebuilding
        if not dry_run:
            confirm_lease(engine)  # exports only while this pass holds the lease
        exports = [SessionOutcome(r.session_identifier, r.instrument, r.status, message=r.message)
                   for r in exporter.retry_pending(engine, now=now, dry_run=dry_run)]
        if not dry_run:
            settle_unrecorded(engine)  # no attempt of a pass that ended stays RUNNING
    finally:
        engine.dispose()
        _close(harvesters)
        gc.unfreeze()  # a process that runs passes again (tests, a daemon) frees them later
    return PassSummary(outcomes, time.perf_counter() - t0, dry_run, exports,
                       calendar_errors=calendar_errors, skipped_instruments=skipped)


def waiting_sessions(engine, harvesters: dict[str, Harvester], *, since: dt.datetime | None,
                     until: dt.datetime | None, now: dt.datetime, dry_run: bool,
                     errors: dict[str, str]) -> tuple[list[Session], list[SessionOutcome]]:
    """The sessions to build in ``[since, until)``, after asking the calendars that
    discover sessions; and the outcomes of those that cannot be built (marked ERROR)."""
    instruments = db.load_instruments(engine)
    harvested = [s for h in harvesters.values() if isinstance(h, SessionSource)
                 for s in harvest_sessions(engine, h, instruments, since=since, until=until,
                                           now=now, dry_run=dry_run, errors=errors)]
    sessions, unbuildable = pair_sessions(db.session_rows(engine, Status.TO_BE_BUILT),
                                          instruments)
    known = {s.identifier for s in sessions}
    sessions += [s for s in harvested if s.identifier not in known]  # dry run: not stored
    sessions = [s for s in sessions
                if (since is None or s.start >= since) and (until is None or s.start < until)]
    logger.info("%d session(s) to build, %d that cannot be built", len(sessions),
                len(unbuildable))
    outcomes = []
    for bad in unbuildable:
        logger.error("session %s: %s", bad.identifier, bad.reason)
        if not dry_run:
            db.mark_unbuildable(engine, bad.identifier, bad.instrument_pid, bad.reason)
        outcomes.append(SessionOutcome(bad.identifier, bad.instrument_pid, Status.ERROR,
                                       message=bad.reason))
    return sessions, outcomes


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


def _close(harvesters: dict[str, Harvester]) -> None:
    for harvester in harvesters.values():
        close = getattr(harvester, "close", None)
        if close is not None:
            close()
