"""Engines for the session database, and the edge where SQL errors become ours.

Every public function of :mod:`nexuslims.db` runs its SQL inside :func:`translated`,
so callers only ever see :class:`~nexuslims.errors.DatabaseError` (with the URL, its
password hidden) and never a SQLAlchemy or sqlite3 exception.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from nexuslims.errors import DatabaseError

logger = logging.getLogger(__name__)

#: How long one statement waits for another process (a session logger, a second pass)
#: holding the SQLite write lock before SQLite says "database is locked"
#: (``NX_DB_BUSY_TIMEOUT`` seconds overrides it).
SQLITE_BUSY_TIMEOUT_S = 30
#: How long a write of ours is tried again while the database stays locked
#: (``NX_DB_LOCKED_RETRY`` seconds overrides it). Longer than a session logger or an
#: operator's sqlite3 shell holds the lock; short enough that a pass does not hang.
LOCKED_RETRY_S = 300

T = TypeVar("T")
RETRY_OPTION = "nexuslims_locked_retry_s"


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        logger.warning("%s=%s is not a number of seconds; using %g", name, raw, default)
        return default
    return max(value, 0.0)


def busy_timeout_s(env: Mapping[str, str] | None = None) -> float:
    """The SQLite busy timeout for new connections: ``NX_DB_BUSY_TIMEOUT`` or 30 s."""
    return _seconds(os.environ if env is None else env, "NX_DB_BUSY_TIMEOUT",
                    SQLITE_BUSY_TIMEOUT_S)


def locked_retry_s(env: Mapping[str, str] | None = None) -> float:
    """How long writes are retried on a locked database: ``NX_DB_LOCKED_RETRY`` or 300 s."""
    return _seconds(os.environ if env is None else env, "NX_DB_LOCKED_RETRY", LOCKED_RETRY_S)


def is_locked(err: BaseException) -> bool:
    """Whether ``err`` (or what it was raised from) means "another writer holds the lock"."""
    while err is not None:
        if isinstance(err, exc.OperationalError | exc.DBAPIError):
            orig = getattr(err, "orig", None)
            text = str(orig if orig is not None else err).lower()
            # SQLite's busy errors; PostgreSQL's lock_not_available, deadlock_detected
            # and serialization_failure (SQLSTATE 55P03, 40P01, 40001).
            if ("database is locked" in text or "database table is locked" in text
                    or getattr(orig, "sqlstate", None) in ("55P03", "40P01", "40001")):
                return True
        err = err.__cause__  # type: ignore[assignment]
    return False


def when_unlocked(engine: Engine, write: Callable[[], T], what: str) -> T:
    """Run ``write`` (one transaction); while the database is locked, run it again.

    SQLite already waits the busy timeout inside each statement; this waits across
    statements, up to the engine's retry bound in all (:func:`locked_retry_s` when it
    was made), so a writer holding the database for a minute delays a pass instead of
    failing it.

    Parameters
    ----------
    engine
        The engine ``write`` uses.
    write
        The whole transaction; it is run again from the start, so it must not have
        effects outside the database.
    what
        What it does, for the log line ("recording stage 'extract' of attempt 3").

    Raises
    ------
    DatabaseError
        The write failed for another reason, or the database stayed locked.
    """
    retry_s = engine.get_execution_options().get(RETRY_OPTION)
    deadline = time.monotonic() + (locked_retry_s() if retry_s is None else retry_s)
    delay = 0.05
    while True:
        try:
            return write()
        except DatabaseError as err:
            if not is_locked(err) or time.monotonic() + delay > deadline:
                raise
            logger.warning("database locked while %s; trying again for up to %.0f s",
                           what, max(deadline - time.monotonic(), 0))
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


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


def _sqlite_connect_hook(engine: Engine, *, foreign_keys: bool, own_transactions: bool,
                         busy_ms: float) -> None:
    """Set per-connection SQLite pragmas (they do not persist in the file)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        if own_transactions:
            # pysqlite would otherwise commit implicitly before DDL; migrations
            # need one real transaction around everything they do.
            dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        cursor.close()

    if own_transactions:

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def new_engine(url: str, *, for_migration: bool = False,
               env: Mapping[str, str] | None = None) -> Engine:
    """An engine for ``url`` without opening it (see :func:`make_engine`).

    Every SQLite connection it opens gets the busy timeout of :func:`busy_timeout_s`
    (read from ``env``, default the process environment).
    """
    parsed = parse_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    busy = busy_timeout_s(env)
    kwargs: dict = {"execution_options": {RETRY_OPTION: locked_retry_s(env)}}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": busy}
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
                             own_transactions=for_migration, busy_ms=busy * 1000)
    return engine


def probe(engine: Engine) -> None:
    """Open a connection and read the catalogue, so a corrupt or unreachable DB fails here."""
    with translated(engine.url, "opening the database"), engine.connect() as conn:
        sa.inspect(conn).get_table_names()


def make_engine(url: str, env: Mapping[str, str] | None = None) -> Engine:
    """An engine for the session database at ``url``.

    SQLite connections get foreign keys enforced and a busy timeout
    (``NX_DB_BUSY_TIMEOUT`` in ``env``, else in the process environment, else
    ``SQLITE_BUSY_TIMEOUT_S`` seconds). The database is opened once here, so an
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
    engine = new_engine(url, env=env)
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


def quick_check(engine: Engine, limit: int = 20) -> list[str]:
    """SQLite's ``PRAGMA quick_check``: ``["ok"]``, or up to ``limit`` problems found.

    Other databases check themselves: ``["ok"]`` without asking.
    """
    if engine.dialect.name != "sqlite":
        return ["ok"]
    with translated(engine.url, "checking the database's integrity"), \
            engine.connect() as conn:
        return [str(row[0]) for row in conn.exec_driver_sql(f"PRAGMA quick_check({int(limit)})")]
