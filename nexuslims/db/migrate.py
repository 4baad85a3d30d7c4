"""Create, adopt and upgrade the session database with the migrations shipped in the package.

The Alembic environment lives in ``nexuslims/db/migrations`` and is run
programmatically, so it works from an installed wheel with no ``alembic.ini``.

Revisions: ``0001`` NexusLIMS 1.4 baseline -> ``0002`` eight statuses and 1.x/2.x
parity -> ``0003`` build history -> ... -> :data:`HEAD` (``migrations/versions``); a new
revision also moves :data:`HEAD`. A new database runs the whole chain. An existing
NexusLIMS database is recognised by its tables and columns (never by a revision id),
stamped ``0001`` and upgraded, keeping every row.

Our revision is recorded in the ``nexuslims_alembic_version`` table, *not*
``alembic_version``: NexusLIMS 2.x keeps its own (unrelated) revision ids in
``alembic_version``, and adopting its database leaves that table untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nexuslims.db.engine import (
    migration_engine,
    new_engine,
    parse_url,
    safe_url,
    sqlite_file,
    translated,
)
from nexuslims.errors import DatabaseError, DatabaseNotAtHead

if TYPE_CHECKING:  # Alembic is imported when migrating, not by every command (0.35 s)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Our Alembic version table; NexusLIMS 2.x's ``alembic_version`` is not ours.
VERSION_TABLE = "nexuslims_alembic_version"
#: The newest revision in ``migrations/versions`` (a test holds it to Alembic's head):
#: what :func:`require_head` compares with, so a database at head is checked without
#: importing Alembic.
HEAD = "0011"
#: The revision an adopted NexusLIMS database is stamped with before upgrading.
BASELINE = "0001"
NEXUSLIMS_1 = "nexuslims-1.x"
NEXUSLIMS_2 = "nexuslims-2.x"
#: Tables only NexusLIMS 2.x creates.
_TABLES_2X = {"alembic_version", "upload_log", "external_user_identifiers"}


@dataclass(frozen=True)
class DatabaseState:
    """What a database holds, as far as migrations care.

    ``kind`` is ``"empty"``, ``"ours"`` (has our version table), ``"nexuslims-1.x"``,
    ``"nexuslims-2.x"`` (a NexusLIMS database not yet adopted) or ``"foreign"``
    (tables that are not a NexusLIMS session log).
    """

    kind: str
    revision: str | None
    tables: frozenset[str]

    @property
    def label(self) -> str | None:
        """Our revision, or the NexusLIMS generation of an unadopted database, or None."""
        if self.kind == "ours":
            return self.revision
        if self.kind in (NEXUSLIMS_1, NEXUSLIMS_2):
            return self.kind
        return None


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this nexuslims needs."""
    head = _script().get_current_head()
    assert head is not None
    return head


def _is_2x(conn: sa.Connection, tables: set[str]) -> bool:
    if tables & _TABLES_2X:
        return True
    inspector = sa.inspect(conn)
    if "display_name" in {c["name"] for c in inspector.get_columns("instruments")}:
        return True
    if conn.dialect.name == "sqlite":
        ddl = conn.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'session_log'"
        )).scalar() or ""
        return "BUILT_NOT_EXPORTED" in ddl
    return False


def inspect_database(conn: sa.Connection) -> DatabaseState:
    """Tell an empty, our own, a NexusLIMS 1.x/2.x or a foreign database apart."""
    tables = set(sa.inspect(conn).get_table_names())
    frozen = frozenset(tables)
    if VERSION_TABLE in tables:
        revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        if revision is not None:
            return DatabaseState("ours", revision, frozen)
        tables.discard(VERSION_TABLE)
    if not tables:
        return DatabaseState("empty", None, frozen)
    if {"instruments", "session_log"} <= tables:
        kind = NEXUSLIMS_2 if _is_2x(conn, tables) else NEXUSLIMS_1
        return DatabaseState(kind, None, frozen)
    return DatabaseState("foreign", None, frozen)


def _known(revision: str) -> bool:
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    try:
        return _script().get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def _check_foreign_keys(conn: sa.Connection, url: str) -> None:
    if conn.dialect.name != "sqlite":
        return
    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        # Rows a session logger wrote with enforcement off; kept, but worth knowing.
        logger.warning("%s: %d row(s) name an instrument missing from `instruments`: %s",
                       safe_url(url), len(problems), problems[:5])


def _run(url: str, action: str, *, adopt: bool) -> tuple[DatabaseState, str]:
    """Migrate ``url`` to head in one transaction; the state found and the revision left."""
    from alembic import command
    from alembic.util import CommandError

    engine = migration_engine(url)
    try:
        with translated(url, action), engine.begin() as conn:
            state = inspect_database(conn)
            if state.kind == "foreign":
                raise DatabaseError(
                    f"{safe_url(url)} holds tables that are not a NexusLIMS session log "
                    f"({', '.join(sorted(state.tables))}); refusing to touch it")
            if not adopt and state.kind != "empty":
                raise DatabaseError(
                    f"{safe_url(url)} already holds tables ({', '.join(sorted(state.tables))}); "
                    "use `nexuslims db upgrade` to adopt or upgrade an existing database")
            if state.kind == "ours" and not _known(state.revision or ""):
                raise DatabaseError(
                    f"{safe_url(url)} is at revision {state.revision}, which this nexuslims "
                    f"does not know (its newest is {head_revision()}): upgrade nexuslims")
            config = _config(conn)
            try:
                if state.kind in (NEXUSLIMS_1, NEXUSLIMS_2):
                    logger.info("adopting %s database %s", state.kind, safe_url(url))
                    command.stamp(config, BASELINE)
                command.upgrade(config, "head")
            except (CommandError, RuntimeError) as err:
                raise DatabaseError(f"{action} failed on {safe_url(url)}: {err}") from err
            _check_foreign_keys(conn, url)
            revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    finally:
        engine.dispose()
    return state, str(revision)


def init_db(url: str) -> str:
    """Create a new session database at head.

    Parameters
    ----------
    url
        SQLAlchemy URL; a SQLite file (and its folder) is created if missing.

    Returns
    -------
    str
        The revision the database is now at.

    Raises
    ------
    DatabaseError
        The database already holds tables (use :func:`upgrade_db`), or cannot be
        reached or written.
    """
    _state, revision = _run(url, "creating the database", adopt=False)
    return revision


def upgrade_db(url: str) -> tuple[str | None, str]:
    """Bring a database to head, adopting an existing NexusLIMS one.

    An empty or missing SQLite database is created at head. A NexusLIMS 1.x or 2.x
    database (recognised by its tables and columns) is stamped at the baseline and
    upgraded, keeping every row, id and timestamp text. One of ours is upgraded from
    its revision. Running it again at head changes nothing. Everything happens in one
    transaction: on failure the database is left as it was.

    Returns
    -------
    tuple
        ``(from, to)``: the revision before (``None`` for an empty database,
        ``"nexuslims-1.x"``/``"nexuslims-2.x"`` for an adopted one) and after.

    Raises
    ------
    DatabaseError
        The database holds foreign tables, rows the schema cannot accept, a revision
        newer than this nexuslims, or cannot be reached.
    """
    state, revision = _run(url, "upgrading the database", adopt=True)
    return state.label, revision


def current_revision(url: str) -> str | None:
    """The database's revision.

    Returns
    -------
    str or None
        Our revision id; ``"nexuslims-1.x"``/``"nexuslims-2.x"`` for a NexusLIMS
        database not yet adopted; None for a missing or empty database (or one whose
        tables are not a NexusLIMS session log).
    """
    path = sqlite_file(parse_url(url))
    if path is not None and not path.exists():
        return None
    engine = new_engine(url)
    try:
        with translated(url, "reading the schema revision"), engine.connect() as conn:
            return inspect_database(conn).label
    finally:
        engine.dispose()


def require_head(engine: Engine) -> None:
    """Check that the database is at the revision this nexuslims needs.

    Raises
    ------
    DatabaseNotAtHead
        The database is older (run ``nexuslims db upgrade``), an unadopted NexusLIMS
        database (run ``nexuslims db upgrade``), or empty (run ``nexuslims db init``).
    DatabaseError
        The database is newer than this nexuslims, is not a NexusLIMS session log,
        or cannot be read.
    """
    url = safe_url(engine.url)
    with translated(engine.url, "reading the schema revision"), engine.connect() as conn:
        state = inspect_database(conn)
    if state.kind == "ours" and state.revision == HEAD:
        return
    head = head_revision()
    if state.kind == "empty":
        raise DatabaseNotAtHead(f"{url} has no tables yet: run `nexuslims db init`")
    if state.kind in (NEXUSLIMS_1, NEXUSLIMS_2):
        raise DatabaseNotAtHead(
            f"{url} is a {state.kind} database not yet adopted by nexuslims: run "
            "`nexuslims db upgrade` (it keeps every row; back the file up first)")
    if state.kind == "foreign":
        raise DatabaseError(f"{url} is not a NexusLIMS session database (tables: "
                            f"{', '.join(sorted(state.tables))})")
    if not _known(state.revision or ""):
        raise DatabaseError(f"{url} is at revision {state.revision}, newer than this "
                            f"nexuslims (which needs {head}): upgrade nexuslims")
    raise DatabaseNotAtHead(f"{url} is at revision {state.revision}, this nexuslims needs "
                            f"{head}: run `nexuslims db upgrade`")
