"""The same schema and round trips on PostgreSQL (needs NEXUSLIMS_TEST_PG_URL, an empty DB)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import sqlalchemy as sa

from nexuslims import db
from nexuslims.errors import DatabaseError
from nexuslims.sessions import Instrument, Status

PG_URL = os.environ.get("NEXUSLIMS_TEST_PG_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not PG_URL, reason="set NEXUSLIMS_TEST_PG_URL to an empty PostgreSQL DB"),
]


@pytest.fixture
def pg_engine():
    assert PG_URL
    assert db.init_db(PG_URL) == db.head_revision()
    engine = db.make_engine(PG_URL)
    yield engine
    meta = sa.MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()


def test_postgres_schema_and_round_trips(pg_engine):
    assert PG_URL
    db.require_head(pg_engine)
    assert db.upgrade_db(PG_URL) == ("0005", "0005")
    with pytest.raises(DatabaseError, match="nexuslims db upgrade"):
        db.init_db(PG_URL)
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
    db.finish_attempt(pg_engine, attempt, Status.COMPLETED)
    [summary] = db.list_sessions(pg_engine)
    assert (summary.status, summary.attempts) == ("BUILT_NOT_EXPORTED", 1)
    detail = db.session_detail(pg_engine, "a")
    assert detail is not None and detail.attempts[0].stages[0].bytes_found == 10**12
