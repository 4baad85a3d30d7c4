"""Alerts from outcomes, not from log text: one message per pass that has something new.

After a pass, :func:`alert_after_pass` applies the rules (:mod:`.rules`) to the pass's
summary and to what the database holds (records waiting for export), decides with
:func:`.plan.plan` what is new, due again (once a day) or recovered, sends one message
(:mod:`.mail`) and keeps the state in the database (``alert_state``), so the next pass
knows what was told. :func:`alert_pass_failed` does the same for a pass that could not
run; its state lives in ``NX_DATA_PATH/.alert_pass.json`` because the database may be
what is broken.

Alerting never fails a pass: a mail server that is down or refuses us is logged, and
what was not sent goes out after the next pass. Nothing happens unless
``NX_EMAIL_SMTP_HOST`` is set.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims.config import number_setting
from nexuslims.db.monitoring import AlertState
from nexuslims.errors import ConfigError, NexusLIMSError
from nexuslims.ops.alerts.mail import MailError, MailSettings, read_mail_settings, send_mail
from nexuslims.ops.alerts.plan import Plan, after_sending, compose, plan
from nexuslims.ops.alerts.rules import (
    Problem,
    failed_sessions,
    not_exported,
    pass_failed,
    unreachable,
)

if TYPE_CHECKING:
    from nexuslims.builder.outcome import PassSummary
    from nexuslims.config import Settings

logger = logging.getLogger(__name__)

DEFAULT_UNREACHABLE_PASSES = 3
DEFAULT_EXPORT_HOURS = 24.0
PASS_STATE_FILE = ".alert_pass.json"


def thresholds(env: Mapping[str, str]) -> tuple[int, float]:
    """``NX_ALERT_UNREACHABLE_PASSES`` and ``NX_ALERT_EXPORT_HOURS``.

    Raises
    ------
    ConfigError
    """
    problems: list[str] = []
    passes = int(number_setting(env, "NX_ALERT_UNREACHABLE_PASSES", DEFAULT_UNREACHABLE_PASSES,
                                problems, minimum=1, whole=True,
                                expects="a whole number of passes >= 1 (e.g. 3)"))
    hours = number_setting(env, "NX_ALERT_EXPORT_HOURS", DEFAULT_EXPORT_HOURS, problems,
                           minimum=0, expects="a number of hours >= 0 (e.g. 24)")
    if problems:
        raise ConfigError(problems)
    return passes, hours


def problems_of_pass(summary: object, waiting: list[object], *, now: dt.datetime,
                     env: Mapping[str, str]) -> list[Problem]:
    """Every problem a finished pass shows (the rules, applied to plain data)."""
    passes, hours = thresholds(env)
    outcomes = [*getattr(summary, "outcomes", []), *getattr(summary, "exports", [])]
    return [*failed_sessions(outcomes),
            *unreachable(outcomes,
                         calendar_errors=dict(getattr(summary, "calendar_errors", {}) or {}),
                         skipped_instruments=dict(
                             getattr(summary, "skipped_instruments", {}) or {}),
                         passes=passes),
            *not_exported(waiting, now=now, hours=hours)]


def alert_after_pass(settings: Settings, summary: PassSummary, *,
                     now: dt.datetime | None = None) -> Plan | None:
    """Send what is new after a pass; never raises. Returns the plan (tests, the web)."""
    try:
        mail = read_mail_settings(settings.env)
        if mail is None or getattr(summary, "dry_run", False):
            return None
        now = now or dt.datetime.now(dt.UTC)
        from nexuslims import db
        from nexuslims.db.monitoring import load_alert_states, save_alert_states
        from nexuslims.db.uploads import export_states

        assert settings.db_url is not None
        engine = db.make_engine(settings.db_url)
        try:
            waiting = export_states(engine, ["BUILT_NOT_EXPORTED"])
            found = problems_of_pass(summary, list(waiting), now=now, env=settings.env)
            previous = load_alert_states(engine)
            previous.update(_load_pass_state(settings.data_path))
            result = plan(previous, found, now)
            states = _deliver(mail, result, now)
            save_alert_states(engine, {k: s for k, s in states.items() if k != "pass"})
        finally:
            engine.dispose()
        _save_pass_state(settings.data_path, states.get("pass"))
        return result
    except (NexusLIMSError, OSError) as exc:
        logger.error("alerts: %s", exc)
        return None


def alert_pass_failed(env: Mapping[str, str], error: str, *,
                      now: dt.datetime | None = None) -> Plan | None:
    """Tell that a pass could not run (once, then once a day); never raises."""
    try:
        mail = read_mail_settings(env)
        if mail is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        raw = (env.get("NX_DATA_PATH") or env.get("nexusLIMS_path") or "").strip()
        data_path = Path(raw).expanduser() if raw else None
        result = plan(_load_pass_state(data_path), [pass_failed(error)], now)
        states = _deliver(mail, result, now)
        _save_pass_state(data_path, states.get("pass"))
        return result
    except (NexusLIMSError, OSError) as exc:
        logger.error("alerts: %s", exc)
        return None


def _deliver(mail: MailSettings, result: Plan, now: dt.datetime) -> dict[str, AlertState]:
    """Send the plan's message; the state to keep (unsent items stay pending)."""
    if not result.items:
        return result.states
    subject, body = compose(result.items)
    try:
        send_mail(mail, subject, body)
    except MailError as exc:
        logger.error("alert not sent (it will be after the next pass): %s", exc)
        return result.states
    logger.info("alert sent to %s: %s", ", ".join(mail.recipients), subject)
    return after_sending(result, now)


def _load_pass_state(data_path: Path | None) -> dict[str, AlertState]:
    path = data_path / PASS_STATE_FILE if data_path else None
    if path is None or not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        for name in ("first_seen", "last_seen", "last_sent"):
            raw[name] = dt.datetime.fromisoformat(raw[name]) if raw.get(name) else None
        return {"pass": AlertState(**raw)}
    except (ValueError, TypeError) as exc:
        logger.warning("alerts: ignoring unreadable %s (%s)", path, exc)
        return {}


def _save_pass_state(data_path: Path | None, state: AlertState | None) -> None:
    if data_path is None:
        return
    path = data_path / PASS_STATE_FILE
    if state is None:
        path.unlink(missing_ok=True)
        return
    from nexuslims.atomic import write_atomically

    write_atomically(path, json.dumps(asdict(state), default=str).encode())


__all__ = ["alert_after_pass", "alert_pass_failed", "problems_of_pass", "thresholds"]
