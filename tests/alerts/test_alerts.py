"""Alerts after real passes, sent to a real SMTP server (STARTTLS + AUTH) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nexuslims import db
from nexuslims.builder.outcome import PassSummary, SessionOutcome
from nexuslims.builder.run import run_pass
from nexuslims.config import load_settings
from nexuslims.db.monitoring import load_alert_states
from nexuslims.model.session import EventType, Instrument, Status
from nexuslims.ops.alerts import alert_after_pass

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
START = dt.datetime(2024, 3, 5, 9, 0)
END = dt.datetime(2024, 3, 5, 12, 0)


@dataclass
class Site:
    settings: object
    engine: object
    env: dict[str, str]
    root: Path


def make_site(tmp_path: Path, env: dict[str, str]) -> Site:
    (tmp_path / "instrument-data" / "Titan").mkdir(parents=True)
    env = {"NX_INSTRUMENT_DATA_PATH": str(tmp_path / "instrument-data"),
           "NX_DATA_PATH": str(tmp_path / "data"), "NX_DB_PATH": str(tmp_path / "nx.db"),
           "NX_ALERT_UNREACHABLE_PASSES": "1", **env}
    settings = load_settings(env)
    db.init_db(settings.db_url)
    engine = db.make_engine(settings.db_url)
    for pid, folder in (("titan", "Titan"), ("krios", "Krios")):
        db.add_instrument(engine, Instrument(pid=pid, filestore_path=folder, timezone="UTC"))
    return Site(settings, engine, env, tmp_path)


def log(site: Site, ident: str, instrument: str, *, end: bool = True) -> None:
    for event, when in ((EventType.START, START), (EventType.END, END))[: 2 if end else 1]:
        db.log_session_event(site.engine, ident, instrument, when, event, Status.TO_BE_BUILT)


def one_pass(site: Site, now: dt.datetime) -> PassSummary:
    summary = run_pass(site.settings, now=now)
    alert_after_pass(site.settings, summary, now=now)
    return summary


@pytest.fixture
def site(tmp_path: Path, smtp):
    s = make_site(tmp_path, smtp.env())
    yield s
    s.engine.dispose()


def test_a_failed_session_sends_one_mail_with_the_command_to_run(site, smtp) -> None:
    log(site, "broken-1", "titan", end=False)  # a START without END: ERROR
    one_pass(site, NOW)
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "1 new problem" in mail.subject
    assert "session broken-1 on titan failed" in mail.body
    assert "nexuslims sessions show broken-1" in mail.body
    assert sorted(mail.recipients) == ["admin@example.org", "team@example.org"]
    assert smtp.tls_sessions >= 1 and smtp.logins[-1] == ("alerts@example.org", True)

    one_pass(site, NOW + dt.timedelta(minutes=10))
    assert len(smtp.messages) == 1  # nothing new


def test_a_missing_folder_is_told_repeated_daily_and_recovered_once(site, smtp) -> None:
    log(site, "on-krios", "krios")
    summary = one_pass(site, NOW)
    assert "krios" in summary.skipped_instruments
    assert [s.status for s in db.list_sessions(site.engine)] == ["TO_BE_BUILT"]
    assert len(smtp.messages) == 1
    assert "instrument krios was skipped" in smtp.messages[0].body

    one_pass(site, NOW + dt.timedelta(minutes=10))
    one_pass(site, NOW + dt.timedelta(hours=23))
    assert len(smtp.messages) == 1  # persisting: not repeated within a day

    one_pass(site, NOW + dt.timedelta(hours=25))
    assert len(smtp.messages) == 2
    assert "still open" in smtp.messages[1].subject and "krios" in smtp.messages[1].body

    (site.root / "instrument-data" / "Krios").mkdir()
    one_pass(site, NOW + dt.timedelta(hours=26))
    assert len(smtp.messages) == 3
    assert "recovered" in smtp.messages[2].subject
    assert "new problem" not in smtp.messages[2].subject
    one_pass(site, NOW + dt.timedelta(hours=27))
    assert len(smtp.messages) == 3
    assert load_alert_states(site.engine) == {}


def test_an_outage_is_told_only_after_n_passes_in_a_row(tmp_path: Path, smtp) -> None:
    site = make_site(tmp_path, smtp.env(NX_ALERT_UNREACHABLE_PASSES="3"))
    log(site, "on-krios", "krios")
    for minutes in (0, 10):
        one_pass(site, NOW + dt.timedelta(minutes=minutes))
    assert smtp.messages == []
    one_pass(site, NOW + dt.timedelta(minutes=20))
    assert len(smtp.messages) == 1
    site.engine.dispose()


def test_no_consent_no_reservation_and_a_clean_pass_send_nothing(site, smtp) -> None:
    summary = PassSummary([SessionOutcome("s1", "titan", Status.NO_CONSENT, message="declined"),
                           SessionOutcome("s2", "titan", Status.NO_RESERVATION),
                           SessionOutcome("s3", "titan", Status.COMPLETED)], 1.0, False)
    result = alert_after_pass(site.settings, summary, now=NOW)
    assert result is not None and result.items == []
    one_pass(site, NOW)  # nothing to build at all
    assert smtp.messages == []


def test_a_wrong_password_loses_nothing(tmp_path: Path, smtp) -> None:
    site = make_site(tmp_path, smtp.env(NX_EMAIL_SMTP_PASSWORD="not-the-password"))
    log(site, "broken-2", "titan", end=False)
    one_pass(site, NOW)  # does not raise
    assert smtp.messages == [] and smtp.logins[-1][1] is False
    assert load_alert_states(site.engine)["session broken-2"].last_sent is None

    fixed = load_settings(smtp.env(**{k: v for k, v in site.env.items()
                                      if not k.startswith("NX_EMAIL")}))
    site.settings = fixed
    one_pass(site, NOW + dt.timedelta(minutes=10))
    assert len(smtp.messages) == 1 and "broken-2" in smtp.messages[0].body
    site.engine.dispose()


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "nexuslims", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_mail_server_that_is_down_never_fails_the_pass(site, smtp) -> None:
    log(site, "broken-3", "titan", end=False)
    smtp.stop()
    result = run_cli(["process"], site.env, site.root)
    assert result.returncode == 0, result.stderr
    assert "alert not sent" in result.stderr and "cannot be reached" in result.stderr
    assert smtp.messages == []

    smtp.start()
    result = run_cli(["process"], site.env, site.root)
    assert result.returncode == 0, result.stderr
    assert len(smtp.messages) == 1 and "broken-3" in smtp.messages[0].body


@pytest.mark.slow
def test_a_pass_that_cannot_run_is_told_once_then_recovered(site, smtp) -> None:
    broken = dict(site.env, NX_DB_PATH=str(site.root / "absent.db"))
    for _ in range(2):
        result = run_cli(["process"], broken, site.root)
        assert result.returncode == 1
    assert len(smtp.messages) == 1
    assert "a pass could not run" in smtp.messages[0].body
    assert "absent.db" in smtp.messages[0].body

    result = run_cli(["process"], site.env, site.root)
    assert result.returncode == 0, result.stderr
    assert len(smtp.messages) == 2 and "recovered" in smtp.messages[1].subject
