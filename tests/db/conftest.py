"""Small worlds for the database tests: new databases, and NexusLIMS 1.4 / 2.x ones."""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from nexuslims import db
from nexuslims.model.session import Instrument

# NexusLIMS 1.4's NexusLIMS_db_creation_script.sql, table for table.
NEXUSLIMS_14_DDL = """
PRAGMA foreign_keys = ON;
CREATE TABLE "session_log" (
    "id_session_log" INTEGER NOT NULL,
    "session_identifier" VARCHAR(36) NOT NULL,
    "instrument" VARCHAR(100) NOT NULL,
    "timestamp" DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now', 'localtime')),
    "event_type" TEXT NOT NULL CHECK("event_type" IN ('START', 'END', 'RECORD_GENERATION')),
    "record_status" TEXT NOT NULL DEFAULT 'WAITING_FOR_END' CHECK("record_status" IN
        ('COMPLETED', 'WAITING_FOR_END', 'TO_BE_BUILT', 'ERROR', 'NO_FILES_FOUND')),
    "user" VARCHAR(50),
    CONSTRAINT "fk_instrument" FOREIGN KEY("instrument") REFERENCES "instruments"("instrument_pid")
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "id_session_log_UNIQUE" UNIQUE("id_session_log"),
    PRIMARY KEY("id_session_log" AUTOINCREMENT)
);
CREATE TABLE "instruments" (
    "instrument_pid" VARCHAR(100) NOT NULL,
    "api_url" TEXT NOT NULL,
    "calendar_name" TEXT NOT NULL,
    "calendar_url" TEXT NOT NULL,
    "location" VARCHAR(100) NOT NULL,
    "schema_name" TEXT NOT NULL,
    "property_tag" VARCHAR(20) NOT NULL,
    "filestore_path" TEXT NOT NULL,
    "computer_name" TEXT,
    "computer_ip" VARCHAR(15),
    "computer_mount" TEXT,
    "harvester" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'America/New_York',
    CONSTRAINT "instrument_pid_UNIQUE" UNIQUE("instrument_pid"),
    PRIMARY KEY("instrument_pid"),
    CONSTRAINT "computer_ip_UNIQUE" UNIQUE("computer_ip"),
    CONSTRAINT "api_url_UNIQUE" UNIQUE("api_url"),
    CONSTRAINT "computer_name_UNIQUE" UNIQUE("computer_name")
);
CREATE INDEX "session_log.fk_instrument_idx" ON "session_log" ("instrument");
"""

# NexusLIMS 2.4 (its revisions v1_4_3 -> v2_4_0a -> v2_4_0b), as SQLAlchemy emitted it.
NEXUSLIMS_24_DDL = """
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE instruments (
    instrument_pid VARCHAR(100) NOT NULL,
    api_url VARCHAR NOT NULL,
    calendar_name VARCHAR NOT NULL,
    calendar_url VARCHAR NOT NULL,
    location VARCHAR(100) NOT NULL,
    schema_name VARCHAR NOT NULL,
    property_tag VARCHAR(20) NOT NULL,
    filestore_path VARCHAR NOT NULL,
    harvester VARCHAR NOT NULL,
    timezone VARCHAR NOT NULL,
    computer_name VARCHAR,
    computer_ip VARCHAR(15),
    computer_mount VARCHAR,
    PRIMARY KEY (instrument_pid),
    UNIQUE (api_url),
    UNIQUE (computer_name),
    UNIQUE (computer_ip)
);
CREATE TABLE upload_log (
    id INTEGER NOT NULL,
    session_identifier VARCHAR(36) NOT NULL,
    destination_name VARCHAR(100) NOT NULL,
    success BOOLEAN NOT NULL,
    timestamp VARCHAR NOT NULL,
    record_id VARCHAR(255),
    record_url VARCHAR(500),
    error_message VARCHAR,
    metadata_json VARCHAR,
    PRIMARY KEY (id)
);
CREATE INDEX ix_upload_log_session_identifier ON upload_log (session_identifier);
CREATE INDEX ix_upload_log_destination_name ON upload_log (destination_name);
CREATE TABLE IF NOT EXISTS "session_log" (
    id_session_log INTEGER NOT NULL,
    session_identifier VARCHAR(36) NOT NULL,
    instrument VARCHAR(100) NOT NULL,
    timestamp VARCHAR NOT NULL,
    event_type VARCHAR(17) NOT NULL,
    record_status VARCHAR(18) NOT NULL,
    user VARCHAR(50),
    PRIMARY KEY (id_session_log),
    CONSTRAINT check_event_type CHECK (event_type IN ('START', 'END', 'RECORD_GENERATION')),
    CONSTRAINT check_record_status CHECK (record_status IN ('COMPLETED', 'WAITING_FOR_END',
        'TO_BE_BUILT', 'BUILT_NOT_EXPORTED', 'ERROR', 'NO_FILES_FOUND', 'NO_CONSENT',
        'NO_RESERVATION')),
    FOREIGN KEY(instrument) REFERENCES instruments (instrument_pid)
);
CREATE INDEX ix_session_log_session_identifier ON session_log (session_identifier);
"""

# NexusLIMS 2.5 (v2_5_0a, v2_5_0b): external_user_identifiers; instruments lose
# calendar_name and computer_*, and schema_name becomes display_name.
NEXUSLIMS_25_INSTRUMENTS = """
DROP TABLE instruments;
CREATE TABLE instruments (
    instrument_pid VARCHAR(100) NOT NULL,
    api_url VARCHAR NOT NULL,
    calendar_url VARCHAR NOT NULL,
    location VARCHAR(100) NOT NULL,
    display_name VARCHAR NOT NULL,
    property_tag VARCHAR(20) NOT NULL,
    filestore_path VARCHAR NOT NULL,
    harvester VARCHAR NOT NULL,
    timezone VARCHAR NOT NULL,
    PRIMARY KEY (instrument_pid),
    UNIQUE (api_url)
);
CREATE TABLE external_user_identifiers (
    id INTEGER NOT NULL,
    nexuslims_username VARCHAR NOT NULL,
    external_system VARCHAR NOT NULL,
    external_id VARCHAR NOT NULL,
    email VARCHAR,
    created_at VARCHAR NOT NULL,
    last_verified_at VARCHAR,
    notes VARCHAR,
    PRIMARY KEY (id)
);
"""

INSTRUMENT_ROW = {
    "instrument_pid": "FEI-Titan-TEM-635816", "api_url": "https://nemo.example.org/api/tools/?id=1",
    "calendar_name": "FEI Titan TEM", "calendar_url": "https://nemo.example.org/calendar/1",
    "location": "Bldg 217 Room F113", "schema_name": "FEI Titan TEM", "property_tag": "635816",
    "filestore_path": "./Titan", "computer_name": "titan-pc", "computer_ip": "10.0.0.2",
    "computer_mount": "M:/", "harvester": "nemo", "timezone": "America/New_York",
}

# Ids with gaps, each of 1.4's five statuses, naive and offset timestamps.
LEGACY_ROWS = [
    (1, "s-completed", "2020-02-04T09:00:00.000", "START", "COMPLETED", "alice"),
    (2, "s-completed", "2020-02-04T12:00:00.000", "END", "COMPLETED", "alice"),
    (3, "s-completed", "2020-02-05T01:00:00.123", "RECORD_GENERATION", "COMPLETED", None),
    (7, "s-error", "2021-08-02T10:00:00-04:00", "START", "ERROR", "bob"),
    (8, "s-error", "2021-08-02T11:30:00-04:00", "END", "ERROR", "bob"),
    (12, "s-nofiles", "2021-09-01T08:00:00.000", "START", "NO_FILES_FOUND", None),
    (13, "s-nofiles", "2021-09-01T09:00:00.000", "END", "NO_FILES_FOUND", None),
    (20, "s-tobebuilt", "2022-01-10T14:00:00.000", "START", "TO_BE_BUILT", "carol"),
    (21, "s-tobebuilt", "2022-01-10T16:45:10.500", "END", "TO_BE_BUILT", "carol"),
    (30, "s-waiting", "2022-01-11T09:00:00.000", "START", "WAITING_FOR_END", "dan"),
]


def _insert_rows(conn: sqlite3.Connection, instrument: dict, rows=LEGACY_ROWS) -> None:
    cols = ", ".join(instrument)
    conn.execute(f"INSERT INTO instruments ({cols}) VALUES ({', '.join('?' * len(instrument))})",
                 list(instrument.values()))
    conn.executemany(
        "INSERT INTO session_log (id_session_log, session_identifier, instrument, timestamp,"
        " event_type, record_status, user) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, s, instrument["instrument_pid"], t, e, st, u) for i, s, t, e, st, u in rows])


def make_nexuslims_14(path: Path, *, deleted_tail: bool = True) -> Path:
    """A NexusLIMS 1.4 database holding LEGACY_ROWS (and, optionally, deleted ids 31-40)."""
    conn = sqlite3.connect(path)
    conn.executescript(NEXUSLIMS_14_DDL)
    _insert_rows(conn, INSTRUMENT_ROW)
    if deleted_tail:
        # A deleted tail: AUTOINCREMENT must not hand out 31..40 again.
        conn.execute("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'session_log'")
    conn.commit()
    conn.close()
    return path


def make_nexuslims_2x(path: Path, *, version: str = "2.4") -> Path:
    """A NexusLIMS 2.4 (or 2.5) database holding LEGACY_ROWS, an upload_log row and
    NexusLIMS' own alembic_version."""
    conn = sqlite3.connect(path)
    conn.executescript(NEXUSLIMS_24_DDL)
    instrument = dict(INSTRUMENT_ROW)
    revision = "v2_4_0b"
    if version == "2.5":
        conn.executescript(NEXUSLIMS_25_INSTRUMENTS)
        revision = "v2_5_0b"
        instrument["display_name"] = instrument.pop("schema_name")
        for gone in ("calendar_name", "computer_name", "computer_ip", "computer_mount"):
            del instrument[gone]
    rows = [*LEGACY_ROWS, (31, "s-exported", "2026-01-20T10:00:00-05:00", "START",
                           "BUILT_NOT_EXPORTED", "erin")]
    _insert_rows(conn, instrument, rows)
    conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    conn.execute("INSERT INTO upload_log (id, session_identifier, destination_name, success,"
                 " timestamp) VALUES (1, 's-completed', 'cdcs', 1, '2026-01-20T10:00:00')")
    conn.commit()
    conn.close()
    return path


def dump(path: Path, table: str, order: str) -> list[tuple]:
    """Every row of ``table`` exactly as SQLite stores it (with each value's type)."""
    conn = sqlite3.connect(path)
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    probes = ", ".join(f'"{c}", typeof("{c}")' for c in cols)
    rows = conn.execute(f"SELECT {probes} FROM {table} ORDER BY {order}").fetchall()
    conn.close()
    return rows


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nexuslims_db.sqlite"


# These modules' tests that need only an engine run on SQLite and on PostgreSQL, except
# those that write the naive text a NexusLIMS 1.x session logger writes into SQLite, read
# SQLite's text back, or match SQLite's messages.
BOTH_BACKENDS = ("test_history.py", "test_sessionlog.py")
SQLITE_ONLY = {
    "test_list_sessions_summarises_each_session_newest_first",
    "test_session_rows_returns_start_and_end_rows_of_sessions_with_that_status",
    "test_session_rows_pair_into_sessions",
    "test_set_session_status_updates_every_row_and_adds_a_record_generation_row",
    "test_set_session_status_is_one_transaction",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    own = inspect.signature(metafunc.function).parameters  # a test reading the file: SQLite
    if (metafunc.definition.path.name in BOTH_BACKENDS and "engine" in metafunc.fixturenames
            and "db_path" not in own and metafunc.function.__name__ not in SQLITE_ONLY):
        metafunc.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Engine]:
    """A new database at head with one instrument (SQLite, or PostgreSQL when asked)."""
    backend = getattr(request, "param", "sqlite")
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else sqlite_url(db_path)
    db.init_db(url)
    eng = db.make_engine(url)
    db.add_instrument(eng, Instrument(pid="FEI-Titan-TEM-635816", filestore_path="./Titan",
                                      harvester="nemo", timezone="America/New_York"))
    yield eng
    eng.dispose()
