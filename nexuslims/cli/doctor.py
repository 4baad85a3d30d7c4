"""``nexuslims doctor``: will the next pass work, and if not, what to fix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("doctor", parents=[common], help="check the settings, database, folders "
                       "and servers a pass needs, and say what to fix",
                       description="Check everything a pass needs: settings, database, paths "
                       "and free space, instrument folders, timezones, NEMO, SharePoint, "
                       "CDCS, eLabFTW, the mail server, GNU find. Exit 0 when nothing "
                       "failed (warnings allowed), 1 otherwise.")
    p.add_argument("--json", action="store_true", help="one JSON list of checks")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long each server gets to answer (default: 10)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.config import read_environment
    from nexuslims.ops.doctor import failed, run_checks
    from nexuslims.web.settings import load_web_settings

    checks = run_checks(read_environment(args.env_file), timeout=args.timeout,
                        commands={"serve": load_web_settings})
    if args.env_file is None and not Path(".env").is_file():
        from nexuslims.ops.doctor import WARNING, Check

        # Under cron without `cd`, say where settings were looked for first.
        checks.insert(0, Check("settings file", WARNING, f"no .env file in {Path.cwd()}: "
                               "settings come from the environment only (give --env-file "
                               "FILE, or run from the folder that holds .env)"))
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.status.upper():8} {c.name.ljust(width)}  {c.message}")
        bad = sum(c.status == "failure" for c in checks)
        warned = sum(c.status == "warning" for c in checks)
        print(f"{len(checks)} checks: {bad} failed, {warned} warning(s)")
    return 1 if failed(checks) else 0
