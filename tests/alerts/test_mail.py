"""Mail settings, doctor's mail check against the real SMTP server, and the plan rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nexuslims.db.uploads import ExportState, UploadAttempt
from nexuslims.errors import ConfigError
from nexuslims.ops.alerts.mail import MailError, read_mail_settings, send_mail
from nexuslims.ops.alerts.plan import NEW, RECOVERED, REMINDER, after_sending, plan
from nexuslims.ops.alerts.rules import CONDITION, EVENT, Problem, not_exported
from nexuslims.ops.doctor import FAILURE, OK, Site
from nexuslims.ops.doctor.remote import check_mail
from tests.servers import free_port

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def test_2x_settings_are_read_and_checked() -> None:
    assert read_mail_settings({}) is None
    mail = read_mail_settings({"NX_EMAIL_SMTP_HOST": "smtp.example.org",
                               "NX_EMAIL_SENDER": "nx@example.org",
                               "NX_EMAIL_RECIPIENTS": "a@example.org, b@example.org"})
    assert mail is not None and mail.port == 587 and mail.use_tls
    assert mail.recipients == ("a@example.org", "b@example.org")
    with pytest.raises(ConfigError) as err:
        read_mail_settings({"NX_EMAIL_SMTP_HOST": "h", "NX_EMAIL_SMTP_PORT": "smtp",
                            "NX_EMAIL_USE_TLS": "maybe", "NX_EMAIL_SMTP_USERNAME": "u"})
    text = str(err.value)
    for name in ("NX_EMAIL_SMTP_PORT=smtp", "NX_EMAIL_USE_TLS=maybe", "NX_EMAIL_SENDER",
                 "NX_EMAIL_RECIPIENTS", "NX_EMAIL_SMTP_PASSWORD"):
        assert name in text


def test_doctor_checks_the_mail_server_login_and_starttls(smtp) -> None:
    [check] = check_mail(Site(env=smtp.env()))
    assert check.status == OK and "STARTTLS" in check.message
    [check] = check_mail(Site(env=smtp.env(NX_EMAIL_SMTP_PASSWORD="wrong")))
    assert check.status == FAILURE and "NX_EMAIL_SMTP_PASSWORD" in check.message
    assert "wrong" not in check.message
    [check] = check_mail(Site(env=smtp.env(NX_EMAIL_SMTP_PORT=str(free_port()))))
    assert check.status == FAILURE and "cannot be reached" in check.message


def test_a_certificate_not_trusted_is_refused(smtp, tmp_path: Path) -> None:
    env = smtp.env()
    del env["NX_CERT_BUNDLE_FILE"]  # the system CAs do not know the test certificate
    with pytest.raises(MailError, match="STARTTLS"):
        send_mail(read_mail_settings(env), "s", "b")
    assert smtp.messages == []


def problem(key: str, kind: str = CONDITION, after: int = 1) -> Problem:
    return Problem(key, kind, f"{key} is wrong\n    details", after)


def test_plan_tells_new_repeats_daily_recovers_once_and_keeps_unsent_events() -> None:
    first = plan({}, [problem("cdcs"), problem("session s1", EVENT)], NOW)
    assert [(i.key, i.what) for i in first.items] == [("cdcs", NEW), ("session s1", NEW)]
    sent = after_sending(first, NOW)

    later = plan(sent, [problem("cdcs")], NOW + dt.timedelta(hours=2))
    assert later.items == []  # the event is done, the condition told today
    day = plan(after_sending(later, NOW), [problem("cdcs")], NOW + dt.timedelta(hours=24))
    assert [(i.key, i.what) for i in day.items] == [("cdcs", REMINDER)]
    gone = plan(after_sending(day, NOW + dt.timedelta(hours=24)), [],
                NOW + dt.timedelta(hours=25))
    assert [(i.key, i.what, i.text) for i in gone.items] == [("cdcs", RECOVERED,
                                                              "cdcs is wrong")]
    assert after_sending(gone, NOW) == {}

    # A message that could not be sent: its event is still told on the next pass.
    unsent = plan({}, [problem("session s2", EVENT)], NOW).states
    retry = plan(unsent, [], NOW + dt.timedelta(minutes=10))
    assert [(i.key, i.what) for i in retry.items] == [("session s2", NEW)]
    # A condition never told that clears says nothing.
    quiet = plan(plan({}, [problem("nemo", after=3)], NOW).states, [], NOW)
    assert quiet.items == [] and quiet.states == {}


def test_records_not_exported_after_n_hours() -> None:
    built = NOW - dt.timedelta(hours=30)
    failed = UploadAttempt(1, "s1", "cdcs", False, built, error="CDCS answered HTTP 503")
    waiting = [ExportState("s1", "titan", "BUILT_NOT_EXPORTED", "/r/s1.xml", built, [failed]),
               ExportState("s2", "titan", "BUILT_NOT_EXPORTED", "/r/s2.xml",
                           NOW - dt.timedelta(hours=2))]
    [found] = not_exported(waiting, now=NOW, hours=24)
    assert found.key == "export s1" and "30 h" in found.text and "HTTP 503" in found.text
    assert "nexuslims export --session s1" in found.text
