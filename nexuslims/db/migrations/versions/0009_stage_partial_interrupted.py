"""Stage statuses ``partial`` (ran to its end with failures) and ``interrupted``.

An extract stage where some files could not be read was recorded ``ok``; a stage stopped
by SIGTERM/SIGINT had no status at all. Widens ``ck_build_stages_status``.

Revision ID: 0009
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NEW = "status IN ('ok', 'partial', 'error', 'skipped', 'interrupted')"
_OLD = "status IN ('ok', 'error', 'skipped')"


def _replace_check(condition: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table with the new one.
    with op.batch_alter_table("build_stages", table_kwargs={"sqlite_autoincrement": True}) \
            as batch:
        batch.drop_constraint("ck_build_stages_status", type_="check")
        batch.create_check_constraint("ck_build_stages_status", sa.text(condition))


def upgrade() -> None:
    _replace_check(_NEW)


def downgrade() -> None:
    op.execute("UPDATE build_stages SET status = 'ok' WHERE status = 'partial'")
    op.execute("UPDATE build_stages SET status = 'error' WHERE status = 'interrupted'")
    _replace_check(_OLD)
