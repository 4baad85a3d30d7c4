"""Build history: one ``build_attempts`` row per attempt, one ``build_stages`` row per stage."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import socket
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated, when_unlocked
from nexuslims.db.schema import (
    INTERRUPTED,
    RUNNING,
    STAGE_STATUSES,
    build_attempts,
    build_stages,
    instruments,
    session_log,
)
from nexuslims.db.sessionlog import status_value, write_session_status
from nexuslims.errors import DatabaseError
from nexuslims.model.session import Status
from nexuslims.redact import redacted

logger = logging.getLogger(__name__)


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
    concluded with, or ``"interrupted"`` when its pass ended first. Times are aware
    datetimes in UTC.
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
    """Open a build attempt (status ``RUNNING``, started now, by this process); return its id."""
    def write() -> int:
        with translated(engine.url, f"recording a build attempt of {session_identifier!r}"), \
                engine.begin() as conn:
            result = conn.execute(sa.insert(build_attempts).values(
                session_identifier=session_identifier, instrument=_text(instrument),
                started=_now(), status=RUNNING, dry_run=dry_run,
                pass_host=socket.gethostname(), pass_pid=os.getpid()))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    return when_unlocked(engine, write, f"recording a build attempt of {session_identifier!r}")


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
    what = f"recording stage {stage.name!r} of attempt {attempt_id}"

    def write() -> int:
        with translated(engine.url, what), engine.begin() as conn:
            result = conn.execute(sa.insert(build_stages).values(
                attempt_id=attempt_id, name=stage.name, started=stage.started,
                finished=stage.finished, duration_s=stage.duration_s, status=stage.status,
                files_found=stage.files_found, bytes_found=stage.bytes_found,
                datasets=stage.datasets, failures=stage.failures,
                error=redacted(stage.error)))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    return when_unlocked(engine, write, what)


def _finish(conn: sa.Connection, attempt_id: int, status: str, record_path: str | None,
            error: str | None) -> None:
    started = conn.execute(sa.select(build_attempts.c.started)
                           .where(build_attempts.c.id == attempt_id)).scalar()
    if started is None:
        raise DatabaseError(f"no build attempt {attempt_id}")
    finished = _now()
    conn.execute(sa.update(build_attempts).where(build_attempts.c.id == attempt_id).values(
        finished=finished, duration_s=(finished - started).total_seconds(), status=status,
        record_path=record_path, error=redacted(error)))


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
    def write() -> None:
        with translated(engine.url, f"finishing build attempt {attempt_id}"), \
                engine.begin() as conn:
            _finish(conn, attempt_id, _text(status), record_path, error)

    when_unlocked(engine, write, f"finishing build attempt {attempt_id}")


def delete_attempt(engine: Engine, attempt_id: int) -> None:
    """Remove attempt ``attempt_id`` and its stages, leaving no trace (no error if absent)."""
    def write() -> None:
        with translated(engine.url, f"deleting build attempt {attempt_id}"), \
                engine.begin() as conn:
            # Explicitly, not only by ON DELETE CASCADE: that needs foreign keys enforced.
            conn.execute(sa.delete(build_stages).where(build_stages.c.attempt_id == attempt_id))
            conn.execute(sa.delete(build_attempts).where(build_attempts.c.id == attempt_id))

    when_unlocked(engine, write, f"deleting build attempt {attempt_id}")


def mark_unbuildable(engine: Engine, session_identifier: str, instrument: str,
                     reason: str) -> None:
    """Record that a session cannot be built (no END row, unknown instrument...).

    In one transaction: a finished ERROR attempt carrying ``reason``, and the session's
    rows set to ERROR with a RECORD_GENERATION row, as :func:`set_session_status` does.
    The RECORD_GENERATION row is left out when the instrument is not in the
    ``instruments`` table (its foreign key would refuse it); the rows are still updated.
    """
    error = Status.ERROR.value
    reason = redacted(reason) or ""

    def write() -> None:
        with translated(engine.url, f"marking session {session_identifier!r} unbuildable"), \
                engine.begin() as conn:
            now = _now()
            conn.execute(sa.insert(build_attempts).values(
                session_identifier=session_identifier, instrument=instrument, started=now,
                finished=now, duration_s=0.0, status=error, dry_run=False, error=reason,
                pass_host=socket.gethostname(), pass_pid=os.getpid()))
            known = conn.execute(sa.select(instruments.c.instrument_pid)
                                 .where(instruments.c.instrument_pid == instrument)).first()
            if known:
                write_session_status(conn, session_identifier, instrument,
                                     status_value(error), None)
            else:
                conn.execute(sa.update(session_log)
                             .where(session_log.c.session_identifier == session_identifier)
                             .values(record_status=error))

    when_unlocked(engine, write, f"marking session {session_identifier!r} unbuildable")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # a killed child not yet reaped by its parent is a zombie, not a pass
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def mark_interrupted(engine: Engine, *, live_elsewhere: set[tuple[str, int]] | None = None,
                     ) -> list[int]:
    """Close the attempts whose pass is gone: status ``interrupted``, finished when last seen.

    An attempt is still running if its process is alive on this host (and is not this
    process: a pass starts with none of its own open), or it runs on another host as
    one of ``live_elsewhere`` (the holder of the builder lease). Attempts from before
    their pass was recorded (no host) count as gone: call this while holding the lease.

    Returns
    -------
    list of int
        The ids of the attempts marked.
    """
    here, me = socket.gethostname(), os.getpid()
    live_elsewhere = live_elsewhere or set()
    marked: list[int] = []

    def write() -> list[int]:
        marked.clear()
        with translated(engine.url, "closing attempts of passes that ended"), \
                engine.begin() as conn:
            rows = conn.execute(sa.select(build_attempts.c.id, build_attempts.c.started,
                                          build_attempts.c.pass_host, build_attempts.c.pass_pid)
                                .where(build_attempts.c.status == RUNNING)).all()
            for row in rows:
                if row.pass_host == here and row.pass_pid is not None:
                    if row.pass_pid != me and pid_alive(row.pass_pid):
                        continue
                elif (row.pass_host, row.pass_pid) in live_elsewhere:
                    continue
                last = conn.execute(sa.select(sa.func.max(build_stages.c.finished))
                                    .where(build_stages.c.attempt_id == row.id)).scalar()
                finished = max(last or row.started, row.started)
                who = f"pid {row.pass_pid} on {row.pass_host}" if row.pass_host else "its pass"
                conn.execute(sa.update(build_attempts)
                             .where(build_attempts.c.id == row.id,
                                    build_attempts.c.status == RUNNING)
                             .values(status=INTERRUPTED, finished=finished,
                                     duration_s=(finished - row.started).total_seconds(),
                                     error=f"interrupted: {who} ended before this attempt "
                                           "finished"))
                marked.append(row.id)
        return list(marked)

    result = when_unlocked(engine, write, "closing attempts of passes that ended")
    for attempt_id in result:
        logger.warning("build attempt %d was left unfinished by a pass that ended; marked "
                       "interrupted", attempt_id)
    return result
