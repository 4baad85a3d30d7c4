"""Alert bookkeeping: ``alert_state``, one row per problem alerts know about.

What was found, for how many passes in a row, and when it was last sent, so the next
pass sends only what is new, repeats a persisting problem at most once a day, and
says once when it has cleared.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passes", sa.Integer, nullable=False),
        sa.Column("last_sent", sa.DateTime(timezone=True)),
        sa.Column("cleared", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
