"""Build attempts and stages, and what the CLI reads back."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
import sqlalchemy as sa

from nexuslims import db
from nexuslims.errors import DatabaseError
from nexuslims.model.session import Status

PID = "FEI-Titan-TEM-635816"
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def _session(engine, ident, status="TO_BE_BUILT", end=True):
    times = {"START": "2024-03-01T09:00:00", "END": "2024-03-01T11:00:00"}
    with engine.begin() as conn:
        for event in ("START", "END") if end else ("START",):
            conn.execute(sa.text(
                "INSERT INTO session_log (session_identifier, instrument, timestamp, event_type,"
                " record_status, \"user\") VALUES (:i, :p, :t, :e, :s, 'alice')"),
                {"i": ident, "p": PID, "t": times[event], "e": event, "s": status})


def _stage(name, seconds, **counts):
    return db.StageRecord(name=name, started=T0, finished=T0 + dt.timedelta(seconds=seconds),
                          status=counts.pop("status", "ok"), **counts)


def test_attempt_and_stages_round_trip(engine):
    _session(engine, "a")
    attempt = db.start_attempt(engine, "a", PID)
    db.record_stage(engine, attempt, _stage("find_files", 1.5, files_found=12,
                                             bytes_found=7_000_000_000))
    db.record_stage(engine, attempt, _stage("extract", 3, datasets=11, failures=1))
    db.record_stage(engine, attempt, _stage("export", 0, status="skipped"))
    db.finish_attempt(engine, attempt, Status.COMPLETED, record_path="/records/a.xml")

    detail = db.session_detail(engine, "a")
    assert detail is not None and detail.status == "TO_BE_BUILT"
    [got] = detail.attempts
    assert (got.id, got.session_identifier, got.instrument, got.status, got.dry_run,
            got.record_path, got.error) == (attempt, "a", PID, "COMPLETED", False,
                                            "/records/a.xml", None)
    assert got.started.tzinfo == dt.UTC and got.finished >= got.started
    assert got.duration_s == pytest.approx((got.finished - got.started).total_seconds())
    assert [s.name for s in got.stages] == ["find_files", "extract", "export"]
    find = got.stages[0]
    assert find == _stage("find_files", 1.5, files_found=12, bytes_found=7_000_000_000)
    assert find.started == T0 and find.started.tzinfo == dt.UTC
    assert got.stages[1].failures == 1 and got.stages[2].status == "skipped"


def test_stage_times_are_stored_as_utc_text(engine, db_path):
    attempt = db.start_attempt(engine, "a", PID, dry_run=True)
    db.record_stage(engine, attempt, _stage("build", 2))
    conn = sqlite3.connect(db_path)
    started, finished, duration = conn.execute(
        "SELECT started, finished, duration_s FROM build_stages").fetchone()
    dry_run = conn.execute("SELECT dry_run FROM build_attempts").fetchone()[0]
    conn.close()
    assert started == "2024-03-01T17:00:00.000000+00:00"
    assert finished == "2024-03-01T17:00:02.000000+00:00"
    assert duration == 2.0 and dry_run == 1


def test_running_attempt_reads_back_as_running(engine):
    attempt = db.start_attempt(engine, "a", PID)
    [got] = db.session_detail(engine, "a").attempts
    assert (got.id, got.status, got.finished, got.duration_s) == (attempt, "RUNNING", None, None)


def test_naive_stage_times_are_refused(engine):
    attempt = db.start_attempt(engine, "a", PID)
    naive = db.StageRecord("build", dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1), "ok")
    with pytest.raises((ValueError, DatabaseError), match="timezone-aware"):
        db.record_stage(engine, attempt, naive)


def test_unknown_stage_status_is_refused(engine):
    attempt = db.start_attempt(engine, "a", PID)
    with pytest.raises(ValueError):
        db.record_stage(engine, attempt, _stage("build", 1, status="fine"))


def test_finishing_an_unknown_attempt_says_so(engine):
    with pytest.raises(DatabaseError, match="no build attempt 99"):
        db.finish_attempt(engine, 99, "ERROR")


def test_deleted_attempt_leaves_no_trace(engine, db_path):
    _session(engine, "a")
    kept = db.start_attempt(engine, "a", PID)
    gone = db.start_attempt(engine, "a", PID)
    db.record_stage(engine, gone, _stage("find_files", 1, files_found=0))
    db.delete_attempt(engine, gone)
    assert [a.id for a in db.session_detail(engine, "a").attempts] == [kept]
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM build_stages").fetchone() == (0,)
    conn.close()
    db.delete_attempt(engine, gone)  # already gone: nothing to do


def test_list_sessions_summarises_each_session_newest_first(engine):
    _session(engine, "a")
    _session(engine, "b", end=False, status="WAITING_FOR_END")
    _session(engine, "c")
    db.set_session_status(engine, "a", PID, Status.COMPLETED)
    for _ in range(2):
        db.finish_attempt(engine, db.start_attempt(engine, "a", PID), Status.COMPLETED)

    summaries = db.list_sessions(engine)
    assert [s.identifier for s in summaries] == ["c", "b", "a"]
    a = summaries[2]
    assert (a.instrument, a.user, a.start, a.end, a.status, a.attempts) == (
        PID, "alice", "2024-03-01T09:00:00", "2024-03-01T11:00:00", "COMPLETED", 2)
    b = summaries[1]
    assert (b.end, b.status, b.attempts) == (None, "WAITING_FOR_END", 0)

    assert [s.identifier for s in db.list_sessions(engine, Status.TO_BE_BUILT)] == ["c"]
    assert [s.identifier for s in db.list_sessions(engine, limit=2)] == ["c", "b"]


def test_mark_unbuildable_records_the_reason_and_sets_error(engine):
    _session(engine, "a", end=False)
    db.mark_unbuildable(engine, "a", PID, "session has a START row but no END")
    detail = db.session_detail(engine, "a")
    assert [r.event_type for r in detail.rows] == ["START", "RECORD_GENERATION"]
    assert {r.record_status for r in detail.rows} == {"ERROR"}
    [attempt] = detail.attempts
    assert (attempt.status, attempt.error) == ("ERROR", "session has a START row but no END")


def test_mark_unbuildable_with_an_unknown_instrument_still_sets_error(engine, db_path):
    # A row from a session logger that did not enforce foreign keys.
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO session_log (session_identifier, instrument, timestamp, event_type,"
                " record_status) VALUES ('z', 'ghost', '2024-01-01T00:00:00', 'START',"
                " 'TO_BE_BUILT')")
    raw.commit()
    raw.close()
    db.mark_unbuildable(engine, "z", "ghost", "unknown instrument 'ghost'")
    detail = db.session_detail(engine, "z")
    assert [r.record_status for r in detail.rows] == ["ERROR"]
    assert detail.attempts[0].instrument == "ghost"


def test_session_detail_of_an_unknown_session_is_none(engine):
    assert db.session_detail(engine, "nope") is None
