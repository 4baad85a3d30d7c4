"""Harvest bookkeeping: ``harvest_state``, one row per scheduler server.

Harvesting resumes from the last successful harvest of each server (not a fixed
window), so no event is lost after an outage.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "harvest_state",
        sa.Column("harvester", sa.String(32), primary_key=True),
        sa.Column("server", sa.String(500), primary_key=True),
        sa.Column("last_success", sa.DateTime(timezone=True)),
        sa.Column("last_attempt", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("harvest_state")
