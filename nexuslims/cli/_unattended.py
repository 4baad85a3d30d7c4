"""What ``process`` does around a pass so it can run unattended: checks, alerts, metrics.

Each step is logged and never fails the pass: a pass that built records exits 0 even
if the mail server or the metrics folder is down.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexuslims.builder.outcome import PassSummary
    from nexuslims.config import Settings

logger = logging.getLogger("nexuslims.process")


def before_pass(settings: Settings) -> None:
    """Doctor's cheap checks: failures are logged (instrument folders: see run_pass)."""
    from nexuslims.ops.doctor import FAILURE, cheap_checks

    for check in cheap_checks(settings):
        if check.status == FAILURE and check.instrument is None:
            logger.error("preflight: %s: %s", check.name, check.message)


def after_pass(settings: Settings, summary: PassSummary, started: dt.datetime) -> None:
    """Alerts for what is new, then the metrics file."""
    from nexuslims.ops.alerts import alert_after_pass
    from nexuslims.ops.metrics import from_pass, metrics_path, write_metrics

    alert_after_pass(settings, summary)
    path = metrics_path(settings.env)
    if path is not None:
        try:
            write_metrics(path, from_pass(settings, summary, started))
        except Exception as exc:  # metrics must never fail a pass that ran
            logger.error("metrics: could not write %s: %s", path, exc)


def pass_failed(env_file: Path | None, error: BaseException, started: dt.datetime) -> None:
    """A pass that could not run: alert (once, then daily) and metrics with success 0."""
    from nexuslims.config import read_environment
    from nexuslims.errors import ConfigError
    from nexuslims.ops.alerts import alert_pass_failed
    from nexuslims.ops.metrics import PassMetrics, metrics_path, write_metrics

    try:
        env = read_environment(env_file)
    except ConfigError:
        return  # no settings at all: nothing to alert with
    from nexuslims.errors import NexusLIMSError

    text = ("; ".join(error.problems) if isinstance(error, ConfigError) else str(error)
            if isinstance(error, NexusLIMSError) else f"{error.__class__.__name__}: {error}")
    alert_pass_failed(env, text)
    path = metrics_path(env)
    if path is not None:
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        try:
            write_metrics(path, PassMetrics(started=started, seconds=seconds, success=False))
        except Exception as exc:
            logger.error("metrics: could not write %s: %s", path, exc)
