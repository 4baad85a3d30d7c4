"""Instruments and instrument sessions: what the session log says happened.

The session log holds START and END rows per ``session_identifier``. This module pairs
them into :class:`Session` objects with timezone-aware times. Naive timestamps in the
log are wall-clock times in the instrument's timezone; timestamps with an offset are
honoured as written.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Status(enum.StrEnum):
    """``session_log.record_status`` values (NexusLIMS names and meanings)."""

    WAITING_FOR_END = "WAITING_FOR_END"
    TO_BE_BUILT = "TO_BE_BUILT"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    NO_FILES_FOUND = "NO_FILES_FOUND"
    NO_CONSENT = "NO_CONSENT"
    NO_RESERVATION = "NO_RESERVATION"
    BUILT_NOT_EXPORTED = "BUILT_NOT_EXPORTED"


class EventType(enum.StrEnum):
    """``session_log.event_type`` values."""

    START = "START"
    END = "END"
    RECORD_GENERATION = "RECORD_GENERATION"


@dataclass(frozen=True)
class Instrument:
    """One row of the ``instruments`` table."""

    pid: str
    filestore_path: str
    harvester: str | None = None
    api_url: str | None = None
    calendar_name: str | None = None
    calendar_url: str | None = None
    location: str | None = None
    schema_name: str | None = None
    property_tag: str | None = None
    computer_name: str | None = None
    computer_ip: str | None = None
    computer_mount: str | None = None
    timezone: str | None = None

    @property
    def display_name(self) -> str:
        """The name records show for the instrument (NexusLIMS' ``schema_name``)."""
        return self.schema_name or self.pid

    @property
    def tzinfo(self) -> dt.tzinfo:
        """The instrument's timezone, or the machine's local one when unset or unknown."""
        if self.timezone:
            try:
                return ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local


@dataclass(frozen=True)
class SessionLogRow:
    """One row of ``session_log`` as stored (timestamp not yet interpreted)."""

    id: int
    session_identifier: str
    instrument: str
    timestamp: dt.datetime | str
    event_type: str
    record_status: str
    user: str | None


@dataclass
class Session:
    """An instrument session waiting to become a record."""

    identifier: str
    instrument: Instrument
    start: dt.datetime
    end: dt.datetime
    user: str | None
    row_ids: list[int] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        """A short, filename-safe token for the session (last path/query part)."""
        tail = re.split(r"[/?=&#]", self.identifier.rstrip("/"))[-1]
        tail = re.sub(r"[^A-Za-z0-9._-]", "", tail)[:48]
        if not tail:
            tail = hashlib.sha256(self.identifier.encode()).hexdigest()[:10]
        return tail


@dataclass
class UnbuildableSession:
    """A TO_BE_BUILT session that cannot be built, and why (a per-session error)."""

    identifier: str
    instrument_pid: str
    reason: str
    row_ids: list[int] = field(default_factory=list)


def parse_timestamp(value: dt.datetime | str, tz: dt.tzinfo) -> dt.datetime:
    """Interpret a session-log timestamp as an aware UTC datetime.

    Naive values are wall-clock time in ``tz``; values with an offset keep it.
    Ambiguous wall-clock times (the repeated hour when DST ends) take the first
    occurrence, which is what a logger writing local time meant most often.
    """
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        parsed = dt.datetime.fromisoformat(text)
    else:
        parsed = value
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=tz)
    # In UTC: arithmetic between two datetimes sharing a ZoneInfo is wall-clock
    # arithmetic, which would lose or gain an hour across a DST change.
    return parsed.astimezone(dt.UTC)


def pair_sessions(
    rows: list[SessionLogRow], instruments: dict[str, Instrument]
) -> tuple[list[Session], list[UnbuildableSession]]:
    """Pair START and END rows into sessions.

    Duplicate END rows are tolerated (the latest END wins). A START without END, an
    END without START, or an unknown instrument makes that one session unbuildable;
    it never stops the others.
    """
    by_id: dict[str, list[SessionLogRow]] = {}
    for row in rows:
        by_id.setdefault(row.session_identifier, []).append(row)

    sessions: list[Session] = []
    bad: list[UnbuildableSession] = []
    for ident, group in by_id.items():
        ids = [r.id for r in group]
        pid = group[0].instrument
        instrument = instruments.get(pid)
        if instrument is None:
            bad.append(UnbuildableSession(ident, pid, f"unknown instrument {pid!r}", ids))
            continue
        tz = instrument.tzinfo
        try:
            starts = [parse_timestamp(r.timestamp, tz) for r in group if r.event_type == "START"]
            ends = [parse_timestamp(r.timestamp, tz) for r in group if r.event_type == "END"]
        except (TypeError, ValueError) as exc:
            bad.append(UnbuildableSession(ident, pid, f"unreadable timestamp: {exc}", ids))
            continue
        if not starts:
            bad.append(UnbuildableSession(ident, pid, "session has an END row but no START", ids))
            continue
        if not ends:
            bad.append(UnbuildableSession(ident, pid, "session has a START row but no END", ids))
            continue
        start, end = min(starts), max(ends)
        if end < start:
            reason = f"session ends ({end}) before it starts ({start})"
            bad.append(UnbuildableSession(ident, pid, reason, ids))
            continue
        user = next((r.user for r in group if r.event_type == "START" and r.user), None)
        user = user or next((r.user for r in group if r.user), None)
        sessions.append(Session(ident, instrument, start, end, user, ids))
    sessions.sort(key=lambda s: s.start)
    return sessions, bad
