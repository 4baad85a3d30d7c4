"""Engines for the session database, and the edge where SQL errors become ours.

Every public function of :mod:`nexuslims.db` runs its SQL inside :func:`translated`,
so callers only ever see :class:`~nexuslims.errors.DatabaseError` (with the URL, its
password hidden) and never a SQLAlchemy or sqlite3 exception.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from nexuslims.errors import DatabaseError

logger = logging.getLogger(__name__)

#: How long a writer waits for another process (a session logger, a second pass)
#: holding the SQLite write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30


def safe_url(url: str | sa.URL) -> str:
    """``url`` as text with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The file behind a SQLite URL, or None (not SQLite, or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def translated(url: str | sa.URL, action: str) -> Iterator[None]:
    """Turn any SQLAlchemy/DBAPI error raised inside into a DatabaseError.

    Parameters
    ----------
    url
        The database URL, named in the message (without its password).
    action
        What was being done, in the user's words ("reading the session log").
    """
    try:
        yield
    except exc.SQLAlchemyError as err:
        orig = getattr(err, "orig", None) or err
        raise DatabaseError(f"{action} failed on {safe_url(url)}: {orig}") from err


def parse_url(url: str) -> sa.URL:
    """``url`` parsed; DatabaseError if it is not an SQLAlchemy URL."""
    try:
        return make_url(url)
    except exc.ArgumentError as err:
        raise DatabaseError(f"not a database URL: {safe_url(url)} ({err})") from err


def _sqlite_connect_hook(engine: Engine, *, foreign_keys: bool, own_transactions: bool) -> None:
    """Set per-connection SQLite pragmas (they do not persist in the file)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        if own_transactions:
            # pysqlite would otherwise commit implicitly before DDL; migrations
            # need one real transaction around everything they do.
            dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    if own_transactions:

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def new_engine(url: str, *, for_migration: bool = False) -> Engine:
    """An engine for ``url`` without opening it (see :func:`make_engine`)."""
    parsed = parse_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    kwargs: dict = {}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    if for_migration:
        kwargs["poolclass"] = NullPool
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as err:
        raise DatabaseError(f"cannot use database {safe_url(url)}: {err}") from err
    if is_sqlite:
        # Migrations rebuild tables; with foreign keys on, SQLite would cascade the
        # DROP of a parent table into its children (NexusLIMS 1.4 declared
        # ON DELETE CASCADE), so they run with enforcement off and check afterwards.
        _sqlite_connect_hook(engine, foreign_keys=not for_migration,
                             own_transactions=for_migration)
    return engine


def probe(engine: Engine) -> None:
    """Open a connection and read the catalogue, so a corrupt or unreachable DB fails here."""
    with translated(engine.url, "opening the database"), engine.connect() as conn:
        sa.inspect(conn).get_table_names()


def make_engine(url: str) -> Engine:
    """An engine for the session database at ``url``.

    SQLite connections get foreign keys enforced and a busy timeout of
    ``SQLITE_BUSY_TIMEOUT_S`` seconds. The database is opened once here, so an
    unreachable, missing or corrupt database fails now rather than mid-pass.

    Parameters
    ----------
    url
        An SQLAlchemy URL (``sqlite:////path/to/nexuslims_db.sqlite``,
        ``postgresql+psycopg://user@host/db``).

    Returns
    -------
    Engine

    Raises
    ------
    DatabaseError
        The URL is malformed, its driver is missing, the SQLite file does not exist,
        or the database cannot be opened or read. The message names the URL without
        its password.
    """
    path = sqlite_file(parse_url(url))
    if path is not None and not path.exists():
        raise DatabaseError(f"no database at {safe_url(url)}: create one with "
                            "`nexuslims db init` (or point NX_DB_PATH at the existing file)")
    engine = new_engine(url)
    try:
        probe(engine)
    except DatabaseError:
        engine.dispose()
        raise
    return engine


def migration_engine(url: str) -> Engine:
    """An engine for running migrations: no pool, SQLite foreign keys off, one transaction.

    Creates the parent directory of a SQLite file if needed (the file itself is
    created by SQLite on first connect).
    """
    path = sqlite_file(parse_url(url))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DatabaseError(f"cannot create the folder for {safe_url(url)}: {err}") from err
    return new_engine(url, for_migration=True)
