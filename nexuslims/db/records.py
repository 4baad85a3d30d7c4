"""The record index: what the web's record list filters and searches on.

One ``record_index`` row per record file, written when the record is written (and by a
one-time backfill for records written before), so that listing and searching never
parse XML. The record's status is not stored: it is its session's current status,
joined from ``session_log`` when asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated
from nexuslims.db.schema import build_attempts, record_index, session_log


@dataclass(frozen=True)
class IndexEntry:
    """What the index holds of one record (see :mod:`nexuslims.record.index`)."""

    record_path: str
    session_identifier: str | None
    instrument: str | None
    instrument_name: str | None
    title: str | None
    start: dt.datetime | None
    experimenters: str | None
    datasets: int
    activities: int
    search_text: str


@dataclass(frozen=True)
class IndexedRecord:
    """One row of the record list: an index entry with its id and current status."""

    id: int
    record_path: str
    session_identifier: str | None
    instrument: str | None
    instrument_name: str | None
    title: str | None
    start: dt.datetime | None
    experimenters: str | None
    datasets: int
    activities: int
    status: str | None
    matched: tuple[str, ...] = ()
    """With a text search: the names of its datasets whose name, type or signal kind
    holds a searched word."""


@dataclass(frozen=True)
class RecordQuery:
    """Filters of the record list; every one optional. Dates are aware datetimes."""

    text: str | None = None
    instrument: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    experimenter: str | None = None
    status: str | None = None


def save_entry(engine: Engine, entry: IndexEntry, *, now: dt.datetime) -> int:
    """Insert or replace the index row of ``entry.record_path``; return its id.

    A record rebuilt to the same file keeps its id (and so its URL).
    """
    values = dict(vars(entry), indexed=now)
    with translated(engine.url, f"indexing record {entry.record_path}"), \
            engine.begin() as conn:
        existing = conn.execute(sa.select(record_index.c.id).where(
            record_index.c.record_path == entry.record_path)).scalar()
        if existing is not None:
            conn.execute(sa.update(record_index).where(record_index.c.id == existing)
                         .values(values))
            return int(existing)
        result = conn.execute(sa.insert(record_index).values(values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def _latest_status():
    latest = (sa.select(session_log.c.session_identifier,
                        sa.func.max(session_log.c.id_session_log).label("last"))
              .group_by(session_log.c.session_identifier).subquery("latest"))
    status = (sa.select(latest.c.session_identifier, session_log.c.record_status)
              .join(session_log, session_log.c.id_session_log == latest.c.last)
              .subquery("status"))
    return status


#: The FTS5 table the 0008 revision creates on SQLite builds that support it.
record_search = sa.table("record_search", sa.column("rowid"), sa.column("record_search"))
_has_fts: dict[str, bool] = {}


def _full_text(engine: Engine) -> bool:
    key = str(engine.url)
    if key not in _has_fts:
        with translated(engine.url, "inspecting the record index"):
            _has_fts[key] = engine.dialect.name == "sqlite" \
                and sa.inspect(engine).has_table("record_search")
    return _has_fts[key]


def _where(query: RecordQuery, status, fts: bool = False) -> list:
    ri = record_index
    clauses: list = []
    words = query.text.lower().split() if query.text else []
    indexed = [w for w in words if fts and len(w) >= 3]  # trigrams need three characters
    if indexed:
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in indexed)
        clauses.append(ri.c.id.in_(sa.select(record_search.c.rowid).where(
            sa.literal_column("record_search").op("MATCH")(match))))
    for word in words:
        if word not in indexed:
            clauses.append(ri.c.search_text.contains(word, autoescape=True))
    if query.instrument:
        clauses.append(ri.c.instrument == query.instrument)
    if query.since is not None:
        clauses.append(ri.c.start >= query.since)
    if query.until is not None:
        clauses.append(ri.c.start < query.until)
    if query.experimenter:
        clauses.append(sa.func.lower(ri.c.experimenters)
                       .contains(query.experimenter.lower(), autoescape=True))
    if query.status:
        clauses.append(status.c.record_status == query.status)
    return clauses


def search_records(engine: Engine, query: RecordQuery, *, offset: int = 0,
                   limit: int = 25) -> tuple[int, list[IndexedRecord]]:
    """The records matching ``query``, newest first: (how many in all, this page).

    Every word of ``query.text`` must occur (case-insensitively) in the record's title,
    motivation, sample names and descriptions, project names, or dataset names, types
    and signal kinds; each record's ``matched`` names the datasets that matched.
    """
    ri = record_index
    status = _latest_status() if query.status else None
    base = sa.select(ri.c.id).where(*_where(query, status, _full_text(engine)))
    if status is not None:
        base = base.join_from(ri, status,
                              status.c.session_identifier == ri.c.session_identifier)
    order = (ri.c.start.desc().nulls_last(), ri.c.id.desc())
    with translated(engine.url, "searching records"), engine.connect() as conn:
        if query.text or query.status or query.experimenter:
            # One pass over what matches gives both the page and the total.
            matching = list(conn.execute(base.order_by(*order)).scalars())
            total, ids = len(matching), matching[offset:offset + limit]
        else:  # the indexes on start and instrument answer both queries
            total = int(conn.execute(sa.select(sa.func.count())
                                     .select_from(base.subquery())).scalar() or 0)
            ids = list(conn.execute(base.order_by(*order).offset(offset).limit(limit))
                       .scalars())
        records = _records(conn, ids)
        if query.text:
            words = query.text.lower().split()
            texts = dict(conn.execute(sa.select(ri.c.id, ri.c.search_text)
                                      .where(ri.c.id.in_(ids))).all())
            records = [replace(r, matched=tuple(matching_datasets(texts.get(r.id, ""), words)))
                       for r in records]
    return total, records


def matching_datasets(search_text: str, words: list[str]) -> list[str]:
    """The datasets of an index entry's ``search_text`` (one ``name<TAB>type<TAB>signal
    <TAB>Name`` line each) whose name, type or signal holds one of ``words``; their names
    as written, in record order."""
    found = []
    for line in search_text.splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and any(w in f for w in words for f in fields[:3]):
            found.append(fields[3])
    return found


def _records(conn: sa.Connection, ids: list[int]) -> list[IndexedRecord]:
    if not ids:
        return []
    ri = record_index
    # The status of just these records' sessions: cheap, whatever the size of the log.
    sl = session_log
    last = (sa.select(sl.c.session_identifier, sa.func.max(sl.c.id_session_log).label("last"))
            .where(sl.c.session_identifier.in_(
                sa.select(ri.c.session_identifier).where(ri.c.id.in_(ids))))
            .group_by(sl.c.session_identifier).subquery("last"))
    statuses = {r.session_identifier: r.record_status for r in conn.execute(
        sa.select(last.c.session_identifier, sl.c.record_status)
        .join(sl, sl.c.id_session_log == last.c.last))}
    rows = {r.id: r for r in conn.execute(sa.select(
        ri.c.id, ri.c.record_path, ri.c.session_identifier, ri.c.instrument,
        ri.c.instrument_name, ri.c.title, ri.c.start, ri.c.experimenters, ri.c.datasets,
        ri.c.activities).where(ri.c.id.in_(ids)))}
    return [IndexedRecord(r.id, r.record_path, r.session_identifier, r.instrument,
                          r.instrument_name, r.title, r.start, r.experimenters,
                          int(r.datasets), int(r.activities),
                          statuses.get(r.session_identifier))
            for r in (rows[i] for i in ids)]


def get_record(engine: Engine, record_id: int) -> IndexedRecord | None:
    """The index row ``record_id`` with its session's current status, or None."""
    with translated(engine.url, f"reading record {record_id}"), engine.connect() as conn:
        found = _records(conn, [record_id]) if conn.execute(
            sa.select(record_index.c.id).where(record_index.c.id == record_id)).first() \
            else []
    return found[0] if found else None


def record_of_session(engine: Engine, session_identifier: str) -> int | None:
    """The id of the newest indexed record of a session, or None."""
    with translated(engine.url, f"reading the record of {session_identifier!r}"), \
            engine.connect() as conn:
        return conn.execute(sa.select(record_index.c.id)
                            .where(record_index.c.session_identifier == session_identifier)
                            .order_by(record_index.c.id.desc()).limit(1)).scalar()


def unindexed_records(engine: Engine) -> list[tuple[str, str, str]]:
    """Records the build history names that the index lacks: (path, session, instrument).

    The newest finished attempt of each session that wrote a record counts.
    """
    ba = build_attempts
    newest = (sa.select(sa.func.max(ba.c.id).label("id"))
              .where(ba.c.record_path.is_not(None), ba.c.dry_run.is_(False))
              .group_by(ba.c.session_identifier).subquery("newest"))
    query = (sa.select(ba.c.record_path, ba.c.session_identifier, ba.c.instrument)
             .join(newest, newest.c.id == ba.c.id)
             .where(~ba.c.record_path.in_(sa.select(record_index.c.record_path)))
             .order_by(ba.c.id))
    with translated(engine.url, "looking for records to index"), engine.connect() as conn:
        return [(r.record_path, r.session_identifier, r.instrument)
                for r in conn.execute(query)]


def entries_without_dataset_lines(engine: Engine) -> list[tuple[str, str | None, str | None]]:
    """Index entries made before datasets had their own search lines (name, type, signal
    kind): (path, session, instrument) of those with datasets but no such line."""
    ri = record_index
    query = (sa.select(ri.c.record_path, ri.c.session_identifier, ri.c.instrument)
             .where(ri.c.datasets > 0, ~ri.c.search_text.contains("\t")).order_by(ri.c.id))
    with translated(engine.url, "looking for records to index again"), engine.connect() as conn:
        return [(r.record_path, r.session_identifier, r.instrument) for r in conn.execute(query)]


def indexed_paths(engine: Engine) -> set[str]:
    """Every record path the index holds."""
    with translated(engine.url, "reading the record index"), engine.connect() as conn:
        return set(conn.execute(sa.select(record_index.c.record_path)).scalars())


def instruments_with_records(engine: Engine) -> list[str]:
    """The instruments that have at least one indexed record, sorted."""
    with translated(engine.url, "reading the record index"), engine.connect() as conn:
        return sorted(p for p in conn.execute(
            sa.select(record_index.c.instrument).distinct()).scalars() if p)


def save_entries(engine: Engine, entries: list[IndexEntry], *, now: dt.datetime) -> None:
    """Add many new entries in one transaction (a first backfill of a large site)."""
    if not entries:
        return
    with translated(engine.url, f"indexing {len(entries)} records"), engine.begin() as conn:
        conn.execute(sa.insert(record_index), [dict(vars(e), indexed=now) for e in entries])
