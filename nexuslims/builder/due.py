"""Which waiting sessions are due in a pass, and their files, with one walk per folder.

A session is due once it has ended by the machine's clock and ``NX_BUILD_DELAY_MINUTES``
have passed, and (after a passing fault) once its retry backoff has passed. The files of
all due sessions of one instrument folder come from one walk over the union of their
windows (:func:`nexuslims.find.find_files_by_window`), so a pass over many sessions
that have no files yet costs one walk per instrument, not one per session.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from nexuslims.config import Settings
from nexuslims.db.buildstate import Deferral
from nexuslims.errors import NexusLIMSError
from nexuslims.faults import PROBLEMS, retry_after
from nexuslims.find import (
    FindResult,
    FoundFile,
    WalkLimits,
    find_files_by_window,
    share_problem,
)
from nexuslims.model.session import Session

logger = logging.getLogger(__name__)

#: How far outside a session's window files are reported when it has none (a clock off).
NEARBY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Waiting:
    """A session that is not due in this pass, why, and what is out of reach (if any)."""

    session: Session
    message: str
    problem: str | None = None


def due_sessions(sessions: list[Session], settings: Settings,
                 deferrals: dict[str, Deferral], *, now: dt.datetime,
                 clock: dt.datetime) -> tuple[list[Session], list[Waiting]]:
    """Split sessions into those due now and those left for later (with why).

    A session is due once ``NX_BUILD_DELAY_MINUTES`` have passed since its end, and
    never before its end by ``clock`` (the machine's), whatever ``now`` says; a session
    whose latest attempts were deferred is due once its backoff has passed by ``clock``.
    """
    delay = dt.timedelta(minutes=settings.build_delay_minutes)
    base = dt.timedelta(minutes=settings.retry_delay_minutes)
    due: list[Session] = []
    later: list[Waiting] = []
    for session in sessions:
        tz = session.instrument.tzinfo
        deferral = deferrals.get(session.identifier)
        if session.end > clock or session.end + delay > now:
            ready = (session.end + delay).astimezone(tz).isoformat()
            later.append(Waiting(session, f"ends {session.end.astimezone(tz).isoformat()}; "
                                          f"built from {ready}"))
        elif deferral and (retry := retry_after(deferral.count, deferral.last, base)) > clock:
            reason = deferral.reason or "deferred"
            problem = reason.partition(":")[0]
            later.append(Waiting(session, f"{reason} (deferred {deferral.count} time(s) in a "
                                 f"row; next try after {retry.astimezone(tz).isoformat()})",
                                 problem if problem in PROBLEMS else None))
        else:
            due.append(session)
    if later:
        logger.info("%d session(s) not due yet (not ended, build delay or retry backoff)",
                    len(later))
    return due, later


def find_for_sessions(settings: Settings, sessions: list[Session], *,
                      had_files: frozenset[str] = frozenset()) -> dict[str, FindResult]:
    """Each session's files, walking each instrument folder once for all its sessions.

    Parameters
    ----------
    had_files
        Instruments whose earlier sessions found files: an empty folder of one of them
        is an unmounted share until shown otherwise, so its sessions get no verdict.
    """
    assert settings.instrument_data_path is not None
    share = settings.share
    limits = WalkLimits(seconds=share.find_timeout or None,
                        entries=share.find_max_entries or None)
    unmounted = share_problem(settings)
    extensions = None
    if settings.file_strategy == "exclusive":
        from nexuslims.extractors.registry import known_extensions
        extensions = known_extensions()
    by_root: dict[Path, list[Session]] = {}
    for session in sessions:
        root = settings.instrument_data_path / session.instrument.filestore_path
        by_root.setdefault(root, []).append(session)
    found: dict[str, FindResult] = {}
    for root, group in by_root.items():
        t0 = time.perf_counter()
        if unmounted is not None:
            gap = FindResult([], "none", [unmounted], complete=False)
            found.update({s.identifier: gap for s in group})
            continue
        try:
            by_session = find_files_by_window(
                root, {s.identifier: (s.start, s.end) for s in group}, margin=NEARBY,
                extensions=extensions, ignore_patterns=settings.ignore_patterns,
                allowed_roots=share.extra_roots, limits=limits)
        except (ValueError, NexusLIMSError) as exc:
            gap = FindResult([], "none", [f"cannot search {root}: {exc}"], complete=False)
            found.update({s.identifier: gap for s in group})
            continue
        pids = {s.instrument.pid for s in group}
        if any(r.empty for r in by_session.values()) and pids & had_files:
            # An unmounted share leaves exactly this: no verdict, the sessions wait.
            message = (f"instrument folder {root} is empty, but earlier sessions of "
                       f"{', '.join(sorted(pids & had_files))} found files there: is the "
                       "share unmounted? (set NX_INSTRUMENT_DATA_MOUNT or "
                       "NX_INSTRUMENT_DATA_MARKER to check it explicitly)")
            logger.error("%s", message)
            by_session = {k: FindResult([], r.method, [message], complete=False)
                          for k, r in by_session.items()}
        found.update(by_session)
        logger.debug("walked %s once for %d session(s) in %.2f s", root, len(group),
                     time.perf_counter() - t0)
    return found


def no_files_message(root: Path, session: Session, nearby: list[FoundFile]) -> str:
    """"No files", and when files exist just outside the window, how many and how far."""
    tz = session.instrument.tzinfo
    text = (f"no files under {root} between {session.start.astimezone(tz).isoformat()} "
            f"and {session.end.astimezone(tz).isoformat()}")
    start, end = session.start.timestamp(), session.end.timestamp()
    before = [start - f.mtime for f in nearby if f.mtime <= start]
    after = [f.mtime - end for f in nearby if f.mtime > end]
    parts = [f"{len(gaps)} file(s) modified {_span(min(gaps))} to {_span(max(gaps))} {side}"
             for gaps, side in ((before, "before its start"), (after, "after its end"))
             if gaps]
    if parts:
        text += (f"; but {' and '.join(parts)}: is the instrument computer's clock "
                 "off? Fix it, then `nexuslims sessions reset` this session")
    return text


def _span(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{max(seconds, 1) / 60:.0f} min"


def files_overdue(session: Session, settings: Settings, now: dt.datetime) -> bool:
    """Whether "no files" is final: NX_FILE_DELAY_DAYS have passed since the end."""
    return now - session.end >= dt.timedelta(days=settings.file_delay_days)


def waits_for_files(found: FindResult, session: Session, settings: Settings,
                     now: dt.datetime) -> bool:
    return not found.files and found.complete and not files_overdue(session, settings, now)
