"""One builder per database: ``builder_lease``; each build attempt names its pass.

``builder_lease`` holds at most one row per lease name (``builder``): the pass that
may build, as owner (a random token), host, pid and heartbeat. It replaces the lock
file beside ``NX_DATA_PATH``, so builders with different data folders (or hosts)
sharing one database still take turns. ``build_attempts.pass_host``/``pass_pid`` say
which process ran an attempt, so a later pass can tell an attempt whose pass died
(``interrupted``) from one still running.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "builder_lease",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("taken", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("build_attempts", sa.Column("pass_host", sa.String(255)))
    op.add_column("build_attempts", sa.Column("pass_pid", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("build_attempts") as batch:
        batch.drop_column("pass_pid")
        batch.drop_column("pass_host")
    op.drop_table("builder_lease")
