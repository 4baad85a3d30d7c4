"""The SharePoint harvester, against a SharePoint on 127.0.0.1 that really speaks NTLM.

Unit tests pin the settings, the time-zone reading, the feed mapping and the choice of
entry; the ``integration`` tests ask :class:`FakeSharePoint` (real NTLM handshake,
OData ``$filter``/``$expand``) and run whole passes on a real SQLite database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.errors import ConfigError, HarvesterError
from nexuslims.model.session import EventType, Instrument, Session, Status
from nexuslims.reservations import NoReservation, Reservation, build_harvesters
from nexuslims.reservations.sharepoint import SharePointHarvester, from_settings
from nexuslims.reservations.sharepoint.feed import (
    best_entry,
    load_stylesheet,
    read_entries,
    stylesheet_path,
)
from nexuslims.reservations.sharepoint.harvester import feed_url, site_root
from nexuslims.reservations.sharepoint.settings import read_settings
from nexuslims.reservations.sharepoint.zones import parse_timezone
from tests.reservations.sharepoint_server import (
    DOMAIN_USER,
    FEEDS,
    PASSWORD,
    TZ_XML,
    Behaviour,
    FakeSharePoint,
    serve_sharepoint,
    sharepoint_env,
)

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
NX = {"nx": "https://data.nist.gov/od/dm/nexus/experiment/v1.0"}
FEED = (FEEDS / "FEITitanTEM.xml").read_bytes()
CALENDAR = "FEITitanTEM"


@pytest.fixture
def sharepoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSharePoint]:
    """A SharePoint site on 127.0.0.1 with real NTLM, serving ``feeds/``."""
    with serve_sharepoint(tmp_path, monkeypatch) as site:
        yield site


def at(*args: int) -> dt.datetime:
    """Wall-clock time in New York, as an aware UTC datetime."""
    return dt.datetime(*args, tzinfo=NY).astimezone(UTC)


def harvester(**env: str) -> SharePointHarvester:
    made = from_settings(SimpleNamespace(env=sharepoint_env(**env)))
    assert made is not None
    return made


def titan(site: FakeSharePoint, calendar: str = CALENDAR, **kw: str) -> Instrument:
    return Instrument(pid="titan", filestore_path="Titan", harvester="sharepoint",
                      api_url=site.feed_url(calendar), schema_name="FEI Titan TEM",
                      timezone="America/New_York", **kw)


def session(instrument: Instrument, start: dt.datetime, end: dt.datetime) -> Session:
    return Session("s-1", instrument, start, end, "alice")


# ------------------------------------------------------------------------ settings


def test_no_account_means_no_sharepoint_harvester() -> None:
    assert from_settings(SimpleNamespace(env={})) is None
    assert "sharepoint" not in build_harvesters(load_settings({}, needs=frozenset()))


def test_wrong_settings_are_each_named() -> None:
    with pytest.raises(ConfigError) as info:
        read_settings({"NX_SHAREPOINT_USER": "NEXUS\\svc", "NX_SHAREPOINT_PASSWORD": "pw",
                       "NX_SHAREPOINT_TZ": "Mars/Olympus",
                       "NX_SHAREPOINT_TIMEOUT": "0", "NX_SHAREPOINT_RETRIES": "-1",
                       "NX_SHAREPOINT_XSLT": "/nonexistent.xsl"})
    text = str(info.value)
    for name in ("NX_SHAREPOINT_TZ=Mars/Olympus",
                 "NX_SHAREPOINT_TIMEOUT=0", "NX_SHAREPOINT_RETRIES=-1", "NX_SHAREPOINT_XSLT"):
        assert name in text
    assert len(info.value.problems) == 4


def test_a_user_without_a_password_turns_sharepoint_off_with_a_warning(caplog,
                                                                       monkeypatch) -> None:
    """Half-done credentials are no error for every command (issue 20): doctor fails them
    only when an instrument uses SharePoint."""
    from nexuslims.reservations.sharepoint import settings as sharepoint_settings

    monkeypatch.setattr(sharepoint_settings, "_warned", set())  # warned once per process
    with caplog.at_level(logging.WARNING):
        assert read_settings({"NX_SHAREPOINT_USER": "NEXUS\\svc2"}) is None
    assert "NX_SHAREPOINT_USER is set but NX_SHAREPOINT_PASSWORD is not" in caplog.text


def test_nexuslims_1x_credentials_are_accepted_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        settings = read_settings({"nexusLIMS_user": "NEXUS\\old", "nexusLIMS_pass": "pw"})
    assert settings is not None and settings.user == "NEXUS\\old"
    assert settings.password_setting == "nexusLIMS_pass"
    assert "nexusLIMS_user is a NexusLIMS 1.x setting name" in caplog.text
    assert "pw" not in repr(settings)


def test_a_site_stylesheet_that_is_not_xslt_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "site.xsl"
    bad.write_text("<not-closed>")
    with pytest.raises(ConfigError, match="NX_SHAREPOINT_XSLT"):
        from_settings(SimpleNamespace(env=sharepoint_env(NX_SHAREPOINT_XSLT=str(bad))))


def test_the_shipped_stylesheet_is_found_in_the_source_tree() -> None:
    assert stylesheet_path().name == "sharepoint-reservation.xsl"
    assert stylesheet_path().is_file()


# ----------------------------------------------------------------------- time zone


def test_the_default_xml_time_zone_answer_maps_to_a_zone_with_dst() -> None:
    body = TZ_XML.format(site="https://sp/nexus", zone_id=11, bias=300,
                         description="(UTC-05:00) Eastern Time (US and Canada)").encode()
    zone = parse_timezone(body)
    assert zone.tzinfo == ZoneInfo("America/New_York") and zone.exact and zone.bias == 300


def test_json_time_zone_answers_verbose_and_bare_are_read() -> None:
    verbose = (b'{"d":{"Description":"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, '
               b'Vienna","Id":4,"Information":{"Bias":-60,"DaylightBias":-60,"StandardBias":0}}}')
    bare = b'{"Description":"(GMT-07:00) Arizona","Id":15,"Information":{"Bias":420}}'
    assert parse_timezone(verbose).tzinfo == ZoneInfo("Europe/Berlin")
    assert parse_timezone(bare).tzinfo == ZoneInfo("America/Phoenix")


def test_an_unknown_zone_falls_back_to_its_bias_and_says_dst_is_unknown() -> None:
    body = (b'{"d":{"Description":"(UTC+05:45) Kathmandu","Information":{"Bias":-345,'
            b'"DaylightBias":0,"StandardBias":0}}}')
    zone = parse_timezone(body)
    assert zone.tzinfo == dt.timezone(dt.timedelta(hours=5, minutes=45)) and zone.exact
    dst = parse_timezone(b'{"Description":"(UTC+03:30) Somewhere","Information":'
                         b'{"Bias":-210,"DaylightBias":-60,"StandardBias":0}}')
    assert not dst.exact


# ------------------------------------------------------------------- feed mapping


def test_the_feed_url_filters_on_overlap_in_server_wall_clock() -> None:
    url = feed_url("https://sp/nexus/_vti_bin/ListData.svc/Titan", at(2024, 3, 4, 9),
                   at(2024, 3, 6, 12), NY)
    assert url == ("https://sp/nexus/_vti_bin/ListData.svc/Titan?$expand=CreatedBy,UserName"
                   "&$filter=StartTime%20le%20datetime%272024-03-06T12:00:00%27%20and%20"
                   "EndTime%20ge%20datetime%272024-03-04T09:00:00%27")
    assert site_root("https://sp/nexus/_vti_bin/ListData.svc/Titan") == "https://sp/nexus"
    assert site_root("https://sp/nexus/Lists/Titan") is None


def test_each_entry_maps_to_title_people_sample_project_and_url() -> None:
    entries = read_entries(FEED, load_stylesheet(), NY,
                           {"calendar_url": "https://sp/nexus/Lists/Titan/calendar.aspx"})
    by_id = {e.id: e for e in entries}
    assert sorted(by_id) == ["469", "470", "471", "480", "490", "500"]
    alice = by_id["470"]
    assert alice.title == "Au & Pd <111> nanoparticles: Müller’s ω-phase"
    assert alice.start == at(2024, 3, 5, 8, 30) and alice.end == at(2024, 3, 5, 12, 30)
    assert alice.experimenters == [("Alice Example", "alice")]  # booked for, not created by
    assert alice.motivation == "Map Pd segregation at facets < 2 nm & compare with DFT"
    assert alice.sample is not None
    assert alice.sample.description == "Au/Pd core–shell particles on lacey carbon, batch #7 & #8"
    assert alice.project is not None and alice.project.project_id == "MML-642.03"
    assert alice.category == "Experiment"
    assert alice.url == "https://sp/nexus/Lists/Titan/DispForm.aspx?ID=470"
    # No TitleOfExperiment: the item's title; nothing about sample or project: none.
    assert by_id["500"].title == "Morning slot"
    assert by_id["500"].sample is None and by_id["500"].project is None


def test_the_sample_id_is_stable_across_builds() -> None:
    first = read_entries(FEED, load_stylesheet(), NY)
    again = read_entries(FEED, load_stylesheet(), NY)
    assert [e.sample.id for e in first if e.sample] == [e.sample.id for e in again if e.sample]
    assert len({e.sample.id for e in first if e.sample}) == 4  # 469 and 500 have none


def test_without_an_expanded_username_the_creator_is_the_experimenter() -> None:
    entry = {e.id: e for e in read_entries(FEED, load_stylesheet(), NY)}["490"]
    assert entry.experimenters == [("Erin Zhang", "erin")]
    assert entry.url == \
        "https://sharepoint.example.org/nexus/_vti_bin/ListData.svc/FEITitanTEM(490)"


def test_the_entry_overlapping_the_session_most_is_chosen() -> None:
    entries = read_entries(FEED, load_stylesheet(), NY)
    # 469 overlaps 09:00-09:15, 470 09:00-12:00, 471 not at all.
    assert best_entry(entries, at(2024, 3, 5, 9), at(2024, 3, 5, 12)).id == "470"
    # 470 overlaps 11:00-12:30, 471 12:30-15:00.
    assert best_entry(entries, at(2024, 3, 5, 11), at(2024, 3, 5, 15)).id == "471"
    assert best_entry(entries, at(2024, 3, 20, 14), at(2024, 3, 20, 15)) is None


def test_a_site_stylesheet_changes_the_mapping_without_python(tmp_path: Path) -> None:
    own = stylesheet_path().read_text(encoding="utf-8").replace(
        "<name/>\n          <description>",
        "<name>From the calendar</name>\n          <description>")
    path = tmp_path / "site.xsl"
    path.write_text(own, encoding="utf-8")
    entry = {e.id: e for e in read_entries(FEED, load_stylesheet(path), NY)}["470"]
    assert entry.sample is not None and entry.sample.name == "From the calendar"


def test_garbage_and_foreign_xml_are_refused() -> None:
    with pytest.raises(ValueError, match="not XML"):
        read_entries(b"\x00\xffnot a feed", load_stylesheet(), NY)
    with pytest.raises(ValueError, match="not an Atom feed"):
        read_entries(b"<html><body>Sign in</body></html>", load_stylesheet(), NY)


# --------------------------------------------------------------- against a server


@pytest.mark.integration
def test_a_reservation_is_read_through_a_real_ntlm_handshake(sharepoint: FakeSharePoint) -> None:
    answer = harvester().reservation_for(
        session(titan(sharepoint), at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert isinstance(answer, Reservation)
    assert answer.title == "Au & Pd <111> nanoparticles: Müller’s ω-phase"
    assert answer.experimenters == ["Alice Example (alice)"]
    assert sharepoint.principals == [DOMAIN_USER] and sharepoint.rejected == 0
    # The server's filter returned only entries near the session; users came expanded.
    query = sharepoint.queries[-1]
    assert query["$expand"] == ["CreatedBy,UserName"]
    assert query["$filter"] == ["StartTime le datetime'2024-03-06T12:00:00' and "
                                "EndTime ge datetime'2024-03-04T09:00:00'"]


@pytest.mark.integration
def test_a_reservation_across_a_dst_change_keeps_its_real_length(
        sharepoint: FakeSharePoint) -> None:
    # Booked 20:00 EST Saturday to 08:00 EDT Sunday: 11 hours, not 12.
    answer = harvester().reservation_for(
        session(titan(sharepoint), at(2024, 3, 10, 1), at(2024, 3, 10, 7)))
    assert isinstance(answer, Reservation)
    assert answer.start == dt.datetime(2024, 3, 10, 1, tzinfo=UTC)
    assert answer.end == dt.datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert answer.end.astimezone(UTC) - answer.start.astimezone(UTC) == dt.timedelta(hours=11)
    # Shown in the instrument's zone, each with its own offset.
    assert answer.start.isoformat() == "2024-03-09T20:00:00-05:00"
    assert answer.end.isoformat() == "2024-03-10T08:00:00-04:00"


@pytest.mark.integration
def test_the_server_time_zone_is_asked_once_and_a_configured_one_wins(
        sharepoint: FakeSharePoint) -> None:
    asked = harvester()
    for day in (5, 12):
        asked.reservation_for(session(titan(sharepoint), at(2024, 3, day, 10),
                                      at(2024, 3, day, 11)))
    assert sharepoint.hits[sharepoint.tz_path] == 1
    # Told the server is in UTC, 10:00 UTC is 05:00 in New York: before entry 470.
    told = harvester(NX_SHAREPOINT_TZ="UTC")
    answer = told.reservation_for(session(titan(sharepoint), at(2024, 3, 5, 5), at(2024, 3, 5, 6)))
    assert isinstance(answer, Reservation) and answer.start == dt.datetime(2024, 3, 5, 8, 30,
                                                                            tzinfo=UTC)
    assert sharepoint.hits[sharepoint.tz_path] == 1


@pytest.mark.integration
def test_a_json_time_zone_answer_is_understood(sharepoint: FakeSharePoint) -> None:
    sharepoint.tz_format = "json"
    answer = harvester().reservation_for(
        session(titan(sharepoint), at(2024, 3, 10, 1), at(2024, 3, 10, 7)))
    assert isinstance(answer, Reservation) and answer.title == "Overnight in-situ heating series"


@pytest.mark.integration
def test_no_overlapping_entry_is_no_reservation(sharepoint: FakeSharePoint) -> None:
    answer = harvester().reservation_for(
        session(titan(sharepoint), at(2024, 3, 20, 14), at(2024, 3, 20, 15)))
    assert isinstance(answer, NoReservation)
    assert "overlaps" in answer.reason and "(1 within a day" in answer.reason


@pytest.mark.integration
def test_a_wrong_password_is_a_clear_authentication_error_tried_once(
        sharepoint: FakeSharePoint, caplog: pytest.LogCaptureFixture) -> None:
    wrong = harvester(NX_SHAREPOINT_PASSWORD="not-" + PASSWORD)
    one = session(titan(sharepoint), at(2024, 3, 5, 9), at(2024, 3, 5, 12))
    with caplog.at_level(logging.DEBUG), pytest.raises(HarvesterError) as info:
        wrong.reservation_for(one)
    message = str(info.value)
    assert f"SharePoint at {sharepoint.url}/nexus/" in message
    assert f"rejected user {DOMAIN_USER}: check NX_SHAREPOINT_USER / NX_SHAREPOINT_PASSWORD" \
        in message
    # Not retried, and not tried again for the next session (accounts get locked out).
    with pytest.raises(HarvesterError, match="not asked again"):
        wrong.reservation_for(one)
    assert sharepoint.handshakes == sharepoint.rejected == 1
    assert PASSWORD not in message and PASSWORD not in caplog.text


@pytest.mark.integration
def test_5xx_answers_are_retried_with_backoff_then_succeed(
        sharepoint: FakeSharePoint, caplog: pytest.LogCaptureFixture) -> None:
    path = sharepoint.path_of(CALENDAR)
    sharepoint.behaviours[path] = Behaviour(fail_first=2, fail_status=503)
    with caplog.at_level(logging.WARNING):
        answer = harvester().reservation_for(
            session(titan(sharepoint), at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert isinstance(answer, Reservation)
    assert sharepoint.hits[path] == 3
    assert "answered 503" in caplog.text and "retrying in" in caplog.text


@pytest.mark.integration
def test_5xx_that_persists_fails_after_the_configured_retries(
        sharepoint: FakeSharePoint) -> None:
    path = sharepoint.path_of(CALENDAR)
    sharepoint.behaviours[path] = Behaviour(fail_first=99, fail_status=500)
    with pytest.raises(HarvesterError, match=r"answered 500 .* on all 3 attempts"):
        harvester(NX_SHAREPOINT_RETRIES="2").reservation_for(
            session(titan(sharepoint), at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert sharepoint.hits[path] == 3


@pytest.mark.integration
def test_4xx_answers_are_not_retried(sharepoint: FakeSharePoint) -> None:
    missing = titan(sharepoint, calendar="NoSuchList")
    with pytest.raises(HarvesterError) as info:
        harvester().reservation_for(session(missing, at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert str(info.value).startswith(
        f"SharePoint at {sharepoint.feed_url('NoSuchList')} has no such list (404 Not Found)")
    assert "check the instrument's api_url" in str(info.value)
    assert sharepoint.hits[sharepoint.path_of("NoSuchList")] == 1


@pytest.mark.integration
def test_a_slow_server_times_out_at_the_configured_timeout(sharepoint: FakeSharePoint) -> None:
    sharepoint.behaviours[sharepoint.path_of(CALENDAR)] = Behaviour(delay=5)
    slow = harvester(NX_SHAREPOINT_TIMEOUT="0.5")
    t0 = time.monotonic()
    with pytest.raises(HarvesterError, match=r"did not answer within 0.5 s: .*"
                                             r"NX_SHAREPOINT_TIMEOUT"):
        slow.reservation_for(session(titan(sharepoint), at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert time.monotonic() - t0 < 3
    assert sharepoint.hits[sharepoint.path_of(CALENDAR)] == 1


@pytest.mark.integration
def test_a_garbage_feed_is_an_error_naming_the_url(sharepoint: FakeSharePoint) -> None:
    sharepoint.behaviours[sharepoint.path_of(CALENDAR)] = Behaviour(
        body=b"<html><head><title>Sign in</title></head><body>Session expired")
    with pytest.raises(HarvesterError) as info:
        harvester().reservation_for(
            session(titan(sharepoint), at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert str(info.value).startswith(
        f"SharePoint at {sharepoint.feed_url(CALENDAR)} answered with an unreadable calendar "
        "feed: not XML")


@pytest.mark.integration
def test_a_server_that_is_down_is_retried_then_reported(sharepoint: FakeSharePoint) -> None:
    instrument = titan(sharepoint)
    sharepoint.stop()
    down = harvester(NX_SHAREPOINT_RETRIES="2")
    with pytest.raises(HarvesterError) as info:
        down.reservation_for(session(instrument, at(2024, 3, 5, 9), at(2024, 3, 5, 12)))
    assert f"SharePoint at {sharepoint.url}/nexus/_api/web/RegionalSettings/TimeZone could " \
           "not be reached (Connection refused) on all 3 attempts" in str(info.value)


# --------------------------------------------------------------------- whole passes


NOW = dt.datetime(2024, 3, 25, 12, tzinfo=UTC)


@pytest.fixture
def facility(tmp_path: Path, sharepoint: FakeSharePoint):
    """A DB with a SharePoint-calendar Titan and a calendar-less Quanta, files for each."""
    data = tmp_path / "instrument-data"
    for folder, stamp in (("Titan", at(2024, 3, 5, 10)), ("Titan", at(2024, 3, 20, 14, 30)),
                          ("Titan", at(2024, 3, 10, 3)), ("Quanta", at(2024, 3, 5, 10))):
        (data / folder).mkdir(parents=True, exist_ok=True)
        notes = data / folder / f"notes {stamp:%Y%m%d%H%M}.txt"
        notes.write_text("grid 3, region B\n")
        os.utime(notes, (stamp.timestamp(), stamp.timestamp()))

    def make(**extra: str):
        env = {"NX_INSTRUMENT_DATA_PATH": str(data), "NX_DATA_PATH": str(tmp_path / "data"),
               "NX_DB_PATH": str(tmp_path / "nexuslims.db"), "NX_FILE_STRATEGY": "inclusive",
               "NX_EXTRACT_WORKERS": "1", **sharepoint_env(**extra)}
        return load_settings(env)

    settings = make()
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, titan(sharepoint,
                                    calendar_url=f"{sharepoint.site_url}/Lists/Titan/calendar.aspx"))
    db.add_instrument(engine, Instrument(pid="quanta", filestore_path="Quanta",
                                         schema_name="FEI Quanta", timezone="America/New_York"))

    def log(ident: str, instrument: str, start: dt.datetime, end: dt.datetime) -> None:
        for event, when in ((EventType.START, start), (EventType.END, end)):
            db.log_session_event(engine, ident, instrument, when, event, Status.TO_BE_BUILT,
                                 "alice")

    yield SimpleNamespace(settings=settings, make=make, engine=engine, log=log, site=sharepoint)
    engine.dispose()


def _status(engine, ident: str) -> str | None:
    return db.session_detail(engine, ident).status


@pytest.mark.integration
def test_a_pass_builds_records_from_the_calendar(facility) -> None:
    facility.log("titan-1", "titan", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 12))
    facility.log("titan-2", "titan", dt.datetime(2024, 3, 20, 14), dt.datetime(2024, 3, 20, 15))
    summary = run_pass(facility.settings, now=NOW)
    by_id = {o.identifier: o for o in summary.outcomes}
    assert by_id["titan-1"].status == Status.COMPLETED, by_id["titan-1"].message
    assert by_id["titan-2"].status == Status.NO_RESERVATION
    assert _status(facility.engine, "titan-2") == Status.NO_RESERVATION

    doc = etree.parse(str(by_id["titan-1"].record_path))
    text = lambda path: doc.findtext(path, namespaces=NX)  # noqa: E731
    assert text("nx:title") == "Au & Pd <111> nanoparticles: Müller’s ω-phase"
    assert text("nx:summary/nx:experimenter") == "Alice Example (alice)"
    assert text("nx:summary/nx:motivation") == \
        "Map Pd segregation at facets < 2 nm & compare with DFT"
    assert text("nx:summary/nx:reservationStart") == "2024-03-05T08:30:00-05:00"
    assert text("nx:summary/nx:reservationEnd") == "2024-03-05T12:30:00-05:00"
    assert doc.find("nx:summary", NX).get("ref") == \
        f"{facility.site.site_url}/Lists/Titan/DispForm.aspx?ID=470"
    assert text("nx:sample/nx:description") == \
        "Au/Pd core–shell particles on lacey carbon, batch #7 & #8"
    sample_id = doc.find("nx:sample", NX).get("id")
    assert text("nx:acquisitionActivity/nx:sampleID") == sample_id
    assert text("nx:project/nx:project_id") == "MML-642.03"


@pytest.mark.integration
def test_a_wrong_password_leaves_sessions_to_be_built_and_others_are_built(facility) -> None:
    facility.log("titan-1", "titan", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 12))
    facility.log("titan-3", "titan", dt.datetime(2024, 3, 10, 1), dt.datetime(2024, 3, 10, 7))
    facility.log("quanta-1", "quanta", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 12))
    settings = facility.make(NX_SHAREPOINT_PASSWORD="wrong")
    summary = run_pass(settings, now=NOW)
    by_id = {o.identifier: o for o in summary.outcomes}
    assert by_id["quanta-1"].status == Status.COMPLETED
    for ident in ("titan-1", "titan-3"):
        assert _status(facility.engine, ident) == Status.TO_BE_BUILT
        attempt = db.session_detail(facility.engine, ident).attempts[-1]
        assert attempt.status == "DEFERRED"
        assert f"rejected user {DOMAIN_USER}" in attempt.error
        assert "wrong" not in attempt.error
    assert facility.site.handshakes == 1  # one try for the whole pass

    # Fixed: the next pass after the retry backoff (none here) builds them.
    summary = run_pass(dataclasses.replace(facility.settings, retry_delay_minutes=0), now=NOW)
    assert {o.identifier: o.status for o in summary.outcomes} == {
        "titan-1": Status.COMPLETED, "titan-3": Status.COMPLETED}


@pytest.mark.integration
def test_a_server_down_leaves_sessions_to_be_built_with_the_reason(facility) -> None:
    facility.log("titan-1", "titan", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 12))
    facility.log("quanta-1", "quanta", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 12))
    facility.site.stop()
    summary = run_pass(facility.settings, now=NOW)
    by_id = {o.identifier: o for o in summary.outcomes}
    assert by_id["quanta-1"].status == Status.COMPLETED
    assert _status(facility.engine, "titan-1") == Status.TO_BE_BUILT
    error = db.session_detail(facility.engine, "titan-1").attempts[-1].error
    assert error.startswith(f"calendar: SharePoint at {facility.site.url}/nexus/")
    assert "could not be reached" in error
