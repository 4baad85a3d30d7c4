"""``nexuslims export``: export built records now."""

from __future__ import annotations

import argparse

from nexuslims.cli._common import settings


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common],
                       help="export built records now (again), ignoring the retry backoff",
                       description="Send records waiting in the outbox (BUILT_NOT_EXPORTED) to "
                       "the configured destinations now. Destinations that already have a "
                       "record are not sent it again.")
    p.add_argument("--session", metavar="ID",
                   help="only this session (a COMPLETED one goes to destinations that lack it)")
    p.add_argument("--retry-failed", action="store_true",
                   help="also sessions whose export ended in ERROR (a destination rejected the "
                   "record)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.builder.export_now import run_export
    from nexuslims.cli._logging import log_to_files
    from nexuslims.config import NEEDS_ALL

    checked = settings(args, NEEDS_ALL)
    log_to_files(checked)
    return run_export(checked, session=args.session, retry_failed=args.retry_failed)
