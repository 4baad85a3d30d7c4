"""The JSON API: records and sessions to read; session start and end for instrument PCs."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from nexuslims import db
from nexuslims.db.records import IndexedRecord, search_records
from nexuslims.db.tokens import ApiToken, check_token, touch_token
from nexuslims.model.session import Status, parse_timestamp
from nexuslims.sessions.logbook import LoggedSession, SessionLogRefused, end_session, start_session
from nexuslims.web import views
from nexuslims.web.auth import bearer_token
from nexuslims.web.pages import (
    PAGE_SIZE,
    PAGES,
    dataset_links,
    indexed,
    missing_records,
    opened,
    record_query,
)

router = APIRouter(prefix="/api")


def _record(request: Request, r: IndexedRecord, zones: dict) -> dict[str, Any]:
    root = request.scope.get("root_path", "")
    tz = zones.get(r.instrument or "")
    return {"id": r.id, "title": r.title, "instrument": r.instrument,
            "instrument_name": r.instrument_name,
            "start": r.start.astimezone(tz).isoformat() if r.start else None,
            "experimenters": r.experimenters, "datasets": r.datasets,
            "activities": r.activities, "status": r.status,
            "session": r.session_identifier, "matched_datasets": list(r.matched),
            "url": f"{root}/records/{r.id}", "xml_url": f"{root}/records/{r.id}/record.xml"}


@router.get("/records", tags=["records"])
def list_records(request: Request, q: str | None = Query(None, description="words to find"),
                 instrument: str | None = Query(None, description="instrument PID"),
                 since: str | None = Query(None, alias="from", description="YYYY-MM-DD"),
                 until: str | None = Query(None, alias="to", description="YYYY-MM-DD"),
                 experimenter: str | None = None,
                 status: str | None = Query(None, description="session status"),
                 page: int = PAGES) -> dict[str, Any]:
    """Records, newest first, 25 a page: {"total", "page", "pages", "records"}.

    Every word of q must occur in the title, motivation, samples, projects,
    experimenters, dataset names, types or signal kinds (`matched_datasets`: those of its
    datasets that matched); each record's url is its page, and record_file_missing says
    its XML file is gone (`nexuslims doctor` says how to rebuild it).
    """
    query = record_query(q, instrument, since, until, experimenter, status)
    total, records = search_records(request.app.state.engine, query,
                                    offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    zones = views.zones(request.app.state.engine)
    missing = missing_records(request, records)
    return {"total": total, "page": page, "pages": max(1, math.ceil(total / PAGE_SIZE)),
            "records": [dict(_record(request, r, zones), record_file_missing=r.id in missing)
                        for r in records]}


@router.get("/records/{record_id}", tags=["records"])
def get_record(request: Request, record_id: int) -> dict[str, Any]:
    """One record: its summary, samples, projects, and activities with their datasets."""
    record = indexed(request, record_id)
    _, view = opened(request, record)
    body = _record(request, record, views.zones(request.app.state.engine))
    body.update(
        motivation=view.motivation, reference=view.reference,
        experimenters=view.experimenters,
        end=view.end.isoformat() if view.end else None,
        samples=[vars(s) for s in view.samples], projects=[vars(p) for p in view.projects],
        activities=[{
            "seqno": a.seqno, "start": a.start.isoformat() if a.start else None,
            "sample_id": a.sample_id,
            "setup": {p.name: p.value for p in a.setup},
            "datasets": [{"number": d.number, "name": d.name, "type": d.type,
                          "format": d.format, "location": d.location,
                          **dataset_links(request, record_id, d)} for d in a.datasets],
        } for a in view.activities])
    return body


@router.get("/sessions", tags=["sessions"])
def list_sessions(request: Request, status: str | None = Query(None, description="e.g. ERROR"),
                  limit: int = Query(100, ge=1, le=10000)) -> list[dict[str, Any]]:
    """Sessions of the session log, newest first."""
    if status is not None:
        try:
            status = Status(status.upper()).value
        except ValueError:
            known = ", ".join(s.value for s in Status)
            raise HTTPException(400, f"status={views.quoted(status)} is not one of "
                                f"{known}") from None
    return [{"id": s.identifier, "instrument": s.instrument, "user": s.user,
             "start": str(s.start) if s.start else None, "end": str(s.end) if s.end else None,
             "status": s.status, "attempts": s.attempts}
            for s in db.list_sessions(request.app.state.engine, status=status, limit=limit)]


class StartRequest(BaseModel):
    instrument: str = Field(min_length=1, max_length=100, description="instrument PID")
    user: str | None = Field(None, max_length=50, description="who logged in")
    id: str | None = Field(None, max_length=255, description="session id (default: new UUID)")
    time: dt.datetime | None = Field(None, description="start (default: now; naive = the "
                                     "instrument's timezone)")


class EndRequest(BaseModel):
    time: dt.datetime | None = Field(None, description="end (default: now; naive = the "
                                     "instrument's timezone)")


def _token(request: Request) -> ApiToken:
    token = bearer_token(request)
    engine = request.app.state.engine
    found = check_token(engine, token) if token else None
    if found is None:
        raise HTTPException(401, "a valid token is needed: send 'Authorization: Bearer <token>' "
                            "with a token from `nexuslims tokens create`",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


def _allowed(token: ApiToken, instrument: str) -> None:
    if token.instrument is not None and token.instrument != instrument:
        raise HTTPException(403, f"this token logs sessions for {token.instrument} only, "
                            f"not {instrument}")


def _logged(session: LoggedSession) -> dict[str, Any]:
    return {"id": session.identifier, "instrument": session.instrument,
            "status": session.status, "user": session.user,
            "start": session.start.isoformat() if session.start else None,
            "end": session.end.isoformat() if session.end else None}


def _in_range(request: Request, when: dt.datetime | None, instrument: str,
              start: dt.datetime | None = None) -> None:
    """Refuse a time the API should not log: ahead beyond the clock skew, older than
    NX_API_MAX_AGE_HOURS, or ending a session longer than NX_API_MAX_SESSION_HOURS.
    (Older and longer sessions are logged with ``nexuslims sessions add``.)"""
    web = request.app.state.web
    now = dt.datetime.now(dt.UTC)
    if when is None:
        when = now
    elif when.tzinfo is None:
        tz = views.zones(request.app.state.engine).get(instrument)
        when = when.replace(tzinfo=tz or dt.UTC)
    skew = dt.timedelta(minutes=web.api_clock_skew_minutes)
    if when > now + skew:
        raise HTTPException(400, f"{when.isoformat()} is in the future (more than "
                            f"{web.api_clock_skew_minutes:g} min ahead of this server's clock, "
                            "NX_API_CLOCK_SKEW_MINUTES): is the instrument PC's clock right?")
    if when < now - dt.timedelta(hours=web.api_max_age_hours):
        raise HTTPException(400, f"{when.isoformat()} is more than {web.api_max_age_hours:g} h "
                            "ago (NX_API_MAX_AGE_HOURS): log older sessions with "
                            "`nexuslims sessions add`")
    if start is not None and when - start > dt.timedelta(hours=web.api_max_session_hours):
        raise HTTPException(400, f"a session from {start.isoformat()} to {when.isoformat()} "
                            f"is longer than {web.api_max_session_hours:g} h "
                            "(NX_API_MAX_SESSION_HOURS): log it with `nexuslims sessions add`")


@router.post("/sessions/start", tags=["session logging"], status_code=201)
def start(request: Request, body: StartRequest) -> dict[str, Any]:
    """Log a session's start (as at login on the instrument PC); answers its id.

    Needs "Authorization: Bearer <token>"; a token bound to an instrument logs only
    that instrument's sessions.
    """
    token = _token(request)
    _allowed(token, body.instrument)
    _in_range(request, body.time, body.instrument)
    engine = request.app.state.engine
    try:
        logged = start_session(engine, body.instrument, user=body.user, identifier=body.id,
                               now=body.time)
    except SessionLogRefused as exc:
        raise HTTPException(400, str(exc)) from None
    touch_token(engine, token.id)
    return _logged(logged)


@router.post("/sessions/{identifier:path}/end", tags=["session logging"])
def end(request: Request, identifier: str, body: EndRequest | None = None) -> dict[str, Any]:
    """Log a session's end (as at logout); it becomes TO_BE_BUILT for the next pass."""
    token = _token(request)
    engine = request.app.state.engine
    detail = db.session_detail(engine, identifier)
    if detail is None or not detail.rows:
        raise HTTPException(404, f"no session {views.quoted(identifier)} in the session log")
    _allowed(token, detail.rows[0].instrument)
    instrument = detail.rows[0].instrument
    started = next((r.timestamp for r in detail.rows if r.event_type == "START"), None)
    tz = views.zones(engine).get(instrument) or dt.UTC
    _in_range(request, body.time if body else None, instrument,
              start=None if started is None else parse_timestamp(started, tz))
    try:
        logged = end_session(engine, identifier, now=body.time if body else None)
    except SessionLogRefused as exc:
        raise HTTPException(409 if "already ended" in str(exc) else 400, str(exc)) from None
    touch_token(engine, token.id)
    return _logged(logged)
