"""What the CLI asks of the database: session summaries, one session in detail, instruments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.history import AttemptRecord, StageRecord
from nexuslims.db.schema import build_attempts, build_stages, session_log
from nexuslims.db.sessionlog import load_instruments, rows_of_session, status_value
from nexuslims.model.session import Instrument, SessionLogRow, Status


@dataclass(frozen=True)
class SessionSummary:
    """One session of the session log, in a line.

    ``start`` and ``end`` are the START/END timestamps as stored (text in SQLite), or
    None when the row is missing; ``status`` is the ``record_status`` of the session's
    latest row; ``attempts`` counts its build attempts.
    """

    identifier: str
    instrument: str
    user: str | None
    start: dt.datetime | str | None
    end: dt.datetime | str | None
    status: str
    attempts: int


@dataclass
class SessionDetail:
    """Everything recorded about one session: its log rows and its build attempts."""

    identifier: str
    rows: list[SessionLogRow] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        """The ``record_status`` of the latest row."""
        return self.rows[-1].record_status if self.rows else None


def list_instruments(engine: Engine) -> list[Instrument]:
    """Every instrument, ordered by pid."""
    return list(load_instruments(engine).values())


def list_sessions(engine: Engine, status: Status | str | None = None,
                  limit: int | None = None) -> list[SessionSummary]:
    """One summary per session, newest session first.

    Parameters
    ----------
    status
        Only sessions whose current status (that of their latest row) is this.
    limit
        At most this many sessions.
    """
    sl = session_log
    is_start = sl.c.event_type == "START"
    per_session = (
        sa.select(
            sl.c.session_identifier,
            sa.func.min(sl.c.id_session_log).label("first_id"),
            sa.func.max(sl.c.id_session_log).label("last_id"),
            sa.func.min(sa.case((is_start, sl.c.timestamp))).label("start"),
            sa.func.max(sa.case((sl.c.event_type == "END", sl.c.timestamp))).label("end"),
            sa.func.coalesce(sa.func.max(sa.case((is_start, sl.c.user))),
                             sa.func.max(sl.c.user)).label("user"),
        )
        .group_by(sl.c.session_identifier)
        .subquery("per_session")
    )
    latest = sl.alias("latest")
    attempts = (
        sa.select(build_attempts.c.session_identifier, sa.func.count().label("n"))
        .group_by(build_attempts.c.session_identifier)
        .subquery("attempts")
    )
    query = (
        sa.select(per_session.c.session_identifier, latest.c.instrument, per_session.c.user,
                  per_session.c.start, per_session.c.end, latest.c.record_status,
                  sa.func.coalesce(attempts.c.n, 0).label("attempts"))
        .join(latest, latest.c.id_session_log == per_session.c.last_id)
        .outerjoin(attempts,
                   attempts.c.session_identifier == per_session.c.session_identifier)
        .order_by(per_session.c.first_id.desc())
    )
    if status is not None:
        query = query.where(latest.c.record_status == status_value(status))
    if limit is not None:
        query = query.limit(limit)
    with translated(engine.url, "listing sessions"), engine.connect() as conn:
        return [SessionSummary(r.session_identifier, r.instrument, r.user, r.start, r.end,
                               r.record_status, int(r.attempts))
                for r in conn.execute(query)]


def _attempt(row: sa.Row) -> AttemptRecord:
    return AttemptRecord(id=row.id, session_identifier=row.session_identifier,
                         instrument=row.instrument, started=row.started,
                         finished=row.finished, duration_s=row.duration_s, status=row.status,
                         dry_run=bool(row.dry_run), record_path=row.record_path,
                         error=row.error)


def _stage(row: sa.Row) -> StageRecord:
    return StageRecord(name=row.name, started=row.started, finished=row.finished,
                       status=row.status, files_found=row.files_found,
                       bytes_found=row.bytes_found, datasets=row.datasets,
                       failures=row.failures, error=row.error)


def session_detail(engine: Engine, identifier: str) -> SessionDetail | None:
    """The log rows and build attempts (with their stages) of one session.

    Returns
    -------
    SessionDetail or None
        None when the session has neither log rows nor attempts.
    """
    attempts_query = (sa.select(build_attempts)
                      .where(build_attempts.c.session_identifier == identifier)
                      .order_by(build_attempts.c.id))
    stages_query = (sa.select(build_stages)
                    .join(build_attempts, build_attempts.c.id == build_stages.c.attempt_id)
                    .where(build_attempts.c.session_identifier == identifier)
                    .order_by(build_stages.c.id))
    with translated(engine.url, f"reading session {identifier!r}"), engine.connect() as conn:
        rows = rows_of_session(conn, identifier)
        attempts = {r.id: _attempt(r) for r in conn.execute(attempts_query)}
        for stage_row in conn.execute(stages_query):
            attempts[stage_row.attempt_id].stages.append(_stage(stage_row))
    if not rows and not attempts:
        return None
    return SessionDetail(identifier, rows, list(attempts.values()))
