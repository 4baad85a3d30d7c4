"""``nexuslims db``: create, upgrade or inspect the database."""

from __future__ import annotations

import argparse
import sys

from nexuslims.cli._common import settings


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("db", parents=[common], help="create, upgrade or inspect the database")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    dbsub.add_parser("init", parents=[common], help="create a new, empty session database")
    dbsub.add_parser("upgrade", parents=[common],
                     help="adopt a NexusLIMS 1.x/2.x database or upgrade ours, keeping every row")
    dbsub.add_parser("current", parents=[common], help="print the database's schema revision")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB

    url = settings(args, NEEDS_DB).db_url
    if args.db_command == "init":
        print(f"created database at revision {db.init_db(url)}")
    elif args.db_command == "upgrade":
        before, after = db.upgrade_db(url)
        print(f"database upgraded from {before or 'nothing'} to {after}"
              if before != after else f"database already at {after}")
    else:
        revision = db.current_revision(url)
        if revision is None:
            print("nexuslims db current: the database has no nexuslims schema: run "
                  "`nexuslims db init` (or `nexuslims db upgrade` for a NexusLIMS database)",
                  file=sys.stderr)
            return 1
        print(revision)
    return 0
