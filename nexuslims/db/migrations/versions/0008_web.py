"""The web face's tables: ``record_index``, ``api_tokens`` and ``passes``.

- ``record_index``: one row per record written, holding what the record list filters
  and searches on (title, instrument, start, experimenters, and one lower-cased
  ``search_text`` of title, motivation, samples, projects and dataset names), so a page
  of the list never parses XML. On SQLite an FTS5 trigram index of it,
  ``record_search``, answers substring searches without scanning the table.
- ``api_tokens``: bearer tokens for the session-logging API, stored only as
  ``sha256:<hex>`` of the token, optionally bound to one instrument.
- ``passes``: one row per pass of the builder (start, duration, outcome, counts), for
  the builder page and ``/healthz``.

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_index",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_path", sa.Text, nullable=False),
        sa.Column("session_identifier", sa.String(255)),
        sa.Column("instrument", sa.String(100)),
        sa.Column("instrument_name", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("start", sa.DateTime(timezone=True)),
        sa.Column("experimenters", sa.Text),
        sa.Column("datasets", sa.Integer, nullable=False, server_default="0"),
        sa.Column("activities", sa.Integer, nullable=False, server_default="0"),
        sa.Column("search_text", sa.Text, nullable=False, server_default=""),
        sa.Column("indexed", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_record_index_record_path", "record_index", ["record_path"], unique=True)
    op.create_index("ix_record_index_session_identifier", "record_index",
                    ["session_identifier"])
    op.create_index("ix_record_index_start", "record_index", ["start"])
    op.create_index("ix_record_index_instrument_start", "record_index", ["instrument", "start"])
    _sqlite_full_text_search()
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(80), nullable=False),
        sa.Column("instrument", sa.String(100)),
        sa.Column("note", sa.Text),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True)),
        sa.Column("last_used", sa.DateTime(timezone=True)),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_table(
        "passes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("duration_s", sa.Float),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False, server_default="0"),
        sa.Column("built", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("exported", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_passes_started", "passes", ["started"])


def _sqlite_full_text_search() -> None:
    """On SQLite with FTS5 (3.34+ for trigrams): a substring index of ``search_text``.

    Kept in step with ``record_index`` by triggers; elsewhere the search scans
    ``search_text`` with LIKE, which is fast enough for a few thousand records.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    text = bind.exec_driver_sql("SELECT sqlite_version()").scalar() or "0.0"
    version = tuple(int(p) for p in str(text).split(".")[:2])
    fts5 = bind.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')").scalar()
    if version < (3, 34) or not fts5:
        return
    op.execute("CREATE VIRTUAL TABLE record_search USING fts5(search_text, tokenize='trigram', "
               "content='record_index', content_rowid='id')")
    op.execute("CREATE TRIGGER record_search_insert AFTER INSERT ON record_index BEGIN "
               "INSERT INTO record_search(rowid, search_text) VALUES (new.id, new.search_text); "
               "END")
    op.execute("CREATE TRIGGER record_search_delete AFTER DELETE ON record_index BEGIN "
               "INSERT INTO record_search(record_search, rowid, search_text) "
               "VALUES ('delete', old.id, old.search_text); END")
    op.execute("CREATE TRIGGER record_search_update AFTER UPDATE ON record_index BEGIN "
               "INSERT INTO record_search(record_search, rowid, search_text) "
               "VALUES ('delete', old.id, old.search_text); "
               "INSERT INTO record_search(rowid, search_text) VALUES (new.id, new.search_text); "
               "END")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS record_search")
    op.drop_table("passes")
    op.drop_table("api_tokens")
    op.drop_table("record_index")
