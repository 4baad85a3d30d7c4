"""The outbox: every built record waits in ``NX_RECORDS_PATH`` until it is exported.

:class:`Outbox` sends a record to the enabled destinations under the export strategy,
logs each attempt in ``upload_log`` and decides the session's status:

- ``all`` (default): every destination must have the record;
- ``first_success``: destinations are tried by priority until one takes it;
- ``best_effort``: each destination is tried once; one success is enough, the others'
  failures are logged and not retried.

A destination that already has the record of this build is never asked again, so
nothing is published twice. A record not exported under the strategy leaves its session
BUILT_NOT_EXPORTED, and every later pass tries again once its backoff has passed (see
:func:`backoff`); a record a destination rejects as invalid makes it ERROR.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims.errors import ConfigError, NexusLIMSError
from nexuslims.export.base import Destination, ExportResult, Failure, RecordFile, Target
from nexuslims.model.session import Status

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from nexuslims.db.uploads import ExportState
    from nexuslims.export.base import ExportOutcome

logger = logging.getLogger(__name__)

STRATEGIES = ("all", "first_success", "best_effort")
FIRST_DELAY = dt.timedelta(minutes=10)
MAX_DELAY = dt.timedelta(hours=24)


def backoff(failures: int) -> dt.timedelta:
    """How long to wait after ``failures`` failed attempts in a row.

    None failed: no wait. Then 10 minutes, doubling with each failure (20, 40, 80
    minutes...), never more than 24 hours.
    """
    if failures <= 0:
        return dt.timedelta(0)
    return min(FIRST_DELAY * 2 ** min(failures - 1, 20), MAX_DELAY)


def read_strategy(env: Mapping[str, str]) -> str:
    """``NX_EXPORT_STRATEGY`` (default ``all``); ConfigError for another value."""
    raw = env.get("NX_EXPORT_STRATEGY", "")
    value = raw.strip().lower() or "all"
    if value not in STRATEGIES:
        raise ConfigError([f"NX_EXPORT_STRATEGY={raw.strip()}: expects one of "
                           f"{', '.join(STRATEGIES)} (all: every destination must take the "
                           "record; first_success: stop at the first that does; best_effort: "
                           "one success is enough)"])
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Outbox:
    """The exporter of one pass: destinations, strategy, and what happened this pass.

    Parameters
    ----------
    destinations
        Highest priority first.
    strategy
        One of :data:`STRATEGIES`.
    clock
        The time attempts are logged with (tests may replace it).
    """

    def __init__(self, destinations: list[Destination], strategy: str = "all", *,
                 clock: Callable[[], dt.datetime] = _now):
        self.destinations = destinations
        self.strategy = strategy
        self.clock = clock
        self._benched: dict[str, str] = {}
        """Destinations not asked again this pass, with the reason."""
        self._seen: set[str] = set()
        """Sessions exported this pass (not retried again at its end)."""

    # ------------------------------------------------------------------ the seam

    def export(self, engine: Engine, session_identifier: str, instrument: str,
               record_path: Path) -> ExportOutcome:
        """Export one freshly built record; report, never raise."""
        from nexuslims.db.uploads import export_states

        self._seen.add(session_identifier)
        try:
            found = export_states(engine, session_identifier=session_identifier)
            done = _done(found[0]) if found else set()
            return self._send(engine, RecordFile(session_identifier, instrument, record_path),
                              done)
        except Exception as exc:  # the record is safe in the outbox: try again later
            return self._outcome(session_identifier, instrument, Status.BUILT_NOT_EXPORTED,
                                 f"export not completed: {_message(exc)}")

    def retry_pending(self, engine: Engine, *, now: dt.datetime,
                      dry_run: bool = False) -> list[ExportOutcome]:
        """Export again the records left BUILT_NOT_EXPORTED whose backoff has passed."""
        from nexuslims.db.uploads import export_states

        try:
            pending = [s for s in export_states(engine, [Status.BUILT_NOT_EXPORTED])
                       if s.session_identifier not in self._seen]
        except NexusLIMSError as exc:
            logger.error("cannot read the sessions waiting for export: %s", exc)
            return []
        due = [s for s in pending if self.due(s, now)]
        if len(due) < len(pending):
            logger.info("%d record(s) wait for their export backoff", len(pending) - len(due))
        if dry_run:
            for state in due:
                logger.info("dry run: the record of session %s would be exported again",
                            state.session_identifier)
            return []
        return self.export_again(engine, due)

    # ------------------------------------------------------------------ the work

    @staticmethod
    def due(state: ExportState, now: dt.datetime) -> bool:
        """Whether the backoff after the session's failed attempts has passed at ``now``."""
        last = state.last_attempt
        return last is None or now >= last + backoff(state.consecutive_failures)

    def export_again(self, engine: Engine, states: Iterable[ExportState]) -> list[ExportOutcome]:
        """Export the records of already-built sessions now, and record their new status.

        The record is the file the session's latest build attempt wrote; a session whose
        record has left the outbox is set TO_BE_BUILT, so the next pass builds it again.
        """
        from nexuslims import db

        outcomes = []
        for state in states:
            sid, instrument = state.session_identifier, state.instrument
            self._seen.add(sid)
            path = Path(state.record_path) if state.record_path else None
            try:
                if path is None or not path.is_file():
                    where = path or "(no record file known)"
                    db.set_session_status(engine, sid, instrument, Status.TO_BE_BUILT)
                    outcome = self._outcome(sid, instrument, Status.TO_BE_BUILT,
                                            f"record {where} is not in the outbox; "
                                            "the next pass builds it again")
                else:
                    outcome = self._send(engine, RecordFile(sid, instrument, path),
                                         _done(state))
                    if outcome.status != state.status:
                        db.set_session_status(engine, sid, instrument, outcome.status)
            except Exception as exc:  # one session's failure never stops the others
                outcome = self._outcome(sid, instrument, Status(state.status),
                                        f"export not completed: {_message(exc)}")
            logger.info("session %s: %s%s", sid, outcome.status,
                        f" ({outcome.message})" if outcome.message else "")
            outcomes.append(outcome)
        return outcomes

    def _send(self, engine: Engine, record: RecordFile, done: set[str]) -> ExportOutcome:
        """Send ``record`` to the destinations that do not have it yet; decide the status."""
        from nexuslims.db.uploads import log_upload

        names = [d.name for d in self.destinations]
        ok = [n for n in names if n in done]
        notes: list[str] = [f"{n}: exported earlier" for n in ok]
        rejected: list[str] = []
        published = _published(engine, record.session_identifier, set(ok))
        for destination in self.destinations:
            if destination.name in done:
                continue
            if ok and self.strategy == "first_success":
                break
            if destination.name in self._benched:
                notes.append(f"{destination.name}: not tried, {self._benched[destination.name]}")
                continue
            when = self.clock()
            result = _safe_export(destination, dataclasses.replace(
                record, memory=DatabaseMemory(engine, record.session_identifier,
                                              destination.name),
                published=dict(published)))
            log_upload(engine, record.session_identifier, destination.name, result.success,
                       when=when, record_id=result.record_id, record_url=result.record_url,
                       error=result.error, metadata=result.metadata or None)
            if result.success:
                ok.append(destination.name)
                if result.record_url:
                    published[destination.name] = result.record_url
                notes.append(f"{destination.name}: {result.record_url or 'done'}")
                continue
            notes.append(f"{destination.name}: {result.error}")
            logger.error("session %s: export to %s failed: %s", record.session_identifier,
                         destination.name, result.error)
            if result.failure is Failure.REJECTED:
                rejected.append(destination.name)
            elif result.failure is Failure.REFUSED:
                self._benched[destination.name] = "its settings were refused earlier this pass"
            elif result.failure is Failure.UNAVAILABLE:
                self._benched[destination.name] = "it was unavailable earlier this pass"
        satisfied = len(ok) == len(names) if self.strategy == "all" else bool(ok)
        status = Status.COMPLETED if satisfied else \
            Status.ERROR if rejected else Status.BUILT_NOT_EXPORTED
        return self._outcome(record.session_identifier, record.instrument, status,
                             "; ".join(notes) or None)

    @staticmethod
    def _outcome(sid: str, instrument: str, status: Status, message: str | None,
                 ) -> ExportOutcome:
        from nexuslims.export.base import ExportOutcome

        return ExportOutcome(sid, instrument, status, message)


def _done(state: ExportState) -> set[str]:
    """The destinations that have this build's record.

    Before the fallback had its own name, it was logged as ``local`` (with ``mode:
    outbox``): such a row means the record stayed in the outbox, not that ``local`` has it.
    """
    return {"outbox" if u.destination == "local" and u.metadata.get("mode") == "outbox"
            else u.destination for u in state.uploads if u.success}


class DatabaseMemory:
    """What one destination made of one session, kept in ``export_targets``."""

    def __init__(self, engine: Engine, session_identifier: str, destination: str):
        self.engine, self.session_identifier, self.destination = \
            engine, session_identifier, destination

    def recall(self) -> Target | None:
        """What was remembered, if anything."""
        from nexuslims.db.uploads import targets_of_session

        found = targets_of_session(self.engine, self.session_identifier).get(self.destination)
        return Target(found.target_id, found.target_url, found.detail) if found else None

    def remember(self, target: Target) -> None:
        """Keep ``target`` now."""
        from nexuslims.db.uploads import remember_target

        remember_target(self.engine, self.session_identifier, self.destination,
                        target_id=target.target_id, target_url=target.target_url,
                        detail=dict(target.detail))

    def forget(self) -> None:
        """Drop what was remembered."""
        from nexuslims.db.uploads import forget_target

        forget_target(self.engine, self.session_identifier, self.destination)


def _published(engine: Engine, session_identifier: str, done: set[str]) -> dict[str, str]:
    """Where the destinations in ``done`` put this build's record (latest success each)."""
    if not done:
        return {}
    from nexuslims.db.uploads import export_states

    found = export_states(engine, session_identifier=session_identifier)
    urls: dict[str, str] = {}
    for upload in found[0].uploads if found else []:
        if upload.success and upload.record_url and upload.destination in done:
            urls[upload.destination] = upload.record_url
    return urls


def _safe_export(destination: Destination, record: RecordFile) -> ExportResult:
    """``destination.export(record)``, with a plug-in's stray exception reported as a failure."""
    try:
        result = destination.export(record)
    except Exception as exc:  # a destination must report, not raise; one that does fails
        logger.exception("export destination %s raised", destination.name)
        return ExportResult.failed(Failure.UNAVAILABLE,
                                   f"{destination.name} failed: {exc.__class__.__name__}: {exc}")
    if not isinstance(result, ExportResult):
        return ExportResult.failed(Failure.UNAVAILABLE,
                                   f"{destination.name} returned {result!r}, not an ExportResult")
    return result


def _message(exc: Exception) -> str:
    if not isinstance(exc, NexusLIMSError):
        logger.error("export failed unexpectedly", exc_info=exc)
        return f"{exc.__class__.__name__}: {exc}"
    return str(exc)
