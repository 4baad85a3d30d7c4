"""``nexuslims tokens``: bearer tokens for logging sessions over HTTP."""

from __future__ import annotations

import argparse
import sys

from nexuslims.cli._common import blank, print_table, settings


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tokens", parents=[common],
                       help="create, list and revoke tokens for the session-logging API")
    tsub = p.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = tsub.add_parser("create", parents=[common],
                             help="make a token; it is printed once, on the last line")
    create.add_argument("--instrument", metavar="PID",
                        help="the token may log sessions for this instrument only")
    create.add_argument("--note", metavar="TEXT", help="what the token is for (shown by list)")
    tsub.add_parser("list", parents=[common], help="list tokens (never the tokens themselves)")
    revoke = tsub.add_parser("revoke", parents=[common], help="revoke a token by its id")
    revoke.add_argument("id", type=int, help="the token's id, as `tokens list` shows it")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims import db
    from nexuslims.config import NEEDS_DB
    from nexuslims.db import tokens

    engine = db.make_engine(settings(args, NEEDS_DB).db_url)
    db.require_head(engine)
    if args.tokens_command == "create":
        if args.instrument is not None and args.instrument not in db.load_instruments(engine):
            known = ", ".join(sorted(db.load_instruments(engine))) or "none registered"
            print(f"nexuslims: unknown instrument {args.instrument!r} (known: {known})",
                  file=sys.stderr)
            return 2
        token_id, token = tokens.create_token(engine, instrument=args.instrument,
                                              note=args.note)
        scope = f"instrument {args.instrument}" if args.instrument else "any instrument"
        print(f"token {token_id} for {scope} created; it is shown only now, keep it safe:")
        print(token)
        return 0
    if args.tokens_command == "list":
        print_table(["ID", "INSTRUMENT", "NOTE", "CREATED", "LAST USED", "REVOKED"],
                    [[t.id, t.instrument or "(any)", t.note or "",
                      f"{t.created:%Y-%m-%d %H:%M %Z}",
                      f"{t.last_used:%Y-%m-%d %H:%M %Z}" if t.last_used else "",
                      blank(t.revoked and f"{t.revoked:%Y-%m-%d %H:%M %Z}")]
                     for t in tokens.list_tokens(engine)])
        return 0
    if not tokens.revoke_token(engine, args.id):
        print(f"nexuslims: no live token {args.id} (see `nexuslims tokens list`)",
              file=sys.stderr)
        return 2
    print(f"token {args.id} revoked")
    return 0
