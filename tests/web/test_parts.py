"""The web face's parts on their own: index, backfill, search, health, passes, tokens,
settings, path checks, and the command line (serve, tokens, the systemd unit)."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.passlog import run_recorded_pass
from nexuslims.config import load_settings
from nexuslims.db import records as index_db
from nexuslims.db.passes import FAILED, OK, PassRecord, record_pass
from nexuslims.db.records import RecordQuery, search_records
from nexuslims.db.tokens import check_token, create_token, revoke_token, token_hash
from nexuslims.errors import ConfigError, DatabaseError
from nexuslims.model.session import Instrument
from nexuslims.record.index import backfill, entry_from_xml
from nexuslims.web.downloads import NotServed, inside, record_file
from nexuslims.web.settings import load_web_settings
from nexuslims.web.views import health
from tests.test_cli import run
from tests.web.world import REPO, SEARCH_SAMPLE, Site

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db.init_db(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def test_the_pass_indexes_the_record_it_writes(site: Site) -> None:
    engine = db.make_engine(site.db_url)
    try:
        record = index_db.get_record(engine, site.demo_record)
        details = [db.session_detail(engine, s.identifier) for s in db.list_sessions(engine)
                   if s.identifier.startswith("demo")]
        attempts = [a for d in details if d is not None for a in d.attempts]
    finally:
        engine.dispose()
    assert record is not None and record.datasets == 15 and record.activities == 3
    assert record.record_path == attempts[-1].record_path
    assert record.session_identifier == attempts[-1].session_identifier
    assert record.status == "COMPLETED" and record.instrument == "FEI-Titan-TEM-demo"


def test_records_written_before_the_index_are_indexed_once(site: Site, engine,
                                                           tmp_path: Path) -> None:
    assert site.settings.records_path is not None
    xml = (site.settings.records_path / "web-test-searchable.xml").read_bytes()
    path = tmp_path / "old-record.xml"
    path.write_bytes(xml)
    site_engine = db.make_engine(site.db_url)
    db.add_instrument(engine, db.load_instruments(site_engine)["JEOL-ARM-web-test"])
    site_engine.dispose()
    attempt = db.start_attempt(engine, "old-session", "JEOL-ARM-web-test")
    db.finish_attempt(engine, attempt, "COMPLETED", record_path=str(path))
    gone = db.start_attempt(engine, "gone-session", "JEOL-ARM-web-test")
    db.finish_attempt(engine, gone, "COMPLETED", record_path=str(tmp_path / "deleted.xml"))
    assert search_records(engine, RecordQuery())[0] == 0
    assert backfill(engine) == 1
    assert backfill(engine) == 0
    total, found = search_records(engine, RecordQuery(text=SEARCH_SAMPLE.split()[-1]))
    assert total == 1 and found[0].session_identifier == "old-session"


def test_a_record_that_is_not_xml_is_not_indexed_and_the_pass_goes_on(engine,
                                                                      tmp_path: Path) -> None:
    from nexuslims.record.index import index_record

    bad = tmp_path / "bad.xml"
    bad.write_text("<Experiment><title>unclosed")
    assert index_record(engine, bad, "s", "i") is None


def test_index_entry_reads_what_search_needs() -> None:
    entry = entry_from_xml(_RECORD, "/r.xml", "sess", None)
    assert entry.title == "Grain boundaries" and entry.instrument == "titan"
    assert entry.start == dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    for word in ("grain boundaries", "why not", "ni-ti alloy", "s-1", "big project",
                 "p-7", "alice", "image_001.dm4"):
        assert word in entry.search_text
    assert entry.datasets == 2 and entry.activities == 1


_RECORD = b"""<?xml version='1.0' encoding='UTF-8'?>
<Experiment xmlns="https://data.nist.gov/od/dm/nexus/experiment/v1.0">
  <title>Grain boundaries</title>
  <summary><experimenter>Alice</experimenter><instrument pid="titan">Titan</instrument>
    <reservationStart>2024-03-05T09:00:00-05:00</reservationStart>
    <motivation>Why not</motivation></summary>
  <sample id="S-1"><name>Ni-Ti alloy</name></sample>
  <project><name>Big project</name><project_id>P-7</project_id></project>
  <acquisitionActivity seqno="0"><startTime>2024-03-05T09:10:00-05:00</startTime>
    <dataset type="Image" role="Experimental"><name>image_001.dm4</name>
      <location>a/image_001.dm4</location></dataset>
    <dataset type="Image" role="Experimental"><name>image_002.dm4</name>
      <location>a/image_002.dm4</location></dataset>
  </acquisitionActivity>
</Experiment>"""


@pytest.mark.parametrize("query", [RecordQuery(text="file_9876_3.dm4"),
                                   RecordQuery(text="perovskite sample 12"),
                                   RecordQuery(text="PEROVSKITE", instrument="instrument-2"),
                                   RecordQuery(text="zz"), RecordQuery(text="100%"),
                                   RecordQuery(text='"quoted'),
                                   RecordQuery(text="oxide", status="ERROR")])
def test_full_text_index_finds_what_a_scan_finds(large, query) -> None:
    engine = db.make_engine(f"sqlite:///{large['NX_DB_PATH']}")
    try:
        indexed = search_records(engine, query, limit=10_000)
        index_db._has_fts[str(engine.url)] = False  # the LIKE scan other databases use
        scanned = search_records(engine, query, limit=10_000)
    finally:
        index_db._has_fts.pop(str(engine.url), None)
        engine.dispose()
    assert indexed[0] == scanned[0]
    assert [r.id for r in indexed[1]] == [r.id for r in scanned[1]]


def test_health_needs_a_recent_pass_that_could_run(engine) -> None:
    assert not health(engine, 60, NOW).ok and "no pass" in health(engine, 60, NOW).reason
    record_pass(engine, PassRecord(NOW - dt.timedelta(minutes=90),
                                   NOW - dt.timedelta(minutes=89), OK, built=2))
    stale = health(engine, 60, NOW)
    assert not stale.ok and "1 h 29 min ago" in stale.reason
    assert health(engine, 120, NOW).ok
    record_pass(engine, PassRecord(NOW - dt.timedelta(minutes=2), NOW - dt.timedelta(minutes=1),
                                   FAILED, message="database unreachable"))
    failed = health(engine, 60, NOW)
    assert not failed.ok and "could not run: database unreachable" in failed.reason


def test_a_pass_that_cannot_run_is_recorded_as_failed(tmp_path: Path) -> None:
    env = {"NX_DB_PATH": str(tmp_path / "db.sqlite"), "NX_DATA_PATH": str(tmp_path / "data"),
           "NX_INSTRUMENT_DATA_PATH": str(tmp_path)}
    settings = load_settings(env)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db.init_db(url)
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.execute("DROP TABLE session_log")
    with pytest.raises(DatabaseError):
        run_recorded_pass(settings)
    engine = db.make_engine(url)
    try:
        state = health(engine, 60)
    finally:
        engine.dispose()
    assert not state.ok and state.last_pass is not None
    assert state.last_pass.outcome == FAILED and "session_log" in state.reason


def test_tokens_are_checked_by_hash_and_revocable(engine) -> None:
    token_id, token = create_token(engine, note="pc")
    found = check_token(engine, token)
    assert found is not None and found.id == token_id
    assert check_token(engine, token + "x") is None
    assert token_hash(token).startswith("sha256:") and len(token_hash(token)) == 71
    assert revoke_token(engine, token_id) and not revoke_token(engine, token_id)
    assert check_token(engine, token) is None


def test_web_settings_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError) as caught:
        load_web_settings({"NX_DB_PATH": "/x/db", "NX_WEB_AUTH": "kerberos",
                           "NX_WEB_SERVE_RAW_FILES": "perhaps", "NX_WEB_PORT": "http",
                           "NX_WEB_HEALTH_MAX_AGE": "0", "NX_WEB_ROOT_PATH": "nexuslims"})
    text = "\n".join(caught.value.problems)
    for name in ("NX_DATA_PATH", "NX_WEB_AUTH=kerberos", "NX_WEB_SERVE_RAW_FILES=perhaps",
                 "NX_WEB_PORT=http", "NX_WEB_HEALTH_MAX_AGE=0", "NX_WEB_ROOT_PATH=nexuslims"):
        assert name in text
    with pytest.raises(ConfigError, match="NX_WEB_BASIC_USER and NX_WEB_BASIC_PASSWORD"):
        load_web_settings({"NX_DB_PATH": "/x/db", "NX_DATA_PATH": "/x",
                           "NX_WEB_AUTH": "basic"})
    web = load_web_settings({"NX_DB_PATH": "/x/db", "NX_DATA_PATH": "/x"})
    assert (web.host, web.port, web.auth, web.serve_raw_files) == ("127.0.0.1", 8080, "open",
                                                                   False)


@pytest.mark.parametrize("relative", ["../secret", "a/../../secret", "/etc/passwd",
                                      "%2e%2e/secret", "..%2fsecret", "a/%2e%2e/%2e%2e/secret",
                                      "..\\secret", "C:\\Windows\\win.ini", "", "a\x00b",
                                      "link/secret", "file-link", "a"])
def test_inside_refuses_every_way_out(tmp_path: Path, relative: str) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file-link").symlink_to(outside / "secret")
    with pytest.raises(NotServed):
        inside(root, relative)


def test_inside_serves_a_file_of_the_root_even_through_a_symlink_within(tmp_path) -> None:
    (tmp_path / "root/a b").mkdir(parents=True)
    (tmp_path / "root/a b/f.png").write_bytes(b"png")
    (tmp_path / "root/alias").symlink_to(tmp_path / "root/a b", target_is_directory=True)
    assert inside(tmp_path / "root", "a%20b/f.png") == (tmp_path / "root/a b/f.png").resolve()
    assert inside(tmp_path / "root", "alias/f.png").read_bytes() == b"png"


def test_a_record_is_found_where_the_web_host_mounts_the_records(tmp_path) -> None:
    # The builder wrote /builder/data/records/r.xml; the web host mounts that folder at
    # /web/data/records, where the builder's path does not exist.
    records = tmp_path / "web/data/records"
    records.mkdir(parents=True)
    (records / "2024-03-05_Titan_abc.xml").write_text("<record/>")
    written = str(tmp_path / "builder/data/records/2024-03-05_Titan_abc.xml")
    assert record_file(records, written) == (records / "2024-03-05_Titan_abc.xml").resolve()
    # Only a file of that name directly in the folder, never a way out of it.
    outside = tmp_path / "outside.xml"
    outside.write_text("secret")
    (records / "linked.xml").symlink_to(outside)
    for path in (str(tmp_path / "builder/data/records/missing.xml"),
                 str(tmp_path / "builder/linked.xml"), str(tmp_path / "builder/.."),
                 "/builder/records/..", "C:\\records\\..", ""):
        with pytest.raises(NotServed):
            record_file(records, path)


def test_serve_without_settings_says_what_is_missing(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "NX_DB_PATH is not set" in result.stderr


def test_tokens_command_needs_a_database(tmp_path: Path) -> None:
    result = run(["tokens", "list"], tmp_path, {"NX_DB_PATH": str(tmp_path / "none.db")})
    assert result.returncode == 1 and "nexuslims db init" in result.stderr


@pytest.mark.parametrize("command", [["serve"], ["tokens"], ["tokens", "create"],
                                     ["tokens", "list"], ["tokens", "revoke"]])
def test_help_of_the_web_commands(command: list[str], tmp_path: Path) -> None:
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: nexuslims")


def test_web_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    unit = (REPO / "systemd/nexuslims-web.service").read_text()
    assert "nexuslims serve" in unit and "Restart=on-failure" in unit
    fake = tmp_path / "bin/nexuslims"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    (tmp_path / "nexuslims-web.service").write_text(
        unit.replace("/opt/nexuslims/venv/bin/nexuslims", str(fake)))
    result = subprocess.run([analyze, "verify", "nexuslims-web.service"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_index_tokens_and_passes_on_postgres(pg_url: str) -> None:
    import sqlalchemy as sa

    url = pg_url  # a new, empty database on the suite's PostgreSQL cluster
    db.init_db(url)
    engine = db.make_engine(url)
    try:
        db.add_instrument(engine, Instrument("titan", "T"))
        for i in range(3):
            index_db.save_entry(engine, entry_from_xml(_RECORD.replace(
                b"Ni-Ti alloy", f"Ni-Ti alloy QX-{i}".encode()), f"/r{i}.xml", f"s{i}"),
                now=NOW)
        db.log_session_event(engine, "s1", "titan", NOW, "START", "COMPLETED")
        assert search_records(engine, RecordQuery(text="qx-1"))[0] == 1
        assert search_records(engine, RecordQuery(text="ALLOY", status="COMPLETED"))[0] == 1
        assert search_records(engine, RecordQuery(experimenter="ali"))[0] == 3
        _, token = create_token(engine, instrument="titan")
        found = check_token(engine, token)
        assert found is not None and found.instrument == "titan"
        record_pass(engine, PassRecord(NOW, NOW, OK, built=1))
        assert health(engine, 60, NOW).ok
    finally:
        meta = sa.MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
        engine.dispose()
