"""``nexuslims sessions``: the session log, its build history, and logging sessions by hand.

``add``, ``start``, ``end`` and ``reset`` are for sites without a calendar: they write the
rows NexusLIMS 1.x's session logger wrote (see :mod:`nexuslims.sessions.logbook`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from nexuslims.cli._common import blank, print_table, settings
from nexuslims.model.session import parse_timestamp


def iso_time(text: str) -> dt.datetime:
    """argparse type: an ISO 8601 time, kept naive when given naive (the instrument's zone)."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use YYYY-MM-DDTHH:MM[:SS][+HH:MM] (without an "
            "offset: the instrument's timezone)") from None


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sessions", parents=[common],
                       help="list, show, add, start, end or reset sessions")
    ssub = p.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    ls = ssub.add_parser("list", parents=[common], help="list sessions")
    ls.add_argument("--status", help="only sessions with this status, e.g. ERROR")
    ls.add_argument("--limit", type=int, default=None, help="at most N sessions")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")
    sh = ssub.add_parser("show", parents=[common],
                         help="a session, every build attempt and its stages")
    sh.add_argument("identifier", help="the session_identifier")

    def who(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("instrument", help="the instrument's PID")
        parser.add_argument("--user", help="who used the instrument")
        parser.add_argument("--id", dest="identifier",
                            help="the session id (default: a new UUID)")

    add = ssub.add_parser("add", parents=[common], help="log a finished session (TO_BE_BUILT)",
                          description="Log a finished session, built by the next pass. Times "
                          "are ISO 8601; without an offset they are the instrument's "
                          "timezone.")
    who(add)
    add.add_argument("--start", type=iso_time, required=True, metavar="TIME")
    add.add_argument("--end", type=iso_time, required=True, metavar="TIME")
    start = ssub.add_parser("start", parents=[common],
                            help="log a session's start now (WAITING_FOR_END); prints its id",
                            description="Log that a session starts now, as NexusLIMS 1.x's "
                            "session logger did at login. The last line printed is the "
                            "session id, for `nexuslims sessions end`.")
    who(start)
    end = ssub.add_parser("end", parents=[common],
                          help="log a session's end now; the next pass builds it")
    end.add_argument("identifier", help="the id `sessions start` printed")
    reset = ssub.add_parser("reset", parents=[common],
                            help="build finished sessions again on the next pass",
                            description="Set built, failed or NO_FILES_FOUND sessions back to "
                            "TO_BE_BUILT; their history is kept. Refuses a session that "
                            "is being built or has not ended.")
    reset.add_argument("identifiers", nargs="+", metavar="ID")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB

    command = args.sessions_command
    status = None
    if command == "list" and args.status:
        status = _status(args.status)
        if status is None:
            return 2
    engine = db.make_engine(settings(args, NEEDS_DB).db_url)
    db.require_head(engine)
    if command in ("add", "start", "end", "reset"):
        return _log(engine, args)
    if command == "list":
        sessions = db.list_sessions(engine, status=status, limit=args.limit)
        if args.json:
            from dataclasses import asdict

            print(json.dumps([asdict(s) for s in sessions], indent=2, default=str))
        else:
            zones = {pid: i.tzinfo for pid, i in db.load_instruments(engine).items()}
            print_table(["SESSION", "INSTRUMENT", "USER", "START", "END", "STATUS", "ATTEMPTS"],
                        [[s.identifier, s.instrument, s.user or "",
                          shown_time(s.start, zones.get(s.instrument)),
                          shown_time(s.end, zones.get(s.instrument)), s.status, s.attempts]
                         for s in sessions])
        return 0
    detail = db.session_detail(engine, args.identifier)
    if detail is None:
        print(f"nexuslims: no session {args.identifier!r} in the session log (see "
              "`nexuslims sessions list`)", file=sys.stderr)
        return 2
    from nexuslims.db.uploads import destination_states, uploads_of_session

    instruments = db.load_instruments(engine)
    pid = next((r.instrument for r in detail.rows if r.instrument in instruments), None)
    print_session_detail(detail, uploads_of_session(engine, args.identifier),
                         destination_states(engine, args.identifier),
                         tz=instruments[pid].tzinfo if pid else None)
    return 0


def _status(text: str) -> str | None:
    """The status named by ``text`` (any case), or None after saying which exist."""
    from nexuslims.model.session import Status

    wanted = text.strip().upper()
    if wanted in Status.__members__:
        return Status[wanted].value
    print(f"nexuslims sessions list: --status {text}: not a status; use one of "
          f"{', '.join(s.value for s in Status)}", file=sys.stderr)
    return None


def _when(value: dt.datetime | None) -> str:
    return value.isoformat() if value is not None else "?"


def _log(engine, args: argparse.Namespace) -> int:
    from nexuslims.sessions import logbook

    command = args.sessions_command
    if command == "add":
        s = logbook.add_session(engine, args.instrument, args.start, args.end, user=args.user,
                                identifier=args.identifier)
        print(f"added session {s.identifier} on {s.instrument}, {_when(s.start)} to "
              f"{_when(s.end)}: {s.status}")
    elif command == "start":
        s = logbook.start_session(engine, args.instrument, user=args.user,
                                  identifier=args.identifier)
        print(f"started session on {s.instrument} at {_when(s.start)}; end it with "
              f"`nexuslims sessions end {s.identifier}`. Its id:")
        print(s.identifier)
    elif command == "end":
        s = logbook.end_session(engine, args.identifier)
        print(f"ended session {s.identifier} at {_when(s.end)}: {s.status}")
    else:
        for s in logbook.reset_sessions(engine, args.identifiers):
            print(f"session {s.identifier}: {s.status} (the next pass builds it again)")
    return 0


def shown_time(value: dt.datetime | str | None, tz: dt.tzinfo | None) -> str:
    """A time in the instrument's zone ``tz``, with the zone: ``2024-03-05 09:00:00 EST``.

    A naive time (as NexusLIMS 1.x's session logger wrote them) is the instrument's wall
    clock; without a zone, times are shown in UTC.
    """
    if value is None or value == "":
        return ""
    zone = tz or dt.UTC
    try:
        when = parse_timestamp(value, zone)
    except ValueError:
        return str(value)
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"


def print_session_detail(detail, uploads=(), destinations=(),
                         tz: dt.tzinfo | None = None) -> None:
    """Every row, attempt, stage and export of a session; times in the instrument's
    zone ``tz``, each with its zone."""
    print(f"session {detail.identifier}: {detail.status}")
    print_table(["ROW", "EVENT", "TIME", "STATUS", "INSTRUMENT", "USER"],
                [[r.id, r.event_type, shown_time(r.timestamp, tz), r.record_status,
                  r.instrument, r.user or ""] for r in detail.rows])
    if not detail.attempts:
        print("no build attempts")
    # Numbered within the session: the database ids count every session's attempts.
    for number, a in enumerate(detail.attempts, 1):
        took = f"{a.duration_s:.2f} s" if a.duration_s is not None else "unfinished"
        print(f"\nattempt {number}: {a.status}, started {shown_time(a.started, tz)}, "
              f"{took}" + (" (dry run)" if a.dry_run else ""))
        if a.record_path:
            print(f"  record: {a.record_path}")
        if a.error:
            print(f"  {_note_label(a.status)}: {a.error}")
        print_table(["STAGE", "STATUS", "SECONDS", "FILES", "BYTES", "DATASETS", "FAILURES",
                     "ERROR"],
                    [[st.name, st.status, f"{st.duration_s:.3f}", blank(st.files_found),
                      blank(st.bytes_found), blank(st.datasets), blank(st.failures),
                      st.error or ""] for st in a.stages])
    if destinations:
        print("\ndestinations:")
        print_table(["DESTINATION", "STATE", "ID", "LINK", "ATTEMPTS", "LAST ERROR"],
                    [[d.destination, "exported" if d.exported else "not exported",
                      d.target_id or "", d.link or "", d.attempts, d.last_error or ""]
                     for d in destinations])
    print("\nexport attempts:")
    print_table(["TIME", "DESTINATION", "RESULT", "ID", "URL / ERROR"],
                [[shown_time(u.timestamp, tz), u.destination,
                  "ok" if u.success else "failed", u.record_id or "",
                  (u.record_url or "") if u.success else (u.error or "")] for u in uploads])


def _note_label(status: str) -> str:
    """What an attempt's message is: where the record went, why it stopped, or an error."""
    from nexuslims.model.session import Status

    if status == Status.COMPLETED:
        return "exported"
    if status in (Status.NO_CONSENT, Status.NO_RESERVATION, Status.NO_FILES_FOUND):
        return "reason"
    return "error"
