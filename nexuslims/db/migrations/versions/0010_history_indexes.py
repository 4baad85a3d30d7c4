"""An index on ``build_attempts.record_path``.

Every record written asks which sessions already wrote that path
(``buildstate.sessions_with_record_path``); without an index that scans the whole build
history, which grows by a row per attempt for years. (``session_identifier`` and
``build_stages.attempt_id`` are indexed since 0003.)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {"ix_build_attempts_record_path": ("build_attempts", ["record_path"])}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
