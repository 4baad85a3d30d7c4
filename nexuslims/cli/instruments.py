"""``nexuslims instruments``: the instruments table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nexuslims.cli._common import check_timezone, print_table, settings
from nexuslims.find import filestore_path_problem


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("instruments", parents=[common],
                       help="add, edit, remove or list instruments")
    isub = p.add_subparsers(dest="instruments_command", metavar="ACTION", required=True)
    a = isub.add_parser("add", parents=[common], help="add an instrument")
    a.add_argument("pid", help="instrument PID, e.g. FEI-Titan-TEM-635816")
    a.add_argument("--filestore-path", required=True,
                   help="its data directory, relative to NX_INSTRUMENT_DATA_PATH")
    a.add_argument("--name", dest="schema_name", help="name shown in records (schema_name)")
    a.add_argument("--timezone", help="IANA timezone, e.g. America/New_York (default: local)")
    a.add_argument("--harvester", choices=["", "nemo", "sharepoint"], default="",
                   help="reservation calendar (default: none)")
    for opt in ("api-url", "calendar-name", "calendar-url", "location", "property-tag",
                "computer-name", "computer-ip", "computer-mount"):
        a.add_argument(f"--{opt}")
    e = isub.add_parser("edit", parents=[common], help="change an instrument's settings")
    e.add_argument("pid", help="the instrument's PID")
    e.add_argument("--name", dest="schema_name", help="name shown in records (schema_name)")
    e.add_argument("--filestore-path",
                   help="its data directory, relative to NX_INSTRUMENT_DATA_PATH")
    e.add_argument("--harvester", choices=["", "nemo", "sharepoint"],
                   help="reservation calendar ('' for none)")
    e.add_argument("--timezone", help="IANA timezone, e.g. America/New_York")
    r = isub.add_parser("remove", parents=[common], help="remove an instrument",
                        description="Remove an instrument. Refused while sessions in the "
                        "session log are on it, unless --force, which removes those "
                        "sessions' log rows too (their build history is kept).")
    r.add_argument("pid", help="the instrument's PID")
    r.add_argument("--force", action="store_true",
                   help="also remove the instrument's sessions from the session log")
    ls = isub.add_parser("list", parents=[common], help="list instruments")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(handler=run)


def filestore_problem(path: str) -> str | None:
    """Why ``path`` cannot be an instrument's filestore path, or None if it can."""
    problem = filestore_path_problem(path)
    return None if problem is None else problem.replace("filestore path", "--filestore-path", 1)


def run(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB

    command = args.instruments_command
    path = getattr(args, "filestore_path", None)
    problem = filestore_problem(path) if path is not None else None
    if problem:
        print(f"nexuslims instruments {command}: {problem}", file=sys.stderr)
        return 2
    if getattr(args, "timezone", None):
        check_timezone(args.timezone)
    checked = settings(args, NEEDS_DB)
    engine = db.make_engine(checked.db_url)
    db.require_head(engine)
    if command in ("edit", "remove") and args.pid not in db.load_instruments(engine):
        print(f"nexuslims instruments {command}: no instrument {args.pid!r} (see "
              "`nexuslims instruments list`)", file=sys.stderr)
        return 2
    if command == "add" and args.pid in db.load_instruments(engine):
        print(f"nexuslims instruments add: instrument {args.pid!r} is already in the "
              "instruments table (change it with `nexuslims instruments edit`)",
              file=sys.stderr)
        return 2
    if command == "remove":
        return _remove(engine, args.pid, args.force)
    if path is not None:
        _warn_if_absent(checked.instrument_data_path, path)
    if command == "add":
        from nexuslims.model.session import Instrument

        instrument = Instrument(
            pid=args.pid, filestore_path=args.filestore_path, schema_name=args.schema_name,
            timezone=args.timezone, harvester=args.harvester or None, api_url=args.api_url,
            calendar_name=args.calendar_name, calendar_url=args.calendar_url,
            location=args.location, property_tag=args.property_tag,
            computer_name=args.computer_name, computer_ip=args.computer_ip,
            computer_mount=args.computer_mount)
        db.add_instrument(engine, instrument)
        print(f"added instrument {args.pid}")
        return 0
    if command == "edit":
        from nexuslims.db.sessionlog import update_instrument

        changes = {k: v for k, v in (("schema_name", args.schema_name),
                                     ("filestore_path", path), ("timezone", args.timezone),
                                     ("harvester", args.harvester)) if v is not None}
        if "harvester" in changes:
            changes["harvester"] = changes["harvester"] or None
        if not changes:
            print("nexuslims instruments edit: nothing to change (give --name, "
                  "--filestore-path, --harvester or --timezone)", file=sys.stderr)
            return 2
        update_instrument(engine, args.pid, **changes)
        print(f"changed instrument {args.pid}: "
              + ", ".join(f"{k}={v if v is not None else ''}" for k, v in changes.items()))
        return 0
    instruments = sorted(db.load_instruments(engine).values(), key=lambda i: i.pid)
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(i) for i in instruments], indent=2))
    else:
        print_table(["PID", "NAME", "FILESTORE PATH", "HARVESTER", "TIMEZONE"],
                    [[i.pid, i.schema_name or "", i.filestore_path, i.harvester or "",
                      i.timezone or ""] for i in instruments])
    return 0


def _remove(engine, pid: str, force: bool) -> int:
    from nexuslims.db.sessionlog import remove_instrument, sessions_of_instrument

    sessions = sessions_of_instrument(engine, pid)
    if sessions and not force:
        print(f"nexuslims instruments remove: instrument {pid!r} has {sessions} session(s) "
              "in the session log; add --force to remove them with it", file=sys.stderr)
        return 2
    removed = remove_instrument(engine, pid, with_sessions=force)
    print(f"removed instrument {pid}"
          + (f" and its {removed} session(s) from the session log" if removed else ""))
    return 0


def _warn_if_absent(root: Path | None, path: str) -> None:
    """Say so when the folder is not there: a typo, or a share that is not mounted yet."""
    if root is not None and not (root / path).is_dir():
        print(f"nexuslims: warning: {root / path} does not exist (yet?): check the path, or "
              "that the instruments' share is mounted (its sessions find no files until "
              "it is there)", file=sys.stderr)
