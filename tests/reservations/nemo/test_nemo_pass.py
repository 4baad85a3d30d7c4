"""Full passes against two real NEMO servers: harvested sessions become records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from nexuslims.builder.run import run_pass
from nexuslims.db import harvest as harvest_db
from nexuslims.record.validate import validate_record
from tests.reservations.nemo import world
from tests.reservations.nemo.conftest import patch

pytestmark = pytest.mark.integration
NS = {"nx": "https://data.nist.gov/od/dm/nexus/experiment/v1.0"}


def rows(site, sql: str, *args):
    with sqlite3.connect(site.db_file) as con:
        return con.execute(sql, args).fetchall()


def statuses(site) -> dict[str, str]:
    """Session identifier -> status of its START row."""
    return dict(rows(site, "SELECT session_identifier, record_status FROM session_log "
                           "WHERE event_type = 'START'"))


def event(server, n: int) -> str:
    return f"{server.address}usage_events/?id={n}"


def record(site, identifier: str) -> etree._Element:
    [(path,)] = rows(site, "SELECT record_path FROM build_attempts WHERE session_identifier = ? "
                           "AND record_path IS NOT NULL", identifier)
    xml = Path(path).read_bytes()
    assert validate_record(xml) == []
    return etree.fromstring(xml)


def text(doc, path: str) -> list[str]:
    return [e.text for e in doc.xpath(path, namespaces=NS)]


def test_a_pass_harvests_usage_events_and_builds_their_records(site, nemo) -> None:
    run_pass(site.settings, now=world.NOW1)
    a, b = nemo.a, nemo.b
    assert statuses(site) == {
        "plain-session": "COMPLETED",
        event(a, 1): "COMPLETED", event(a, 2): "COMPLETED", event(a, 3): "COMPLETED",
        event(a, 4): "NO_CONSENT", event(a, 5): "NO_CONSENT", event(a, 6): "NO_RESERVATION",
        event(a, 7): "COMPLETED", event(a, 10): "TO_BE_BUILT",
        event(b, 1): "COMPLETED",
    }  # not E8 (still running) nor E9 (a tool no instrument uses)
    assert rows(site, "SELECT instrument, timestamp, event_type, user FROM session_log "
                      "WHERE session_identifier = ? ORDER BY id_session_log LIMIT 2",
                event(a, 2)) == [
        ("titan", "2024-11-01T13:00:00.000-04:00", "START", "grace"),
        ("titan", "2024-11-01T15:00:00.000-04:00", "END", "grace")]
    state = dict(rows(site, "SELECT server, last_success FROM harvest_state "
                            "WHERE harvester = 'nemo' AND last_error IS NULL"))
    assert state == {a.address: "2024-11-05T17:00:00.000000+00:00",
                     b.address: "2024-11-05T17:00:00.000000+00:00"}

    # E1: the post-run answers win over the pre-run ones and the reservation.
    doc = record(site, event(a, 1))
    assert text(doc, "nx:title") == ["Run-data title"]
    assert text(doc, "nx:summary/nx:experimenter") == ["Ada Lovelace (ada)"]
    assert text(doc, "nx:summary/nx:motivation") == ["Imaging grain boundaries"]
    assert text(doc, "nx:summary/nx:reservationStart") == ["2024-11-01T09:00:00-04:00"]
    assert doc.find("nx:summary", NS).get("ref") == f"{a.root}event_details/usage/1/"
    samples = doc.findall("nx:sample", NS)
    assert samples[0].get("id") == "PID-0001"
    assert samples[0].find("nx:name", NS) is None
    assert text(samples[0], "nx:description") == ["grid 3, region B"]
    assert [e.tag.split("}")[1] for e in samples[0].find("nx:elements", NS)] == ["O", "Fe"]
    assert samples[1].get("id").startswith("sample-")
    assert text(samples[1], "nx:name") == ["steel coupon"]
    assert [e.tag.split("}")[1] for e in samples[1].find("nx:elements", NS)] == ["Cr", "Ni"]
    assert text(doc, "nx:project/nx:name") == ["Grain Boundaries"]
    assert text(doc, "nx:project/nx:project_id") == ["P-100"]
    assert len(doc.findall("nx:acquisitionActivity", NS)) >= 1

    # E2: no post-run answers, so the pre-run ones; user and operator both named.
    doc = record(site, event(a, 2))
    assert text(doc, "nx:title") == ["Pre-run title"]
    assert text(doc, "nx:summary/nx:experimenter") == ["Grace Hopper (grace)",
                                                       "Ada Lovelace (ada)"]
    assert text(doc, "nx:project/nx:project_id") == ["C-9"]
    assert text(doc, "nx:project/nx:name") == ["Catalysts"]

    # E3: no answers on the event: the reservation overlapping it most (not the
    # cancelled one covering it all).
    doc = record(site, event(a, 3))
    assert text(doc, "nx:title") == ["Reservation title R3"]
    assert doc.find("nx:summary", NS).get("ref") == f"{a.root}event_details/reservation/3/"
    assert text(doc, "nx:summary/nx:reservationStart") == ["2024-11-02T08:30:00-04:00"]
    [sample] = doc.findall("nx:sample", NS)
    assert text(doc, "nx:acquisitionActivity/nx:sampleID") == [sample.get("id")]
    assert text(doc, "nx:project/nx:project_id") == ["P-100-b"]

    # Server B: Denver wall-clock times, whatever zone its NEMO claims.
    doc = record(site, event(b, 1))
    assert text(doc, "nx:title") == ["Helios lamella"]
    assert text(doc, "nx:summary/nx:experimenter") == ["Marie Curie (marie)"]
    assert text(doc, "nx:summary/nx:reservationStart") == ["2024-11-01T10:00:00-06:00"]
    assert text(doc, "nx:summary/nx:reservationEnd") == ["2024-11-01T12:00:00-06:00"]
    assert [s.get("id") for s in doc.findall("nx:sample", NS)] == ["PID-B7"]


def test_a_session_across_the_end_of_dst_keeps_its_four_hours(site, nemo) -> None:
    run_pass(site.settings, now=world.NOW1)
    ident = event(nemo.a, 7)
    assert statuses(site)[ident] == "COMPLETED"
    doc = record(site, ident)
    assert text(doc, "nx:title") == ["Overnight tomography"]
    assert text(doc, "nx:summary/nx:reservationStart") == ["2024-11-03T00:30:00-04:00"]
    assert text(doc, "nx:summary/nx:reservationEnd") == ["2024-11-03T03:30:00-05:00"]
    # All three files, the repeated 01:15 included, are found.
    files = text(doc, "nx:acquisitionActivity/nx:dataset/nx:location")
    assert sorted(f.rsplit("/", 1)[1] for f in files) == ["e7_a.txt", "e7_b.txt", "e7_c.txt"]


def test_harvesting_again_adds_nothing_and_an_edited_event_updates_its_session(
        site, nemo) -> None:
    a = nemo.a
    run_pass(site.settings, now=world.NOW1)
    before = rows(site, "SELECT * FROM session_log WHERE event_type IN ('START', 'END') "
                        "ORDER BY id_session_log")
    run_pass(site.settings, now=world.NOW1)
    assert rows(site, "SELECT * FROM session_log WHERE event_type IN ('START', 'END') "
                      "ORDER BY id_session_log") == before

    # In NEMO: staff correct E10's end; E8, running during the first harvest, ends.
    try:
        patch(a, "usage_events/10/", {"end": "2024-11-04T16:45:00-05:00"})
        patch(a, "usage_events/8/", {"end": "2024-11-05T18:00:00+00:00"})
        run_pass(site.settings, now=world.NOW2)
    finally:
        patch(a, "usage_events/10/", {"end": world.ny("2024-11-04T16:00")})
        patch(a, "usage_events/8/", {"end": None})
    assert rows(site, "SELECT event_type, timestamp, record_status FROM session_log "
                      "WHERE session_identifier = ? ORDER BY id_session_log", event(a, 10)) == [
        ("START", "2024-11-04T15:00:00.000-05:00", "TO_BE_BUILT"),
        ("END", "2024-11-04T16:45:00.000-05:00", "TO_BE_BUILT")]
    # E8 began before the first harvest and ended after it: found, and built.
    assert statuses(site)[event(a, 8)] == "COMPLETED"
    assert record(site, event(a, 8)).findtext("nx:title", namespaces=NS) \
        == "Started before the harvest"
    # Nothing else was added: one START and one END per session.
    assert rows(site, "SELECT session_identifier, event_type, COUNT(*) FROM session_log "
                      "WHERE event_type IN ('START', 'END') GROUP BY 1, 2 HAVING COUNT(*) > 1") \
        == []
    assert len(before) + 2 == len(rows(site, "SELECT * FROM session_log WHERE event_type IN "
                                             "('START', 'END')"))


def test_a_server_stopped_mid_pass_leaves_only_its_sessions_for_later(
        site, nemo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    a = nemo.a
    real_save = harvest_db.save_harvest

    def save_then_stop_a(*args, **kwargs):
        saved = real_save(*args, **kwargs)
        a.stop()  # after the harvest, before any session is built
        return saved

    monkeypatch.setattr(harvest_db, "save_harvest", save_then_stop_a)
    with caplog.at_level(logging.INFO):
        run_pass(site.settings, now=world.NOW1)
    monkeypatch.undo()
    got = statuses(site)
    on_a = [event(a, n) for n in (1, 2, 3, 4, 5, 6, 7, 10)]
    assert {got[i] for i in on_a} == {"TO_BE_BUILT"}
    assert got[event(nemo.b, 1)] == "COMPLETED"
    assert got["plain-session"] == "COMPLETED"
    errors = dict(rows(site, "SELECT session_identifier, error FROM build_attempts "
                             "WHERE status = 'DEFERRED'"))
    assert f"NEMO server {a.address} cannot be reached" in errors[event(a, 1)]
    assert "NX_NEMO_ADDRESS_1" in errors[event(a, 1)]
    assert all(e.startswith("calendar: ") for e in errors.values())
    for token in (a.token, nemo.b.token):
        assert token not in caplog.text
        assert token not in str(rows(site, "SELECT * FROM build_attempts"))

    a.start()
    # Within the retry backoff the sessions wait; after it (none here) they are built.
    (waiting,) = [o for o in run_pass(site.settings, now=world.NOW1).outcomes
                  if o.identifier == event(a, 1)]
    assert waiting.status == "TO_BE_BUILT" and "next try after" in waiting.message
    run_pass(dataclasses.replace(site.settings, retry_delay_minutes=0), now=world.NOW1)
    got = statuses(site)
    assert got[event(a, 1)] == got[event(a, 7)] == "COMPLETED"
    assert got[event(a, 4)] == "NO_CONSENT" and got[event(a, 6)] == "NO_RESERVATION"


def test_a_rejected_token_fails_that_server_only(site, nemo, caplog) -> None:
    env = dict(site.env, NX_NEMO_TOKEN_1="not-the-token")
    from nexuslims.config import load_settings

    with caplog.at_level(logging.INFO):
        run_pass(load_settings(env), now=world.NOW1)
    assert event(nemo.b, 1) in statuses(site)
    assert not any(i.startswith(nemo.a.address) for i in statuses(site))
    [(success, error)] = rows(site, "SELECT last_success, last_error FROM harvest_state "
                                    "WHERE server = ?", nemo.a.address)
    assert success is None
    assert "rejected the token (HTTP 401" in error and "NX_NEMO_TOKEN_1" in error
    assert "not-the-token" not in caplog.text and "not-the-token" not in error
    assert f"nemo server {nemo.a.address} could not be harvested" in caplog.text

    # The next pass, with the right token, harvests what the failed one missed.
    run_pass(site.settings, now=world.NOW1)
    assert statuses(site)[event(nemo.a, 1)] == "COMPLETED"


def test_a_dry_run_shows_harvested_sessions_and_writes_nothing(site, nemo) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NX_", "NEMO_"))}
    full.update(site.env)
    done = subprocess.run([sys.executable, "-m", "nexuslims", "process", "--dry-run",
                           "--from", "2024-10-28", "--to", "2024-11-05"],
                          env=full, cwd=site.root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"{event(nemo.a, 1)} [titan]" in out
    assert "reservation: 'Run-data title' by Ada Lovelace (ada)" in out
    assert "reservation: 'Helios lamella' by Marie Curie (marie)" in out
    assert f"{event(nemo.a, 4)} [quanta]" in out and "NO_CONSENT" in out
    assert nemo.a.token not in out + done.stderr
    assert rows(site, "SELECT COUNT(*) FROM session_log WHERE session_identifier "
                      "LIKE 'http%'") == [(0,)]
    assert rows(site, "SELECT COUNT(*) FROM harvest_state") == [(0,)]
    assert rows(site, "SELECT COUNT(*) FROM build_attempts") == [(0,)]
    assert not site.settings.records_path.exists() or \
        not any(site.settings.records_path.iterdir())


def test_from_before_the_last_harvest_reharvests_without_moving_it_back(site, nemo) -> None:
    run_pass(site.settings, now=world.NOW1)
    since = dt.datetime(2024, 11, 1, tzinfo=dt.UTC)
    run_pass(site.settings, since=since, until=dt.datetime(2024, 11, 2, tzinfo=dt.UTC),
             now=world.NOW1)
    [(success,)] = rows(site, "SELECT last_success FROM harvest_state WHERE server = ?",
                        nemo.a.address)
    assert success.startswith("2024-11-05T17:00")
