"""Per-destination state: ``export_targets``, what a destination made of a session.

One row per session and destination, written by the destination the moment the thing
exists (an eLabFTW experiment as soon as its 201 arrives, an ``.eln`` package once it
is in place), before the attempt is logged in ``upload_log``. A retry, or a rebuilt
session, finds it here and updates it instead of creating a second one.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_targets",
        sa.Column("session_identifier", sa.String(255), primary_key=True),
        sa.Column("destination_name", sa.String(100), primary_key=True),
        sa.Column("target_id", sa.String(255)),
        sa.Column("target_url", sa.String(500)),
        sa.Column("detail_json", sa.Text),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("export_targets")
