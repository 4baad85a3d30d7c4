"""``NX_METRICS_PATH``: after each pass, a Prometheus text file for node_exporter.

node_exporter's textfile collector reads every ``*.prom`` file of its directory, so
point ``NX_METRICS_PATH`` at e.g. ``/var/lib/node_exporter/textfile/nexuslims.prom``.
The file is replaced atomically (never read half-written), after a pass that ran and
after one that could not run (then ``nexuslims_pass_success`` is 0).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims.atomic import write_atomically

if TYPE_CHECKING:
    from nexuslims.builder.outcome import PassSummary
    from nexuslims.config import Settings

logger = logging.getLogger(__name__)


@dataclass
class PassMetrics:
    """What one pass reports (plain data, filled from the summary and the database)."""

    started: dt.datetime
    seconds: float
    success: bool
    sessions_by_status: dict[str, int] = field(default_factory=dict)
    """Every session of the session log, by current status."""
    pass_outcomes: dict[str, int] = field(default_factory=dict)
    """Sessions this pass handled, by the status it gave them."""
    waiting_for_export: int = 0
    files: int = 0
    bytes: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)


def metrics_path(env: Mapping[str, str]) -> Path | None:
    """``NX_METRICS_PATH``, or None when unset."""
    raw = (env.get("NX_METRICS_PATH") or "").strip()
    return Path(raw).expanduser() if raw else None


def render(m: PassMetrics) -> str:
    """The Prometheus text exposition of ``m``."""
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str,
               samples: list[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{shown}}} {_number(value)}" if shown
                       else f"{name} {_number(value)}")

    metric("nexuslims_pass_start_timestamp_seconds", "gauge",
           "Start of the last pass, seconds since the epoch.", [({}, m.started.timestamp())])
    metric("nexuslims_pass_duration_seconds", "gauge", "How long the last pass took.",
           [({}, m.seconds)])
    metric("nexuslims_pass_success", "gauge",
           "1 if the last pass ran, 0 if it could not run (settings, database).",
           [({}, 1 if m.success else 0)])
    metric("nexuslims_sessions", "gauge", "Sessions in the session log by current status.",
           [({"status": k}, v) for k, v in sorted(m.sessions_by_status.items())])
    metric("nexuslims_pass_sessions", "gauge",
           "Sessions the last pass handled, by the status it gave them.",
           [({"status": k}, v) for k, v in sorted(m.pass_outcomes.items())])
    metric("nexuslims_records_waiting_for_export", "gauge",
           "Records built but not yet exported (BUILT_NOT_EXPORTED).",
           [({}, m.waiting_for_export)])
    metric("nexuslims_pass_files", "gauge", "Files the last pass found in its sessions.",
           [({}, m.files)])
    metric("nexuslims_pass_bytes", "gauge", "Bytes of the files the last pass found.",
           [({}, m.bytes)])
    metric("nexuslims_pass_stage_seconds", "gauge",
           "Seconds the last pass spent in each build stage, summed over its sessions.",
           [({"stage": k}, v) for k, v in sorted(m.stage_seconds.items())])
    return "\n".join(out) + "\n"


def write_metrics(path: Path, m: PassMetrics) -> None:
    """Replace ``path`` with the metrics of this pass (atomically)."""
    write_atomically(path, render(m).encode("utf-8"))


def from_pass(settings: Settings, summary: PassSummary, started: dt.datetime) -> PassMetrics:
    """The metrics of a pass that ran, from its summary and the database."""
    from nexuslims import db
    from nexuslims.db.monitoring import stage_seconds, status_counts

    outcomes: dict[str, int] = {}
    for o in [*summary.outcomes, *summary.exports]:
        outcomes[str(o.status)] = outcomes.get(str(o.status), 0) + 1
    m = PassMetrics(started=started, seconds=summary.seconds, success=True,
                    pass_outcomes=outcomes, files=summary.files,
                    bytes=sum(o.bytes for o in summary.outcomes))
    assert settings.db_url is not None
    engine = db.make_engine(settings.db_url)
    try:
        m.sessions_by_status = status_counts(engine)
        m.stage_seconds = stage_seconds(engine, started)
    finally:
        engine.dispose()
    m.waiting_for_export = m.sessions_by_status.get("BUILT_NOT_EXPORTED", 0)
    return m


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return re.sub(r"\.?0+$", "", f"{value:.6f}") or "0"
