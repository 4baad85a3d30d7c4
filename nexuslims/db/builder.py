"""What the builder page asks of the database: status counts, errors, problems."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import build_attempts, harvest_state, session_log, upload_log
from nexuslims.db.uploads import _parse


@dataclass(frozen=True)
class Unreachable:
    """A calendar server or export destination whose latest attempt failed."""

    kind: str
    """``calendar`` or ``destination``."""
    name: str
    error: str | None
    since: dt.datetime | None
    """When it last worked (None: never)."""
    last_attempt: dt.datetime | None


def status_counts(engine: Engine) -> dict[str, int]:
    """How many sessions have each current status (that of their latest row)."""
    sl = session_log
    latest = (sa.select(sa.func.max(sl.c.id_session_log).label("last"))
              .group_by(sl.c.session_identifier).subquery("latest"))
    query = (sa.select(sl.c.record_status, sa.func.count().label("n"))
             .join(latest, latest.c.last == sl.c.id_session_log)
             .group_by(sl.c.record_status))
    with translated(engine.url, "counting sessions by status"), engine.connect() as conn:
        return {r.record_status: int(r.n) for r in conn.execute(query)}


def latest_errors(engine: Engine, identifiers: list[str]) -> dict[str, str]:
    """The error of each session's newest build attempt that has one."""
    if not identifiers:
        return {}
    ba = build_attempts
    query = (sa.select(ba.c.session_identifier, ba.c.error)
             .where(ba.c.session_identifier.in_(identifiers), ba.c.error.is_not(None))
             .order_by(ba.c.id))
    with translated(engine.url, "reading build errors"), engine.connect() as conn:
        return {r.session_identifier: r.error for r in conn.execute(query)}


def unreachable(engine: Engine) -> list[Unreachable]:
    """Calendar servers whose latest harvest failed; destinations whose latest export did."""
    problems: list[Unreachable] = []
    hs = harvest_state
    ul = upload_log
    newest = (sa.select(sa.func.max(ul.c.id).label("id")).group_by(ul.c.destination_name)
              .subquery("newest"))
    with translated(engine.url, "reading calendar and destination health"), \
            engine.connect() as conn:
        for r in conn.execute(sa.select(hs).where(hs.c.last_error.is_not(None))
                              .order_by(hs.c.harvester, hs.c.server)):
            # A successful harvest clears last_error: one set means the latest failed.
            problems.append(Unreachable("calendar", f"{r.harvester} {r.server}",
                                        r.last_error, r.last_success, r.last_attempt))
        failed = conn.execute(sa.select(ul.c.destination_name, ul.c.error_message,
                                        ul.c.timestamp)
                              .join(newest, newest.c.id == ul.c.id)
                              .where(ul.c.success.is_(False))).all()
        for r in failed:
            last_ok = conn.execute(sa.select(sa.func.max(ul.c.timestamp)).where(
                ul.c.destination_name == r.destination_name, ul.c.success.is_(True))).scalar()
            problems.append(Unreachable("destination", r.destination_name, r.error_message,
                                        _parse(last_ok) if last_ok else None,
                                        _parse(r.timestamp)))
    return problems
