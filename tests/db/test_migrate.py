"""Creating, checking and upgrading the schema."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command

from nexuslims import db
from nexuslims.db import migrate
from nexuslims.errors import DatabaseError, DatabaseNotAtHead
from nexuslims.model.session import Status

from .conftest import make_nexuslims_14, sqlite_url

REPO = Path(__file__).resolve().parents[2]

EXPECTED_COLUMNS = {
    "instruments": ["instrument_pid", "api_url", "calendar_name", "calendar_url", "location",
                    "schema_name", "property_tag", "filestore_path", "computer_name",
                    "computer_ip", "computer_mount", "harvester", "timezone"],
    "session_log": ["id_session_log", "session_identifier", "instrument", "timestamp",
                    "event_type", "record_status", "user"],
    "build_attempts": ["id", "session_identifier", "instrument", "started", "finished",
                       "duration_s", "status", "dry_run", "record_path", "error",
                       "pass_host", "pass_pid"],
    "build_stages": ["id", "attempt_id", "name", "started", "finished", "duration_s", "status",
                     "files_found", "bytes_found", "datasets", "failures", "error"],
    # NexusLIMS 2.x's names, so its rows carry over.
    "upload_log": ["id", "session_identifier", "destination_name", "success", "timestamp",
                   "record_id", "record_url", "error_message", "metadata_json"],
    "harvest_state": ["harvester", "server", "last_success", "last_attempt", "last_error"],
    "builder_lease": ["name", "owner", "host", "pid", "taken", "heartbeat"],
    "alert_state": ["key", "kind", "text", "first_seen", "last_seen", "passes", "last_sent",
                    "cleared"],
    "record_index": ["id", "record_path", "session_identifier", "instrument", "instrument_name",
                     "title", "start", "experimenters", "datasets", "activities", "search_text",
                     "indexed"],
    "api_tokens": ["id", "token_hash", "instrument", "note", "created", "revoked", "last_used"],
    "passes": ["id", "started", "finished", "duration_s", "outcome", "sessions", "built",
               "failed", "exported", "message"],
    # What each destination made of a session (revision 0011).
    "export_targets": ["session_identifier", "destination_name", "target_id", "target_url",
                       "detail_json", "updated"],
}
# SQLite's full-text index of record_index (FTS5 keeps its own shadow tables).
FTS_TABLES = {"record_search", "record_search_data", "record_search_idx",
              "record_search_docsize", "record_search_config"}


def _columns(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    cols = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    conn.close()
    return cols


def _at_revision(path: Path, revision: str) -> None:
    engine = migrate.migration_engine(sqlite_url(path))
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), revision)
    engine.dispose()


def test_revision_chain_is_one_line_from_0001_to_head():
    script = migrate._script()
    chain = [r.revision for r in script.walk_revisions("base", "heads")]
    assert chain[-5:] == ["0005", "0004", "0003", "0002", "0001"]
    assert chain == sorted(chain, reverse=True) and len(set(chain)) == len(chain)
    assert db.head_revision() == chain[0]
    # The constant every command's head check compares with, without importing Alembic.
    assert chain[0] == migrate.HEAD


def test_a_command_at_head_does_not_import_alembic(db_path):
    db.init_db(sqlite_url(db_path))
    code = textwrap.dedent(f"""
        import sys
        from nexuslims.db.engine import new_engine
        from nexuslims.db.migrate import require_head
        require_head(new_engine({sqlite_url(db_path)!r}))
        print("alembic" in sys.modules)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "False"


def test_init_creates_every_table_with_nexuslims_column_names(db_path):
    assert db.init_db(sqlite_url(db_path)) == db.head_revision()
    columns = _columns(db_path)
    assert set(columns) == {*EXPECTED_COLUMNS, *FTS_TABLES, "nexuslims_alembic_version"}
    for table, expected in EXPECTED_COLUMNS.items():
        assert columns[table] == expected, table
    assert "alembic_version" not in columns


def test_new_database_accepts_every_status_and_keeps_the_local_time_default(db_path):
    db.init_db(sqlite_url(db_path))
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO instruments (instrument_pid, filestore_path) VALUES ('i', '.')")
    for n, status in enumerate(Status):
        conn.execute("INSERT INTO session_log (session_identifier, instrument, event_type, "
                     "record_status) VALUES (?, 'i', 'START', ?)", (f"s{n}", status.value))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO session_log (session_identifier, instrument, event_type, "
                     "record_status) VALUES ('x', 'i', 'START', 'BOGUS')")
    stamp = conn.execute("SELECT timestamp FROM session_log LIMIT 1").fetchone()[0]
    assert isinstance(stamp, str) and "T" in stamp
    conn.close()


def test_init_creates_a_missing_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "db.sqlite"
    db.init_db(sqlite_url(path))
    assert path.exists()


def test_init_refuses_a_database_that_has_tables(tmp_path):
    path = make_nexuslims_14(tmp_path / "old.sqlite")
    with pytest.raises(DatabaseError, match="nexuslims db upgrade"):
        db.init_db(sqlite_url(path))
    assert "nexuslims_alembic_version" not in _columns(path)


def test_init_refuses_a_database_already_at_head(db_path):
    db.init_db(sqlite_url(db_path))
    with pytest.raises(DatabaseError, match="already holds tables"):
        db.init_db(sqlite_url(db_path))


def test_upgrade_creates_an_empty_or_missing_database_at_head(tmp_path):
    missing = tmp_path / "missing.sqlite"
    assert db.upgrade_db(sqlite_url(missing)) == (None, db.head_revision())
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert db.upgrade_db(sqlite_url(empty)) == (None, db.head_revision())
    assert _columns(empty)["session_log"] == EXPECTED_COLUMNS["session_log"]


def test_upgrade_twice_keeps_head_and_changes_nothing(tmp_path):
    path = make_nexuslims_14(tmp_path / "old.sqlite")
    db.upgrade_db(sqlite_url(path))
    conn = sqlite3.connect(path)
    before = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    rows = conn.execute("SELECT * FROM session_log ORDER BY 1").fetchall()
    conn.close()
    assert db.upgrade_db(sqlite_url(path)) == (db.head_revision(), db.head_revision())
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() \
        == before
    assert conn.execute("SELECT * FROM session_log ORDER BY 1").fetchall() == rows
    conn.close()


def test_upgrade_from_an_older_revision_of_ours(db_path):
    _at_revision(db_path, "0002")
    assert db.current_revision(sqlite_url(db_path)) == "0002"
    assert db.upgrade_db(sqlite_url(db_path)) == ("0002", db.head_revision())


def test_upgrade_refuses_a_database_that_is_not_nexuslims(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="not a NexusLIMS session log"):
        db.upgrade_db(sqlite_url(db_path))
    assert set(_columns(db_path)) == {"photos"}


def test_upgrade_refuses_a_revision_newer_than_this_nexuslims(db_path):
    db.init_db(sqlite_url(db_path))
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE nexuslims_alembic_version SET version_num = '0099'")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="upgrade nexuslims"):
        db.upgrade_db(sqlite_url(db_path))
    engine = db.make_engine(sqlite_url(db_path))
    with pytest.raises(DatabaseError, match="newer than this nexuslims") as info:
        db.require_head(engine)
    assert not isinstance(info.value, DatabaseNotAtHead)
    engine.dispose()


def test_current_revision_names_each_kind_of_database(tmp_path):
    assert db.current_revision(sqlite_url(tmp_path / "none.sqlite")) is None
    assert not (tmp_path / "none.sqlite").exists()
    old = make_nexuslims_14(tmp_path / "old.sqlite")
    assert db.current_revision(sqlite_url(old)) == "nexuslims-1.x"
    db.upgrade_db(sqlite_url(old))
    assert db.current_revision(sqlite_url(old)) == db.head_revision()


def test_require_head_passes_at_head(engine):
    db.require_head(engine)


def test_require_head_on_an_unadopted_nexuslims_database_says_upgrade(tmp_path):
    path = make_nexuslims_14(tmp_path / "old.sqlite")
    engine = db.make_engine(sqlite_url(path))
    with pytest.raises(DatabaseNotAtHead, match="run `nexuslims db upgrade`"):
        db.require_head(engine)
    engine.dispose()


def test_require_head_on_an_older_revision_says_upgrade(db_path):
    _at_revision(db_path, "0002")
    engine = db.make_engine(sqlite_url(db_path))
    with pytest.raises(DatabaseNotAtHead,
                       match=rf"0002.*{db.head_revision()}.*run `nexuslims db upgrade`"):
        db.require_head(engine)
    engine.dispose()


def test_require_head_on_an_empty_database_says_init(db_path):
    db_path.touch()
    engine = db.make_engine(sqlite_url(db_path))
    with pytest.raises(DatabaseNotAtHead, match="run `nexuslims db init`"):
        db.require_head(engine)
    engine.dispose()


def test_make_engine_enforces_foreign_keys_and_waits_for_locks(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_make_engine_on_a_missing_file_says_init_and_creates_nothing(db_path):
    with pytest.raises(DatabaseError, match="nexuslims db init"):
        db.make_engine(sqlite_url(db_path))
    assert not db_path.exists()


def test_make_engine_on_a_corrupt_file_names_the_url(db_path):
    db_path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(DatabaseError, match=str(db_path)):
        db.make_engine(sqlite_url(db_path))


def test_errors_name_the_url_without_its_password():
    with pytest.raises(DatabaseError) as info:
        db.make_engine("nosuchdialect://nexus:s3cret@db.example.org/nexuslims")
    assert "s3cret" not in str(info.value)
    assert "db.example.org" in str(info.value)


def test_migrations_are_found_without_an_alembic_ini():
    assert migrate.MIGRATIONS_DIR.joinpath("env.py").is_file()
    assert not (migrate.MIGRATIONS_DIR / "alembic.ini").exists()
    assert {p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("0*.py")} >= {
        "0001_nexuslims_baseline.py", "0002_all_statuses_and_2x_parity.py",
        "0003_build_history.py", "0004_upload_log.py", "0005_harvest_state.py"}


def test_a_malformed_url_is_a_database_error():
    with pytest.raises(DatabaseError, match="not a database URL"):
        db.current_revision("not a url")
    with pytest.raises(DatabaseError, match="not a database URL"):
        db.make_engine("not a url")


HISTORY_INDEXES = {"ix_build_attempts_session_identifier", "ix_build_attempts_record_path",
                   "ix_build_stages_attempt_id"}


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'")}
    conn.close()
    return names


def test_history_lookups_use_an_index_on_a_new_and_an_upgraded_database(tmp_path):
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    db.init_db(sqlite_url(new))
    _at_revision(old, "0009")
    assert "ix_build_attempts_record_path" not in _indexes(old)
    db.upgrade_db(sqlite_url(old))
    for path in (new, old):
        assert _indexes(path) >= HISTORY_INDEXES, path
        conn = sqlite3.connect(path)
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT session_identifier FROM build_attempts"
            " WHERE record_path = 'x'"))
        conn.close()
        assert "ix_build_attempts_record_path" in plan, plan
