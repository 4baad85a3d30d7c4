"""Export attempts (``upload_log``, NexusLIMS 2.x's table) and the sessions still to export.

One row per attempt to export one session's record to one destination. ``timestamp``
is text (as in NexusLIMS 2.x); we write UTC ISO 8601 with microseconds, and read naive
values (older writers) as UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated, when_unlocked
from nexuslims.db.schema import INTERRUPTED, RUNNING, build_attempts, session_log, upload_log
from nexuslims.model.session import Status
from nexuslims.redact import redact, redacted


@dataclass(frozen=True)
class UploadAttempt:
    """One ``upload_log`` row: an attempt to export a record to one destination."""

    id: int
    session_identifier: str
    destination: str
    success: bool
    timestamp: dt.datetime
    """When it was made (aware, UTC)."""
    record_id: str | None = None
    record_url: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportState:
    """Where one session stands with export: its status, its record, its attempts."""

    session_identifier: str
    instrument: str
    status: str
    """The ``record_status`` of the session's latest row."""
    record_path: str | None
    """The record the latest finished build attempt wrote, if it wrote one."""
    built: dt.datetime | None
    """When the latest build attempt started (None: built by another program)."""
    uploads: list[UploadAttempt] = field(default_factory=list)
    """Export attempts made since ``built``, oldest first."""

    @property
    def succeeded(self) -> set[str]:
        """Destinations that already have this build's record."""
        return {u.destination for u in self.uploads if u.success}

    @property
    def consecutive_failures(self) -> int:
        """Failed attempts in a row since the last success, for the destination with most."""
        streaks: dict[str, int] = {}
        for upload in self.uploads:
            streaks[upload.destination] = 0 if upload.success \
                else streaks.get(upload.destination, 0) + 1
        return max(streaks.values(), default=0)

    @property
    def last_attempt(self) -> dt.datetime | None:
        """When the latest export attempt was made."""
        return max((u.timestamp for u in self.uploads), default=None)


def _stamp(when: dt.datetime) -> str:
    if when.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {when!r}")
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _parse(text: str | dt.datetime) -> dt.datetime:
    try:
        value = text if isinstance(text, dt.datetime) else dt.datetime.fromisoformat(str(text))
    except ValueError:  # another program's format: such a row sorts first
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return (value if value.utcoffset() is not None else value.replace(tzinfo=dt.UTC)) \
        .astimezone(dt.UTC)


def _upload(row: sa.Row) -> UploadAttempt:
    try:
        metadata = json.loads(row.metadata_json) if row.metadata_json else {}
    except ValueError:
        metadata = {"unreadable": row.metadata_json}
    return UploadAttempt(id=row.id, session_identifier=row.session_identifier,
                         destination=row.destination_name, success=bool(row.success),
                         timestamp=_parse(row.timestamp), record_id=row.record_id,
                         record_url=row.record_url, error=row.error_message,
                         metadata=metadata if isinstance(metadata, dict) else {"value": metadata})


def log_upload(engine: Engine, session_identifier: str, destination: str, success: bool, *,
               when: dt.datetime, record_id: str | None = None, record_url: str | None = None,
               error: str | None = None, metadata: dict[str, Any] | None = None) -> int:
    """Record one export attempt; return the row's id.

    Parameters
    ----------
    when
        When the attempt was made (timezone-aware).
    metadata
        Anything else about it, stored as JSON.
    """
    # A destination's answer may echo the credentials it was sent: never stored.
    values = dict(session_identifier=session_identifier, destination_name=destination,
                  success=success, timestamp=_stamp(when), record_id=record_id,
                  record_url=redacted(record_url), error_message=redacted(error),
                  metadata_json=redact(json.dumps(metadata, default=str)) if metadata else None)
    what = f"logging the export of {session_identifier!r} to {destination}"

    def write() -> int:
        with translated(engine.url, what), engine.begin() as conn:
            result = conn.execute(sa.insert(upload_log).values(values))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    return when_unlocked(engine, write, what)


def uploads_of_session(engine: Engine, session_identifier: str) -> list[UploadAttempt]:
    """Every export attempt of one session, oldest first."""
    query = (sa.select(upload_log).where(upload_log.c.session_identifier == session_identifier)
             .order_by(upload_log.c.id))
    with translated(engine.url, f"reading the export attempts of {session_identifier!r}"), \
            engine.connect() as conn:
        return [_upload(r) for r in conn.execute(query)]


def export_states(engine: Engine, statuses: Iterable[Status | str] | None = None, *,
                  session_identifier: str | None = None) -> list[ExportState]:
    """Sessions whose current status is one of ``statuses``, with their export history.

    Parameters
    ----------
    statuses
        Current statuses wanted (e.g. BUILT_NOT_EXPORTED); None for any.
    session_identifier
        Only this session.

    Returns
    -------
    list of ExportState
        Oldest session first.
    """
    sl = session_log
    latest_row = (sa.select(sl.c.session_identifier, sa.func.max(sl.c.id_session_log).label("last"))
                  .group_by(sl.c.session_identifier))
    if session_identifier is not None:
        latest_row = latest_row.where(sl.c.session_identifier == session_identifier)
    latest = latest_row.subquery("latest")
    query = (sa.select(sl.c.session_identifier, sl.c.instrument, sl.c.record_status)
             .join(latest, latest.c.last == sl.c.id_session_log)
             .order_by(sl.c.id_session_log))
    if statuses is not None:
        query = query.where(sl.c.record_status.in_([Status(s).value for s in statuses]))

    def read() -> list[ExportState]:
        with translated(engine.url, "reading the sessions to export"), engine.connect() as conn:
            states = [ExportState(r.session_identifier, r.instrument, r.record_status, None, None)
                      for r in conn.execute(query)]
            if not states:
                return []
            by_id = {s.session_identifier: s for s in states}
            attempts = conn.execute(
                sa.select(build_attempts.c.session_identifier, build_attempts.c.started,
                          build_attempts.c.status, build_attempts.c.record_path)
                .where(build_attempts.c.session_identifier.in_(list(by_id)),
                       build_attempts.c.dry_run.is_(False))
                .order_by(build_attempts.c.id))
            for a in attempts:  # the latest attempt wins
                state = by_id[a.session_identifier]
                state.built = a.started
                # An unfinished attempt (running, or interrupted) wrote no record of its own.
                if a.status not in (RUNNING, INTERRUPTED):
                    state.record_path = a.record_path
            uploads = conn.execute(sa.select(upload_log)
                                   .where(upload_log.c.session_identifier.in_(list(by_id)))
                                   .order_by(upload_log.c.id))
            for row in uploads:
                upload = _upload(row)
                state = by_id[upload.session_identifier]
                if state.built is None or upload.timestamp >= state.built:
                    state.uploads.append(upload)
        return states

    # A read too: another writer holding SQLite exclusively blocks readers as well.
    return when_unlocked(engine, read, "reading the sessions to export")


@dataclass(frozen=True)
class ExportTarget:
    """What one destination made of one session (``export_targets``): kept across builds."""

    session_identifier: str
    destination: str
    target_id: str | None
    target_url: str | None
    detail: dict[str, Any]
    updated: dt.datetime


def remember_target(engine: Engine, session_identifier: str, destination: str, *,
                    target_id: str | None, target_url: str | None = None,
                    detail: dict[str, Any] | None = None,
                    when: dt.datetime | None = None) -> None:
    """Store (or replace) what ``destination`` made of the session, at once.

    Called by a destination the moment the thing exists (an experiment's 201), so a
    crash before the attempt is logged cannot lose it.
    """
    from nexuslims.db.schema import export_targets as t

    values = dict(target_id=target_id, target_url=redacted(target_url),
                  detail_json=redact(json.dumps(detail, default=str, sort_keys=True))
                  if detail else None,
                  updated=when or dt.datetime.now(dt.UTC))
    key = dict(session_identifier=session_identifier, destination_name=destination)
    what = f"remembering the {destination} target of {session_identifier!r}"

    def write() -> None:
        with translated(engine.url, what), engine.begin() as conn:
            done = conn.execute(sa.update(t).where(
                t.c.session_identifier == session_identifier,
                t.c.destination_name == destination).values(values))
            if not done.rowcount:
                conn.execute(sa.insert(t).values({**key, **values}))

    when_unlocked(engine, write, what)


def forget_target(engine: Engine, session_identifier: str, destination: str) -> None:
    """Drop what ``destination`` made of the session (it was found gone)."""
    from nexuslims.db.schema import export_targets as t

    what = f"forgetting the {destination} target of {session_identifier!r}"

    def write() -> None:
        with translated(engine.url, what), engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.session_identifier == session_identifier,
                                            t.c.destination_name == destination))

    when_unlocked(engine, write, what)


def targets_of_session(engine: Engine, session_identifier: str) -> dict[str, ExportTarget]:
    """What each destination made of the session, by destination name."""
    from nexuslims.db.schema import export_targets as t

    query = sa.select(t).where(t.c.session_identifier == session_identifier)
    with translated(engine.url, f"reading the export targets of {session_identifier!r}"), \
            engine.connect() as conn:
        rows = list(conn.execute(query))
    found = {}
    for r in rows:
        try:
            detail = json.loads(r.detail_json) if r.detail_json else {}
        except ValueError:
            detail = {"unreadable": r.detail_json}
        found[r.destination_name] = ExportTarget(
            r.session_identifier, r.destination_name, r.target_id, r.target_url,
            detail if isinstance(detail, dict) else {"value": detail}, r.updated)
    return found


@dataclass(frozen=True)
class DestinationState:
    """Where one session stands with one destination, for people to read."""

    destination: str
    exported: bool
    """Whether the latest attempt succeeded."""
    target_id: str | None
    """The destination's id for it (a CDCS record, an eLabFTW experiment)."""
    link: str | None
    """Where to see it (a URL, or a ``file://`` URI for a package or copy)."""
    attempts: int
    last_attempt: dt.datetime | None
    last_error: str | None
    """The error of the latest failed attempt (None if none ever failed)."""


def destination_states(engine: Engine, session_identifier: str) -> list[DestinationState]:
    """Each destination the session met: id or link, attempts, last error (by name)."""
    uploads = uploads_of_session(engine, session_identifier)
    targets = targets_of_session(engine, session_identifier)
    states = []
    for name in sorted({u.destination for u in uploads} | set(targets)):
        mine = [u for u in uploads if u.destination == name]
        target = targets.get(name)
        last = mine[-1] if mine else None
        done = [u for u in mine if u.success]
        failed = [u for u in mine if not u.success]
        states.append(DestinationState(
            destination=name, exported=bool(last and last.success),
            target_id=(done[-1].record_id if done and done[-1].record_id else None)
            or (target.target_id if target else None),
            link=(done[-1].record_url if done and done[-1].record_url else None)
            or (target.target_url if target else None),
            attempts=len(mine), last_attempt=last.timestamp if last else None,
            last_error=failed[-1].error if failed else None))
    return states
