"""The build history of a pass: one attempt per session tried, its stages, its outcome.

:class:`Attempt` writes the ``build_attempts`` row of a session and a row per stage
(status, timings, counts), and emits one JSON line per stage on the
``nexuslims.events`` logger. The functions below conclude an attempt the ways a pass can
end it: a final status, a deferral after a passing fault (:mod:`nexuslims.faults`), an
interruption. A failure to write the history is logged, never the session's fault; an
outcome that could not be written (the database locked past the retry bound) is written
again at the end of the pass (:func:`settle_unrecorded`), so that no attempt of a pass
that ended stays RUNNING.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from nexuslims import db
from nexuslims.builder.lease import confirm_lease
from nexuslims.config import Settings
from nexuslims.db import buildstate
from nexuslims.errors import NexusLIMSError
from nexuslims.faults import Deferred, classify
from nexuslims.model.session import Session, Status
from nexuslims.redact import redacted

if TYPE_CHECKING:
    from nexuslims.builder.outcome import SessionOutcome

# Its lines are the pipeline's: one logger for what a pass did to a session.
logger = logging.getLogger("nexuslims.builder.run")
events = logging.getLogger("nexuslims.events")

LEFT_FOR_LATER = "TO_BE_BUILT"


class Attempt:
    """The build-history row of one attempt and its stages (nothing in a dry run)."""

    def __init__(self, engine, session: Session, dry_run: bool):
        self.engine, self.session, self.dry_run = engine, session, dry_run
        self.id = None
        if not dry_run:
            self.id = self._record(db.start_attempt, engine, session.identifier,
                                   session.instrument.pid)

    def _record(self, write, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Write to the build history; a failure is logged, never the session's fault."""
        try:
            return write(*args, **kwargs)
        except NexusLIMSError as exc:
            logger.error("session %s: build history not recorded: %s",
                         self.session.identifier, exc)
            return None

    @contextmanager
    def stage(self, name: str, started: tuple[dt.datetime, float] | None = None,
              ) -> Iterator[db.StageRecord]:
        """Time a stage; record it as ok, or as error with the message, then re-raise.

        ``started`` (clock, perf counter): the stage began before the block (extraction
        runs for many sessions at once; each records it when its files are done).
        """
        begun, t0 = started or (dt.datetime.now(dt.UTC), time.perf_counter())
        rec = db.StageRecord(name=name, started=begun, finished=begun, status="ok")
        try:
            yield rec
        except Exception as exc:
            rec.status, rec.error = "error", message_of(exc)
            raise
        except KeyboardInterrupt as exc:  # SIGINT/SIGTERM (nexuslims.builder.interrupt)
            rec.status, rec.error = db.INTERRUPTED, str(exc) or "interrupted"
            raise
        finally:
            rec.finished = dt.datetime.now(dt.UTC)
            seconds = time.perf_counter() - t0
            events.info(json.dumps({
                "event": "stage", "session": self.session.identifier, "stage": name,
                "status": rec.status, "seconds": round(seconds, 4), "files": rec.files_found,
                "datasets": rec.datasets, "failures": rec.failures, "error": rec.error}))
            if self.id is not None:
                self._record(db.record_stage, self.engine, self.id, rec)

    def finish(self, status: str, record_path: Path | None = None,
               error: str | None = None) -> bool:
        """Conclude the attempt; False when that could not be written (it is kept for
        :func:`settle_unrecorded`, and the attempt is RUNNING until then)."""
        if self.id is None:
            return True
        done = self._record(_finish_and_confirm, self.engine, self.id, status,
                            record_path=str(record_path) if record_path else None, error=error)
        key = (id(self.engine), self.id)
        if done:
            _unrecorded.pop(key, None)
        else:
            _unrecorded[key] = (self, status, record_path, error)
        return bool(done)

    def defer(self, error: str) -> bool:
        return self.finish(buildstate.DEFERRED, error=error)

    def discard(self) -> None:
        if self.id is not None:
            self._record(db.delete_attempt, self.engine, self.id)


def _finish_and_confirm(engine, attempt_id: int, status: str, **outcome) -> bool:  # type: ignore[no-untyped-def]
    db.finish_attempt(engine, attempt_id, status, **outcome)
    return True


#: Conclusions that could not be written, by (engine, attempt id): the attempt, status,
#: record path and error.
_unrecorded: dict[tuple[int, int], tuple[Attempt, str, Path | None, str | None]] = {}


def settle_unrecorded(engine) -> int:  # type: ignore[no-untyped-def]
    """Write again the outcomes of this engine's attempts that could not be written
    (the end of a pass: the lock that stopped them is usually gone by then).

    What still cannot be written is logged; the next pass closes those attempts (they
    belong to a pass that ended: :func:`nexuslims.db.history.mark_interrupted`).

    Returns
    -------
    int
        How many attempts are still unrecorded.
    """
    left = 0
    for key, (attempt, status, record_path, error) in list(_unrecorded.items()):
        if key[0] != id(engine):
            continue
        if attempt.finish(status, record_path, error):
            logger.info("session %s: outcome %s recorded after all",
                        attempt.session.identifier, status)
        else:
            left += 1
            _unrecorded.pop(key, None)  # the next pass closes it
            logger.error("session %s: the outcome %s of its build attempt could not be "
                         "recorded; the next pass closes the attempt",
                         attempt.session.identifier, status)
    return left


def finish_interrupted(attempt: Attempt | None, session: Session,
                        exc: KeyboardInterrupt) -> None:
    # The pass is being stopped: the session stays TO_BE_BUILT for the next one.
    logger.warning("session %s: %s; left for the next pass", session.identifier, exc)
    left = getattr(exc, "sessions", None)
    if isinstance(left, list) and session.identifier not in left:
        left.append(session.identifier)  # for the pass's last words (the CLI)
    if attempt is None:
        return
    try:
        attempt.finish(db.INTERRUPTED, error=str(exc) or "interrupted")
    except NexusLIMSError as failed:
        logger.error("session %s: could not record the interruption: %s",
                     session.identifier, failed)


def failed_session(engine, attempt: Attempt | None, outcome: SessionOutcome,
                    exc: Exception, settings: Settings, *, quiet: bool = False,
                    ) -> SessionOutcome:
    deferred = classify(exc)
    if deferred is not None:
        return defer(attempt, outcome, deferred, settings, quiet=quiet)
    logger.exception("session %s failed", outcome.identifier)
    return conclude(engine, attempt, outcome, Status.ERROR, message=message_of(exc))


def conclude(engine, attempt: Attempt | None, outcome: SessionOutcome, status: str, *,
              message: str | None = None, record_path: Path | None = None) -> SessionOutcome:
    outcome.status, outcome.message = status, redacted(message)
    if attempt is None or attempt.dry_run:
        return outcome
    confirm_lease(engine)  # a pass that lost the lease writes no outcome
    attempt.finish(status, record_path=record_path, error=message)
    try:
        db.set_session_status(engine, outcome.identifier, outcome.instrument, status)
    except NexusLIMSError as exc:
        logger.error("session %s: could not record status %s: %s",
                     outcome.identifier, status, exc)
        # What the database says is what the next pass acts on: the session is still
        # TO_BE_BUILT there and will be built again (its record path is its own); its
        # attempt says so, as a deferral, not as the status the session does not have.
        outcome.message = f"{status} not recorded: {redacted(str(exc))}"
        outcome.status, outcome.problem = LEFT_FOR_LATER, "environment"
        attempt.finish(buildstate.DEFERRED, record_path=record_path,
                       error=f"environment: {outcome.message}")
        outcome.unrecorded = True
    return outcome


def defer(attempt: Attempt | None, outcome: SessionOutcome, fault: Deferred,
           settings: Settings, *, quiet: bool = False) -> SessionOutcome:
    """Leave the session TO_BE_BUILT; its attempt says why and starts the backoff.
    ``quiet``: the fault was logged once for the pass (an executor out of reach)."""
    outcome.status, outcome.problem = LEFT_FOR_LATER, fault.problem
    outcome.message = (f"{fault}; left for later (tried again after "
                       f"{settings.retry_delay_minutes:g} min or more)")
    (logger.info if quiet else logger.error)("session %s: %s", outcome.identifier,
                                              outcome.message)
    if attempt is not None:
        try:
            attempt.defer(f"{fault.problem}: {fault}")
        except NexusLIMSError as exc:
            logger.error("session %s: could not record the deferral: %s",
                         outcome.identifier, exc)
    return outcome


def message_of(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text if isinstance(exc, NexusLIMSError) else f"{exc.__class__.__name__}: {text}"
