"""History tells the truth: a pass killed with SIGKILL leaves an attempt the next pass
marks ``interrupted``, a lease the next pass takes over, and temporary files it removes."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.config import load_settings
from nexuslims.db.history import mark_interrupted
from tests.db.conftest import sqlite_url
from tests.db.site import cli, epoch, kill_group, make_site, run_cli, sqlite_rows, wait_for
from tests.faulty_plugin import make_plugin_site

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.corpus
@pytest.mark.slow
def test_a_pass_killed_mid_session_leaves_an_attempt_the_next_pass_marks_interrupted(
        tmp_path, corpus):
    env = make_site(tmp_path, corpus)
    # A plug-in file whose reader holds the worker until told: the pass is killed while it
    # is certainly extracting, however fast the other files go.
    go = tmp_path / "go"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(make_plugin_site(tmp_path / "site"))])
    held = tmp_path / "instrument-data/Titan/day0/held.fault"
    held.write_text(f"wait {go}")
    os.utime(held, (epoch(30), epoch(30)))
    records = tmp_path / "data/records"
    records.mkdir(parents=True)
    # What a pass killed while writing a record or a preview leaves behind.
    leftovers = [records / ".2024-03-05_titan_session-0.xml.a1b2c3.tmp",
                 tmp_path / "data/Titan/day0/.000_test_STEM_image.dm3.png.77.tmp.png"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
        os.utime(path, (time.time() - 7200, time.time() - 7200))

    victim = cli(["process"], env, tmp_path, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    wait_for(Path(f"{go}.waiting").exists, 120, what="the pass to reach the held file")
    kill_group(victim)  # SIGKILL the pass and its workers: nothing can clean up
    assert sqlite_rows(env, "SELECT status FROM build_attempts") == [("RUNNING",)]
    assert sqlite_rows(env, "SELECT pid FROM builder_lease") == [(victim.pid,)]

    go.touch()
    result = run_cli(["process"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"took over the builder lease of pid {victim.pid}" in result.stderr
    assert sqlite_rows(env, "SELECT status FROM build_attempts ORDER BY id") == [
        ("interrupted",), ("COMPLETED",)], result.stderr
    assert not any(p.exists() for p in leftovers)

    shown = run_cli(["sessions", "show", "session-0"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    first = next(line for line in shown.stdout.splitlines() if line.startswith("attempt "))
    assert ": interrupted, started" in first and "unfinished" not in first, shown.stdout
    assert f"interrupted: pid {victim.pid} on {socket.gethostname()} ended before this " \
           "attempt finished" in shown.stdout


def test_attempts_of_live_passes_are_left_running(tmp_path):
    settings = load_settings({"NX_DB_PATH": str(tmp_path / "nx.db"),
                              "NX_DATA_PATH": str(tmp_path / "data"),
                              "NX_INSTRUMENT_DATA_PATH": str(tmp_path)})
    db.init_db(settings.db_url)
    engine = db.make_engine(sqlite_url(tmp_path / "nx.db"))
    sleeper = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    started = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).isoformat()
    here = socket.gethostname()
    rows = [(1, here, sleeper.pid), (2, here, dead.pid), (3, "far-host", 77),
            (4, "near-host", 88), (5, None, None), (6, here, os.getpid())]
    with engine.begin() as conn:
        for n, host, pid in rows:
            conn.exec_driver_sql(
                "INSERT INTO build_attempts (id, session_identifier, instrument, started, "
                "status, dry_run, pass_host, pass_pid) VALUES (?, 's', 'i', ?, 'RUNNING', 0, "
                "?, ?)", (n, started, host, pid))
    try:
        marked = mark_interrupted(engine, live_elsewhere={("near-host", 88)})
    finally:
        sleeper.kill()
        sleeper.wait()
    # Alive here (1) and the lease holder elsewhere (4) keep running; this very process
    # has no open attempt at the start of a pass, so 6 is a leftover too.
    assert sorted(marked) == [2, 3, 5, 6]
    with engine.connect() as conn:
        got = dict(conn.exec_driver_sql("SELECT id, status FROM build_attempts").all())
    assert got == {1: "RUNNING", 2: "interrupted", 3: "interrupted", 4: "RUNNING",
                   5: "interrupted", 6: "interrupted"}
    engine.dispose()


def test_an_interrupted_rebuild_keeps_the_record_of_the_last_finished_build(engine):
    from nexuslims.db.uploads import export_states
    from nexuslims.model.session import EventType, Status

    pid = "FEI-Titan-TEM-635816"
    db.log_session_event(engine, "s", pid, dt.datetime(2024, 3, 5, 9), EventType.START,
                         Status.TO_BE_BUILT)
    first = db.start_attempt(engine, "s", pid)
    db.finish_attempt(engine, first, Status.BUILT_NOT_EXPORTED, record_path="/out/s.xml")
    db.set_session_status(engine, "s", pid, Status.BUILT_NOT_EXPORTED)
    gone = subprocess.Popen(["true"])
    gone.wait()
    second = db.start_attempt(engine, "s", pid)
    with engine.begin() as conn:  # as if a pass now dead had started it
        conn.exec_driver_sql("UPDATE build_attempts SET pass_pid = ? WHERE id = ?",
                             (gone.pid, second))
    assert mark_interrupted(engine) == [second]
    [state] = export_states(engine, [Status.BUILT_NOT_EXPORTED])
    assert state.record_path == "/out/s.xml"
