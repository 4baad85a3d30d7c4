"""Alert state and the counts metrics read, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.db.monitoring import (
    AlertState,
    load_alert_states,
    save_alert_states,
    stage_seconds,
    status_counts,
)
from nexuslims.model.session import EventType, Instrument, Status

T0 = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def engine(request, tmp_path: Path):
    url = (f"sqlite:///{tmp_path / 'nx.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))  # a new database on the test cluster
    db.init_db(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def test_alert_state_round_trips_with_aware_times(engine) -> None:
    states = {"cdcs": AlertState("cdcs", "condition", "CDCS down", T0, T0, 3,
                                 T0 + dt.timedelta(hours=1)),
              "session s1": AlertState("session s1", "event", "s1 failed\n  details", T0, T0, 1)}
    save_alert_states(engine, states)
    assert load_alert_states(engine) == states
    save_alert_states(engine, {})
    assert load_alert_states(engine) == {}


def test_status_counts_and_stage_seconds(engine) -> None:
    db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan", timezone="UTC"))
    for ident, status in (("a", Status.COMPLETED), ("b", Status.COMPLETED), ("c", Status.ERROR)):
        for event in (EventType.START, EventType.END):
            db.log_session_event(engine, ident, "titan", T0, event, status)
    assert status_counts(engine) == {"COMPLETED": 2, "ERROR": 1}
    attempt = db.start_attempt(engine, "a", "titan")
    db.record_stage(engine, attempt, db.StageRecord(
        "extract", T0, T0 + dt.timedelta(seconds=2.5), "ok"))
    db.finish_attempt(engine, attempt, Status.COMPLETED)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert stage_seconds(engine, since) == {"extract": 2.5}
    assert stage_seconds(engine, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == {}
