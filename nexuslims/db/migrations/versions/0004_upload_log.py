"""Export attempts: ``upload_log``, in NexusLIMS 2.x's shape.

One row per attempt to export a record to one destination: session, destination,
success, time, remote id and URL, error message, and a JSON blob for anything else.
A NexusLIMS 2.x database already has this table with these columns; it is kept as it
is, rows and all.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("upload_log"):
        return  # adopted from NexusLIMS 2.x
    op.create_table(
        "upload_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_identifier", sa.String(255), nullable=False),
        sa.Column("destination_name", sa.String(100), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.String, nullable=False),
        sa.Column("record_id", sa.String(255)),
        sa.Column("record_url", sa.String(500)),
        sa.Column("error_message", sa.String),
        sa.Column("metadata_json", sa.String),
    )
    op.create_index("ix_upload_log_session_identifier", "upload_log", ["session_identifier"])
    op.create_index("ix_upload_log_destination_name", "upload_log", ["destination_name"])


def downgrade() -> None:
    op.drop_index("ix_upload_log_destination_name", table_name="upload_log")
    op.drop_index("ix_upload_log_session_identifier", table_name="upload_log")
    op.drop_table("upload_log")
