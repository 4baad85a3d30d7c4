"""The tables as the running code sees them (the migrations own the DDL).

These definitions are used to build queries, never to create tables: a database gets
its tables from the Alembic revisions in ``nexuslims/db/migrations/versions``, so that
a new database and an adopted NexusLIMS one end up with the same shape.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()

#: Names of the stages of one build attempt, in the order the pipeline runs them.
STAGE_NAMES = ("find_files", "cluster", "extract", "build", "validate", "export")
#: Values of ``build_stages.status``: ``partial`` is a stage that ran to its end with
#: failures (files whose metadata could not be read); ``interrupted`` one that was stopped.
STAGE_STATUSES = ("ok", "partial", "error", "skipped", "interrupted")
#: ``build_attempts.status`` while an attempt runs; a finished attempt holds the
#: session status it concluded with (COMPLETED, ERROR, NO_FILES_FOUND...).
RUNNING = "RUNNING"
#: ``build_attempts.status`` of an attempt whose pass ended before it did (killed,
#: interrupted by a signal, its lease lost).
INTERRUPTED = "interrupted"


class LogTimestamp(TypeDecorator):
    """``session_log.timestamp``: handed back exactly as stored.

    NexusLIMS writes ISO text in SQLite, naive (``2020-02-04T09:00:00.000``, instrument
    local time) or with an offset (``2021-08-02T10:00:00-04:00``). SQLAlchemy's SQLite
    DATETIME parser would misread both, so on SQLite the column is read as text and
    interpreted later by :func:`nexuslims.model.session.parse_timestamp`. Datetimes written
    by nexuslims carry their UTC offset, so they mean the same thing to every reader.
    On other databases it is a TIMESTAMP WITH TIME ZONE and reads as a datetime.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if isinstance(value, dt.datetime) and dialect.name == "sqlite":
            return value.isoformat(timespec="milliseconds")
        return value


class UTCDateTime(TypeDecorator):
    """A timezone-aware instant, stored in UTC.

    SQLite gets fixed-width ISO text (``2024-05-01T14:03:07.123456+00:00``), which
    sorts in time order; other databases get TIMESTAMP WITH TIME ZONE. Values read
    back are aware datetimes in UTC. Naive datetimes are refused: their meaning would
    depend on the machine that wrote them.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.utcoffset() is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


instruments = sa.Table(
    "instruments", metadata,
    sa.Column("instrument_pid", sa.String(100), primary_key=True),
    sa.Column("api_url", sa.Text),
    sa.Column("calendar_name", sa.Text),
    sa.Column("calendar_url", sa.Text),
    sa.Column("location", sa.String(100)),
    sa.Column("schema_name", sa.Text),
    sa.Column("property_tag", sa.String(20)),
    sa.Column("filestore_path", sa.Text),
    sa.Column("computer_name", sa.Text),
    sa.Column("computer_ip", sa.String(15)),
    sa.Column("computer_mount", sa.Text),
    sa.Column("harvester", sa.Text),
    sa.Column("timezone", sa.Text),
)

session_log = sa.Table(
    "session_log", metadata,
    sa.Column("id_session_log", sa.Integer, primary_key=True),
    sa.Column("session_identifier", sa.String(255), nullable=False),
    sa.Column("instrument", sa.String(100), sa.ForeignKey("instruments.instrument_pid"),
              nullable=False),
    sa.Column("timestamp", LogTimestamp, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("record_status", sa.Text, nullable=False),
    sa.Column("user", sa.String(50)),
)

build_attempts = sa.Table(
    "build_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_identifier", sa.String(255), nullable=False),
    sa.Column("instrument", sa.String(100), nullable=False),
    sa.Column("started", UTCDateTime, nullable=False),
    sa.Column("finished", UTCDateTime),
    sa.Column("duration_s", sa.Float),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("record_path", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("pass_host", sa.String(255)),
    sa.Column("pass_pid", sa.Integer),
)

build_stages = sa.Table(
    "build_stages", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("attempt_id", sa.Integer, sa.ForeignKey("build_attempts.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("started", UTCDateTime, nullable=False),
    sa.Column("finished", UTCDateTime),
    sa.Column("duration_s", sa.Float),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("files_found", sa.Integer),
    sa.Column("bytes_found", sa.BigInteger),
    sa.Column("datasets", sa.Integer),
    sa.Column("failures", sa.Integer),
    sa.Column("error", sa.Text),
)

upload_log = sa.Table(
    "upload_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_identifier", sa.String(255), nullable=False),
    sa.Column("destination_name", sa.String(100), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("timestamp", sa.String, nullable=False),
    sa.Column("record_id", sa.String(255)),
    sa.Column("record_url", sa.String(500)),
    sa.Column("error_message", sa.String),
    sa.Column("metadata_json", sa.String),
)

# What a destination made of a session (revision 0011): an eLabFTW experiment's id, an
# ``.eln`` package's path; kept across attempts and rebuilds so nothing is made twice.
export_targets = sa.Table(
    "export_targets", metadata,
    sa.Column("session_identifier", sa.String(255), primary_key=True),
    sa.Column("destination_name", sa.String(100), primary_key=True),
    sa.Column("target_id", sa.String(255)),
    sa.Column("target_url", sa.String(500)),
    sa.Column("detail_json", sa.Text),
    sa.Column("updated", UTCDateTime, nullable=False),
)

harvest_state = sa.Table(
    "harvest_state", metadata,
    sa.Column("harvester", sa.String(32), primary_key=True),
    sa.Column("server", sa.String(500), primary_key=True),
    sa.Column("last_success", UTCDateTime),
    sa.Column("last_attempt", UTCDateTime),
    sa.Column("last_error", sa.Text),
)

builder_lease = sa.Table(
    "builder_lease", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("taken", UTCDateTime, nullable=False),
    sa.Column("heartbeat", UTCDateTime, nullable=False),
)

# The web face (revision 0008): what the record list searches, API tokens, passes.
record_index = sa.Table(
    "record_index", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("record_path", sa.Text, nullable=False),
    sa.Column("session_identifier", sa.String(255)),
    sa.Column("instrument", sa.String(100)),
    sa.Column("instrument_name", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("start", UTCDateTime),
    sa.Column("experimenters", sa.Text),
    sa.Column("datasets", sa.Integer, nullable=False),
    sa.Column("activities", sa.Integer, nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("indexed", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(80), nullable=False),
    sa.Column("instrument", sa.String(100)),
    sa.Column("note", sa.Text),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("revoked", UTCDateTime),
    sa.Column("last_used", UTCDateTime),
)

passes = sa.Table(
    "passes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started", UTCDateTime, nullable=False),
    sa.Column("finished", UTCDateTime),
    sa.Column("duration_s", sa.Float),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("sessions", sa.Integer, nullable=False),
    sa.Column("built", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("exported", sa.Integer, nullable=False),
    sa.Column("message", sa.Text),
)
