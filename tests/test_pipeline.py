"""One pass end to end, on copies of real instrument files with modification times we set.

The user-facing checks run the real command (``python -m nexuslims process``) against a
real SQLite database; the rest call :func:`nexuslims.builder.run.run_pass` directly.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status
from nexuslims.record.validate import validate_record

NS = {"nx": "https://data.nist.gov/od/dm/nexus/experiment/v1.0"}
NY = ZoneInfo("America/New_York")
START = dt.datetime(2024, 3, 5, 9, 0)  # naive wall clock, as session loggers write it
END = dt.datetime(2024, 3, 5, 12, 0)
NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)

# (corpus file, minutes after START): three bursts of acquisitions.
FILES = [
    ("digitalmicrograph/test_STEM_image.dm3", 10.0),
    ("digitalmicrograph/test_diffraction_pattern.dm3", 10.5),
    ("digitalmicrograph/test-EELS_spectrum.dm3", 11.2),
    ("tia/64x64_TEM_images_acquire_1.ser", 70.0),
    ("tia/64x64_TEM_images_acquire.emi", 70.0),
    ("tia/16x16_STEM_BF_DF_acquire_1.ser", 71.0),
    ("tia/16x16_STEM_BF_DF_acquire_2.ser", 71.0),
    ("tia/16x16_STEM_BF_DF_acquire.emi", 71.0),
    ("tiff/FEI-Helios-Ebeam-16bits.tif", 150.0),
    ("nexuslims/quad1image_001_no_beam_scan_or_system_meta.tif", 150.7),
    ("digitalmicrograph/multi_signal.dm3", 151.5),
]


def epoch(minutes: float) -> float:
    return (START.replace(tzinfo=NY) + dt.timedelta(minutes=minutes)).timestamp()


def log_session(engine, ident: str, instrument: str = "titan", start=START, end=END,
                user: str | None = "alice") -> None:
    for event, when in ((EventType.START, start), (EventType.END, end)):
        if when is not None:
            db.log_session_event(engine, ident, instrument, when, event, Status.TO_BE_BUILT, user)


@pytest.fixture
def site(tmp_path: Path, corpus: Path):
    """A facility: instrument data with real files in three bursts, a DB, one session."""
    store = tmp_path / "instrument-data" / "Titan" / "alice" / "project A&B"
    store.mkdir(parents=True)
    for rel, minutes in FILES:
        target = store / Path(rel).name
        shutil.copyfile(corpus / rel, target)
        os.utime(target, (epoch(minutes), epoch(minutes)))
    # A corrupt file with a known extension: it must not fail the session.
    bad = store / "broken acquisition.dm3"
    bad.write_bytes(b"DM3 but not really" * 10)
    os.utime(bad, (epoch(151.0), epoch(151.0)))
    # A file outside the session window.
    late = store / "next_user.dm3"
    shutil.copyfile(corpus / "digitalmicrograph/image-2D-test-1.dm3", late)
    os.utime(late, (epoch(200), epoch(200)))

    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
           "NX_DATA_PATH": str(tmp_path / "data"),
           "NX_DB_PATH": str(tmp_path / "nexuslims.db"),
           "NX_EXTRACT_WORKERS": "2"}
    settings = load_settings(env)
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="titan", filestore_path="Titan",
                                         schema_name="FEI Titan TEM", timezone="America/New_York"))
    log_session(engine, "session-1")
    yield settings, engine, env, tmp_path
    engine.dispose()


def statuses(settings, ident: str) -> list[tuple[str, str]]:
    path = settings.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        return con.execute("SELECT event_type, record_status FROM session_log "
                           "WHERE session_identifier = ? ORDER BY id_session_log",
                           (ident,)).fetchall()


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "nexuslims", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.corpus
def test_a_pass_builds_a_valid_record_from_real_files(site, reference_schema: Path) -> None:
    settings, engine, env, tmp_path = site
    result = run_cli(["process"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 built, 0 failed" in result.stdout

    records = sorted(settings.records_path.glob("*.xml"))
    assert [r.name for r in records] == ["2024-03-05_titan_session-1.xml"]
    xml = records[0].read_bytes()
    assert validate_record(xml) == []
    assert validate_record(xml, reference_schema) == []

    doc = etree.fromstring(xml)
    assert doc.findtext("nx:summary/nx:instrument", namespaces=NS) == "FEI Titan TEM"
    assert doc.find("nx:summary/nx:instrument", NS).get("pid") == "titan"
    assert doc.findtext("nx:summary/nx:experimenter", namespaces=NS) == "alice"
    assert doc.findtext("nx:summary/nx:reservationStart", namespaces=NS).startswith(
        "2024-03-05T09:00:00-05:00")
    activities = doc.findall("nx:acquisitionActivity", NS)
    assert len(activities) == 3
    names = [[d.findtext("nx:name", namespaces=NS) for d in a.findall("nx:dataset", NS)]
             for a in activities]
    assert names[0] == ["test_STEM_image.dm3", "test_diffraction_pattern.dm3",
                        "test-EELS_spectrum.dm3"]
    # One dataset per .ser; the .emi files are not datasets of their own.
    assert sorted(names[1]) == ["16x16_STEM_BF_DF_acquire_1.ser",
                                "16x16_STEM_BF_DF_acquire_2.ser",
                                "64x64_TEM_images_acquire_1.ser"]
    assert "broken acquisition.dm3" in names[2]
    assert any(n.startswith("multi_signal.dm3 (1 of ") for n in names[2])
    assert "next_user.dm3" not in sum(names, [])

    types = {d.findtext("nx:name", namespaces=NS): d.get("type")
             for d in doc.iter(f"{{{NS['nx']}}}dataset")}
    assert types["test_diffraction_pattern.dm3"] == "Diffraction"
    assert types["test-EELS_spectrum.dm3"] == "Spectrum"
    assert types["test_STEM_image.dm3"] == "Image"
    locations = [d.findtext("nx:location", namespaces=NS)
                 for d in doc.iter(f"{{{NS['nx']}}}dataset")]
    assert "Titan/alice/project%20A%26B/test_STEM_image.dm3" in locations

    # Sidecars and previews mirror the instrument path under NX_DATA_PATH.
    mirrored = settings.data_path / "Titan/alice/project A&B"
    assert (mirrored / "test_STEM_image.dm3.json").is_file()
    assert (mirrored / "test_STEM_image.dm3.thumb.png").is_file()
    previews = [d.findtext("nx:preview", namespaces=NS)
                for d in doc.iter(f"{{{NS['nx']}}}dataset")]
    assert all(p for p in previews)  # even the broken file gets a placeholder preview

    assert statuses(settings, "session-1") == [
        ("START", "COMPLETED"), ("END", "COMPLETED"), ("RECORD_GENERATION", "COMPLETED")]

    detail = run_cli(["sessions", "show", "session-1"], env, tmp_path)
    assert detail.returncode == 0, detail.stderr
    for stage in ("find_files", "cluster", "extract", "build", "validate", "export"):
        assert stage in detail.stdout

    # A second pass finds nothing left to do.
    again = run_cli(["process"], env, tmp_path)
    assert again.returncode == 0 and "0 built, 0 failed, 0 skipped" in again.stdout


@pytest.mark.corpus
def test_dry_run_reports_activities_and_writes_nothing(site) -> None:
    settings, engine, env, tmp_path = site
    db_file = Path(settings.db_url.removeprefix("sqlite:///"))
    before = db_file.read_bytes()
    result = run_cli(["process", "--dry-run", "-v"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "activity 0: 3 file(s)" in result.stdout
    assert "Titan/alice/project A&B/test_STEM_image.dm3" in result.stdout
    assert "Dry run finished" in result.stdout and "1 would build" in result.stdout
    assert not settings.data_path.exists()
    assert db_file.read_bytes() == before


@pytest.mark.corpus
def test_a_second_pass_while_one_runs_exits_quietly(site) -> None:
    settings, engine, env, tmp_path = site
    from nexuslims.builder.lease import builder_lock

    with builder_lock(settings):
        result = run_cli(["process"], env, tmp_path)
    assert result.returncode == 0
    assert "holds" in result.stderr and "nothing to do" in result.stderr
    assert statuses(settings, "session-1")[0] == ("START", "TO_BE_BUILT")
    assert not settings.records_path.exists()


def test_no_files_waits_then_becomes_no_files_found(tmp_path: Path) -> None:
    (tmp_path / "instr/Empty").mkdir(parents=True)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instr"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_DB_PATH": str(tmp_path / "db.sqlite")})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="empty", filestore_path="Empty", timezone="UTC"))
    log_session(engine, "quiet", instrument="empty")

    soon = dt.datetime(2024, 3, 5, 13, 0, tzinfo=dt.UTC)  # one hour after the end
    summary = run_pass(settings, now=soon)
    assert [o.status for o in summary.outcomes] == ["TO_BE_BUILT"]
    assert statuses(settings, "quiet") == [("START", "TO_BE_BUILT"), ("END", "TO_BE_BUILT")]
    assert db.session_detail(engine, "quiet").attempts == []  # no trace of an attempt

    summary = run_pass(settings, now=NOW)
    assert [o.status for o in summary.outcomes] == [Status.NO_FILES_FOUND]
    assert statuses(settings, "quiet")[-1] == ("RECORD_GENERATION", "NO_FILES_FOUND")
    engine.dispose()


def small_site(tmp_path: Path, **instrument: str):
    """A site with one text file at 10:00 UTC in instrument "scope"'s store (inclusive)."""
    store = tmp_path / "instr/Scope"
    store.mkdir(parents=True)
    note = store / "notes.txt"
    note.write_text("operator notes\n")
    t = dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC).timestamp()
    os.utime(note, (t, t))
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instr"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_DB_PATH": str(tmp_path / "db.sqlite"),
                              "NX_FILE_STRATEGY": "inclusive"})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path="Scope", timezone="UTC",
                                         **instrument))
    return settings, engine


def test_bad_sessions_fail_alone(tmp_path: Path) -> None:
    settings, engine = small_site(tmp_path)
    log_session(engine, "no-end", instrument="scope", end=None)
    log_session(engine, "good", instrument="scope")
    summary = run_pass(settings, now=NOW)
    by_id = {o.identifier: o for o in summary.outcomes}
    assert by_id["no-end"].status == Status.ERROR
    assert "no END" in by_id["no-end"].message
    assert by_id["good"].status == Status.COMPLETED
    assert statuses(settings, "no-end")[0] == ("START", "ERROR")
    assert summary.built == 1 and summary.failed == 1
    engine.dispose()


def test_an_invalid_record_is_an_error_with_the_message(tmp_path: Path, monkeypatch) -> None:
    settings, engine = small_site(tmp_path)
    log_session(engine, "s", instrument="scope")
    # Fault injection: a builder that produces a record the schema rejects.
    import nexuslims.builder.session as pipeline

    monkeypatch.setattr(pipeline, "record_tree", lambda *a, **k: etree.fromstring(
        b'<Experiment xmlns="https://data.nist.gov/od/dm/nexus/experiment/v1.0">'
        b"<title>t</title><bogus/></Experiment>"))
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.ERROR
    assert "does not validate" in outcome.message and "bogus" in outcome.message
    detail = db.session_detail(engine, "s")
    (attempt,) = detail.attempts
    validate = [st for st in attempt.stages if st.name == "validate"][0]
    assert validate.status == "error" and "bogus" in validate.error
    assert not settings.records_path.exists() or not list(settings.records_path.iterdir())
    engine.dispose()


def test_an_unreachable_calendar_leaves_the_session_for_later(tmp_path: Path,
                                                               monkeypatch) -> None:
    from nexuslims import reservations
    from nexuslims.errors import HarvesterError

    class Down:
        name = "down"

        def reservation_for(self, session):
            raise HarvesterError("calendar https://cal.example/ did not answer within 10 s")

    monkeypatch.setattr(reservations, "_FACTORIES",
                        {"down": "tests.test_pipeline:_down_factory"})
    globals()["_down_factory"] = lambda settings: Down()
    store = tmp_path / "instr/Scope"
    store.mkdir(parents=True)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instr"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_DB_PATH": str(tmp_path / "db.sqlite")})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path="Scope", timezone="UTC",
                                         harvester="down"))
    db.add_instrument(engine, Instrument(pid="plain", filestore_path="Scope", timezone="UTC"))
    log_session(engine, "needs-calendar", instrument="scope")
    log_session(engine, "no-calendar", instrument="plain")
    by_id = {o.identifier: o for o in run_pass(settings, now=NOW).outcomes}
    assert by_id["needs-calendar"].status == "TO_BE_BUILT"
    assert by_id["needs-calendar"].problem == "calendar"
    assert by_id["no-calendar"].status == Status.NO_FILES_FOUND  # the others go on
    assert statuses(settings, "needs-calendar") == [("START", "TO_BE_BUILT"),
                                                    ("END", "TO_BE_BUILT")]
    (attempt,) = db.session_detail(engine, "needs-calendar").attempts
    assert attempt.status == "DEFERRED" and "did not answer" in attempt.error
    engine.dispose()


def test_from_and_to_select_sessions_by_start(tmp_path: Path) -> None:
    settings, engine = small_site(tmp_path)
    log_session(engine, "march-5", instrument="scope")
    log_session(engine, "march-7", instrument="scope", start=dt.datetime(2024, 3, 7, 9),
                end=dt.datetime(2024, 3, 7, 12))
    day = dt.datetime(2024, 3, 6, tzinfo=dt.UTC)
    summary = run_pass(settings, since=day, now=NOW)
    assert [o.identifier for o in summary.outcomes] == ["march-7"]
    assert statuses(settings, "march-5")[0] == ("START", "TO_BE_BUILT")
    summary = run_pass(settings, until=day, now=NOW)
    assert [(o.identifier, o.status) for o in summary.outcomes] == [("march-5",
                                                                     Status.COMPLETED)]
    engine.dispose()
