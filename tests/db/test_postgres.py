"""The session database on a real PostgreSQL: schema, session log, history, uploads, the
builder lease, and a whole pass with ``NX_DB_URL=postgresql+psycopg://...``.

The server is a throw-away cluster started from Debian's postgresql 15 binaries (see
``pg_server`` in conftest); each test gets its own empty database.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa

from nexuslims import db
from nexuslims.builder.lease import builder_lock
from nexuslims.config import load_settings
from nexuslims.db.history import mark_interrupted
from nexuslims.db.lease import current_lease, take_lease
from nexuslims.db.uploads import export_states, log_upload, uploads_of_session
from nexuslims.errors import DatabaseError, LockHeld
from nexuslims.model.session import Instrument, Status
from tests.db.site import make_site, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_engine(pg_url):
    assert db.init_db(pg_url) == db.head_revision()
    engine = db.make_engine(pg_url)
    yield engine
    engine.dispose()


def test_postgres_schema_and_round_trips(pg_url, pg_engine):
    db.require_head(pg_engine)
    assert db.upgrade_db(pg_url) == (db.head_revision(), db.head_revision())
    with pytest.raises(DatabaseError, match="nexuslims db upgrade"):
        db.init_db(pg_url)
    db.add_instrument(pg_engine, Instrument(pid="p", filestore_path="."))
    with pg_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO session_log (session_identifier, instrument, timestamp, event_type,"
            " record_status) VALUES ('a', 'p', '2024-01-01T09:00:00-05:00', 'START',"
            " 'TO_BE_BUILT'), ('a', 'p', '2024-01-01T10:00:00-05:00', 'END', 'TO_BE_BUILT')"))
    rows = db.session_rows(pg_engine)
    assert rows[0].timestamp == dt.datetime(2024, 1, 1, 14, tzinfo=dt.UTC)
    db.set_session_status(pg_engine, "a", "p", Status.BUILT_NOT_EXPORTED)
    attempt = db.start_attempt(pg_engine, "a", "p")
    now = dt.datetime.now(dt.UTC)
    db.record_stage(pg_engine, attempt, db.StageRecord("build", now, now, "ok",
                                                       bytes_found=10**12))
    db.finish_attempt(pg_engine, attempt, Status.COMPLETED, record_path="/r/a.xml")
    [summary] = db.list_sessions(pg_engine)
    assert (summary.status, summary.attempts) == ("BUILT_NOT_EXPORTED", 1)
    detail = db.session_detail(pg_engine, "a")
    assert detail is not None and detail.attempts[0].stages[0].bytes_found == 10**12

    log_upload(pg_engine, "a", "cdcs", False, when=now, error="HTTP 500")
    log_upload(pg_engine, "a", "cdcs", True, when=now + dt.timedelta(seconds=1),
               record_id="r1", metadata={"template": "t"})
    assert [(u.success, u.error, u.metadata) for u in uploads_of_session(pg_engine, "a")] \
        == [(False, "HTTP 500", {}), (True, None, {"template": "t"})]
    [state] = export_states(pg_engine, [Status.BUILT_NOT_EXPORTED])
    assert (state.record_path, state.succeeded) == ("/r/a.xml", {"cdcs"})


def test_postgres_naive_session_times_mean_the_instruments_wall_clock(pg_engine):
    """Found by the whole pass below: PostgreSQL read them as UTC, 5 hours off."""
    db.add_instrument(pg_engine, Instrument(pid="ny", filestore_path=".",
                                            timezone="America/New_York"))
    db.log_session_event(pg_engine, "b", "ny", dt.datetime(2024, 3, 5, 9, 0), "START",
                         Status.TO_BE_BUILT)
    [row] = db.session_rows(pg_engine)
    assert row.timestamp == dt.datetime(2024, 3, 5, 14, 0, tzinfo=dt.UTC)


def test_postgres_upgrade_from_an_older_revision_keeps_rows(pg_url):
    from alembic import command

    from nexuslims.db import migrate

    engine = migrate.migration_engine(pg_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0003")
        conn.execute(sa.text("INSERT INTO instruments (instrument_pid, filestore_path) "
                             "VALUES ('p', '.')"))
        conn.execute(sa.text("INSERT INTO build_attempts (session_identifier, instrument, "
                             "started, status, dry_run) VALUES ('a', 'p', now(), 'RUNNING', "
                             "false)"))
    engine.dispose()
    assert db.upgrade_db(pg_url) == ("0003", db.head_revision())
    engine = db.make_engine(pg_url)
    # A RUNNING attempt from before attempts named their pass: its pass is gone.
    assert len(mark_interrupted(engine)) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM build_attempts")).scalar() \
            == "interrupted"
    engine.dispose()


def test_postgres_lease_is_taken_once_refused_while_held_and_taken_over_when_stale(
        pg_url, pg_engine):
    first = take_lease(pg_engine, "first", lease_s=60)
    second = take_lease(pg_engine, "second", lease_s=60)
    assert first.taken and not second.taken and second.other.owner == "first"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    with pg_engine.begin() as conn:
        conn.execute(sa.text("UPDATE builder_lease SET heartbeat = :old, host = 'elsewhere'"),
                     {"old": old})
    third = take_lease(pg_engine, "third", lease_s=60)
    assert third.taken and third.other.owner == "first" and "heartbeat" in third.reason
    assert current_lease(pg_engine).owner == "third"


HOLD = """
import sys, time
from nexuslims.config import load_settings
from nexuslims.builder.lease import builder_lock
settings = load_settings(dict(NX_DB_URL=sys.argv[1], NX_DATA_PATH=sys.argv[2],
                              NX_INSTRUMENT_DATA_PATH="/"))
with builder_lock(settings):
    print("held", flush=True)
    time.sleep(60)
"""


def test_postgres_builder_lock_across_processes(pg_url, pg_engine, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, pg_url, str(tmp_path / "a")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        settings = load_settings({"NX_DB_URL": pg_url, "NX_DATA_PATH": str(tmp_path / "b"),
                                  "NX_INSTRUMENT_DATA_PATH": str(tmp_path)})
        with pytest.raises(LockHeld, match=f"pid {holder.pid} on {socket.gethostname()}"), \
                builder_lock(settings):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with builder_lock(settings) as lease:  # the dead holder's lease is taken over
        assert lease.pid == os.getpid()
    assert current_lease(pg_engine) is None


@pytest.mark.corpus
@pytest.mark.slow
def test_a_whole_pass_on_postgres(pg_url, tmp_path, corpus):
    """NX_DB_URL proven, not only accepted: a real pass builds from real files."""
    env = make_site(tmp_path, corpus, sessions=2, db_url=pg_url)
    result = run_cli(["process"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 built, 0 failed" in result.stdout, result.stdout + result.stderr
    engine = db.make_engine(pg_url)
    assert {s.identifier: s.status for s in db.list_sessions(engine)} == {
        "session-0": "COMPLETED", "session-1": "COMPLETED"}
    assert current_lease(engine) is None
    engine.dispose()
    # Attempts are numbered per session.
    shown = run_cli(["sessions", "show", "session-1"], env, tmp_path)
    assert "attempt 1: COMPLETED" in shown.stdout, shown.stdout + shown.stderr
