"""``nexuslims demo``: a self-contained demo site and one pass on it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[common],
                       help="build a self-contained demo site and run one pass on it",
                       description="Create DIR with a SQLite session log, one instrument, a file "
                       "store of generated microscope data and one session, then run one pass. "
                       "Needs no configuration and no network. An earlier demo site in DIR "
                       "is replaced only with --force.")
    p.add_argument("dir", nargs="?", type=Path, default=Path("nexuslims-demo"),
                   help="where to create the site (default: ./nexuslims-demo)")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier demo site in DIR (its records and history)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.demo import run_demo

    return run_demo(args.dir, verbose=args.verbose, force=args.force)
