"""What the build history says about sessions still waiting: deferrals and record paths.

A session left for later by a passing fault (disk full, database locked, file store
unreachable) keeps its TO_BE_BUILT status; the attempt that met the fault is finished
with status :data:`DEFERRED` and the reason. The number of such attempts in a row (since
the session's last attempt that concluded otherwise) sets its backoff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import build_attempts, build_stages

#: The status of an attempt that met a passing fault; its session stays TO_BE_BUILT.
DEFERRED = "DEFERRED"


@dataclass(frozen=True)
class Deferral:
    """A session's deferred attempts in a row, the latest's end and reason."""

    count: int
    last: dt.datetime
    reason: str | None


def deferrals(engine: Engine) -> dict[str, Deferral]:
    """Sessions whose latest attempts were deferred, by session identifier (one query)."""
    a, b = build_attempts.alias("a"), build_attempts.alias("b")
    settled = (sa.select(sa.func.max(b.c.id))
               .where(b.c.session_identifier == a.c.session_identifier,
                      b.c.status != DEFERRED, b.c.dry_run.is_(False))
               .scalar_subquery())
    runs = (sa.select(a.c.session_identifier.label("ident"), sa.func.count().label("n"),
                      sa.func.max(a.c.id).label("last_id"))
            .where(a.c.status == DEFERRED, a.c.id > sa.func.coalesce(settled, 0))
            .group_by(a.c.session_identifier).subquery())
    query = (sa.select(runs.c.ident, runs.c.n, build_attempts.c.finished,
                       build_attempts.c.started, build_attempts.c.error)
             .join(build_attempts, build_attempts.c.id == runs.c.last_id))
    with translated(engine.url, "reading deferred build attempts"), engine.connect() as conn:
        return {row.ident: Deferral(int(row.n), row.finished or row.started, row.error)
                for row in conn.execute(query)}


def record_owners(engine: Engine, record_path: str) -> set[str]:
    """The sessions whose build history names ``record_path`` as their record."""
    query = (sa.select(build_attempts.c.session_identifier).distinct()
             .where(build_attempts.c.record_path == record_path))
    with translated(engine.url, f"reading which session owns {record_path}"), \
            engine.connect() as conn:
        return {row[0] for row in conn.execute(query)}


def instruments_that_found_files(engine: Engine) -> frozenset[str]:
    """Instruments whose folder gave files to an earlier (real, not dry-run) attempt."""
    query = (sa.select(build_attempts.c.instrument).distinct()
             .join(build_stages, build_stages.c.attempt_id == build_attempts.c.id)
             .where(build_stages.c.name == "find_files", build_stages.c.files_found > 0,
                    build_attempts.c.dry_run.is_(False)))
    with translated(engine.url, "reading which instruments had files"), \
            engine.connect() as conn:
        return frozenset(conn.execute(query).scalars())


def built_records(engine: Engine) -> list[tuple[str, str, str]]:
    """(session, instrument, record path) of each session whose latest real attempt wrote
    a record (COMPLETED or BUILT_NOT_EXPORTED), oldest first."""
    latest = (sa.select(sa.func.max(build_attempts.c.id))
              .where(build_attempts.c.dry_run.is_(False))
              .group_by(build_attempts.c.session_identifier).scalar_subquery())
    query = (sa.select(build_attempts.c.session_identifier, build_attempts.c.instrument,
                       build_attempts.c.record_path)
             .where(build_attempts.c.id.in_(latest),
                    build_attempts.c.status.in_(("COMPLETED", "BUILT_NOT_EXPORTED")),
                    build_attempts.c.record_path.is_not(None))
             .order_by(build_attempts.c.id))
    with translated(engine.url, "reading which sessions have records"), \
            engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(query)]
