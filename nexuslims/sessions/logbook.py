"""Logging instrument sessions by hand or from an instrument PC: start, end, add, reset.

These write exactly the rows NexusLIMS 1.x's session logger wrote, so an existing logger
and nexuslims can share one database: a START row with ``WAITING_FOR_END`` at login; at
logout an END row with ``TO_BE_BUILT`` and the START row set to ``TO_BE_BUILT``. The CLI
(``nexuslims sessions start/end/add/reset``) and the web API use these same functions.

Every function checks its input before writing anything and raises
:class:`SessionLogRefused` (a user error: unknown instrument, end before start, an id
already used, a session already ended) with a one-line message.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import session_log
from nexuslims.db.sessionlog import load_instruments
from nexuslims.errors import UsageError
from nexuslims.model.session import EventType, Instrument, Status

#: Statuses ``reset`` accepts: a finished outcome that a new pass may redo.
RESETTABLE = frozenset({Status.COMPLETED, Status.ERROR, Status.NO_FILES_FOUND,
                        Status.NO_CONSENT, Status.NO_RESERVATION, Status.BUILT_NOT_EXPORTED})


class SessionLogRefused(UsageError):
    """A session-log request was refused because of its input; nothing was written."""


@dataclass(frozen=True)
class LoggedSession:
    """A session as the log holds it after a start, end or add."""

    identifier: str
    instrument: str
    status: str
    start: dt.datetime | None
    end: dt.datetime | None
    user: str | None


def start_session(engine: Engine, instrument_pid: str, *, user: str | None = None,
                  identifier: str | None = None, now: dt.datetime | None = None
                  ) -> LoggedSession:
    """Log a session's START (``WAITING_FOR_END``), as at login on the instrument PC.

    Parameters
    ----------
    instrument_pid
        A registered instrument.
    identifier
        The session id to use; a new UUID when not given.
    now
        The start time (aware); the current time when not given.
    """
    instrument = _instrument(engine, instrument_pid)
    start = _aware(now or dt.datetime.now(dt.UTC), instrument).astimezone(instrument.tzinfo)
    identifier = _new_identifier(engine, identifier)
    user = (printable(user) or "").strip() or None
    with translated(engine.url, f"logging the start of session {identifier!r}"), \
            engine.begin() as conn:
        conn.execute(sa.insert(session_log).values(
            session_identifier=identifier, instrument=instrument.pid, timestamp=start,
            event_type=EventType.START.value, record_status=Status.WAITING_FOR_END.value,
            user=user))
    return LoggedSession(identifier, instrument.pid, Status.WAITING_FOR_END.value, start, None,
                         user)


def end_session(engine: Engine, identifier: str, *, now: dt.datetime | None = None
                ) -> LoggedSession:
    """Log a session's END and make it ``TO_BE_BUILT``, as at logout.

    Raises
    ------
    SessionLogRefused
        No such session, it has already ended, or ``now`` is before its start.
    """
    with translated(engine.url, f"reading session {identifier!r}"), engine.connect() as conn:
        rows = conn.execute(sa.select(session_log).where(
            session_log.c.session_identifier == identifier)
            .order_by(session_log.c.id_session_log)).all()
    if not rows:
        raise SessionLogRefused(f"no session {identifier!r} in the session log")
    starts = [r for r in rows if r.event_type == EventType.START.value]
    if any(r.event_type == EventType.END.value for r in rows) or not starts:
        raise SessionLogRefused(f"session {identifier!r} has already ended "
                                f"(status {rows[-1].record_status})")
    instrument = _instrument(engine, starts[0].instrument)
    from nexuslims.model.session import parse_timestamp

    start = parse_timestamp(starts[0].timestamp, instrument.tzinfo)
    end = _aware(now or dt.datetime.now(dt.UTC), instrument)
    if end < start:
        raise SessionLogRefused(f"session {identifier!r} cannot end at {end.isoformat()}, "
                                f"before its start {start.isoformat()}")
    end = end.astimezone(instrument.tzinfo)
    with translated(engine.url, f"logging the end of session {identifier!r}"), \
            engine.begin() as conn:
        conn.execute(sa.insert(session_log).values(
            session_identifier=identifier, instrument=instrument.pid, timestamp=end,
            event_type=EventType.END.value, record_status=Status.TO_BE_BUILT.value,
            user=starts[0].user))
        conn.execute(sa.update(session_log)
                     .where(session_log.c.session_identifier == identifier)
                     .values(record_status=Status.TO_BE_BUILT.value))
    return LoggedSession(identifier, instrument.pid, Status.TO_BE_BUILT.value,
                         start.astimezone(instrument.tzinfo), end, starts[0].user)


def add_session(engine: Engine, instrument_pid: str, start: dt.datetime, end: dt.datetime, *,
                user: str | None = None, identifier: str | None = None) -> LoggedSession:
    """Log a finished session (START and END rows, ``TO_BE_BUILT``) in one transaction.

    Naive ``start``/``end`` are wall-clock times in the instrument's timezone.
    """
    instrument = _instrument(engine, instrument_pid)
    start, end = (_aware(t, instrument).astimezone(instrument.tzinfo) for t in (start, end))
    if end <= start:
        raise SessionLogRefused(f"the end {end.isoformat()} is not after the start "
                                f"{start.isoformat()}")
    identifier = _new_identifier(engine, identifier)
    user = (printable(user) or "").strip() or None
    with translated(engine.url, f"adding session {identifier!r}"), engine.begin() as conn:
        for event, when in ((EventType.START, start), (EventType.END, end)):
            conn.execute(sa.insert(session_log).values(
                session_identifier=identifier, instrument=instrument.pid, timestamp=when,
                event_type=event.value, record_status=Status.TO_BE_BUILT.value, user=user))
    return LoggedSession(identifier, instrument.pid, Status.TO_BE_BUILT.value, start, end, user)


def reset_sessions(engine: Engine, identifiers: list[str]) -> list[LoggedSession]:
    """Send finished sessions back to ``TO_BE_BUILT``, so the next pass builds them again.

    Every row of each session gets ``TO_BE_BUILT`` and a RECORD_GENERATION row records
    the reset; build attempts and export attempts are kept. All sessions are checked
    before any is changed, and all are changed in one transaction.

    Raises
    ------
    SessionLogRefused
        A session is unknown, has not ended (``WAITING_FOR_END``), already waits for a
        pass (``TO_BE_BUILT``), or is being built (it has an unfinished build attempt).
    """
    from nexuslims.db.schema import RUNNING, build_attempts
    from nexuslims.db.sessionlog import write_session_status

    if not identifiers:
        raise SessionLogRefused("no session to reset")
    chosen: list[tuple[str, str, str | None]] = []
    with translated(engine.url, "reading the sessions to reset"), engine.connect() as conn:
        for identifier in dict.fromkeys(identifiers):
            latest = conn.execute(sa.select(session_log)
                                  .where(session_log.c.session_identifier == identifier)
                                  .order_by(session_log.c.id_session_log.desc())
                                  .limit(1)).first()
            if latest is None:
                raise SessionLogRefused(f"no session {identifier!r} in the session log")
            status = latest.record_status
            if status == Status.WAITING_FOR_END:
                raise SessionLogRefused(f"session {identifier!r} has not ended: end it with "
                                        f"`nexuslims sessions end {identifier}`")
            if status == Status.TO_BE_BUILT:
                raise SessionLogRefused(f"session {identifier!r} is already TO_BE_BUILT: the "
                                        "next pass builds it")
            running = conn.execute(sa.select(sa.func.count()).select_from(build_attempts)
                                   .where(build_attempts.c.session_identifier == identifier,
                                          build_attempts.c.status == RUNNING,
                                          build_attempts.c.finished.is_(None))).scalar()
            if running:
                raise SessionLogRefused(f"session {identifier!r} is being built (it has an "
                                        "unfinished build attempt): reset it after the pass")
            if status not in RESETTABLE:
                raise SessionLogRefused(f"session {identifier!r} is {status}, which cannot "
                                        "be reset")
            user = conn.execute(sa.select(session_log.c.user)
                                .where(session_log.c.session_identifier == identifier,
                                       session_log.c.user.is_not(None))
                                .order_by(session_log.c.id_session_log).limit(1)).scalar()
            chosen.append((identifier, latest.instrument, user))
    with translated(engine.url, "resetting sessions"), engine.begin() as conn:
        for identifier, instrument, user in chosen:
            write_session_status(conn, identifier, instrument, Status.TO_BE_BUILT.value, user)
    return [LoggedSession(i, instrument, Status.TO_BE_BUILT.value, None, None, user)
            for i, instrument, user in chosen]


def session_status(engine: Engine, identifier: str) -> str | None:
    """The session's current status (that of its newest row), or None if unknown."""
    with translated(engine.url, f"reading session {identifier!r}"), engine.connect() as conn:
        row = conn.execute(sa.select(session_log.c.record_status)
                           .where(session_log.c.session_identifier == identifier)
                           .order_by(session_log.c.id_session_log.desc()).limit(1)).first()
    return None if row is None else row.record_status


def _instrument(engine: Engine, pid: str) -> Instrument:
    instruments = load_instruments(engine)
    if pid not in instruments:
        known = ", ".join(sorted(instruments)) or "none registered"
        raise SessionLogRefused(f"unknown instrument {pid!r} (known: {known})")
    return instruments[pid]


#: ANSI escape sequences (CSI, OSC) and single control characters, C0 and C1.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|[\x00-\x1f\x7f-\x9f]")


def printable(text: str | None) -> str | None:
    """``text`` without control characters or terminal escape sequences (a session id or
    user name typed by anyone with a token must not rewrite a terminal or a log line)."""
    return None if text is None else _CONTROL.sub("", text)


def _new_identifier(engine: Engine, identifier: str | None) -> str:
    if identifier is None:
        return str(uuid.uuid4())
    identifier = printable(identifier).strip()  # type: ignore[union-attr]
    if not identifier:
        raise SessionLogRefused("a session id cannot be empty")
    if session_status(engine, identifier) is not None:
        raise SessionLogRefused(f"session id {identifier!r} is already used")
    return identifier


def _aware(value: dt.datetime, instrument: Instrument) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=instrument.tzinfo)
