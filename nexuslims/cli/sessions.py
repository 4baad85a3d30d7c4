"""``nexuslims sessions``: the session log and its build history."""

from __future__ import annotations

import argparse
import json
import sys

from nexuslims.cli._common import blank, print_table, settings


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sessions", parents=[common], help="list sessions and their build history")
    ssub = p.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    ls = ssub.add_parser("list", parents=[common], help="list sessions")
    ls.add_argument("--status", help="only sessions with this status, e.g. ERROR")
    ls.add_argument("--limit", type=int, default=None, help="at most N sessions")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")
    sh = ssub.add_parser("show", parents=[common],
                         help="a session, every build attempt and its stages")
    sh.add_argument("identifier", help="the session_identifier")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB

    engine = db.make_engine(settings(args, NEEDS_DB).db_url)
    db.require_head(engine)
    if args.sessions_command == "list":
        sessions = db.list_sessions(engine, status=args.status, limit=args.limit)
        if args.json:
            from dataclasses import asdict

            print(json.dumps([asdict(s) for s in sessions], indent=2, default=str))
        else:
            print_table(["SESSION", "INSTRUMENT", "USER", "START", "END", "STATUS", "ATTEMPTS"],
                         [[s.identifier, s.instrument, s.user or "", s.start or "",
                           s.end or "", s.status, s.attempts] for s in sessions])
        return 0
    detail = db.session_detail(engine, args.identifier)
    if detail is None:
        print(f"nexuslims: no session {args.identifier!r} in the session log", file=sys.stderr)
        return 1
    from nexuslims.db.uploads import uploads_of_session

    print_session_detail(detail, uploads_of_session(engine, args.identifier))
    return 0


def print_session_detail(detail, uploads=()) -> None:
    print(f"session {detail.identifier}: {detail.status}")
    print_table(["ROW", "EVENT", "TIMESTAMP", "STATUS", "INSTRUMENT", "USER"],
                 [[r.id, r.event_type, r.timestamp, r.record_status, r.instrument, r.user or ""]
                  for r in detail.rows])
    if not detail.attempts:
        print("no build attempts")
    for a in detail.attempts:
        took = f"{a.duration_s:.2f} s" if a.duration_s is not None else "unfinished"
        print(f"\nattempt {a.id}: {a.status}, started {a.started:%Y-%m-%d %H:%M:%S %Z}, {took}"
              + (" (dry run)" if a.dry_run else ""))
        if a.record_path:
            print(f"  record: {a.record_path}")
        if a.error:
            print(f"  error: {a.error}")
        print_table(["STAGE", "STATUS", "SECONDS", "FILES", "BYTES", "DATASETS", "FAILURES",
                      "ERROR"],
                     [[st.name, st.status, f"{st.duration_s:.3f}", blank(st.files_found),
                       blank(st.bytes_found), blank(st.datasets), blank(st.failures),
                       st.error or ""] for st in a.stages])
    print("\nexport attempts:")
    print_table(["TIME", "DESTINATION", "RESULT", "ID", "URL / ERROR"],
                 [[f"{u.timestamp:%Y-%m-%d %H:%M:%S %Z}", u.destination,
                   "ok" if u.success else "failed", u.record_id or "",
                   (u.record_url or "") if u.success else (u.error or "")] for u in uploads])
