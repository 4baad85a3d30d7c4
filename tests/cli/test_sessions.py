"""``nexuslims sessions``: logging sessions by hand, resetting them, listing and showing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.sessions import logbook
from tests.cli.conftest import cli

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def add_scope(capsys, tz: str = "America/New_York") -> None:
    assert cli(capsys, "instruments", "add", "scope", "--filestore-path", "Scope",
               "--timezone", tz)[0] == 0
    assert cli(capsys, "instruments", "list")[0] == 0


def test_add_start_and_end_write_the_session_loggers_rows(cli_site, capsys) -> None:
    (cli_site.root / "instr/Scope").mkdir()
    add_scope(capsys)
    code, out, err = cli(capsys, "sessions", "add", "scope", "--start", "2024-03-05T09:00",
                         "--end", "2024-03-05T11:30", "--user", "alice", "--id", "by-hand")
    assert (code, err) == (0, "")
    # Naive times are the instrument's wall clock (New York, UTC-5 in March).
    assert "2024-03-05T09:00:00-05:00 to 2024-03-05T11:30:00-05:00: TO_BE_BUILT" in out

    code, out, err = cli(capsys, "sessions", "start", "scope", "--user", "bob")
    assert (code, err) == (0, "")
    started = out.strip().splitlines()[-1]
    assert logbook.session_status(db.make_engine(cli_site.settings_url()), started) \
        == "WAITING_FOR_END"
    code, out, _ = cli(capsys, "sessions", "list", "--status", "waiting_for_end", "--json")
    assert code == 0 and started in out and "by-hand" not in out
    code, out, err = cli(capsys, "sessions", "end", started)
    assert (code, err) == (0, "") and f"ended session {started}" in out

    code, out, _ = cli(capsys, "sessions", "show", started)
    rows = [[line.split()[i] for i in (1, 5)] for line in out.splitlines()[2:4]]  # TIME: 3 words
    assert rows == [["START", "TO_BE_BUILT"], ["END", "TO_BE_BUILT"]]
    summary = run_pass(cli_site.settings(), now=NOW)
    assert {o.identifier: o.status for o in summary.outcomes} == {
        "by-hand": "NO_FILES_FOUND", started: "TO_BE_BUILT"}  # ended just now: files may come


def test_logging_errors_are_one_line_exit_2_and_write_nothing(cli_site, capsys) -> None:
    add_scope(capsys)
    assert cli(capsys, "sessions", "add", "scope", "--start", "2024-03-05T09:00", "--end",
               "2024-03-05T10:00", "--id", "taken")[0] == 0
    assert cli(capsys, "sessions", "start", "scope", "--id", "open")[0] == 0
    before = cli_site.db_rows()
    for args, message in [
        (("add", "nope", "--start", "2024-03-05T09:00", "--end", "2024-03-05T10:00"),
         "unknown instrument 'nope'"),
        (("add", "scope", "--start", "2024-03-05T09:00", "--end", "2024-03-05T08:00"),
         "is not after the start"),
        (("add", "scope", "--start", "2024-03-05T09:00", "--end", "2024-03-05T10:00",
          "--id", "taken"), "session id 'taken' is already used"),
        (("start", "scope", "--id", "open"), "session id 'open' is already used"),
        (("start", "nope"), "unknown instrument 'nope'"),
        (("end", "taken"), "session 'taken' has already ended"),
        (("end", "ghost"), "no session 'ghost'"),
        (("reset", "ghost"), "no session 'ghost'"),
        (("reset", "open"), "has not ended"),
        (("reset", "taken"), "already TO_BE_BUILT"),
        (("list", "--status", "bogus"), "use one of WAITING_FOR_END, TO_BE_BUILT"),
        (("add", "scope", "--start", "yesterday", "--end", "2024-03-05T10:00"),
         "'yesterday' is not a time"),
    ]:
        code, out, err = cli(capsys, "sessions", *args)
        assert code == 2, (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err and out == ""
        if args[0] != "add" or "yesterday" not in args:
            assert len(err.strip().splitlines()) == 1, err
    assert cli_site.db_rows() == before


def test_an_error_session_waits_for_a_reset_then_is_built_again(cli_site, capsys) -> None:
    (cli_site.root / "instr/Scope").mkdir()
    add_scope(capsys, tz="UTC")
    engine = db.make_engine(cli_site.settings_url())
    logbook.start_session(engine, "scope", identifier="no-end",
                          now=dt.datetime(2024, 3, 5, 9, tzinfo=dt.UTC))
    # 1.x-style: an END row that never came makes the session ERROR once it is marked so.
    db.set_session_status(engine, "no-end", "scope", "TO_BE_BUILT")
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 10),
                        identifier="empty")
    first = {o.identifier: o.status for o in run_pass(cli_site.settings(), now=NOW).outcomes}
    assert first == {"no-end": "ERROR", "empty": "NO_FILES_FOUND"}
    assert run_pass(cli_site.settings(), now=NOW).outcomes == []  # not rebuilt on its own

    code, out, err = cli(capsys, "sessions", "reset", "no-end", "empty")
    assert (code, err) == (0, "")
    assert "session no-end: TO_BE_BUILT" in out and "session empty: TO_BE_BUILT" in out
    code, out, _ = cli(capsys, "sessions", "list", "--status", "to_be_built")
    assert "no-end" in out and "empty" in out
    assert len(db.session_detail(engine, "empty").attempts) == 1  # history kept
    again = {o.identifier: o.status for o in run_pass(cli_site.settings(), now=NOW).outcomes}
    assert again == first
    assert len(db.session_detail(engine, "empty").attempts) == 2

    # A session with an unfinished attempt is being built by a pass: refused.
    db.start_attempt(engine, "empty", "scope")
    before = cli_site.db_rows()
    code, out, err = cli(capsys, "sessions", "reset", "no-end", "empty")
    assert code == 2 and "'empty' is being built" in err and out == ""
    assert cli_site.db_rows() == before and logbook.session_status(engine, "no-end") == "ERROR"
    engine.dispose()


def test_show_numbers_attempts_within_the_session_and_labels_success(cli_site, capsys) -> None:
    scope = cli_site.root / "instr/Scope"
    scope.mkdir()
    add_scope(capsys, tz="UTC")
    note = scope / "notes.txt"
    note.write_text("operator notes\n")
    t = dt.datetime(2024, 3, 6, 9, 30, tzinfo=dt.UTC).timestamp()
    import os

    os.utime(note, (t, t))
    engine = db.make_engine(cli_site.settings_url())
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 5, 9), dt.datetime(2024, 3, 5, 10),
                        identifier="first")
    logbook.add_session(engine, "scope", dt.datetime(2024, 3, 6, 9), dt.datetime(2024, 3, 6, 10),
                        identifier="second")
    run_pass(cli_site.settings(), now=NOW)
    code, out, _ = cli(capsys, "sessions", "show", "second")
    assert code == 0
    assert "\nattempt 1: COMPLETED" in out and "attempt 2" not in out
    assert "error: outbox: file://" not in out and "exported: outbox: file://" in out
    code, out, _ = cli(capsys, "sessions", "show", "first")
    assert "\nattempt 1: NO_FILES_FOUND" in out and "reason: no files under" in out
    engine.dispose()


def test_a_closed_pipe_ends_the_listing_quietly(cli_site, capsys) -> None:
    add_scope(capsys, tz="UTC")
    import sqlite3

    with sqlite3.connect(cli_site.env["NX_DB_PATH"]) as con:  # more than a pipe buffer holds
        con.executemany("INSERT INTO session_log (session_identifier, instrument, timestamp, "
                        "event_type, record_status) VALUES (?, 'scope', ?, ?, 'TO_BE_BUILT')",
                        [(f"s-{n:05d}", f"2024-01-01T{n % 24:02d}:00:00", event)
                         for n in range(1500) for event in ("START", "END")])
    listing = subprocess.Popen([sys.executable, "-m", "nexuslims", "sessions", "list"],
                               cwd=cli_site.root, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert listing.stdout is not None and listing.stdout.readline().startswith("SESSION")
    listing.stdout.close()  # what `| head -1` does
    _, err = listing.communicate(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert listing.returncode == 0
