"""Build history: one ``build_attempts`` row per attempt, one ``build_stages`` row per stage."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import (
    RUNNING,
    STAGE_STATUSES,
    build_attempts,
    build_stages,
    instruments,
    session_log,
)
from nexuslims.db.sessionlog import status_value, write_session_status
from nexuslims.errors import DatabaseError
from nexuslims.sessions import Status


@dataclass
class StageRecord:
    """What one stage of a build attempt did (a ``build_stages`` row).

    Times are timezone-aware; they are stored in UTC.
    """

    name: str          # find_files | cluster | extract | build | validate | export
    started: dt.datetime
    finished: dt.datetime
    status: str        # ok | error | skipped
    files_found: int | None = None
    bytes_found: int | None = None
    datasets: int | None = None
    failures: int | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float:
        """Seconds from start to finish."""
        return (self.finished - self.started).total_seconds()


@dataclass
class AttemptRecord:
    """One attempt to build a session's record (a ``build_attempts`` row) and its stages.

    ``status`` is ``"RUNNING"`` until the attempt finishes, then the session status it
    concluded with. Times are aware datetimes in UTC.
    """

    id: int
    session_identifier: str
    instrument: str
    started: dt.datetime
    finished: dt.datetime | None
    duration_s: float | None
    status: str
    dry_run: bool
    record_path: str | None
    error: str | None
    stages: list[StageRecord] = field(default_factory=list)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(value: enum.Enum | str) -> str:
    return value.value if isinstance(value, enum.Enum) else str(value)


def start_attempt(engine: Engine, session_identifier: str, instrument: str,
                  dry_run: bool = False) -> int:
    """Open a build attempt (status ``RUNNING``, started now); return its id."""
    with translated(engine.url, f"recording a build attempt of {session_identifier!r}"), \
            engine.begin() as conn:
        result = conn.execute(sa.insert(build_attempts).values(
            session_identifier=session_identifier, instrument=_text(instrument),
            started=_now(), status=RUNNING, dry_run=dry_run))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def record_stage(engine: Engine, attempt_id: int, stage: StageRecord) -> int:
    """Store what one stage of attempt ``attempt_id`` did; return the stage row's id.

    Raises
    ------
    ValueError
        ``stage.status`` is not ok, error or skipped, or a time is naive.
    DatabaseError
        No attempt ``attempt_id``, or the write failed.
    """
    if stage.status not in STAGE_STATUSES:
        raise ValueError(f"stage status {stage.status!r} is not one of {STAGE_STATUSES}")
    with translated(engine.url, f"recording stage {stage.name!r} of attempt {attempt_id}"), \
            engine.begin() as conn:
        result = conn.execute(sa.insert(build_stages).values(
            attempt_id=attempt_id, name=stage.name, started=stage.started,
            finished=stage.finished, duration_s=stage.duration_s, status=stage.status,
            files_found=stage.files_found, bytes_found=stage.bytes_found,
            datasets=stage.datasets, failures=stage.failures, error=stage.error))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def _finish(conn: sa.Connection, attempt_id: int, status: str, record_path: str | None,
            error: str | None) -> None:
    started = conn.execute(sa.select(build_attempts.c.started)
                           .where(build_attempts.c.id == attempt_id)).scalar()
    if started is None:
        raise DatabaseError(f"no build attempt {attempt_id}")
    finished = _now()
    conn.execute(sa.update(build_attempts).where(build_attempts.c.id == attempt_id).values(
        finished=finished, duration_s=(finished - started).total_seconds(), status=status,
        record_path=record_path, error=error))


def finish_attempt(engine: Engine, attempt_id: int, status: Status | str,
                   record_path: str | None = None, error: str | None = None) -> None:
    """Close attempt ``attempt_id``: finished now, with its outcome.

    Parameters
    ----------
    status
        The session status the attempt concluded with (COMPLETED, ERROR...).
    record_path
        Where the record was written, if it was.
    error
        Why it failed, if it did.
    """
    with translated(engine.url, f"finishing build attempt {attempt_id}"), \
            engine.begin() as conn:
        _finish(conn, attempt_id, _text(status), record_path, error)


def delete_attempt(engine: Engine, attempt_id: int) -> None:
    """Remove attempt ``attempt_id`` and its stages, leaving no trace (no error if absent)."""
    with translated(engine.url, f"deleting build attempt {attempt_id}"), engine.begin() as conn:
        # Explicitly, not only by ON DELETE CASCADE: that needs foreign keys enforced.
        conn.execute(sa.delete(build_stages).where(build_stages.c.attempt_id == attempt_id))
        conn.execute(sa.delete(build_attempts).where(build_attempts.c.id == attempt_id))


def mark_unbuildable(engine: Engine, session_identifier: str, instrument: str,
                     reason: str) -> None:
    """Record that a session cannot be built (no END row, unknown instrument...).

    In one transaction: a finished ERROR attempt carrying ``reason``, and the session's
    rows set to ERROR with a RECORD_GENERATION row, as :func:`set_session_status` does.
    The RECORD_GENERATION row is left out when the instrument is not in the
    ``instruments`` table (its foreign key would refuse it); the rows are still updated.
    """
    error = Status.ERROR.value
    with translated(engine.url, f"marking session {session_identifier!r} unbuildable"), \
            engine.begin() as conn:
        now = _now()
        conn.execute(sa.insert(build_attempts).values(
            session_identifier=session_identifier, instrument=instrument, started=now,
            finished=now, duration_s=0.0, status=error, dry_run=False, error=reason))
        known = conn.execute(sa.select(instruments.c.instrument_pid)
                             .where(instruments.c.instrument_pid == instrument)).first()
        if known:
            write_session_status(conn, session_identifier, instrument, status_value(error), None)
        else:
            conn.execute(sa.update(session_log)
                         .where(session_log.c.session_identifier == session_identifier)
                         .values(record_status=error))
