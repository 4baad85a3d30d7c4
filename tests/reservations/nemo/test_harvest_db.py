"""db.harvest: harvested sessions stored once, updated while unbuilt, state per server."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.db.harvest import harvest_state, save_harvest
from nexuslims.model.session import Instrument, Status
from nexuslims.reservations import HarvestedSession, HarvestResult
from tests.reservations.nemo.world import NY

SERVER = "https://nemo.example.org/api/"
NOW = dt.datetime(2024, 11, 5, 17, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'nexuslims.db'}"
    db.init_db(url)
    engine = db.make_engine(url)
    db.add_instrument(engine, Instrument("titan", "Titan", harvester="nemo",
                                         api_url=f"{SERVER}tools/?id=1",
                                         timezone="America/New_York"))
    yield engine
    engine.dispose()


def harvested(n: int, end_hour: int = 11, user: str = "ada") -> HarvestedSession:
    return HarvestedSession(f"{SERVER}usage_events/?id={n}", "titan",
                            dt.datetime(2024, 11, 1, 9, 0, 0, 123456, tzinfo=NY),
                            dt.datetime(2024, 11, 1, end_hour, tzinfo=NY), user)


def log(engine) -> list[tuple]:
    path = engine.url.database
    with sqlite3.connect(path) as con:
        return con.execute("SELECT session_identifier, timestamp, event_type, record_status, "
                           "user FROM session_log ORDER BY id_session_log").fetchall()


def test_sessions_are_written_once_as_start_and_end_rows(engine) -> None:
    result = HarvestResult([harvested(1)], {SERVER: NOW})
    assert save_harvest(engine, "nemo", result, now=NOW).added == 1
    again = save_harvest(engine, "nemo", result, now=NOW)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    assert log(engine) == [
        (f"{SERVER}usage_events/?id=1", "2024-11-01T09:00:00.123-04:00", "START",
         "TO_BE_BUILT", "ada"),
        (f"{SERVER}usage_events/?id=1", "2024-11-01T11:00:00.000-04:00", "END",
         "TO_BE_BUILT", "ada")]
    assert harvest_state(engine, "nemo") == {SERVER: NOW}
    assert harvest_state(engine, "sharepoint") == {}


def test_a_changed_end_updates_an_unbuilt_session_and_leaves_a_built_one(engine) -> None:
    save_harvest(engine, "nemo", HarvestResult([harvested(1), harvested(2)]), now=NOW)
    db.set_session_status(engine, f"{SERVER}usage_events/?id=2", "titan", Status.COMPLETED)
    saved = save_harvest(engine, "nemo", HarvestResult([harvested(1, 12), harvested(2, 12)]),
                         now=NOW)
    assert (saved.updated, saved.unchanged) == (1, 1)
    rows = log(engine)
    assert [r[1] for r in rows if r[0].endswith("=1")] == [
        "2024-11-01T09:00:00.123-04:00", "2024-11-01T12:00:00.000-04:00"]
    assert [r[1] for r in rows if r[0].endswith("=2") and r[2] == "END"] == [
        "2024-11-01T11:00:00.000-04:00"]


def test_a_failed_harvest_keeps_the_last_success_and_records_the_error(engine) -> None:
    save_harvest(engine, "nemo", HarvestResult([], {SERVER: NOW}), now=NOW)
    later = NOW + dt.timedelta(hours=1)
    save_harvest(engine, "nemo", HarvestResult([], {}, {SERVER: "down"}), now=later)
    assert harvest_state(engine, "nemo") == {SERVER: NOW}
    with sqlite3.connect(engine.url.database) as con:
        assert con.execute("SELECT last_attempt, last_error FROM harvest_state").fetchall() \
            == [("2024-11-05T18:00:00.000000+00:00", "down")]
    save_harvest(engine, "nemo", HarvestResult([], {SERVER: later}), now=later)
    with sqlite3.connect(engine.url.database) as con:
        assert con.execute("SELECT last_success, last_error FROM harvest_state").fetchall() \
            == [("2024-11-05T18:00:00.000000+00:00", None)]


def test_nothing_is_stored_when_one_write_fails(engine) -> None:
    bad = HarvestedSession("x", "titan", NOW, NOW, "u" * 10)
    object.__setattr__(bad, "start", "not a time")
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises, nothing stays
        save_harvest(engine, "nemo", HarvestResult([harvested(1), bad], {SERVER: NOW}),
                     now=NOW)
    assert log(engine) == [] and harvest_state(engine, "nemo") == {}
