"""The NexusLIMS tables: ``instruments`` and ``session_log``."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from nexuslims.db.engine import safe_url, translated, when_unlocked
from nexuslims.db.schema import instruments, session_log
from nexuslims.errors import DatabaseError
from nexuslims.model.session import EventType, Instrument, SessionLogRow, Status

# Instrument field -> instruments column (only the primary key is named differently).
_INSTRUMENT_COLUMNS = {f.name: ("instrument_pid" if f.name == "pid" else f.name)
                       for f in dataclasses.fields(Instrument)}


def status_value(status: Status | str) -> str:
    """The text stored for ``status``; ValueError for a status NexusLIMS does not know."""
    return Status(status).value


def _instrument(row: sa.Row) -> Instrument:
    values = row._mapping
    return Instrument(**{field: values[column] for field, column in _INSTRUMENT_COLUMNS.items()})


def load_instruments(engine: Engine) -> dict[str, Instrument]:
    """Every instrument of the ``instruments`` table.

    Returns
    -------
    dict
        Instruments by ``instrument_pid``.
    """
    query = sa.select(instruments).order_by(instruments.c.instrument_pid)
    with translated(engine.url, "reading the instruments"), engine.connect() as conn:
        return {i.pid: i for i in map(_instrument, conn.execute(query))}


def add_instrument(engine: Engine, instrument: Instrument) -> None:
    """Add one instrument.

    Raises
    ------
    DatabaseError
        An instrument with that pid exists already, or another unique column
        (``api_url``, ``computer_name``, ``computer_ip``) repeats another instrument's.
    """
    values = {column: getattr(instrument, field)
              for field, column in _INSTRUMENT_COLUMNS.items()}
    with translated(engine.url, f"adding instrument {instrument.pid!r}"):
        try:
            with engine.begin() as conn:
                conn.execute(sa.insert(instruments).values(values))
        except exc.IntegrityError as err:
            with engine.connect() as conn:
                exists = conn.execute(sa.select(instruments.c.instrument_pid).where(
                    instruments.c.instrument_pid == instrument.pid)).first()
            if exists:
                raise DatabaseError(f"instrument {instrument.pid!r} is already in "
                                    f"{safe_url(engine.url)}") from err
            raise DatabaseError(f"instrument {instrument.pid!r} cannot be added to "
                                f"{safe_url(engine.url)}: {err.orig}") from err


def _row(row: sa.Row) -> SessionLogRow:
    return SessionLogRow(id=row.id_session_log, session_identifier=row.session_identifier,
                         instrument=row.instrument, timestamp=row.timestamp,
                         event_type=row.event_type, record_status=row.record_status,
                         user=row.user)


def session_rows(engine: Engine, status: Status | str = Status.TO_BE_BUILT) -> list[SessionLogRow]:
    """The START and END rows of every session that has a row with ``status``.

    All START/END rows of such a session are returned (whatever their own status),
    ordered by id; RECORD_GENERATION rows are left out. Timestamps are as stored
    (text in SQLite), to be interpreted by :func:`nexuslims.model.session.parse_timestamp`.
    """
    wanted = sa.select(session_log.c.session_identifier).where(
        session_log.c.record_status == status_value(status))
    query = (sa.select(session_log)
             .where(session_log.c.session_identifier.in_(wanted),
                    session_log.c.event_type.in_([EventType.START.value, EventType.END.value]))
             .order_by(session_log.c.id_session_log))
    with translated(engine.url, "reading the session log"), engine.connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def rows_of_session(conn: sa.Connection, session_identifier: str) -> list[SessionLogRow]:
    """Every row (RECORD_GENERATION included) of one session, ordered by id."""
    query = (sa.select(session_log)
             .where(session_log.c.session_identifier == session_identifier)
             .order_by(session_log.c.id_session_log))
    return [_row(r) for r in conn.execute(query)]


def write_session_status(conn: sa.Connection, session_identifier: str, instrument: str,
                         status: str, user: str | None) -> None:
    """Set the session's rows to ``status`` and log a RECORD_GENERATION row (in ``conn``'s
    transaction)."""
    updated = conn.execute(sa.update(session_log)
                           .where(session_log.c.session_identifier == session_identifier)
                           .values(record_status=status))
    if updated.rowcount == 0:
        raise DatabaseError(f"session {session_identifier!r} is not in the session log")
    conn.execute(sa.insert(session_log).values(
        session_identifier=session_identifier, instrument=instrument,
        # Written with its offset, so it means the same to every reader.
        timestamp=dt.datetime.now().astimezone(),
        event_type=EventType.RECORD_GENERATION.value, record_status=status, user=user))


def set_session_status(engine: Engine, session_identifier: str, instrument: str,
                       status: Status | str, *, user: str | None = None) -> None:
    """Record a session's outcome the way NexusLIMS does.

    Every row of the session gets ``record_status = status`` and a RECORD_GENERATION
    row with that status is added (timestamped now, with the local UTC offset), in one
    transaction.

    Raises
    ------
    ValueError
        ``status`` is not one of :class:`~nexuslims.model.session.Status`.
    DatabaseError
        The session has no rows, or the database refused the write.
    """
    value = status_value(status)
    what = f"setting session {session_identifier!r} to {value}"

    def write() -> None:
        with translated(engine.url, what), engine.begin() as conn:
            write_session_status(conn, session_identifier, instrument, value, user)

    when_unlocked(engine, write, what)


def log_session_event(engine: Engine, session_identifier: str, instrument: str,
                      timestamp: dt.datetime, event_type: EventType | str,
                      status: Status | str = Status.WAITING_FOR_END,
                      user: str | None = None) -> int:
    """Append one START/END row to the session log, as a session logger or harvester does.

    ``timestamp`` is stored as given: naive values mean wall-clock time in the
    instrument's timezone, aware ones keep their offset.

    Returns
    -------
    int
        The new row's ``id_session_log``.
    """
    values = dict(session_identifier=session_identifier, instrument=instrument,
                  timestamp=timestamp, event_type=EventType(event_type).value,
                  record_status=status_value(status), user=user)
    with translated(engine.url, f"logging {values['event_type']} of {session_identifier!r}"), \
            engine.begin() as conn:
        if timestamp.utcoffset() is None and conn.dialect.name != "sqlite":
            # TIMESTAMP WITH TIME ZONE would read a naive value in the server's zone
            # (UTC): give it the instrument's, as SQLite readers interpret it.
            tz = conn.execute(sa.select(instruments.c.timezone)
                              .where(instruments.c.instrument_pid == instrument)).scalar()
            values["timestamp"] = timestamp.replace(
                tzinfo=Instrument(pid=instrument, filestore_path="", timezone=tz).tzinfo)
        key = conn.execute(sa.insert(session_log).values(values)).inserted_primary_key
        assert key is not None
        return int(key[0])


def update_instrument(engine: Engine, pid: str, **changes: str | None) -> Instrument:
    """Change some of an instrument's fields (``schema_name``, ``filestore_path``...).

    Returns
    -------
    Instrument
        The instrument as now stored.

    Raises
    ------
    DatabaseError
        No instrument ``pid``, an unknown field, or the database refused the change.
    """
    unknown = set(changes) - set(_INSTRUMENT_COLUMNS) | ({"pid"} & set(changes))
    if unknown:
        raise DatabaseError(f"instrument fields {sorted(unknown)} cannot be changed")
    values = {_INSTRUMENT_COLUMNS[k]: v for k, v in changes.items()}
    with translated(engine.url, f"changing instrument {pid!r}"), engine.begin() as conn:
        updated: int | None
        if values:
            updated = conn.execute(sa.update(instruments)
                                   .where(instruments.c.instrument_pid == pid)
                                   .values(values)).rowcount
        else:
            updated = conn.execute(sa.select(sa.func.count()).select_from(instruments)
                                   .where(instruments.c.instrument_pid == pid)).scalar()
        if not updated:
            raise DatabaseError(f"no instrument {pid!r} in {safe_url(engine.url)}")
    return load_instruments(engine)[pid]


def sessions_of_instrument(engine: Engine, pid: str) -> int:
    """How many sessions of the session log are on instrument ``pid``."""
    query = (sa.select(sa.func.count(sa.distinct(session_log.c.session_identifier)))
             .where(session_log.c.instrument == pid))
    with translated(engine.url, f"counting the sessions of {pid!r}"), engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def remove_instrument(engine: Engine, pid: str, *, with_sessions: bool = False) -> int:
    """Remove an instrument (and, with ``with_sessions``, its session-log rows).

    Build and export history is kept. Returns how many sessions were removed.

    Raises
    ------
    DatabaseError
        No instrument ``pid``, or sessions reference it and ``with_sessions`` is false.
    """
    with translated(engine.url, f"removing instrument {pid!r}"), engine.begin() as conn:
        sessions = int(conn.execute(
            sa.select(sa.func.count(sa.distinct(session_log.c.session_identifier)))
            .where(session_log.c.instrument == pid)).scalar() or 0)
        if sessions and not with_sessions:
            raise DatabaseError(f"instrument {pid!r} has {sessions} session(s) in the "
                                "session log")
        conn.execute(sa.delete(session_log).where(session_log.c.instrument == pid))
        if not conn.execute(sa.delete(instruments)
                            .where(instruments.c.instrument_pid == pid)).rowcount:
            raise DatabaseError(f"no instrument {pid!r} in {safe_url(engine.url)}")
    return sessions
