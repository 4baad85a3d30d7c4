"""One builder per database, wherever it runs: the builder lease, and cleaning up after
passes that died.

The lease is a row in the session database (see :mod:`nexuslims.db.lease`), not a file
beside ``NX_DATA_PATH``: two builders with different data folders, or on different
hosts, that share one database take turns. A heartbeat thread renews it while the pass
runs; it is released when the pass ends, however it ends. A lease whose holder died
(its process is gone from this host, or its heartbeat is older than the lease time,
``NX_BUILDER_LEASE`` seconds) is taken over, with a log line that says so. A lease
held by a live process on this host is never taken over, whatever its heartbeat says;
heartbeats are written and compared in the database's clock. Before it writes a
session's record or outcome, a pass confirms it still holds the lease
(:func:`confirm_lease`) and stops with :class:`LeaseLost` if it does not.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims.db.engine import safe_url
from nexuslims.db.lease import (
    BUILDER,
    Lease,
    current_lease,
    database_now,
    release_lease,
    renew_lease,
    take_lease,
)
from nexuslims.errors import LockHeld, NexusLIMSError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from nexuslims.config import Settings

logger = logging.getLogger(__name__)

#: Seconds a heartbeat is good for; a holder silent for longer is taken as gone.
LEASE_S = 120.0
#: A temporary file nobody has written to for this long belongs to a dead pass: a live
#: writer moves its file into place within seconds of its last write.
TMP_STALE_S = 3600.0
#: Under NX_DATA_PATH while temporary files of a dead pass may remain to be removed.
SWEEP_PENDING = ".dead-pass-cleanup"
STOPPED_PENDING = ".stopped-pass-cleanup"
# atomic_file's ".<name>.<random>.<pid>.tmp" (".<name>.<random>.tmp" before it named its
# writer) and the previews' ".<name>.<pid>.tmp.png".
_TMP_NAME = re.compile(r"^\..+\.tmp(\.png)?$")
# The writer of a temporary file (a worker, or the pass itself): its pid, on this machine.
_WRITER_PID = re.compile(r"\.(\d+)\.tmp(\.png)?$")


class LeaseLost(KeyboardInterrupt):
    """Another pass holds the builder lease now: this one stops before writing anything
    more (like an interruption, the session being built is left for the next pass)."""

    exit_code = 1


#: The lease this process holds: (database URL, owner), and whether it was seen lost.
_held: dict[str, tuple[str, str]] = {}
_lost = threading.Event()


def confirm_lease(engine: Engine) -> None:
    """Check that this process still holds the builder lease of ``engine``'s database.

    Does nothing when no lease is held here (a dry run, a test calling the pass itself).

    Raises
    ------
    LeaseLost
        Another pass took the lease over.
    """
    held = _held.get(str(engine.url))
    if held is None:
        return
    lease = None if _lost.is_set() else current_lease(engine)
    if lease is None or lease.owner != held[1]:
        _lost.set()
        who = lease.holder if lease is not None else "nobody"
        logger.error("the builder lease is now held by %s: this pass stops without "
                     "writing more", who)
        raise LeaseLost(f"lost the builder lease to {who}")


def lease_seconds(env: Mapping[str, str] | None = None) -> float:
    """The lease time: ``NX_BUILDER_LEASE`` seconds (default 120, at least 1)."""
    raw = (os.environ if env is None else env).get("NX_BUILDER_LEASE", "").strip()
    try:
        return max(float(raw), 1.0) if raw else LEASE_S
    except ValueError:
        logger.warning("NX_BUILDER_LEASE=%s is not a number of seconds; using %g", raw, LEASE_S)
        return LEASE_S


@contextmanager
def builder_lock(settings: Settings) -> Iterator[Lease]:
    """Hold the builder lease of ``settings``' database for the duration of the block.

    Raises
    ------
    LockHeld
        A live pass (this host or another) holds the lease.
    DatabaseError
        The database cannot be reached, or is older than this nexuslims.
    """
    from nexuslims import db

    assert settings.db_url is not None
    lease_s = lease_seconds(settings.env)
    engine = db.make_engine(settings.db_url, settings.env)
    try:
        db.require_head(engine)
        owner = secrets.token_hex(16)
        result = take_lease(engine, owner, lease_s=lease_s)
        if not result.taken:
            held = result.other
            who = f"pid {held.pid} on {held.host}" if held else "unknown"
            raise LockHeld(f"another pass ({who}) holds the builder lease of "
                           f"{safe_url(settings.db_url)}")
        if result.other is not None:
            logger.warning("took over the builder lease of %s: %s", result.other.holder,
                           result.reason)
        lease = current_lease(engine)
        assert lease is not None
        _held[str(engine.url)] = (str(engine.url), owner)
        _lost.clear()
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(engine, owner, lease_s, stop),
                                name="builder-lease-heartbeat", daemon=True)
        beat.start()
        try:
            yield lease
        finally:  # also on KeyboardInterrupt and SystemExit
            _held.pop(str(engine.url), None)
            stop.set()
            beat.join(timeout=5)
            try:
                release_lease(engine, owner)
            except NexusLIMSError as exc:  # it runs out by itself after lease_s
                logger.error("could not release the builder lease: %s", exc)
    finally:
        engine.dispose()


def _heartbeat(engine: Engine, owner: str, lease_s: float, stop: threading.Event) -> None:
    interval = max(lease_s / 4, 0.2)
    while not stop.wait(interval):
        try:
            if not renew_lease(engine, owner):
                _lost.set()
                held = current_lease(engine)
                logger.error("lost the builder lease to %s: this pass was silent longer "
                             "than the lease (%g s)", held.holder if held else "nobody",
                             lease_s)
                return
        except NexusLIMSError as exc:
            logger.error("could not renew the builder lease: %s", exc)


def clean_up_after_dead_passes(engine: Engine, settings: Settings, *,
                               now: float | None = None) -> None:
    """Close the build attempts of passes that died, and remove their temporary files.

    Called at the start of a pass. Attempts left ``RUNNING`` by a pass that is gone
    become ``interrupted``; ``.*.tmp`` files (records, sidecars, previews) under
    ``NX_DATA_PATH`` and ``NX_RECORDS_PATH`` untouched for ``TMP_STALE_S`` are removed.
    Only a dead pass leaves such files, so the data tree is walked only after one was
    found, until everything it could have left is older than ``TMP_STALE_S``: not on
    every pass of a site that holds millions of sidecars.
    """
    from nexuslims.db.history import mark_interrupted

    held = current_lease(engine, BUILDER)
    live = set()
    with engine.connect() as conn:
        clock = database_now(conn)
    if held is not None and held.stale_because(clock, lease_seconds(settings.env)) is None:
        live.add((held.host, held.pid))
    try:
        marked = mark_interrupted(engine, live_elsewhere=live)
    except NexusLIMSError as exc:  # history only: never a reason to skip a pass
        logger.error("could not close the attempts of earlier passes: %s", exc)
        marked = []
    if settings.data_path is None:
        return
    pending = settings.data_path / SWEEP_PENDING
    stopped = settings.data_path / STOPPED_PENDING
    now = now or time.time()
    try:
        if marked:
            pending.parent.mkdir(parents=True, exist_ok=True)
            pending.touch()
        if not pending.exists() and not stopped.exists():
            return
        # The dead pass wrote nothing after the marker: once the marker is stale, so is
        # every file it left, and this sweep removes the last of them. (A worker of a
        # dead pass may outlive it and still write; a stopped pass killed its own.)
        done = not pending.exists() or pending.stat().st_mtime < now - TMP_STALE_S
    except OSError as exc:
        logger.error("could not note the clean-up after a dead pass: %s", exc)
        return
    roots = [p for p in (settings.data_path, settings.records_path) if p is not None]
    left: list[Path] = []
    removed = remove_stale_tmp_files(roots, older_than=now - TMP_STALE_S, left=left)
    if removed:
        logger.info("removed %d temporary file(s) left by passes that died or were stopped",
                    len(removed))
    if done:
        pending.unlink(missing_ok=True)
    if not left:  # after a stopped pass, nothing left to sweep: later passes need not walk
        stopped.unlink(missing_ok=True)


def note_stopped_pass(settings: Settings) -> None:
    """A pass stopped by a signal: its killed workers may have left temporary files (a
    preview half written); the next passes sweep for them, as after a dead pass."""
    if settings.data_path is None:
        return
    try:
        settings.data_path.mkdir(parents=True, exist_ok=True)
        (settings.data_path / STOPPED_PENDING).touch()
    except OSError as exc:
        logger.error("could not note the clean-up after a stopped pass: %s", exc)


def remove_stale_tmp_files(roots: Iterable[Path], *, older_than: float,
                           left: list[Path] | None = None) -> list[Path]:
    """Remove temporary files (``.<name>...tmp``) under ``roots`` last written before
    ``older_than`` (a POSIX time), and previews being drawn by a process of this machine
    that is gone (``.<name>...<pid>.tmp`` and ``.png``), whatever their age; return those
    removed. Those found but kept (too recent: perhaps being written) are added to
    ``left``."""
    from nexuslims.db.history import pid_alive

    removed: list[Path] = []
    seen: set[Path] = set()
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            here = Path(folder)
            if here in seen:
                continue
            seen.add(here)
            for name in names:
                if not _TMP_NAME.match(name):
                    continue
                path = here / name
                writer = _WRITER_PID.search(name)
                try:
                    if path.lstat().st_mtime < older_than or (
                            writer is not None and not pid_alive(int(writer.group(1)))):
                        path.unlink()
                        removed.append(path)
                    elif left is not None:
                        left.append(path)
                except OSError as exc:  # gone meanwhile, or not ours to remove
                    logger.debug("could not remove %s: %s", path, exc)
    return removed
