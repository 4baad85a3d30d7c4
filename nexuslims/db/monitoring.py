"""What alerts, metrics and the support bundle read and keep: alert state, counts, history.

``alert_state`` holds one row per problem the alerts know about (see
:mod:`nexuslims.ops.alerts`); the rest are read-only summaries of the session log, the
build history and ``upload_log``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import UTCDateTime, build_attempts, build_stages, metadata, session_log
from nexuslims.db.schema import upload_log as upload_table

alert_state = sa.Table(
    "alert_state", metadata,
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("passes", sa.Integer, nullable=False),
    sa.Column("last_sent", UTCDateTime),
    sa.Column("cleared", sa.Boolean, nullable=False),
)


@dataclass
class AlertState:
    """One problem the alerts know about (an ``alert_state`` row)."""

    key: str
    kind: str
    """``event`` (told once: a session that failed) or ``condition`` (lasts, recovers)."""
    text: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    passes: int
    """Passes in a row it was seen in."""
    last_sent: dt.datetime | None = None
    cleared: bool = False
    """A condition told about that has cleared; its "recovered" message is not sent yet."""


def load_alert_states(engine: Engine) -> dict[str, AlertState]:
    """Every alert state, by key."""
    with translated(engine.url, "reading the alert state"), engine.connect() as conn:
        return {r.key: AlertState(r.key, r.kind, r.text, r.first_seen, r.last_seen, r.passes,
                                  r.last_sent, bool(r.cleared))
                for r in conn.execute(sa.select(alert_state))}


def save_alert_states(engine: Engine, states: dict[str, AlertState]) -> None:
    """Replace the alert state with ``states`` (one transaction)."""
    with translated(engine.url, "saving the alert state"), engine.begin() as conn:
        conn.execute(sa.delete(alert_state))
        if states:
            conn.execute(sa.insert(alert_state), [vars(s) for s in states.values()])


def status_counts(engine: Engine) -> dict[str, int]:
    """How many sessions have each current status (that of their latest row)."""
    sl = session_log
    latest = (sa.select(sa.func.max(sl.c.id_session_log).label("last"))
              .group_by(sl.c.session_identifier).subquery())
    query = (sa.select(sl.c.record_status, sa.func.count())
             .join(latest, latest.c.last == sl.c.id_session_log)
             .group_by(sl.c.record_status))
    with translated(engine.url, "counting sessions by status"), engine.connect() as conn:
        return {status: int(n) for status, n in conn.execute(query)}


def stage_seconds(engine: Engine, since: dt.datetime) -> dict[str, float]:
    """Seconds spent in each build stage by attempts started at or after ``since``."""
    query = (sa.select(build_stages.c.name, sa.func.sum(build_stages.c.duration_s))
             .join(build_attempts, build_attempts.c.id == build_stages.c.attempt_id)
             .where(build_attempts.c.started >= since)
             .group_by(build_stages.c.name))
    with translated(engine.url, "reading stage timings"), engine.connect() as conn:
        return {name: float(total or 0.0) for name, total in conn.execute(query)}


def recent_stages(engine: Engine, limit: int = 2000) -> list[dict[str, Any]]:
    """The latest build stages with their attempt's session, newest first."""
    query = (sa.select(build_attempts.c.session_identifier, build_attempts.c.instrument,
                       build_attempts.c.status.label("attempt_status"), build_stages)
             .join(build_attempts, build_attempts.c.id == build_stages.c.attempt_id)
             .order_by(build_stages.c.id.desc()).limit(limit))
    with translated(engine.url, "reading the build history"), engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def recent_uploads(engine: Engine, limit: int = 500) -> list[dict[str, Any]]:
    """The latest ``upload_log`` rows, newest first."""
    query = sa.select(upload_table).order_by(upload_table.c.id.desc()).limit(limit)
    with translated(engine.url, "reading the export attempts"), engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
