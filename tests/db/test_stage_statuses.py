"""Revision 0009: stage statuses ``partial`` and ``interrupted`` (issue 10: a stage with
failures was recorded ``ok``; a stopped one had no status)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from nexuslims import db
from nexuslims.db.migrate import _config, migration_engine

NOW = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def stage(status: str) -> db.StageRecord:
    return db.StageRecord(name="extract", started=NOW, finished=NOW, status=status,
                          failures=2 if status == "partial" else 0)


def test_partial_and_interrupted_stages_are_stored_and_downgrade_to_old_statuses(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    db.init_db(url)
    engine = db.make_engine(url)
    try:
        attempt = db.start_attempt(engine, "s1", "titan")
        for status in ("partial", "interrupted", "ok"):
            db.record_stage(engine, attempt, stage(status))
        db.finish_attempt(engine, attempt, db.INTERRUPTED, error="stopped by SIGTERM")
        with pytest.raises(ValueError, match="not one of"):
            db.record_stage(engine, attempt, stage("fine"))
        with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text(  # the database itself refuses other values
                "INSERT INTO build_stages (attempt_id, name, started, status) "
                "VALUES (:a, 'extract', '2024-03-05', 'fine')"), {"a": attempt})
        [detail] = db.session_detail(engine, "s1").attempts
        assert detail.status == "interrupted"
        assert [s.status for s in detail.stages] == ["partial", "interrupted", "ok"]
    finally:
        engine.dispose()

    migrating = migration_engine(url)
    try:
        with migrating.begin() as conn:
            command.downgrade(_config(conn), "0005")
        with migrating.connect() as conn:
            statuses = [r[0] for r in conn.execute(sa.text(
                "SELECT status FROM build_stages ORDER BY id"))]
            assert statuses == ["ok", "error", "ok"]
            sql = conn.execute(sa.text(
                "SELECT sql FROM sqlite_master WHERE name = 'build_stages'")).scalar()
            assert "'partial'" not in sql and "AUTOINCREMENT" in sql
    finally:
        migrating.dispose()
