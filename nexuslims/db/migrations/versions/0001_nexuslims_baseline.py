"""Baseline: the NexusLIMS schema as NexusLIMS 1.4 created it.

``instruments`` and ``session_log`` exactly as ``NexusLIMS_db_creation_script.sql``
(NexusLIMS 1.4) made them: the same columns, NOT NULLs, UNIQUE constraints, the
five-status CHECK on ``record_status``, the CHECK on ``event_type``, the local-time
default on ``timestamp`` and the ``session_log.fk_instrument_idx`` index.

An existing NexusLIMS 1.x or 2.x database is *stamped* at this revision when adopted
(nothing is run); revision 0002 then brings either shape to ours.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OLD_STATUSES = ("COMPLETED", "WAITING_FOR_END", "TO_BE_BUILT", "ERROR", "NO_FILES_FOUND")
EVENT_TYPES = ("START", "END", "RECORD_GENERATION")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "instruments",
        sa.Column("instrument_pid", sa.String(100), nullable=False),
        sa.Column("api_url", sa.Text, nullable=False),
        sa.Column("calendar_name", sa.Text, nullable=False),
        sa.Column("calendar_url", sa.Text, nullable=False),
        sa.Column("location", sa.String(100), nullable=False),
        sa.Column("schema_name", sa.Text, nullable=False),
        sa.Column("property_tag", sa.String(20), nullable=False),
        sa.Column("filestore_path", sa.Text, nullable=False),
        sa.Column("computer_name", sa.Text),
        sa.Column("computer_ip", sa.String(15)),
        sa.Column("computer_mount", sa.Text),
        sa.Column("harvester", sa.Text),
        sa.Column("timezone", sa.Text, nullable=False, server_default="America/New_York"),
        sa.PrimaryKeyConstraint("instrument_pid"),
        sa.UniqueConstraint("instrument_pid", name="instrument_pid_UNIQUE"),
        sa.UniqueConstraint("computer_ip", name="computer_ip_UNIQUE"),
        sa.UniqueConstraint("api_url", name="api_url_UNIQUE"),
        sa.UniqueConstraint("computer_name", name="computer_name_UNIQUE"),
    )
    # 1.4 filled the timestamp with the logger machine's local wall-clock time.
    now = (sa.text("(strftime('%Y-%m-%dT%H:%M:%f', 'now', 'localtime'))") if sqlite
           else sa.text("CURRENT_TIMESTAMP"))
    op.create_table(
        "session_log",
        sa.Column("id_session_log", sa.Integer, nullable=False),
        sa.Column("session_identifier", sa.String(36), nullable=False),
        sa.Column("instrument", sa.String(100), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("record_status", sa.Text, nullable=False, server_default="WAITING_FOR_END"),
        sa.Column("user", sa.String(50)),
        sa.CheckConstraint(_in("event_type", EVENT_TYPES), name="ck_session_log_event_type"),
        sa.CheckConstraint(_in("record_status", OLD_STATUSES),
                           name="ck_session_log_record_status"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.instrument_pid"],
                                name="fk_instrument", ondelete="CASCADE", onupdate="CASCADE"),
        sa.PrimaryKeyConstraint("id_session_log"),
        sa.UniqueConstraint("id_session_log", name="id_session_log_UNIQUE"),
        sqlite_autoincrement=True,
    )
    op.create_index("session_log.fk_instrument_idx", "session_log", ["instrument"])


def downgrade() -> None:
    op.drop_index("session_log.fk_instrument_idx", table_name="session_log")
    op.drop_table("session_log")
    op.drop_table("instruments")
