"""Passing faults leave no permanent damage (issues 8 and 10), on real sites.

A real file system that is full (a tmpfs we mount), an instrument folder that is missing
or that the builder may not read (as a user permissions apply to), sessions whose end
is still ahead: each leaves its session TO_BE_BUILT with the reason in its attempt, and
a later pass builds it once the fault is gone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.model.session import EventType, Instrument, Status
from tests.privileges import NOBODY, run_as_nobody

START = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
END = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)  # past NX_FILE_DELAY_DAYS


def log_session(engine, ident: str, start=START, end=END, instrument: str = "scope") -> None:
    for event, when in ((EventType.START, start), (EventType.END, end)):
        db.log_session_event(engine, ident, instrument, when, event, Status.TO_BE_BUILT, "ann")


def put_dm3(corpus: Path, folder: Path, when: dt.datetime,
            name: str = "image.dm3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copyfile(corpus / "digitalmicrograph/test_STEM_image.dm3", target)
    os.utime(target, (when.timestamp(), when.timestamp()))
    return target


def make_site(base: Path, filestore: str = "Scope", **env: str):
    (base / "instr").mkdir(parents=True, exist_ok=True)
    settings = load_settings({"NX_INSTRUMENT_DATA_PATH": str(base / "instr"),
                              "NX_DATA_PATH": str(base / "data"),
                              "NX_DB_PATH": str(base / "db.sqlite"),
                              "NX_EXTRACT_WORKERS": "1", **env})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path=filestore, timezone="UTC"))
    return settings, engine


def status_of(engine, ident: str) -> str:
    status = db.session_detail(engine, ident).status
    assert status is not None
    return status


def sessions_show(settings, ident: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update({"NX_INSTRUMENT_DATA_PATH": str(settings.instrument_data_path),
                "NX_DATA_PATH": str(settings.data_path),
                "NX_DB_PATH": settings.db_url.removeprefix("sqlite:///")})
    result = subprocess.run([sys.executable, "-m", "nexuslims", "sessions", "show", ident],
                            env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- disk full ---------------------------------------------------------------------------


@contextmanager
def full_filesystem(where: Path, size_kb: int = 4096) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` mounted at ``where`` and filled up; yields the filler file.

    Removing the filler frees the space. Unmounted on exit.
    """
    where.mkdir(parents=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as exc:
        # A file-size limit (RLIMIT_FSIZE) cannot stand in: it would also stop the
        # database file, which this test needs to keep working.
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {exc}")
    try:
        filler = where / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        yield filler
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@pytest.mark.corpus
@pytest.mark.parametrize("full", ["NX_DATA_PATH", "NX_RECORDS_PATH"])
def test_a_full_disk_leaves_sessions_to_be_built_until_space_is_freed(tmp_path, corpus, full):
    put_dm3(corpus, tmp_path / "instr/Scope", START + dt.timedelta(hours=1))
    mount = tmp_path / "full"
    with full_filesystem(mount) as filler:
        paths = {"NX_RECORDS_PATH": str(mount / "records")} if full == "NX_RECORDS_PATH" \
            else {"NX_DATA_PATH": str(mount / "data")}
        settings, engine = make_site(tmp_path, **paths)
        log_session(engine, "s1")
        log_session(engine, "s2", start=START + dt.timedelta(minutes=30))

        summary = run_pass(settings, now=NOW)
        for outcome in summary.outcomes:
            assert outcome.status == Status.TO_BE_BUILT, outcome.message
            assert "No space left on device" in outcome.message
            assert outcome.problem == "environment"
        assert summary.failed == 0
        for ident in ("s1", "s2"):
            assert status_of(engine, ident) == Status.TO_BE_BUILT
            (attempt,) = db.session_detail(engine, ident).attempts
            assert attempt.status == "DEFERRED" and "[Errno 28]" in attempt.error
        shown = sessions_show(settings, "s1", tmp_path)
        assert "DEFERRED" in shown and "No space left on device" in shown

        # Right away, the backoff holds the sessions back: no new attempt.
        (waiting, _) = run_pass(settings, now=NOW).outcomes
        assert waiting.status == Status.TO_BE_BUILT and "next try after" in waiting.message
        assert len(db.session_detail(engine, "s1").attempts) == 1

        filler.unlink()
        settings = dataclasses.replace(settings, retry_delay_minutes=0)  # no backoff
        summary = run_pass(settings, now=NOW)
        assert {o.identifier: o.status for o in summary.outcomes} == {
            "s1": Status.COMPLETED, "s2": Status.COMPLETED}
        for outcome in summary.outcomes:
            assert outcome.record_path is not None and outcome.record_path.is_file()
            assert outcome.problem is None
        engine.dispose()


# --- the instrument folder ---------------------------------------------------------------


def test_a_missing_instrument_folder_is_no_verdict(tmp_path):
    settings, engine = make_site(tmp_path, NX_RETRY_DELAY_MINUTES="0")
    log_session(engine, "old")  # long past NX_FILE_DELAY_DAYS
    summary = run_pass(settings, now=NOW)
    (outcome,) = summary.outcomes
    assert outcome.status == Status.TO_BE_BUILT and outcome.problem == "filestore"
    assert "does not exist" in outcome.message
    assert "Scope" in summary.skipped_instruments["scope"]
    # The preflight skips the instrument: its sessions are untouched, no attempt is made.
    assert status_of(engine, "old") == Status.TO_BE_BUILT
    assert db.session_detail(engine, "old").attempts == []

    # Mounted again (and truly empty): now "no files" is a verdict.
    (tmp_path / "instr/Scope").mkdir()
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.NO_FILES_FOUND and outcome.problem is None
    engine.dispose()


def test_an_unreadable_instrument_folder_is_no_verdict():
    base = Path(tempfile.mkdtemp(prefix="nexuslims-unreadable-", dir="/tmp"))
    try:
        base.chmod(0o755)
        settings, engine = make_site(base)
        engine.dispose()
        # The instrument folder can be read (the preflight lets it through), one of its
        # folders cannot: the walk is incomplete, so "no files" is no verdict.
        locked = base / "instr/Scope/locked"
        locked.mkdir(parents=True)
        (locked / "x.dm3").write_bytes(b"x")
        locked.chmod(0o700)  # root's; the builder runs as another user
        if os.geteuid() == 0:
            for path in (base, base / "db.sqlite", base / "instr", base / "instr/Scope"):
                os.chown(path, NOBODY, NOBODY)

        def one_pass() -> list:
            engine = db.make_engine(settings.db_url)
            log_session(engine, "old")
            (outcome,) = run_pass(settings, now=NOW).outcomes
            (attempt,) = db.session_detail(engine, "old").attempts
            engine.dispose()
            return [outcome.status, outcome.problem, attempt.status, attempt.error]

        status, problem, attempt_status, error = run_as_nobody(one_pass)  # type: ignore[misc]
        assert status == Status.TO_BE_BUILT and problem == "filestore"
        assert attempt_status == "DEFERRED" and "Permission denied" in error
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- time ----------------------------------------------------------------------------


def test_a_session_is_built_only_after_its_end_and_the_build_delay(tmp_path):
    settings, engine = make_site(tmp_path, NX_BUILD_DELAY_MINUTES="30")
    (tmp_path / "instr/Scope").mkdir(parents=True)
    clock = dt.datetime.now(dt.UTC)
    log_session(engine, "future", start=clock - dt.timedelta(hours=1),
                end=clock + dt.timedelta(hours=2))  # a logger's clock ahead
    log_session(engine, "just-ended", start=clock - dt.timedelta(hours=1),
                end=clock - dt.timedelta(minutes=10))
    by_id = {o.identifier: o for o in run_pass(settings).outcomes}
    assert by_id["future"].status == Status.TO_BE_BUILT
    assert "built from" in by_id["just-ended"].message  # within NX_BUILD_DELAY_MINUTES
    assert by_id["just-ended"].status == Status.TO_BE_BUILT
    # Whatever the caller says the time is, the machine's clock decides the end.
    by_id = {o.identifier: o for o in run_pass(settings, now=clock + dt.timedelta(days=5))
             .outcomes}
    assert by_id["future"].status == Status.TO_BE_BUILT
    assert "built from" in by_id["future"].message
    assert by_id["just-ended"].status == Status.NO_FILES_FOUND
    assert db.session_detail(engine, "future").attempts == []
    engine.dispose()


@pytest.mark.corpus
def test_no_files_says_when_files_lie_just_outside_the_window(tmp_path, corpus):
    settings, engine = make_site(tmp_path)
    store = tmp_path / "instr/Scope"
    # The instrument PC's clock is a day behind: files land 22-23 h before the session.
    put_dm3(corpus, store, START - dt.timedelta(hours=23), "a.dm3")
    put_dm3(corpus, store, START - dt.timedelta(hours=22), "b.dm3")
    put_dm3(corpus, store, END + dt.timedelta(days=3), "much-later.dm3")
    log_session(engine, "skewed")
    (outcome,) = run_pass(settings, now=NOW).outcomes
    assert outcome.status == Status.NO_FILES_FOUND
    assert "2 file(s) modified 22.0 h to 23.0 h before its start" in outcome.message
    assert "clock" in outcome.message and "after its end" not in outcome.message
    engine.dispose()


# --- the database ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.corpus
def test_a_locked_database_leaves_the_session_for_later(tmp_path, corpus):
    # Wait 1 s per statement and 2 s in all, not 30 s and 300 s, for the other writer: the
    # point is what happens when the database stays locked past both.
    put_dm3(corpus, tmp_path / "instr/Scope", START + dt.timedelta(hours=1))
    settings, engine = make_site(tmp_path, NX_RETRY_DELAY_MINUTES="0", NX_DB_BUSY_TIMEOUT="1",
                                 NX_DB_LOCKED_RETRY="2")
    log_session(engine, "s1")
    engine.dispose()
    # Another writer (a session logger, a stuck tool) holds the write lock all pass long.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"con = sqlite3.connect({settings.db_url.removeprefix('sqlite:///')!r}, "
         "isolation_level=None)\ncon.execute('BEGIN IMMEDIATE')\n"
         "print('locked', flush=True)\nsys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        (outcome,) = run_pass(settings, now=NOW).outcomes
    finally:
        holder.communicate("", timeout=30)
    assert outcome.status == Status.TO_BE_BUILT and outcome.problem == "environment"
    assert "database is locked" in outcome.message
    engine = db.make_engine(settings.db_url)
    assert status_of(engine, "s1") == Status.TO_BE_BUILT
    (outcome,) = run_pass(settings, now=NOW).outcomes  # the lock is gone
    assert outcome.status == Status.COMPLETED
    engine.dispose()
