"""Database layer: the only place that speaks SQL.

The session database is a NexusLIMS one (``instruments``, ``session_log``) plus our
build history (``build_attempts``, ``build_stages``). Its schema is managed by the
Alembic revisions shipped in ``nexuslims/db/migrations``; an existing NexusLIMS 1.x or
2.x database is adopted in place by :func:`upgrade_db`, keeping every row.

Modules: :mod:`~nexuslims.db.engine` (engines, error translation),
:mod:`~nexuslims.db.migrate` (init/upgrade/revision checks),
:mod:`~nexuslims.db.sessionlog` (instruments and session log),
:mod:`~nexuslims.db.history` (build attempts and stages),
:mod:`~nexuslims.db.queries` (what the CLI lists and shows).
Every error reaching a caller is a :class:`~nexuslims.errors.DatabaseError`.
"""

from __future__ import annotations

from nexuslims.db.engine import make_engine
from nexuslims.db.history import (
    AttemptRecord,
    StageRecord,
    delete_attempt,
    finish_attempt,
    mark_unbuildable,
    record_stage,
    start_attempt,
)
from nexuslims.db.migrate import (
    VERSION_TABLE,
    current_revision,
    head_revision,
    init_db,
    require_head,
    upgrade_db,
)
from nexuslims.db.queries import (
    SessionDetail,
    SessionSummary,
    list_instruments,
    list_sessions,
    session_detail,
)
from nexuslims.db.schema import INTERRUPTED, STAGE_NAMES, STAGE_STATUSES
from nexuslims.db.sessionlog import (
    add_instrument,
    load_instruments,
    log_session_event,
    session_rows,
    set_session_status,
)

__all__ = [
    "INTERRUPTED",
    "STAGE_NAMES",
    "STAGE_STATUSES",
    "VERSION_TABLE",
    "AttemptRecord",
    "SessionDetail",
    "SessionSummary",
    "StageRecord",
    "add_instrument",
    "current_revision",
    "delete_attempt",
    "finish_attempt",
    "head_revision",
    "init_db",
    "list_instruments",
    "list_sessions",
    "load_instruments",
    "log_session_event",
    "make_engine",
    "mark_unbuildable",
    "record_stage",
    "require_head",
    "session_detail",
    "session_rows",
    "set_session_status",
    "start_attempt",
    "upgrade_db",
]
