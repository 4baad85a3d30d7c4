"""``nexuslims process`` as cron runs it: quiet unless something needs a person; file modes."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.sessions import logbook
from tests.cli.conftest import cli


def scope_with_a_file(cli_site, capsys) -> None:
    """Instrument "scope" with one text file modified on 2024-03-05 at 10:00 UTC."""
    store = cli_site.root / "instr/Scope"
    store.mkdir()
    note = store / "notes.txt"
    note.write_text("operator notes\n")
    t = dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC).timestamp()
    os.utime(note, (t, t))
    assert cli(capsys, "instruments", "add", "scope", "--filestore-path", "Scope",
               "--timezone", "UTC")[0] == 0


@pytest.mark.slow
def test_quiet_pass_prints_only_what_needs_attention_once(cli_site, capsys) -> None:
    scope_with_a_file(cli_site, capsys)
    engine = db.make_engine(cli_site.settings_url())
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 11),
                        identifier="fine-session")
    logbook.start_session(engine, "scope", identifier="broken-session",
                          now=dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC))
    db.set_session_status(engine, "broken-session", "scope", "TO_BE_BUILT")  # no END row
    engine.dispose()

    first = cli_site.subprocess("-q", "process")
    assert first.returncode == 0, first.stderr
    both = first.stdout + first.stderr
    assert both.count("broken-session") == 1, both
    assert "broken-session [scope]" in first.stdout and "ERROR" in first.stdout
    assert "fine-session" not in both and "INFO" not in both

    idle = cli_site.subprocess("process", "-q")
    assert (idle.returncode, idle.stdout, idle.stderr) == (0, "", "")
    from nexuslims.builder.lease import builder_lock

    with builder_lock(cli_site.settings()):  # another pass is running
        overlapping = cli_site.subprocess("-q", "process")
    assert (overlapping.returncode, overlapping.stdout, overlapping.stderr) == (0, "", "")
    loud = cli_site.subprocess("process")
    assert "Pass finished" in loud.stdout and "INFO" in loud.stderr
    # The pass logs keep everything, -q or not.
    logs = "".join(p.read_text() for p in (cli_site.root / "data/logs").rglob("*.log"))
    assert "broken-session" in logs and "fine-session: COMPLETED" in logs


def test_from_after_to_is_a_usage_error(cli_site, capsys) -> None:
    code, out, err = cli(capsys, "process", "--from", "2024-03-06", "--to", "2024-03-05")
    assert code == 2 and "--from 2024-03-06" in err and "is not before --to" in err
    assert not (cli_site.root / "data").exists()


def test_db_current_on_an_empty_database_says_to_initialise_it(tmp_path, capsys,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("NX_DB_PATH", str(tmp_path / "none.sqlite"))
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "db", "current")
    assert code == 1 and out == "" and "run `nexuslims db init`" in err
    assert cli(capsys, "db", "init")[0] == 0
    code, out, err = cli(capsys, "db", "current")
    assert code == 0 and out.strip() == db.head_revision()


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}


def test_written_files_honour_the_umask(cli_site, capsys) -> None:
    scope_with_a_file(cli_site, capsys)
    engine = db.make_engine(cli_site.settings_url())
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 11),
                        identifier="s")
    engine.dispose()
    with (cli_site.root / ".env").open("a") as env:
        env.write(f"NX_LOCAL_EXPORT_PATH={cli_site.root / 'published'}\n")
    result = cli_site.subprocess("process", umask=0o027)
    assert result.returncode == 0, result.stderr
    records = modes(cli_site.root / "data/records")
    sidecars = modes(cli_site.root / "data/Scope")
    copies = modes(cli_site.root / "published")
    assert len(records) == 1 and "notes.txt.json" in sidecars and len(copies) == 1
    assert set(records.values()) | set(sidecars.values()) | set(copies.values()) == {0o640}
    leftovers = [p for p in (cli_site.root / "data").rglob("*.tmp")]
    assert leftovers == []


@pytest.mark.corpus
def test_previews_honour_the_umask(cli_site, corpus: Path) -> None:
    previews = cli_site.root / "previews"
    result = cli_site.subprocess("extract", "--preview-dir", str(previews),
                                 str(corpus / "digitalmicrograph/test_STEM_image.dm3"),
                                 umask=0o022)
    assert result.returncode == 0, result.stderr
    written = modes(previews)
    assert any(name.endswith(".png") for name in written), written
    assert set(written.values()) == {0o644}



def test_the_summary_counts_say_what_they_count(capsys) -> None:
    from nexuslims.builder.outcome import PassSummary, SessionOutcome
    from nexuslims.cli.process import print_summary

    def outcome(ident: str, status: str, message: str | None = None, **counts: int):
        return SessionOutcome(ident, "scope", status, message=message,
                              activities=[["a.dm3"]] if counts else [], **counts)

    clean = outcome("clean", "COMPLETED", files=3, datasets=3)
    unreadable = outcome("unreadable", "COMPLETED", files=3, datasets=3, failures=1)
    print_summary(PassSummary([clean, unreadable], 1.0, False))
    out = capsys.readouterr().out
    assert "with warnings" not in out
    assert "3 file(s) in 1 activity, 3 dataset(s)\n" in out
    assert "3 dataset(s), 1 of them unreadable (file information only)" in out

    waiting = outcome("waiting", "TO_BE_BUILT", "no files yet; will look again until 2 days")
    calendar = outcome("calendar", "TO_BE_BUILT", "calendar https://cal/ did not answer")
    unexported = outcome("unexported", "BUILT_NOT_EXPORTED", "cdcs: unavailable")
    print_summary(PassSummary([clean, waiting], 1.0, False), quiet=True)
    assert capsys.readouterr().out == ""
    print_summary(PassSummary([clean, waiting, calendar, unexported], 1.0, False), quiet=True)
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[:-1]] == ["calendar", "unexported"]
    assert out.splitlines()[-1].startswith("Pass finished")


@pytest.mark.slow
def test_quiet_reports_an_unreachable_calendar_on_the_pass_that_tried_not_during_its_backoff(
        cli_site, capsys) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on: the calendar is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (cli_site.root / ".env").open("a") as env:
        env.write("NX_SHAREPOINT_USER=DOMAIN\\builder\nNX_SHAREPOINT_PASSWORD=pw\n"
                  "NX_SHAREPOINT_RETRIES=0\nNX_SHAREPOINT_TZ=UTC\n")
    scope_with_a_file(cli_site, capsys)
    assert cli(capsys, "instruments", "edit", "scope", "--harvester", "sharepoint")[0] == 0
    engine = db.make_engine(cli_site.settings_url())
    import sqlalchemy as sa

    from nexuslims.db.schema import instruments
    with engine.begin() as conn:
        conn.execute(sa.update(instruments).values(
            api_url=f"http://127.0.0.1:{port}/_vti_bin/ListData.svc/Scope"))
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 11),
                        identifier="calendar-down")
    engine.dispose()

    tried = cli_site.subprocess("-q", "process")
    assert tried.returncode == 0, tried.stderr
    assert (tried.stdout + tried.stderr).count("calendar-down") == 1, tried.stdout + tried.stderr
    in_backoff = cli_site.subprocess("-q", "process")
    assert (in_backoff.returncode, in_backoff.stdout, in_backoff.stderr) == (0, "", "")
    loud = cli_site.subprocess("process")
    assert "calendar-down" in loud.stdout  # still listed without -q, with why it waits


@pytest.mark.slow
def test_quiet_reports_an_unmounted_folder_once_per_pass_by_instrument(cli_site, capsys) -> None:
    assert cli(capsys, "instruments", "add", "scope", "--filestore-path", "Unmounted",
               "--timezone", "UTC")[0] == 0
    engine = db.make_engine(cli_site.settings_url())
    for n in range(3):
        logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5 + n, 9),
                            dt.datetime(2024, 3, 5 + n, 11), identifier=f"share-down-{n}")
    engine.dispose()
    ran = cli_site.subprocess("-q", "process")
    assert ran.returncode == 0 and ran.stdout == "", ran.stdout + ran.stderr
    assert ran.stderr.count("instrument scope skipped this pass") == 1, ran.stderr
    assert "share-down" not in ran.stderr  # one line for the instrument, not one per session


def test_a_pass_whose_outcomes_cannot_be_recorded_says_so_and_fails(cli_site, capsys) -> None:
    """Issue 19: with a database that refuses the outcome, the pass and doctor said 0 and
    the session was rebuilt on every pass, silently."""
    import sqlite3

    scope_with_a_file(cli_site, capsys)
    engine = db.make_engine(cli_site.settings_url())
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 11),
                        identifier="unrecordable")
    engine.dispose()
    # The session log refuses every status change, as a damaged page under it would.
    with sqlite3.connect(cli_site.settings_url().removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE UPDATE ON session_log "
                     "BEGIN SELECT RAISE(ABORT, 'database disk image is malformed'); END")
    conn.close()
    result = cli_site.subprocess("-q", "process")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "could not be recorded in the database" in result.stderr
    assert "malformed" in result.stderr and "nexuslims doctor" in result.stderr


@pytest.mark.corpus
def test_a_workers_warning_reaches_the_pass_log_and_obeys_quiet(cli_site, capsys, corpus) -> None:
    """A DM3 cut short is read in a worker, whose warning used to go to Python's
    last-resort handler: printed bare on stderr under -q, and missing from the pass's log
    file. It is now logged by the pass: formatted, in the log file, silent under -q."""
    store = cli_site.root / "instr/Scope"
    store.mkdir()
    cut = store / "cut.dm3"
    cut.write_bytes((corpus / "digitalmicrograph/test_STEM_image.dm3").read_bytes()[:20_000])
    hollow = store / "hollow.tif"  # a TIFF header and no page: tifffile warns of it
    hollow.write_bytes(b"II*\x00" + b"\x00" * 60)
    t = dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC).timestamp()
    for path in (cut, hollow):
        os.utime(path, (t, t))
    assert cli(capsys, "instruments", "add", "scope", "--filestore-path", "Scope",
               "--timezone", "UTC")[0] == 0
    engine = db.make_engine(cli_site.settings_url())
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 11),
                        identifier="cut-session")
    engine.dispose()

    quiet = cli_site.subprocess("-q", "process")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    [log] = (cli_site.root / "data/logs").rglob("*_process.log")
    lines = log.read_text().splitlines()
    [line] = [x for x in lines if "cut.dm3" in x]
    assert " WARNING nexuslims.extractors.registry: " in line  # formatted, with its level
    assert "could not read as Gatan DigitalMicrograph: the file ends before its data does" \
        in line
    # A library's warning in a worker: logged too, under ours, saying whose it is.
    assert any(" WARNING nexuslims.extract.workers: tifffile: " in x and "hollow.tif" in x
               for x in lines), lines
    # Each TIFF reader tries the hollow file and tifffile warns each time: said once.
    assert sum("contains no pages" in x for x in lines) == 1, lines
