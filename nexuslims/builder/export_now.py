"""``nexuslims export [--session ID] [--retry-failed]``: export built records now.

Without ``--session``: every record waiting for export (BUILT_NOT_EXPORTED), whatever
its backoff. ``--retry-failed`` adds the sessions whose export ended in ERROR (a
destination rejected the record) and whose record is in the outbox. ``--session ID``:
that session's record, if it was built; a COMPLETED session is sent only to the
destinations that do not have it yet (one configured since, say); an ERROR one only
with ``--retry-failed``. Holds the builder lock, so it never races a pass.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from nexuslims.errors import UsageError
from nexuslims.export.errors import ExportError
from nexuslims.model.session import Status

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.db.uploads import ExportState
    from nexuslims.export import ExportOutcome


def run_export(settings: Settings, *, session: str | None = None, retry_failed: bool = False,
               out: TextIO | None = None) -> int:
    """Export (again) now, print one line per session and a summary; the exit status.

    Raises
    ------
    NexusLIMSError
        Bad settings, an unreachable database, another pass running (LockHeld), or a
        ``--session`` that has no record to export.
    """
    from nexuslims.builder.lease import builder_lock

    out = out or sys.stdout
    assert settings.data_path is not None
    with builder_lock(settings):
        outcomes = export_now(settings, session=session, retry_failed=retry_failed)
    for o in outcomes:
        print(f"{o.session_identifier} [{o.instrument}]: {o.status}"
              + (f" - {o.message}" if o.message else ""), file=out)
    done = sum(o.status == Status.COMPLETED for o in outcomes)
    waiting = sum(o.status == Status.BUILT_NOT_EXPORTED for o in outcomes)
    failed = sum(o.status == Status.ERROR for o in outcomes)
    print(f"Export finished: {done} exported, {waiting} still waiting, {failed} failed"
          + ("" if outcomes else " (nothing to export)"), file=out)
    return 0


def export_now(settings: Settings, *, session: str | None = None,
               retry_failed: bool = False) -> list[ExportOutcome]:
    """Export the chosen sessions' records now, ignoring backoff (see the module docstring)."""
    from nexuslims import db
    from nexuslims.db.uploads import export_states
    from nexuslims.export import build_exporter

    exporter = build_exporter(settings)
    assert settings.db_url is not None
    engine = db.make_engine(settings.db_url)
    try:
        db.require_head(engine)
        if session is not None:
            states = export_states(engine, session_identifier=session)
            if not states:
                raise UsageError(f"no session {session!r} in the session log")
            _check_exportable(states[0], retry_failed)
        else:
            wanted = [Status.BUILT_NOT_EXPORTED] + ([Status.ERROR] if retry_failed else [])
            states = [s for s in export_states(engine, wanted)
                      if s.status == Status.BUILT_NOT_EXPORTED or s.record_path]
        return exporter.export_again(engine, states)
    finally:
        engine.dispose()


def _check_exportable(state: ExportState, retry_failed: bool) -> None:
    sid, status = state.session_identifier, state.status
    if status == Status.ERROR and not retry_failed:
        raise ExportError(f"session {sid!r} is ERROR: add --retry-failed to export its "
                          "record again")
    if status not in (Status.BUILT_NOT_EXPORTED, Status.ERROR, Status.COMPLETED) \
            or (status != Status.BUILT_NOT_EXPORTED and not state.record_path):
        raise ExportError(f"session {sid!r} is {status} and has no built record to export "
                          "(records are built by `nexuslims process`)")
