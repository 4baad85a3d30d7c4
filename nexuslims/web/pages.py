"""The HTML pages: records, one record, its files, the builder, one session, /healthz."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from lxml import etree

from nexuslims import db
from nexuslims.db.records import (
    IndexedRecord,
    RecordQuery,
    get_record,
    instruments_with_records,
    search_records,
)
from nexuslims.errors import NexusLIMSError
from nexuslims.web import views
from nexuslims.web.downloads import NotServed, inside, record_file
from nexuslims.web.recordview import DatasetView, RecordView, load_record
from nexuslims.web.templating import render

router = APIRouter()
PAGE_SIZE = 25
#: Above this many datasets in a record, only its first activity is in the page; the
#: others are fetched when opened (or shown on their own page without JavaScript).
OPEN_ALL_UP_TO = 200
#: At most this many datasets of an activity are in the record page itself.
INLINE_LIMIT = 200


#: The most words a search may hold, and the longest search text: each word is one
#: condition of the query, so their number is bounded, not left to the caller.
MAX_SEARCH_WORDS = 32
MAX_SEARCH_CHARS = 500
#: Record ids are SQL integers: anything larger cannot name a record.
MAX_ID = 2**63 - 1
PAGES = Query(1, ge=1, le=1_000_000, description="page number, from 1")


def _search_text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise HTTPException(400, f"{name} holds a control character (such as NUL): search "
                            "for printable words only")
    if len(value) > MAX_SEARCH_CHARS:
        raise HTTPException(400, f"{name} is {len(value)} characters long: at most "
                            f"{MAX_SEARCH_CHARS}")
    if len(value.split()) > MAX_SEARCH_WORDS:
        raise HTTPException(400, f"{name} has {len(value.split())} words: search with at "
                            f"most {MAX_SEARCH_WORDS}")
    return value


def record_query(q: str | None, instrument: str | None, since: str | None, until: str | None,
                 experimenter: str | None = None, status: str | None = None) -> RecordQuery:
    """The record list's filters from query parameters (400 for a malformed date, a
    control character, or a search too long)."""
    q, instrument = _search_text("q", q), _search_text("instrument", instrument)
    experimenter, status = _search_text("experimenter", experimenter), \
        _search_text("status", status)
    return RecordQuery(text=(q or "").strip() or None, instrument=instrument or None,
                       since=_date(since, "from"), until=_date(until, "to", end=True),
                       experimenter=(experimenter or "").strip() or None,
                       status=status or None)


def _date(text: str | None, name: str, end: bool = False) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{name}={views.quoted(text)} is not a date: "
                            "use YYYY-MM-DD") from None
    if end and len(text) <= 10:  # a date: the whole day is included
        value += dt.timedelta(days=1)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@router.get("/", include_in_schema=False)
def records_page(request: Request, q: str | None = None, instrument: str | None = None,
                 since: str | None = Query(None, alias="from"),
                 until: str | None = Query(None, alias="to"), experimenter: str | None = None,
                 status: str | None = None, page: int = PAGES) -> Response:
    engine = request.app.state.engine
    query = record_query(q, instrument, since, until, experimenter, status)
    total, records = search_records(engine, query, offset=(page - 1) * PAGE_SIZE,
                                    limit=PAGE_SIZE)
    params = {k: v for k, v in (("q", q), ("instrument", instrument), ("from", since),
                                ("to", until), ("experimenter", experimenter),
                                ("status", status)) if v}
    return render(request, "records.html", records=records, total=total, page=page,
                  missing=missing_records(request, records),
                  pages=max(1, math.ceil(total / PAGE_SIZE)), params=params,
                  instruments=instruments_with_records(engine), zones=views.zones(engine),
                  statuses=[s.value for s in views.STATUS_ORDER])


def missing_records(request: Request, records: list[IndexedRecord]) -> set[int]:
    """Ids of ``records`` whose XML file is gone (marked, not linked to a 404)."""
    folder = request.app.state.web.records_path
    missing = set()
    for r in records:
        try:
            record_file(folder, r.record_path)
        except NotServed:
            missing.add(r.id)
    return missing


def indexed(request: Request, record_id: int) -> IndexedRecord:
    if not 0 <= record_id <= MAX_ID:
        raise HTTPException(400, f"record ids are whole numbers from 0 to {MAX_ID}")
    record = get_record(request.app.state.engine, record_id)
    if record is None:
        raise HTTPException(404, f"no record {record_id}")
    return record


def opened(request: Request, record: IndexedRecord) -> tuple[Path, RecordView]:
    """The record's file and its parsed view (404/500 with what is wrong)."""
    try:
        path = record_file(request.app.state.web.records_path, record.record_path)
        return path, load_record(path)
    except NotServed as exc:
        raise HTTPException(404, str(exc)) from None
    except (OSError, etree.XMLSyntaxError) as exc:
        raise HTTPException(500, f"record {record.id} cannot be read: {exc}") from None


@router.get("/records/{record_id}", include_in_schema=False)
def record_page(request: Request, record_id: int) -> Response:
    record = indexed(request, record_id)
    _, view = opened(request, record)
    tz = views.zones(request.app.state.engine).get(view.instrument_pid or record.instrument
                                                   or "")
    from nexuslims.db.uploads import destination_states

    destinations = destination_states(request.app.state.engine, record.session_identifier) \
        if record.session_identifier else []
    return render(request, "record.html", record=record, view=view, tz=tz,
                  open_all=len(view.datasets) <= OPEN_ALL_UP_TO, inline_limit=INLINE_LIMIT,
                  raw=request.app.state.web.serve_raw_files, destinations=destinations)


@router.get("/records/{record_id}/activities/{seqno}", include_in_schema=False)
def activity_page(request: Request, record_id: int, seqno: int,
                  fragment: bool = False) -> Response:
    record = indexed(request, record_id)
    _, view = opened(request, record)
    activity = next((a for a in view.activities if a.seqno == seqno), None)
    if activity is None:
        raise HTTPException(404, f"record {record_id} has no activity {seqno}")
    tz = views.zones(request.app.state.engine).get(view.instrument_pid or record.instrument
                                                   or "")
    return render(request, "gallery.html" if fragment else "activity.html", record=record,
                  view=view, a=activity, datasets=activity.datasets, tz=tz,
                  raw=request.app.state.web.serve_raw_files)


@router.get("/records/{record_id}/record.xml", include_in_schema=False)
def record_xml(request: Request, record_id: int) -> Response:
    record = indexed(request, record_id)
    try:
        path = record_file(request.app.state.web.records_path, record.record_path)
    except NotServed as exc:
        raise HTTPException(404, str(exc)) from None
    return FileResponse(path, media_type="application/xml", filename=path.name)


def dataset_of(request: Request, record_id: int, number: int) -> DatasetView:
    _, view = opened(request, indexed(request, record_id))
    dataset = view.dataset(number)
    if dataset is None:
        raise HTTPException(404, f"record {record_id} has no dataset {number}")
    return dataset


@router.get("/records/{record_id}/datasets/{number}/meta", include_in_schema=False)
def dataset_meta(request: Request, record_id: int, number: int,
                 fragment: bool = False) -> Response:
    dataset = dataset_of(request, record_id, number)
    return render(request, "meta.html" if fragment else "meta_page.html", dataset=dataset,
                  record_id=record_id)


@router.get("/records/{record_id}/datasets/{number}/preview.png", include_in_schema=False)
def dataset_preview(request: Request, record_id: int, number: int) -> Response:
    dataset = dataset_of(request, record_id, number)
    return _serve(request.app.state.web.data_path, dataset.preview, "image/png")


@router.get("/records/{record_id}/datasets/{number}/sidecar.json", include_in_schema=False)
def dataset_sidecar(request: Request, record_id: int, number: int) -> Response:
    dataset = dataset_of(request, record_id, number)
    return _serve(request.app.state.web.data_path,
                  f"{dataset.location}.json" if dataset.location else None, "application/json")


@router.get("/records/{record_id}/datasets/{number}/raw", include_in_schema=False)
def dataset_raw(request: Request, record_id: int, number: int) -> Response:
    web = request.app.state.web
    if not web.serve_raw_files:
        raise HTTPException(403, "raw files are not served here (NX_WEB_SERVE_RAW_FILES=false)")
    dataset = dataset_of(request, record_id, number)
    root = web.settings.instrument_data_path
    # A raw file is served only from its own instrument's folder (the share is
    # untrusted: a file replaced by a link to another group's data is not followed).
    instrument = db.load_instruments(request.app.state.engine).get(
        indexed(request, record_id).instrument or "")
    if root is None or instrument is None:
        raise HTTPException(404, "the record's instrument is unknown: its raw files are "
                            "not served")
    return _serve(root, dataset.location, "application/octet-stream", download=True,
                  within=root / instrument.filestore_path,
                  also=web.settings.share.extra_roots)


@router.get("/raw", include_in_schema=False)
def session_raw(request: Request, session: str, location: str) -> Response:
    """A raw file named by the session's record (the link a ``.eln`` package gives for a
    file too large to embed); only files that record names are served."""
    from nexuslims.db.records import record_of_session

    web = request.app.state.web
    if not web.serve_raw_files:
        raise HTTPException(403, "raw files are not served here (NX_WEB_SERVE_RAW_FILES=false)")
    record_id = record_of_session(request.app.state.engine, session)
    if record_id is None:
        raise HTTPException(404, f"no record of session {session!r}")
    _, view = opened(request, indexed(request, record_id))
    if location not in {d.location for d in view.datasets}:
        raise HTTPException(404, "the session's record names no such file")
    return _serve(web.settings.instrument_data_path, location, "application/octet-stream",
                  download=True)


def _serve(root: Path | None, relative: str | None, media_type: str,
           download: bool = False, within: Path | None = None,
           also: tuple[Path, ...] = ()) -> Response:
    if root is None or not relative:
        raise HTTPException(404, "the record names no such file")
    try:
        path = inside(root, relative, within=within, also=also)
    except NotServed as exc:
        raise HTTPException(404, f"not served: {exc}") from None
    # A name that is not UTF-8 is offered with U+FFFD where its odd bytes were.
    name = os.fsencode(path.name).decode("utf-8", "replace")
    return FileResponse(path, media_type=media_type,
                        filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.get("/builder", include_in_schema=False)
def builder_page(request: Request, status: str | None = None,
                 checks: str | None = None) -> Response:
    engine = request.app.state.engine
    overview = views.builder_overview(engine, status=status)
    overview.checks, overview.checks_note = views.doctor_checks(
        request.app.state.web.settings, servers=checks == "all")
    web = request.app.state.web
    zones = views.zones(engine)
    return render(request, "builder.html", o=overview, status=status, zones=zones,
                  site_tz=views.site_zone(zones),
                  health=views.health(engine, web.health_max_age_minutes))


@router.get("/sessions/{identifier:path}", include_in_schema=False)
def session_page(request: Request, identifier: str) -> Response:
    from nexuslims.db.records import record_of_session
    from nexuslims.db.uploads import destination_states, uploads_of_session

    engine = request.app.state.engine
    detail = db.session_detail(engine, identifier)
    if detail is None:
        raise HTTPException(404, f"no session {views.quoted(identifier)} in the session log")
    instrument = detail.rows[0].instrument if detail.rows else None
    record_id = record_of_session(engine, identifier)
    record = None if record_id is None else get_record(engine, record_id)
    return render(request, "session.html", detail=detail,
                  uploads=uploads_of_session(engine, identifier),
                  destinations=destination_states(engine, identifier), record_id=record_id,
                  record_missing=bool(record and missing_records(request, [record])),
                  tz=views.zones(engine).get(instrument or ""))


@router.get("/healthz", tags=["monitoring"])
def healthz(request: Request) -> JSONResponse:
    """200 when the last pass ran recently and could run; 503 with the reason otherwise."""
    web = request.app.state.web
    try:
        state = views.health(request.app.state.engine, web.health_max_age_minutes)
    except NexusLIMSError as exc:
        return JSONResponse({"status": "unhealthy", "reason": str(exc)}, status_code=503)
    last = state.last_pass
    body = {"status": "ok" if state.ok else "unhealthy", "reason": state.reason,
            "last_pass": None if last is None else {
                "started": last.started.isoformat(), "finished": last.finished.isoformat(),
                "outcome": last.outcome, "built": last.built, "failed": last.failed,
                "message": last.message}}
    return JSONResponse(body, status_code=200 if state.ok else 503)


def dataset_links(request: Request, record_id: int, dataset: DatasetView) -> dict[str, str | None]:
    """URLs of a dataset's preview, sidecar, raw file and metadata (None: not offered)."""
    base = f"{request.scope.get('root_path', '')}/records/{record_id}/datasets/{dataset.number}"
    return {"preview_url": f"{base}/preview.png" if dataset.preview else None,
            "sidecar_url": f"{base}/sidecar.json" if dataset.location else None,
            "raw_url": f"{base}/raw" if dataset.location
            and request.app.state.web.serve_raw_files else None,
            "meta_url": f"{base}/meta"}


@router.get("/docs", include_in_schema=False)
def docs_page(request: Request) -> Response:
    """The API, read from the framework's OpenAPI description (no CDN needed)."""
    return render(request, "docs.html", spec=request.app.openapi())
