"""Build history: ``build_attempts`` and ``build_stages``.

One ``build_attempts`` row per attempt to build a session's record, one
``build_stages`` row per stage the attempt ran (find_files, cluster, extract, build,
validate, export). Times are timezone-aware UTC (ISO text ending ``+00:00`` in SQLite,
TIMESTAMP WITH TIME ZONE elsewhere). ``build_attempts.instrument`` has no foreign key:
an attempt is recorded even for a session naming an instrument the table lacks.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "build_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_identifier", sa.String(255), nullable=False),
        sa.Column("instrument", sa.String(100), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("duration_s", sa.Float),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("dry_run", sa.Boolean(create_constraint=True, name="ck_build_attempts_dry_run"),
                  nullable=False, server_default=sa.false()),
        sa.Column("record_path", sa.Text),
        sa.Column("error", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_build_attempts_session_identifier", "build_attempts",
                    ["session_identifier"])
    op.create_table(
        "build_stages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("attempt_id", sa.Integer,
                  sa.ForeignKey("build_attempts.id", name="fk_build_stages_attempt",
                                ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("duration_s", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("files_found", sa.Integer),
        sa.Column("bytes_found", sa.BigInteger),
        sa.Column("datasets", sa.Integer),
        sa.Column("failures", sa.Integer),
        sa.Column("error", sa.Text),
        sa.CheckConstraint("status IN ('ok', 'error', 'skipped')",
                           name="ck_build_stages_status"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_build_stages_attempt_id", "build_stages", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_build_stages_attempt_id", table_name="build_stages")
    op.drop_table("build_stages")
    op.drop_index("ix_build_attempts_session_identifier", table_name="build_attempts")
    op.drop_table("build_attempts")
