"""``nexuslims instruments``: the instruments table."""

from __future__ import annotations

import argparse
import json

from nexuslims.cli._common import check_timezone, print_table, settings


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("instruments", parents=[common], help="add or list instruments")
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
    ls = isub.add_parser("list", parents=[common], help="list instruments")
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB
    from nexuslims.sessions import Instrument

    engine = db.make_engine(settings(args, NEEDS_DB).db_url)
    db.require_head(engine)
    if args.instruments_command == "add":
        if args.timezone:
            check_timezone(args.timezone)
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
    instruments = sorted(db.load_instruments(engine).values(), key=lambda i: i.pid)
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(i) for i in instruments], indent=2))
    else:
        print_table(["PID", "NAME", "FILESTORE PATH", "HARVESTER", "TIMEZONE"],
                    [[i.pid, i.schema_name or "", i.filestore_path, i.harvester or "",
                      i.timezone or ""] for i in instruments])
    return 0
