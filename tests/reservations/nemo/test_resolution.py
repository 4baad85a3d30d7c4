"""Which answers a session gets, asked of the real NEMO server A."""

from __future__ import annotations

import datetime as dt

import pytest

from nexuslims.model.session import Instrument, Session
from nexuslims.reservations import NoConsent, NoReservation, Reservation
from nexuslims.reservations.nemo import parse_settings
from nexuslims.reservations.nemo.harvester import NemoHarvester
from tests.reservations.nemo import world
from tests.reservations.nemo.conftest import nemo_env

pytestmark = pytest.mark.integration


@pytest.fixture
def harvester(nemo) -> NemoHarvester:
    return NemoHarvester(parse_settings(nemo_env(nemo)))


@pytest.fixture
def titan(nemo) -> Instrument:
    return Instrument("titan", "Titan", harvester="nemo", api_url=f"{nemo.a.address}tools/?id=1",
                      timezone="America/New_York")


def session(ident: str, instrument: Instrument, start: str, end: str) -> Session:
    return Session(ident, instrument, dt.datetime.fromisoformat(world.ny(start)),
                   dt.datetime.fromisoformat(world.ny(end)), "ada")


def test_post_run_answers_win_then_pre_run_then_the_reservation(harvester, titan, nemo):
    e1 = harvester.reservation_for(session(f"{nemo.a.address}usage_events/?id=1", titan,
                                           "2024-11-01T09:00", "2024-11-01T11:00"))
    e2 = harvester.reservation_for(session(f"{nemo.a.address}usage_events/?id=2", titan,
                                           "2024-11-01T13:00", "2024-11-01T15:00"))
    # A usage event NEMO no longer has: the reservation overlapping the session.
    gone = harvester.reservation_for(session(f"{nemo.a.address}usage_events/?id=999", titan,
                                             "2024-11-01T09:00", "2024-11-01T11:00"))
    assert isinstance(e1, Reservation) and e1.title == "Run-data title"
    assert isinstance(e2, Reservation) and e2.title == "Pre-run title"
    assert isinstance(gone, Reservation) and gone.title == "Reservation title R1"
    assert gone.url == f"{nemo.a.root}event_details/reservation/1/"
    assert gone.start.isoformat() == "2024-11-01T08:30:00-04:00"


def test_a_session_logger_session_gets_the_reservation_overlapping_it_most(harvester, titan):
    answer = harvester.reservation_for(session("logger-17", titan, "2024-11-02T09:00",
                                               "2024-11-02T12:00"))
    assert isinstance(answer, Reservation)
    assert answer.title == "Reservation title R3"
    assert answer.motivation == "Mapping precipitates"
    assert [(s.name, s.description, s.elements) for s in answer.samples] == [
        ("alloy 7", "as cast", ("Al", "Zn"))]
    again = harvester.reservation_for(session("logger-17", titan, "2024-11-02T09:00",
                                              "2024-11-02T12:00"))
    assert again.samples[0].id == answer.samples[0].id  # stable across passes


def test_no_reservation_and_no_answers_or_no_consent(harvester, titan, nemo) -> None:
    far = harvester.reservation_for(session("logger-1", titan, "2024-10-20T09:00",
                                            "2024-10-20T10:00"))
    assert isinstance(far, NoReservation)
    quanta = Instrument("quanta", "Quanta", harvester="nemo",
                        api_url=f"{nemo.a.address}tools/?id=2", timezone="America/New_York")
    refused = harvester.reservation_for(session(f"{nemo.a.address}usage_events/?id=4", quanta,
                                                "2024-11-02T14:00", "2024-11-02T15:00"))
    assert isinstance(refused, NoConsent) and "'Disagree'" in refused.reason


def test_users_projects_and_tools_are_asked_once_per_pass(harvester, titan, nemo) -> None:
    log = nemo.a.workdir / "server.log"
    before = log.read_text()
    for _ in range(3):
        harvester.reservation_for(session("logger-17", titan, "2024-11-02T09:00",
                                          "2024-11-02T12:00"))
    asked = log.read_text()[len(before):]
    assert asked.count("GET /api/users/?id=2 ") == 1
    assert asked.count("GET /api/projects/?id=1 ") == 1
    assert asked.count("GET /api/tools/ ") == 1
    assert asked.count("GET /api/reservations/?") == 3


def test_a_backfill_after_the_last_harvest_does_not_move_it(harvester, nemo) -> None:
    instruments = {"titan": Instrument("titan", "Titan", harvester="nemo",
                                       api_url=f"{nemo.a.address}tools/?id=1")}
    last = dt.datetime(2024, 10, 1, tzinfo=dt.UTC)
    result = harvester.harvest(instruments, {nemo.a.address: last}, world.NOW1,
                               since=dt.datetime(2024, 11, 1, tzinfo=dt.UTC))
    assert result.harvested_until == {nemo.a.address: last}
    assert {s.identifier.rsplit("=", 1)[1] for s in result.sessions} == {"1", "2", "3", "7"}
    result = harvester.harvest(instruments, {nemo.a.address: last}, world.NOW1)
    assert result.harvested_until == {nemo.a.address: world.NOW1}
