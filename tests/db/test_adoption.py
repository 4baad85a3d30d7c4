"""Adopting existing NexusLIMS 1.4 and 2.x databases without losing a row."""

from __future__ import annotations

import sqlite3

import pytest

from nexuslims import db
from nexuslims.errors import DatabaseError
from nexuslims.model.session import Instrument, Status

from .conftest import (
    INSTRUMENT_ROW,
    LEGACY_ROWS,
    dump,
    make_nexuslims_2x,
    make_nexuslims_14,
    sqlite_url,
)

PID = INSTRUMENT_ROW["instrument_pid"]
INSTRUMENT_COLUMNS = ["instrument_pid", "api_url", "calendar_name", "calendar_url", "location",
                      "schema_name", "property_tag", "filestore_path", "computer_name",
                      "computer_ip", "computer_mount", "harvester", "timezone"]
SESSION_LOG_COLUMNS = ["id_session_log", "session_identifier", "instrument", "timestamp",
                       "event_type", "record_status", "user"]


def _columns(path, table):
    conn = sqlite3.connect(path)
    names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    conn.close()
    return names


@pytest.fixture
def legacy(tmp_path):
    return make_nexuslims_14(tmp_path / "nexuslims_db.sqlite")


def test_nexuslims_14_database_keeps_every_row_id_value_and_timestamp_text(legacy):
    sessions_before = dump(legacy, "session_log", "id_session_log")
    instruments_before = dump(legacy, "instruments", "instrument_pid")

    assert db.upgrade_db(sqlite_url(legacy)) == ("nexuslims-1.x", db.head_revision())

    assert dump(legacy, "session_log", "id_session_log") == sessions_before
    assert dump(legacy, "instruments", "instrument_pid") == instruments_before
    assert _columns(legacy, "instruments") == INSTRUMENT_COLUMNS
    assert _columns(legacy, "session_log") == SESSION_LOG_COLUMNS
    conn = sqlite3.connect(legacy)
    ids = [r[0] for r in conn.execute("SELECT id_session_log FROM session_log ORDER BY 1")]
    assert ids == [r[0] for r in LEGACY_ROWS]
    texts = [r[0] for r in conn.execute("SELECT timestamp FROM session_log ORDER BY 1")]
    assert texts == [r[2] for r in LEGACY_ROWS]
    conn.close()


def test_adopted_14_database_has_every_old_status_and_accepts_the_new_ones(legacy):
    db.upgrade_db(sqlite_url(legacy))
    engine = db.make_engine(sqlite_url(legacy))
    statuses = {s.status for s in db.list_sessions(engine)}
    assert statuses == {"COMPLETED", "ERROR", "NO_FILES_FOUND", "TO_BE_BUILT", "WAITING_FOR_END"}

    db.set_session_status(engine, "s-tobebuilt", PID, Status.BUILT_NOT_EXPORTED)
    db.set_session_status(engine, "s-nofiles", PID, Status.NO_CONSENT)
    db.set_session_status(engine, "s-error", PID, Status.NO_RESERVATION)
    assert {s.identifier: s.status for s in db.list_sessions(engine)}["s-tobebuilt"] \
        == "BUILT_NOT_EXPORTED"
    engine.dispose()


def test_adoption_never_reuses_ids_of_deleted_rows(legacy):
    db.upgrade_db(sqlite_url(legacy))
    engine = db.make_engine(sqlite_url(legacy))
    db.set_session_status(engine, "s-tobebuilt", PID, Status.COMPLETED)
    detail = db.session_detail(engine, "s-tobebuilt")
    assert detail is not None
    assert detail.rows[-1].id == 41
    engine.dispose()


def test_adopted_14_database_still_takes_rows_from_a_14_session_logger(legacy):
    db.upgrade_db(sqlite_url(legacy))
    conn = sqlite3.connect(legacy)
    conn.execute("PRAGMA foreign_keys = ON")
    # The 1.4 session logger leaves timestamp and record_status to the defaults.
    conn.execute("INSERT INTO session_log (session_identifier, instrument, event_type, user) "
                 "VALUES ('new-session', ?, 'START', 'eve')", (PID,))
    conn.commit()
    stamp, status = conn.execute("SELECT timestamp, record_status FROM session_log "
                                 "WHERE session_identifier = 'new-session'").fetchone()
    conn.close()
    assert status == "WAITING_FOR_END"
    assert len(stamp) == len("2020-02-04T09:00:00.000") and stamp[10] == "T"


def test_adopted_14_database_is_at_head_and_readable(legacy):
    db.upgrade_db(sqlite_url(legacy))
    engine = db.make_engine(sqlite_url(legacy))
    db.require_head(engine)
    instrument = db.load_instruments(engine)[PID]
    assert instrument.schema_name == "FEI Titan TEM"
    assert instrument.computer_ip == "10.0.0.2"
    rows = db.session_rows(engine, Status.TO_BE_BUILT)
    assert [(r.id, r.timestamp) for r in rows] == [
        (20, "2022-01-10T14:00:00.000"), (21, "2022-01-10T16:45:10.500")]
    engine.dispose()


def test_adoption_does_not_cascade_into_session_log(legacy):
    # 1.4 declared ON DELETE CASCADE: rebuilding `instruments` with foreign keys on
    # would have emptied session_log.
    db.upgrade_db(sqlite_url(legacy))
    conn = sqlite3.connect(legacy)
    assert conn.execute("SELECT count(*) FROM session_log").fetchone()[0] == len(LEGACY_ROWS)
    conn.close()


def test_adoption_with_rows_the_new_check_refuses_changes_nothing(legacy):
    # A row written past the CHECKs (hand edits, or a NexusLIMS before 1.4).
    conn = sqlite3.connect(legacy)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("INSERT INTO session_log (session_identifier, instrument, timestamp, event_type,"
                 " record_status) VALUES ('s', ?, '2020-01-01T00:00:00', 'START', 'BOGUS')",
                 (PID,))
    conn.commit()
    schema_before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    rows_before = dump(legacy, "session_log", "id_session_log")

    with pytest.raises(DatabaseError, match="BOGUS"):
        db.upgrade_db(sqlite_url(legacy))

    conn = sqlite3.connect(legacy)
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema_before
    conn.close()
    assert dump(legacy, "session_log", "id_session_log") == rows_before
    assert db.current_revision(sqlite_url(legacy)) == "nexuslims-1.x"


def test_nexuslims_24_database_is_adopted_and_its_alembic_version_left_alone(tmp_path):
    path = make_nexuslims_2x(tmp_path / "nexuslims_db.sqlite")
    sessions_before = dump(path, "session_log", "id_session_log")
    uploads_before = dump(path, "upload_log", "id")
    assert db.current_revision(sqlite_url(path)) == "nexuslims-2.x"

    assert db.upgrade_db(sqlite_url(path)) == ("nexuslims-2.x", db.head_revision())

    assert dump(path, "session_log", "id_session_log") == sessions_before
    assert dump(path, "upload_log", "id") == uploads_before
    assert _columns(path, "instruments") == INSTRUMENT_COLUMNS
    assert _columns(path, "session_log") == SESSION_LOG_COLUMNS
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("v2_4_0b",)]
    assert conn.execute("SELECT version_num FROM nexuslims_alembic_version").fetchall() \
        == [(db.head_revision(),)]
    conn.close()
    engine = db.make_engine(sqlite_url(path))
    db.require_head(engine)
    assert db.session_rows(engine, Status.BUILT_NOT_EXPORTED)[0].timestamp \
        == "2026-01-20T10:00:00-05:00"
    engine.dispose()


def test_nexuslims_25_instruments_get_schema_name_and_columns_back(tmp_path):
    path = make_nexuslims_2x(tmp_path / "nexuslims_db.sqlite", version="2.5")
    assert db.upgrade_db(sqlite_url(path)) == ("nexuslims-2.x", db.head_revision())
    assert _columns(path, "instruments") == INSTRUMENT_COLUMNS
    engine = db.make_engine(sqlite_url(path))
    instrument = db.load_instruments(engine)[PID]
    assert instrument.schema_name == "FEI Titan TEM"
    assert instrument.display_name == "FEI Titan TEM"
    assert instrument.calendar_name is None and instrument.computer_name is None
    assert instrument.timezone == "America/New_York"
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM external_user_identifiers").fetchone() == (0,)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("v2_5_0b",)]
    conn.close()
    engine.dispose()


def test_adopted_instruments_accept_instruments_with_only_a_pid_and_path(legacy):
    db.upgrade_db(sqlite_url(legacy))
    engine = db.make_engine(sqlite_url(legacy))
    db.add_instrument(engine, Instrument(pid="JEOL-JEM-3010", filestore_path="./JEOL"))
    assert db.load_instruments(engine)["JEOL-JEM-3010"].api_url is None
    engine.dispose()
