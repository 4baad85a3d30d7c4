"""One builder per database, wherever it runs: the builder lease in the database.

Holders are real processes (``python -c`` children and real ``nexuslims process``
passes); the lease is the row they share in a real SQLite database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.lease import builder_lock, remove_stale_tmp_files
from nexuslims.config import load_settings
from nexuslims.db.lease import current_lease, take_lease
from nexuslims.errors import LockHeld
from tests.db.site import make_site, run_cli, sqlite_rows

HOLD = """
import sys, time
from nexuslims.config import load_settings
from nexuslims.builder.lease import builder_lock
settings = load_settings(dict(NX_DB_PATH=sys.argv[1], NX_DATA_PATH=sys.argv[2],
                              NX_INSTRUMENT_DATA_PATH="/",
                              NX_BUILDER_LEASE=sys.argv[3]))
with builder_lock(settings):
    print("held", flush=True)
    time.sleep(float(sys.argv[4]))
print("released", flush=True)
"""


def _settings(tmp_path: Path, data: str = "data", lease: str = "120"):
    settings = load_settings({"NX_DB_PATH": str(tmp_path / "nx.db"),
                              "NX_DATA_PATH": str(tmp_path / data),
                              "NX_INSTRUMENT_DATA_PATH": str(tmp_path),
                              "NX_BUILDER_LEASE": lease})
    if not (tmp_path / "nx.db").exists():
        db.init_db(settings.db_url)
    return settings


def _holder(tmp_path: Path, data: str, lease: str = "120", seconds: float = 60):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "nx.db"),
                             str(tmp_path / data), lease, str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "held", proc.stderr.read() if proc.stderr else line
    return proc


def test_a_builder_with_another_data_path_on_the_same_database_is_refused(tmp_path):
    settings = _settings(tmp_path)
    holder = _holder(tmp_path, "other-data")  # a different NX_DATA_PATH, one database
    try:
        with pytest.raises(LockHeld, match=rf"another pass \(pid {holder.pid} on "
                                           rf"{socket.gethostname()}\) holds"), \
                builder_lock(settings):
            pass
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait()
    # SIGTERM is a Python exception in the holder only if handled; a killed holder's
    # lease is taken over (its process is gone), a released one is simply free.
    with builder_lock(settings) as lease:
        assert (lease.host, lease.pid) == (socket.gethostname(), os.getpid())
    engine = db.make_engine(settings.db_url)
    assert current_lease(engine) is None  # released at the end
    engine.dispose()


def test_the_lease_is_released_on_an_exception_and_on_keyboard_interrupt(tmp_path):
    settings = _settings(tmp_path)
    engine = db.make_engine(settings.db_url)
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), builder_lock(settings):
            assert current_lease(engine) is not None
            raise exc
        assert current_lease(engine) is None
    engine.dispose()


def test_a_lease_whose_process_died_is_taken_over_with_a_log_line(tmp_path, caplog):
    settings = _settings(tmp_path)
    holder = _holder(tmp_path, "data")
    holder.kill()  # SIGKILL: no chance to release
    holder.wait()
    engine = db.make_engine(settings.db_url)
    assert current_lease(engine).pid == holder.pid  # left behind
    with caplog.at_level(logging.WARNING, logger="nexuslims.builder.lease"), builder_lock(settings):
        pass
    assert f"took over the builder lease of pid {holder.pid} on {socket.gethostname()}: " \
           f"its process (pid {holder.pid} on {socket.gethostname()}) is gone" in caplog.text
    engine.dispose()


def test_a_lease_with_an_old_heartbeat_is_taken_over_a_fresh_one_is_not(tmp_path, caplog):
    settings = _settings(tmp_path, lease="60")
    engine = db.make_engine(settings.db_url)
    # A builder on another host: its pid means nothing here, only its heartbeat counts.
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO builder_lease VALUES ('builder', 'x', 'other-host', 1, ?, ?)",
            (old.isoformat(), old.isoformat()))
    with caplog.at_level(logging.WARNING, logger="nexuslims.builder.lease"), builder_lock(settings):
        pass
    assert "took over the builder lease of pid 1 on other-host: its heartbeat is 300 s old " \
           "(the lease lasts 60 s)" in caplog.text
    fresh = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO builder_lease VALUES ('builder', 'x', 'other-host', 1, ?, ?)",
            (fresh.isoformat(), fresh.isoformat()))
    with pytest.raises(LockHeld, match="pid 1 on other-host"), builder_lock(settings):
        pass
    engine.dispose()


def test_the_heartbeat_keeps_a_long_pass_from_looking_dead(tmp_path):
    settings = _settings(tmp_path, lease="1")
    with builder_lock(settings) as lease:
        time.sleep(2.5)  # more than twice the lease time
        engine = db.make_engine(settings.db_url)
        now = current_lease(engine)
        assert now is not None and now.owner == lease.owner
        assert now.heartbeat > lease.heartbeat + dt.timedelta(seconds=1.5)
        # A builder elsewhere (same pid, other host as far as the lease can tell) judges
        # by the heartbeat alone: still fresh, so it is refused.
        refused = take_lease(engine, "someone-else", lease_s=1.0)
        assert not refused.taken and refused.other.owner == lease.owner
        engine.dispose()


def test_two_takers_of_one_stale_lease_cannot_both_win(tmp_path):
    settings = _settings(tmp_path, lease="60")
    engine = db.make_engine(settings.db_url)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO builder_lease VALUES ('builder', 'dead', 'other-host', 1, ?, ?)",
            (old.isoformat(), old.isoformat()))
    first = take_lease(engine, "first", lease_s=60)
    second = take_lease(engine, "second", lease_s=60)
    assert first.taken and first.other.owner == "dead"
    assert not second.taken and second.other.owner == "first"
    engine.dispose()


@pytest.mark.corpus
@pytest.mark.slow
def test_two_builders_with_different_data_paths_build_and_export_each_session_once(
        tmp_path, corpus):
    """The flock lived beside NX_DATA_PATH, so these two passes both built everything."""
    env_a = make_site(tmp_path / "a", corpus, sessions=3)
    env_b = dict(env_a, NX_DATA_PATH=str(tmp_path / "b-data"))
    for env, name in ((env_a, "a"), (env_b, "b")):
        env["NX_LOCAL_EXPORT_PATH"] = str(tmp_path / f"exported-{name}")
    from tests.db.site import cli

    passes = [cli(["process"], env, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for env in (env_a, env_b)]
    outputs = [p.communicate(timeout=300) for p in passes]
    assert [p.returncode for p in passes] == [0, 0], outputs
    attempts = sqlite_rows(env_a, "SELECT session_identifier, status FROM build_attempts "
                                  "ORDER BY session_identifier")
    assert attempts == [(f"session-{d}", "COMPLETED") for d in range(3)], outputs
    uploads = sqlite_rows(env_a, "SELECT session_identifier, COUNT(*) FROM upload_log "
                                 "WHERE success GROUP BY session_identifier")
    assert uploads == [(f"session-{d}", 1) for d in range(3)]
    copies = sorted(p.name for p in tmp_path.glob("exported-*/**/*.xml"))
    assert len(copies) == 3
    assert any("holds the builder lease" in err for _out, err in outputs) \
        or any("0 built" in out for out, _err in outputs), outputs
    # A later pass with either data path has nothing left to do.
    again = run_cli(["process"], env_b, tmp_path)
    assert "0 built" in again.stdout, again.stdout + again.stderr


def test_stale_temporary_files_are_removed_fresh_ones_kept(tmp_path):
    records, data = tmp_path / "data/records", tmp_path / "data/Titan/day0"
    records.mkdir(parents=True)
    data.mkdir(parents=True)
    old = [records / ".2024-03-05_titan_s.xml.k2j3h4.tmp",
           data / "..a.dm3.png.4242.tmp.png.x9y8.tmp", data / ".a.dm3.png.4242.tmp.png",
           data / ".a.dm3.json.abc123.tmp"]
    fresh = records / ".2024-03-06_titan_s.xml.zz.tmp"
    keep = [records / "2024-03-05_titan_s.xml", data / ".hidden", data / "notes.tmp", fresh]
    for path in old + keep:
        path.write_text("x")
    two_hours_ago = time.time() - 7200
    for path in old + keep[:-1]:
        os.utime(path, (two_hours_ago, two_hours_ago))
    removed = remove_stale_tmp_files([tmp_path / "data", records],
                                     older_than=time.time() - 3600)
    assert sorted(removed) == sorted(old)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in old)


def test_a_live_pass_on_this_host_keeps_its_lease_however_old_its_heartbeat(tmp_path):
    """Issue 19: a pass whose clock ran 10 minutes behind lost its live lease."""
    settings = _settings(tmp_path, lease="600")
    holder = _holder(tmp_path, "data", lease="600", seconds=120)  # renews every 150 s
    try:
        behind = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=616)
        engine = db.make_engine(settings.db_url)
        with engine.begin() as conn:  # what its clock, 10 min behind, wrote
            conn.exec_driver_sql("UPDATE builder_lease SET heartbeat = ?",
                                 (behind.isoformat(timespec="microseconds"),))
        with pytest.raises(LockHeld, match=rf"pid {holder.pid} on {socket.gethostname()}"), \
                builder_lock(settings):
            pass
        assert current_lease(engine).pid == holder.pid
        engine.dispose()
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait()


def test_a_pass_that_lost_its_lease_writes_no_record_and_stops(tmp_path, plugin):
    """The lease is taken over while a file is being read: the pass writes no record,
    exports nothing, records no outcome, and stops; the session waits for the holder."""
    import threading

    from nexuslims.builder.lease import LeaseLost
    from nexuslims.builder.run import run_pass
    from nexuslims.model.session import EventType, Instrument, Status

    site = tmp_path / "lease-site"
    folder = site / "instr" / "Scope"
    folder.mkdir(parents=True)
    pid_file, go = tmp_path / "worker.pid", tmp_path / "go"
    (folder / "a.fault").write_text(f"handshake {pid_file} {go}")
    start = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
    os.utime(folder / "a.fault", ((start + dt.timedelta(hours=1)).timestamp(),) * 2)
    settings = load_settings({"NX_DB_PATH": str(site / "nx.db"),
                              "NX_DATA_PATH": str(site / "data"),
                              "NX_INSTRUMENT_DATA_PATH": str(site / "instr"),
                              "NX_FILE_STRATEGY": "inclusive", "NX_EXTRACT_WORKERS": "1"})
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    db.add_instrument(engine, Instrument(pid="scope", filestore_path="Scope", timezone="UTC"))
    for event, when in ((EventType.START, start), (EventType.END, start + dt.timedelta(hours=3))):
        db.log_session_event(engine, "s1", "scope", when, event, Status.TO_BE_BUILT, "ann")

    def take_over() -> None:  # while the worker reads the file, another pass takes over
        while not pid_file.exists():
            time.sleep(0.05)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE builder_lease SET owner = 'thief', pid = 1, "
                                 "host = 'other-host'")
        go.touch()

    thief = threading.Thread(target=take_over, daemon=True)
    thief.start()
    with pytest.raises(LeaseLost, match="pid 1 on other-host"), builder_lock(settings):
        run_pass(settings, now=dt.datetime(2024, 3, 10, tzinfo=dt.UTC))
    thief.join(timeout=10)
    assert list(site.rglob("*.xml")) == []  # no record written, so none exported
    assert db.session_detail(engine, "s1").status == Status.TO_BE_BUILT
    (attempt,) = db.session_detail(engine, "s1").attempts
    assert attempt.status == "interrupted"
    assert current_lease(engine).owner == "thief"  # the holder's lease is left alone
    engine.dispose()
