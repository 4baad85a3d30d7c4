"""``nexuslims config show``: the settings a run would use, and where each came from."""

from __future__ import annotations

import argparse
import json
import sys

from nexuslims.cli._common import print_table


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("config", parents=[common], help="show the effective settings")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = csub.add_parser(
        "show", parents=[common], help="every setting, its value and where it came from",
        description="Every setting with the value a run would use and its source "
        "(environment, .env file, 1.x name, default). Tokens, passwords and URL "
        "credentials are shown as ***.")
    show.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from nexuslims.ops.config_view import effective_settings

    shown, problems = effective_settings(args.env_file)
    if args.json:
        print(json.dumps({"settings": [asdict(s) for s in shown], "problems": problems},
                         indent=2))
    else:
        print_table(["SETTING", "VALUE", "SOURCE"], [[s.name, s.value, s.source]
                                                     for s in shown])
        for problem in problems:
            print(f"nexuslims: {problem}", file=sys.stderr)
    return 0
