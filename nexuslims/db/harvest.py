"""Sessions harvested from schedulers, and where each server's harvest stands.

:func:`save_harvest` writes a harvest into ``session_log`` (START and END rows, status
TO_BE_BUILT) and ``harvest_state`` in one transaction, so a crash never leaves
sessions stored without the marker moving, or the reverse. It is idempotent: a
session already in the log is not written again; one not yet built whose times or
user changed in the scheduler is updated in place; one already built is left alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import harvest_state as state_table
from nexuslims.db.schema import instruments, session_log
from nexuslims.model.reservation import HarvestedSession, HarvestResult
from nexuslims.model.session import EventType, Instrument, Status, parse_timestamp

#: Statuses of a session that has not been built yet (a harvest may still change it).
NOT_BUILT = (Status.TO_BE_BUILT.value, Status.WAITING_FOR_END.value)


@dataclass(frozen=True)
class SavedHarvest:
    """What :func:`save_harvest` did to the session log."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    """Already in the log as harvested, or already built (left alone)."""


def harvest_state(engine: Engine, harvester: str) -> dict[str, dt.datetime]:
    """When each server of ``harvester`` was last harvested successfully.

    Returns
    -------
    dict
        Server -> ``harvested_until`` of its last successful harvest (aware, UTC).
        Servers never harvested successfully are absent.
    """
    query = sa.select(state_table.c.server, state_table.c.last_success).where(
        state_table.c.harvester == harvester, state_table.c.last_success.is_not(None))
    with translated(engine.url, f"reading the {harvester} harvest state"), \
            engine.connect() as conn:
        return {row.server: row.last_success for row in conn.execute(query)}


def save_harvest(engine: Engine, harvester: str, result: HarvestResult, *,
                 now: dt.datetime) -> SavedHarvest:
    """Store a harvest: its sessions in the session log, its outcome per server.

    Parameters
    ----------
    engine
        The session database.
    harvester
        The harvester's name (``nemo``).
    result
        The sessions found, and per server ``harvested_until`` or an error.
    now
        When the harvest ran (``last_attempt``).

    Returns
    -------
    SavedHarvest
        How many sessions were added, updated, or left as they were.

    Raises
    ------
    DatabaseError
        The database refused the write; nothing of this harvest is stored.
    """
    added = updated = unchanged = 0
    with translated(engine.url, f"saving the {harvester} harvest"), engine.begin() as conn:
        zones = {row.instrument_pid: row.timezone for row in conn.execute(
            sa.select(instruments.c.instrument_pid, instruments.c.timezone))}
        for session in result.sessions:
            outcome = _save_session(conn, session, zones)
            added += outcome == "added"
            updated += outcome == "updated"
            unchanged += outcome == "unchanged"
        for server, until in result.harvested_until.items():
            _save_state(conn, harvester, server, now, last_success=until, last_error=None)
        for server, error in result.errors.items():
            _save_state(conn, harvester, server, now, last_error=error)
    return SavedHarvest(added, updated, unchanged)


def _save_session(conn: sa.Connection, session: HarvestedSession,
                  zones: dict[str, str | None]) -> str:
    if session.instrument not in zones:
        return "unchanged"  # the instrument was removed meanwhile; nothing to attach to
    start, end = _ms(session.start), _ms(session.end)
    rows = conn.execute(
        sa.select(session_log.c.id_session_log, session_log.c.event_type,
                  session_log.c.timestamp, session_log.c.record_status, session_log.c.user)
        .where(session_log.c.session_identifier == session.identifier)
        .order_by(session_log.c.id_session_log)).all()
    if not rows:
        for event, when in ((EventType.START, start), (EventType.END, end)):
            conn.execute(sa.insert(session_log).values(
                session_identifier=session.identifier, instrument=session.instrument,
                timestamp=when, event_type=event.value,
                record_status=Status.TO_BE_BUILT.value, user=session.user))
        return "added"
    if any(r.record_status not in NOT_BUILT for r in rows):
        return "unchanged"  # built (or concluded): its record stands
    tz = Instrument(pid=session.instrument, filestore_path="",
                    timezone=zones[session.instrument]).tzinfo
    changed = False
    for event, when in ((EventType.START, start), (EventType.END, end)):
        mine = [r for r in rows if r.event_type == event.value]
        if not mine:
            conn.execute(sa.insert(session_log).values(
                session_identifier=session.identifier, instrument=session.instrument,
                timestamp=when, event_type=event.value,
                record_status=Status.TO_BE_BUILT.value, user=session.user))
            changed = True
            continue
        for row in mine:
            if _same_time(row.timestamp, when, tz) and (row.user == session.user
                                                        or session.user is None):
                continue
            conn.execute(sa.update(session_log)
                         .where(session_log.c.id_session_log == row.id_session_log)
                         .values(timestamp=when, user=session.user or row.user))
            changed = True
    if any(r.record_status != Status.TO_BE_BUILT.value for r in rows):
        conn.execute(sa.update(session_log)
                     .where(session_log.c.session_identifier == session.identifier)
                     .values(record_status=Status.TO_BE_BUILT.value))
        changed = True
    return "updated" if changed else "unchanged"


def _save_state(conn: sa.Connection, harvester: str, server: str, now: dt.datetime, *,
                last_error: str | None, last_success: dt.datetime | None = None) -> None:
    values: dict[str, object] = {"last_attempt": now, "last_error": last_error}
    if last_success is not None:
        values["last_success"] = last_success
    key = (state_table.c.harvester == harvester) & (state_table.c.server == server)
    if conn.execute(sa.update(state_table).where(key).values(values)).rowcount == 0:
        conn.execute(sa.insert(state_table).values(harvester=harvester, server=server,
                                                   **values))


def _ms(value: dt.datetime) -> dt.datetime:
    """``value`` to the millisecond, as the session log stores it."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _same_time(stored: dt.datetime | str, value: dt.datetime, tz: dt.tzinfo) -> bool:
    try:
        return parse_timestamp(stored, tz) == value.astimezone(dt.UTC)
    except (TypeError, ValueError):
        return False
