"""Allow all eight record statuses; bring a 1.x or 2.x NexusLIMS database to one shape.

``session_log``
    Rebuilt (SQLite cannot ALTER a CHECK) with the CHECK on ``record_status`` allowing
    all eight statuses (1.4 allowed five), ``session_identifier`` widened to 255
    characters (NEMO identifiers are URLs), and ``ON DELETE NO ACTION`` instead of
    1.4's ``ON DELETE CASCADE``, so deleting an instrument can no longer silently erase
    its session history. Every row is copied with its id and its timestamp text as
    stored; the AUTOINCREMENT counter is carried over so ids are never reused. The
    local-time default on ``timestamp`` is kept, so 1.x session loggers that rely on it
    keep working. Indexes: ``ix_session_log_session_identifier`` (the name 2.x uses)
    and ``ix_session_log_instrument``.
``instruments``
    Every column except ``instrument_pid`` and ``filestore_path`` becomes optional.
    A NexusLIMS 2.5 table (``display_name``, no ``calendar_name``/``computer_*``) gets
    ``display_name`` renamed back to ``schema_name`` and the dropped columns re-added
    (empty).

Tables this revision does not know (2.x's ``upload_log``, ``external_user_identifiers``,
``alembic_version``) are left as they are.

The upgrade is refused, changing nothing, if a row holds an event type or status
outside the allowed ones (possible only in databases written without the 1.4 CHECKs).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUSES = ("WAITING_FOR_END", "TO_BE_BUILT", "COMPLETED", "ERROR", "NO_FILES_FOUND",
            "NO_CONSENT", "NO_RESERVATION", "BUILT_NOT_EXPORTED")
EVENT_TYPES = ("START", "END", "RECORD_GENERATION")
#: ``instruments`` columns in NexusLIMS' order.
INSTRUMENT_ORDER = ("instrument_pid", "api_url", "calendar_name", "calendar_url", "location",
                    "schema_name", "property_tag", "filestore_path", "computer_name",
                    "computer_ip", "computer_mount", "harvester", "timezone")
#: The columns that become optional (all but the key and ``filestore_path``).
OPTIONAL_INSTRUMENT_COLUMNS: dict[str, sa.types.TypeEngine] = {
    "api_url": sa.Text(), "calendar_name": sa.Text(), "calendar_url": sa.Text(),
    "location": sa.String(100), "schema_name": sa.Text(), "property_tag": sa.String(20),
    "computer_name": sa.Text(), "computer_ip": sa.String(15), "computer_mount": sa.Text(),
    "harvester": sa.Text(), "timezone": sa.Text(),
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _session_log(sqlite: bool) -> sa.Table:
    """``session_log`` as this revision leaves it (SQLite rebuilds it from this)."""
    now = (sa.text("(strftime('%Y-%m-%dT%H:%M:%f', 'now', 'localtime'))") if sqlite
           else sa.text("CURRENT_TIMESTAMP"))
    meta = sa.MetaData()
    sa.Table("instruments", meta, sa.Column("instrument_pid", sa.String(100), primary_key=True))
    return sa.Table(
        "session_log", meta,
        sa.Column("id_session_log", sa.Integer, nullable=False),
        sa.Column("session_identifier", sa.String(255), nullable=False),
        sa.Column("instrument", sa.String(100), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("record_status", sa.Text, nullable=False, server_default="WAITING_FOR_END"),
        sa.Column("user", sa.String(50)),
        sa.CheckConstraint(_in("event_type", EVENT_TYPES), name="ck_session_log_event_type"),
        sa.CheckConstraint(_in("record_status", STATUSES), name="ck_session_log_record_status"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.instrument_pid"],
                                name="fk_instrument", onupdate="CASCADE"),
        sa.PrimaryKeyConstraint("id_session_log"),
        sqlite_autoincrement=True,
    )


def _refuse_unknown_values(conn: sa.Connection) -> None:
    for column, allowed in (("event_type", EVENT_TYPES), ("record_status", STATUSES)):
        bad = conn.execute(sa.text(
            f"SELECT DISTINCT {column} FROM session_log WHERE NOT ({_in(column, allowed)})"
        )).scalars().all()
        if bad:
            raise RuntimeError(
                f"session_log.{column} holds {sorted(map(str, bad))}, which nexuslims does not "
                f"know (allowed: {', '.join(allowed)}); correct those rows, then upgrade again")


def _upgrade_instruments(conn: sa.Connection, sqlite: bool) -> None:
    present = {c["name"] for c in sa.inspect(conn).get_columns("instruments")}
    renamed = "schema_name" not in present and "display_name" in present
    # Batch mode orders columns by their names before any rename.
    order = [tuple("display_name" if renamed and c == "schema_name" else c
                   for c in INSTRUMENT_ORDER)] if sqlite else None
    with op.batch_alter_table("instruments", recreate="always" if sqlite else "auto",
                              partial_reordering=order) as batch:
        if renamed:
            batch.alter_column("display_name", new_column_name="schema_name",
                               existing_type=sa.Text(), nullable=True)
        for name, type_ in OPTIONAL_INSTRUMENT_COLUMNS.items():
            if name in present:
                batch.alter_column(name, existing_type=type_, nullable=True)
            elif not (renamed and name == "schema_name"):
                batch.add_column(sa.Column(name, type_, nullable=True))


def _sqlite_sequence(conn: sa.Connection) -> int | None:
    has = conn.execute(sa.text(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")).first()
    if not has:
        return None
    return conn.execute(sa.text(
        "SELECT seq FROM sqlite_sequence WHERE name = 'session_log'")).scalar()


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    _refuse_unknown_values(conn)
    _upgrade_instruments(conn, sqlite)

    if sqlite:
        seq = _sqlite_sequence(conn)
        # copy_from: build the new table from this definition, not from reflection,
        # whatever CHECKs, FKs and indexes the 1.x or 2.x table had.
        with op.batch_alter_table("session_log", recreate="always",
                                  copy_from=_session_log(sqlite=True)):
            pass
        if seq is not None:
            conn.execute(sa.text(
                "UPDATE sqlite_sequence SET seq = max(seq, :seq) WHERE name = 'session_log'"),
                {"seq": seq})
    else:
        with op.batch_alter_table("session_log") as batch:
            batch.drop_constraint("ck_session_log_record_status", type_="check")
            batch.create_check_constraint("ck_session_log_record_status",
                                          _in("record_status", STATUSES))
            batch.alter_column("session_identifier", existing_type=sa.String(36),
                               type_=sa.String(255), existing_nullable=False)
            batch.drop_constraint("fk_instrument", type_="foreignkey")
            batch.create_foreign_key("fk_instrument", "instruments", ["instrument"],
                                     ["instrument_pid"], onupdate="CASCADE")
        op.drop_index("session_log.fk_instrument_idx", table_name="session_log")
    op.create_index("ix_session_log_session_identifier", "session_log", ["session_identifier"])
    op.create_index("ix_session_log_instrument", "session_log", ["instrument"])


def downgrade() -> None:
    raise NotImplementedError(
        "0002 cannot be undone: NexusLIMS 1.4's CHECK would reject rows with the new "
        "statuses; restore the backup taken before `nexuslims db upgrade` instead")
