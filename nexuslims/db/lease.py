"""The builder lease: one row in ``builder_lease`` says which pass may build.

Taken atomically on any database: an INSERT that the primary key lets only one writer
win, or, when the row's holder is gone, an UPDATE guarded by the old owner and
heartbeat (compare and swap), so two passes taking over the same stale lease cannot
both succeed. :mod:`nexuslims.builder.lease` holds it for a pass and renews its heartbeat.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from nexuslims.db.engine import translated, when_unlocked
from nexuslims.db.history import pid_alive
from nexuslims.db.schema import builder_lease
from nexuslims.errors import DatabaseError

BUILDER = "builder"


@dataclass(frozen=True)
class Lease:
    """A ``builder_lease`` row: who holds the lease, and when it last said so."""

    name: str
    owner: str
    host: str
    pid: int
    taken: dt.datetime
    heartbeat: dt.datetime

    @property
    def holder(self) -> str:
        """``pid 123 on host``, for messages."""
        return f"pid {self.pid} on {self.host}"

    def stale_because(self, now: dt.datetime, lease_s: float) -> str | None:
        """Why this lease may be taken over (its process is gone, its heartbeat old), or None.

        On this host the process itself answers: a live holder keeps its lease however
        old its heartbeat looks (a clock stepped back makes a live heartbeat look old).
        Elsewhere the heartbeat is compared with ``now``, which should be the database's
        own clock (:func:`database_now`), the one the heartbeats were written in.
        """
        if self.host == socket.gethostname():
            return None if pid_alive(self.pid) else f"its process ({self.holder}) is gone"
        age = (now - self.heartbeat).total_seconds()
        if age > lease_s:
            return f"its heartbeat is {age:.0f} s old (the lease lasts {lease_s:g} s)"
        return None


@dataclass(frozen=True)
class TakeResult:
    """The outcome of :func:`take_lease`."""

    taken: bool
    other: Lease | None
    """Taken: the stale lease taken over (None if there was none). Refused: the holder."""
    reason: str | None = None
    """Why ``other`` was taken over."""


def database_now(conn: sa.Connection) -> dt.datetime:
    """The database's own clock (UTC): every heartbeat is written and compared in it.

    A database server (PostgreSQL) has one clock for every host; SQLite runs in this
    process, so its clock is this machine's, and on one machine the holder's process is
    asked directly (:meth:`Lease.stale_because`).
    """
    if conn.dialect.name == "sqlite":
        return dt.datetime.now(dt.UTC)
    value = conn.execute(sa.select(sa.func.now())).scalar_one()
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _lease(row: sa.Row) -> Lease:
    return Lease(row.name, row.owner, row.host, row.pid, row.taken, row.heartbeat)


def current_lease(engine: Engine, name: str = BUILDER) -> Lease | None:
    """The lease ``name`` as stored, or None when nobody holds it."""
    with translated(engine.url, "reading the builder lease"), engine.connect() as conn:
        row = conn.execute(sa.select(builder_lease).where(builder_lease.c.name == name)).first()
    return _lease(row) if row else None


def take_lease(engine: Engine, owner: str, *, lease_s: float, name: str = BUILDER,
               now: dt.datetime | None = None) -> TakeResult:
    """Take lease ``name`` for ``owner`` (this process) unless a live pass holds it.

    Parameters
    ----------
    owner
        A token unique to this holder (a random hex string).
    lease_s
        How long a heartbeat is good for: an older one marks its holder as gone.
    """
    mine = dict(name=name, owner=owner, host=socket.gethostname(), pid=os.getpid())
    for _ in range(5):  # each round loses only to a writer that changed the row meanwhile
        if now is None:
            with translated(engine.url, "reading the database's clock"), \
                    engine.connect() as conn:
                stamp = database_now(conn)
        else:
            stamp = now
        try:
            with translated(engine.url, "taking the builder lease"), engine.begin() as conn:
                conn.execute(sa.insert(builder_lease).values(**mine, taken=stamp,
                                                             heartbeat=stamp))
            return TakeResult(True, None)
        except DatabaseError as err:  # the row exists (IntegrityError), or a real failure
            if not isinstance(err.__cause__, exc.IntegrityError):
                raise
        held = current_lease(engine, name)
        if held is None:
            continue
        reason = held.stale_because(stamp, lease_s)
        if reason is None:
            return TakeResult(False, held)
        with translated(engine.url, "taking over the builder lease"), engine.begin() as conn:
            swapped = conn.execute(
                sa.update(builder_lease)
                .where(builder_lease.c.name == name, builder_lease.c.owner == held.owner,
                       builder_lease.c.heartbeat == held.heartbeat)
                .values(**mine, taken=stamp, heartbeat=stamp)).rowcount
        if swapped == 1:
            return TakeResult(True, held, reason)
    held = current_lease(engine, name)
    return TakeResult(False, held)


def renew_lease(engine: Engine, owner: str, name: str = BUILDER) -> bool:
    """Set the heartbeat of ``owner``'s lease to now; False if it is no longer ``owner``'s."""
    def write() -> bool:
        with translated(engine.url, "renewing the builder lease"), engine.begin() as conn:
            return conn.execute(sa.update(builder_lease)
                                .where(builder_lease.c.name == name,
                                       builder_lease.c.owner == owner)
                                .values(heartbeat=database_now(conn))).rowcount == 1

    return when_unlocked(engine, write, "renewing the builder lease")


def release_lease(engine: Engine, owner: str, name: str = BUILDER) -> None:
    """Give up ``owner``'s lease (nothing happens if another holder has taken it)."""
    def write() -> None:
        with translated(engine.url, "releasing the builder lease"), engine.begin() as conn:
            conn.execute(sa.delete(builder_lease).where(builder_lease.c.name == name,
                                                        builder_lease.c.owner == owner))

    when_unlocked(engine, write, "releasing the builder lease")
