"""Preflight: doctor's checks on small real sites, the command, and process's skip."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims import find as files_mod
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.find import instrument_folder_problem as folder_problem
from nexuslims.model.session import EventType, Instrument, Status
from nexuslims.ops.doctor import FAILURE, OK, WARNING, failed, run_checks
from tests.privileges import run_as_nobody


def site_env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
            "NX_DATA_PATH": str(tmp_path / "data"), "NX_DB_PATH": str(tmp_path / "nx.db"),
            "NX_FILE_STRATEGY": "inclusive", "NX_EXTRACT_WORKERS": "1", **more}


def make_site(tmp_path: Path, instruments: dict[str, str | None], **more: str) -> dict[str, str]:
    """A site whose instruments are ``pid -> folder`` (None: the folder is not created)."""
    (tmp_path / "instrument-data").mkdir()
    env = site_env(tmp_path, **more)
    url = load_settings(env).db_url
    db.init_db(url)
    engine = db.make_engine(url)
    for pid, folder in instruments.items():
        if folder is not None:
            (tmp_path / "instrument-data" / folder).mkdir()
            (tmp_path / "instrument-data" / folder / "recent.txt").write_text("acquired\n")
        db.add_instrument(engine, Instrument(pid=pid, filestore_path=folder or pid.title(),
                                             timezone="Europe/Berlin"))
    engine.dispose()
    return env


def by_name(checks) -> dict[str, object]:
    return {c.name: c for c in checks}


def test_a_healthy_site_has_no_failure(tmp_path: Path) -> None:
    env = make_site(tmp_path, {"titan": "Titan"})
    checks = by_name(run_checks(env))
    assert not failed(checks.values())
    for name in ("settings", "database", "instrument data path", "data path", "records path",
                 "log path", "instrument folder titan", "timezone titan", "recent files titan",
                 "find"):
        assert checks[name].status == OK, checks[name]
    assert "GiB free" in checks["data path"].message
    assert "NEMO" not in " ".join(checks)  # not configured: not checked


def test_a_missing_folder_fails_and_says_what_to_do(tmp_path: Path) -> None:
    env = make_site(tmp_path, {"titan": "Titan", "krios": None})
    checks = by_name(run_checks(env))
    bad = checks["instrument folder krios"]
    assert bad.status == FAILURE and bad.instrument == "krios"
    assert "does not exist" in bad.message
    assert "nexuslims instruments edit krios --filestore-path" in bad.message
    assert checks["instrument folder titan"].status == OK
    assert failed(checks.values())


def test_an_unreadable_folder_fails(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    base.chmod(0o755)
    (base / "Locked").mkdir(mode=0o700)
    settings = load_settings(site_env(tmp_path), frozenset())
    settings = type(settings)(**{**settings.__dict__, "instrument_data_path": base})
    try:
        problem = run_as_nobody(lambda: folder_problem(settings, Instrument("x", "Locked")))
    finally:
        shutil.rmtree(base)
    assert isinstance(problem, str) and "cannot be read" in problem
    assert "Permission denied" in problem


def test_idle_folders_bad_timezones_and_missing_find_are_warnings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_site(tmp_path, {"titan": "Titan"}, NX_DOCTOR_IDLE_DAYS="7")
    old = time.time() - 10 * 86400
    os.utime(tmp_path / "instrument-data" / "Titan" / "recent.txt", (old, old))
    engine = db.make_engine(load_settings(env).db_url)
    db.add_instrument(engine, Instrument(pid="quanta", filestore_path="Titan"))
    engine.dispose()
    monkeypatch.setattr(files_mod, "FIND_EXECUTABLE", "no-such-find")
    checks = by_name(run_checks(env))
    assert checks["recent files titan"].status == WARNING
    assert "last 7 days" in checks["recent files titan"].message
    assert checks["timezone quanta"].status == WARNING
    assert checks["find"].status == WARNING and "pure-Python walk" in checks["find"].message
    assert not failed(checks.values())


def test_bad_settings_fail_and_the_other_checks_still_run(tmp_path: Path) -> None:
    env = dict(make_site(tmp_path, {"titan": "Titan"}), NX_FILE_STRATEGY="sometimes",
               NX_EMAIL_SMTP_HOST="127.0.0.1", NX_ALERT_EXPORT_HOURS="soon")
    checks = by_name(run_checks(env))
    message = checks["settings"].message
    assert checks["settings"].status == FAILURE
    for name in ("NX_FILE_STRATEGY=sometimes", "NX_EMAIL_SENDER", "NX_EMAIL_RECIPIENTS",
                 "NX_ALERT_EXPORT_HOURS=soon"):
        assert name in message
    assert checks["database"].status == OK
    assert checks["instrument folder titan"].status == OK


def test_a_database_not_created_fails_with_the_command(tmp_path: Path) -> None:
    (tmp_path / "instrument-data").mkdir()
    checks = by_name(run_checks(site_env(tmp_path)))
    assert checks["database"].status == FAILURE
    assert "nexuslims db init" in checks["database"].message


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "nexuslims", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_command_prints_a_table_or_json_and_exits_1_on_failure(tmp_path: Path) -> None:
    env = make_site(tmp_path, {"titan": "Titan"})
    result = run_cli(["doctor"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK       instrument folder titan" in result.stdout
    assert "0 failed" in result.stdout

    shutil.rmtree(tmp_path / "instrument-data" / "Titan")
    result = run_cli(["doctor", "--json"], env, tmp_path)
    assert result.returncode == 1
    checks = json.loads(result.stdout)
    bad = [c for c in checks if c["status"] == "failure"]
    assert [c["name"] for c in bad] == ["instrument folder titan"]
    assert set(checks[0]) == {"name", "status", "message", "instrument"}


def test_process_skips_an_instrument_whose_folder_is_missing_and_builds_the_others(
        tmp_path: Path) -> None:
    env = make_site(tmp_path, {"titan": "Titan", "krios": None})
    start = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
    engine = db.make_engine(load_settings(env).db_url)
    stamp = (start + dt.timedelta(minutes=30)).timestamp()
    os.utime(tmp_path / "instrument-data" / "Titan" / "recent.txt", (stamp, stamp))
    rows = ((EventType.START, start), (EventType.END, start + dt.timedelta(hours=1)))
    for ident, pid in (("on-titan", "titan"), ("on-krios", "krios")):
        for event, when in rows:
            db.log_session_event(engine, ident, pid, when, event, Status.TO_BE_BUILT)
    # Long after the session: a missing folder would otherwise be "no files", final.
    summary = run_pass(load_settings(env), now=start + dt.timedelta(days=30))
    assert list(summary.skipped_instruments) == ["krios"]
    outcomes = {o.identifier: o for o in summary.outcomes}
    assert outcomes["on-titan"].status == Status.COMPLETED
    assert (outcomes["on-krios"].status, outcomes["on-krios"].problem) == (
        Status.TO_BE_BUILT, "filestore")  # reported once, not written
    krios = db.session_detail(engine, "on-krios")
    assert krios.status == Status.TO_BE_BUILT and krios.attempts == []
    engine.dispose()


def test_an_instrument_whose_calendar_is_not_configured_fails(tmp_path: Path) -> None:
    env = make_site(tmp_path, {"titan": "Titan"})
    engine = db.make_engine(load_settings(env).db_url)
    db.add_instrument(engine, Instrument(pid="krios", filestore_path="Titan", harvester="nemo",
                                         api_url="https://nemo.example.org/api/tools/?id=3",
                                         timezone="UTC"))
    engine.dispose()
    checks = by_name(run_checks(env, timeout=2))
    assert checks["calendar titan"].status == OK
    assert checks["calendar krios"].status == FAILURE
    assert "'nemo' calendar is not configured" in checks["calendar krios"].message

    env["NX_NEMO_ADDRESS_1"] = "http://127.0.0.1:9/api/"
    env["NX_NEMO_TOKEN_1"] = "t" * 40
    checks = by_name(run_checks(env, timeout=2))
    assert "none of the NX_NEMO_ADDRESS_<N> servers" in checks["calendar krios"].message
