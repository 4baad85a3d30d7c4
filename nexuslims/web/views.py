"""Plain data for the pages and the API: the builder's state, health, readable times."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from nexuslims import db
from nexuslims.db.builder import Unreachable, latest_errors, status_counts, unreachable
from nexuslims.db.passes import FAILED, INTERRUPTED, PassRecord, recent_passes
from nexuslims.db.queries import SessionSummary
from nexuslims.db.uploads import ExportState, export_states
from nexuslims.model.session import Status

logger = logging.getLogger(__name__)

#: Statuses in the order the builder page lists them (problems first).
STATUS_ORDER = [Status.ERROR, Status.BUILT_NOT_EXPORTED, Status.TO_BE_BUILT,
                Status.WAITING_FOR_END, Status.NO_FILES_FOUND, Status.NO_RESERVATION,
                Status.NO_CONSENT, Status.COMPLETED]


def quoted(text: str, limit: int = 60) -> str:
    """``text`` quoted for an error message, cut at ``limit`` characters (an answer never
    echoes a caller's input at length)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def zones(engine: Engine) -> dict[str, dt.tzinfo]:
    """Each instrument's timezone, by pid."""
    return {pid: i.tzinfo for pid, i in db.load_instruments(engine).items()}


def site_zone(instrument_zones: dict[str, dt.tzinfo]) -> dt.tzinfo:
    """The zone of times that belong to no instrument (passes, exports) on the builder
    page: the instruments' zone when they share one, else this machine's; so that the
    page reads in one zone with the records wherever it can."""
    names = {getattr(z, "key", None) or str(z) for z in instrument_zones.values()}
    if len(names) == 1:
        return next(iter(instrument_zones.values()))
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def when(value: dt.datetime | str | None, tz: dt.tzinfo | None = None) -> str:
    """A time as people read it, in ``tz`` (the instrument's): ``Tue 5 Mar 2024, 09:00 EST``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or dt.UTC)
    if tz is not None:
        value = value.astimezone(tz)
    return f"{value:%a} {value.day} {value:%b %Y, %H:%M} {value.tzname() or ''}".rstrip()


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


@dataclass
class Health:
    """The answer of ``/healthz``."""

    ok: bool
    reason: str
    last_pass: PassRecord | None = None


#: Passes in a row stopped by a signal before /healthz says the builder is unhealthy.
STOPPED_IN_A_ROW = 3


def health(engine: Engine, max_age_minutes: float, now: dt.datetime | None = None) -> Health:
    """Healthy when the newest pass ran less than ``max_age_minutes`` ago and could run.

    A pass stopped by a signal (``interrupted``) is said so; it is healthy unless the
    last :data:`STOPPED_IN_A_ROW` passes were all stopped (then none finishes: a
    timeout that stops every pass, say).
    """
    now = now or dt.datetime.now(dt.UTC)
    passes = recent_passes(engine, STOPPED_IN_A_ROW)
    if not passes:
        return Health(False, "no pass of the builder has been recorded yet")
    last = passes[0]
    age = now - last.finished
    if last.outcome == INTERRUPTED:
        when = last.finished.isoformat(timespec="seconds")
        if len(passes) == STOPPED_IN_A_ROW and all(p.outcome == INTERRUPTED for p in passes):
            return Health(False, f"the last {STOPPED_IN_A_ROW} passes were all stopped "
                                 f"before they finished (the last at {when}: {last.message}):"
                                 " is something stopping every pass (TimeoutStartSec)?", last)
        if age <= dt.timedelta(minutes=max_age_minutes):
            return Health(True, f"the last pass was stopped {duration(age.total_seconds())} "
                                f"ago ({last.message}); the next pass builds what it left",
                          last)
    if last.outcome == FAILED:
        return Health(False, f"the last pass ({last.finished.isoformat(timespec='seconds')}) "
                             f"could not run: {last.message}", last)
    if age > dt.timedelta(minutes=max_age_minutes):
        return Health(False, f"the last pass finished {duration(age.total_seconds())} ago "
                             f"(more than {max_age_minutes:g} min): is the timer or cron job "
                             "running?", last)
    return Health(True, f"last pass finished {duration(age.total_seconds())} ago", last)


@dataclass
class BuilderOverview:
    """Everything the builder page shows."""

    counts: list[tuple[str, int]]
    passes: list[PassRecord]
    errors: list[tuple[SessionSummary, str]]
    waiting: list[ExportState]
    unreachable: list[Unreachable]
    checks: list[Any] | None = None
    checks_note: str | None = None
    sessions: list[SessionSummary] = field(default_factory=list)
    """The sessions of the status asked for, if one was."""


def builder_overview(engine: Engine, *, status: str | None = None,
                     limit: int = 100) -> BuilderOverview:
    """The builder's state: sessions by status, passes, errors, exports waiting, outages."""
    counts = status_counts(engine)
    ordered = [(s.value, counts.get(s.value, 0)) for s in STATUS_ORDER]
    ordered += sorted((k, v) for k, v in counts.items() if k not in {s.value for s in Status})
    errors = db.list_sessions(engine, status=Status.ERROR, limit=limit)
    messages = latest_errors(engine, [s.identifier for s in errors])
    overview = BuilderOverview(
        counts=ordered, passes=recent_passes(engine, 10),
        errors=[(s, messages.get(s.identifier, "")) for s in errors],
        waiting=export_states(engine, [Status.BUILT_NOT_EXPORTED]),
        unreachable=unreachable(engine))
    if status:
        overview.sessions = db.list_sessions(engine, status=status, limit=limit)
    return overview


#: Seconds the outbound checks of the builder page are reused: many readers asking for
#: them cost one round of requests to CDCS, the calendars and the mail server.
SERVER_CHECKS_TTL = 120.0
_server_checks: dict[int, tuple[float, tuple[list[Any] | None, str | None]]] = {}
_server_checks_lock = threading.Lock()


def doctor_checks(settings: Any, *, servers: bool = False
                  ) -> tuple[list[Any] | None, str | None]:
    """``nexuslims doctor``'s checks, where this nexuslims has them: (checks, or None and why).

    Each check is plain data with ``name``, ``status`` and ``message``
    (:mod:`nexuslims.ops.doctor`). Without ``servers`` only the cheap ones run (this
    machine: settings, database, folders), so the page stays fast; with it, the
    calendar, CDCS and mail servers are asked too, at most once per
    :data:`SERVER_CHECKS_TTL` seconds: readers who ask meanwhile (or wait for the round
    under way) get the same answer.
    """
    if not servers:
        return _run_doctor(settings, servers=False)
    with _server_checks_lock:  # one round at a time; the others wait and reuse it
        cached = _server_checks.get(id(settings))
        if cached is not None and time.monotonic() - cached[0] < SERVER_CHECKS_TTL:
            return cached[1]
        answer = _run_doctor(settings, servers=True)
        _server_checks[id(settings)] = (time.monotonic(), answer)
        return answer


def _run_doctor(settings: Any, *, servers: bool) -> tuple[list[Any] | None, str | None]:
    try:
        from nexuslims.ops import doctor  # type: ignore[attr-defined]
    except ImportError:
        return None, "this nexuslims has no `nexuslims doctor`"
    names = ("run_checks",) if servers else ("cheap_checks", "run_checks")
    for name in names:
        run = getattr(doctor, name, None)
        if callable(run):
            try:
                return list(run(settings)), None
            except Exception as exc:  # noqa: BLE001 - a broken check must not break the page
                logger.warning("doctor checks failed: %s", exc)
                return None, f"the checks could not run: {exc}"
    return None, "nexuslims.ops.doctor offers no cheap_checks(settings) or run_checks(settings)"
