"""Instruments and the session log, NexusLIMS semantics."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from nexuslims import db
from nexuslims.errors import DatabaseError
from nexuslims.model.session import Instrument, Status, pair_sessions

PID = "FEI-Titan-TEM-635816"


def _log(engine, rows):
    """Insert session-log rows the way a session logger does: (id, ts, event, status)."""
    with engine.begin() as conn:
        for ident, timestamp, event, status in rows:
            conn.execute(sa.text(
                "INSERT INTO session_log (session_identifier, instrument, timestamp, event_type,"
                " record_status, \"user\") VALUES (:i, :p, :t, :e, :s, 'alice')"),
                {"i": ident, "p": PID, "t": timestamp, "e": event, "s": status})


@pytest.fixture
def logged(engine):
    _log(engine, [
        ("a", "2024-03-01T09:00:00.000", "START", "TO_BE_BUILT"),
        ("a", "2024-03-01T11:00:00.000", "END", "TO_BE_BUILT"),
        ("b", "2024-03-02T09:00:00-05:00", "START", "COMPLETED"),
        ("b", "2024-03-02T10:00:00-05:00", "END", "COMPLETED"),
        ("b", "2024-03-03T01:00:00-05:00", "RECORD_GENERATION", "COMPLETED"),
        ("c", "2024-03-04T09:00:00.000", "START", "WAITING_FOR_END"),
        ("d", "2024-03-05T09:00:00.000", "START", "TO_BE_BUILT"),
        ("d", "2024-03-05T10:00:00.000", "END", "TO_BE_BUILT"),
        ("d", "2024-03-05T10:00:01.000", "END", "TO_BE_BUILT"),
    ])
    return engine


def test_added_instrument_loads_back_field_for_field(engine):
    full = Instrument(pid="JEOL-JEM-3010", filestore_path="./JEOL", harvester="sharepoint",
                      api_url="https://sp.example.org/cal", calendar_name="JEOL",
                      calendar_url="https://sp.example.org/cal/view", location="B1",
                      schema_name="JEOL JEM-3010", property_tag="123", computer_name="jeol-pc",
                      computer_ip="10.0.0.9", computer_mount="J:/", timezone="America/Denver")
    db.add_instrument(engine, full)
    loaded = db.load_instruments(engine)
    assert loaded["JEOL-JEM-3010"] == full
    assert set(loaded) == {PID, "JEOL-JEM-3010"}
    assert [i.pid for i in db.list_instruments(engine)] == ["FEI-Titan-TEM-635816",
                                                            "JEOL-JEM-3010"]


def test_adding_an_instrument_twice_says_it_exists(engine):
    with pytest.raises(DatabaseError, match=f"instrument '{PID}' is already in"):
        db.add_instrument(engine, Instrument(pid=PID, filestore_path="./elsewhere"))


def test_adding_an_instrument_with_a_taken_api_url_says_why(engine):
    db.add_instrument(engine, Instrument(pid="x", filestore_path=".", api_url="https://u"))
    with pytest.raises(DatabaseError, match="cannot be added.*UNIQUE"):
        db.add_instrument(engine, Instrument(pid="y", filestore_path=".", api_url="https://u"))


def test_session_rows_returns_start_and_end_rows_of_sessions_with_that_status(logged):
    rows = db.session_rows(logged, Status.TO_BE_BUILT)
    assert [(r.session_identifier, r.event_type) for r in rows] == [
        ("a", "START"), ("a", "END"), ("d", "START"), ("d", "END"), ("d", "END")]
    assert rows[0].timestamp == "2024-03-01T09:00:00.000"
    completed = db.session_rows(logged, "COMPLETED")
    assert [r.event_type for r in completed] == ["START", "END"]
    assert completed[0].timestamp == "2024-03-02T09:00:00-05:00"
    assert db.session_rows(logged, Status.NO_CONSENT) == []


def test_session_rows_pair_into_sessions(logged):
    sessions, bad = pair_sessions(db.session_rows(logged), db.load_instruments(logged))
    assert [s.identifier for s in sessions] == ["a", "d"] and bad == []
    assert sessions[0].start == dt.datetime(2024, 3, 1, 14, 0, tzinfo=dt.UTC)


def test_session_rows_refuses_an_unknown_status(engine):
    with pytest.raises(ValueError):
        db.session_rows(engine, "DONE")


def test_set_session_status_updates_every_row_and_adds_a_record_generation_row(logged):
    db.set_session_status(logged, "a", PID, Status.COMPLETED, user="builder")
    detail = db.session_detail(logged, "a")
    assert detail is not None
    assert [r.record_status for r in detail.rows] == ["COMPLETED"] * 3
    generation = detail.rows[-1]
    assert generation.event_type == "RECORD_GENERATION"
    assert generation.user == "builder" and generation.instrument == PID
    written = dt.datetime.fromisoformat(generation.timestamp)
    assert written.utcoffset() is not None
    assert abs(written - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert db.session_rows(logged, Status.TO_BE_BUILT)[0].session_identifier == "d"
    # the other sessions are untouched
    assert {r.record_status for r in db.session_detail(logged, "b").rows} == {"COMPLETED"}


def test_set_session_status_on_an_unknown_session_writes_nothing(logged):
    with pytest.raises(DatabaseError, match="not in the session log"):
        db.set_session_status(logged, "nope", PID, Status.ERROR)
    assert db.session_detail(logged, "nope") is None


def test_set_session_status_is_one_transaction(logged):
    # The RECORD_GENERATION row fails its foreign key: the updates roll back too.
    with pytest.raises(DatabaseError, match="FOREIGN KEY"):
        db.set_session_status(logged, "a", "no-such-instrument", Status.ERROR)
    assert {r.record_status for r in db.session_detail(logged, "a").rows} == {"TO_BE_BUILT"}


def test_set_session_status_refuses_an_unknown_status(logged):
    with pytest.raises(ValueError):
        db.set_session_status(logged, "a", PID, "FINISHED")
