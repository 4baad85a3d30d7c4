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
    return run_demo(args.dir, verbose=args.verbose, force=args.force)


def run_demo(root: Path, *, verbose: int = 0, force: bool = False) -> int:
    """Create the site, run one pass, print what was built and where; an earlier demo
    site in ``root`` is replaced only with ``force``."""
    from nexuslims.builder.passlog import run_recorded_pass
    from nexuslims.cli.process import print_summary
    from nexuslims.demo import MARKER, create_site

    replaced = (root / MARKER).is_file()
    settings = create_site(root, replace=force)
    if replaced:
        print(f"Replaced the earlier demo site in {root.resolve()}.")
    print(f"Demo site created in {root.resolve()}:")
    print(f"  session log   {settings.db_url}")
    print(f"  file store    {settings.instrument_data_path}")
    print(f"  data          {settings.data_path}")
    print("Running one pass...")
    summary = run_recorded_pass(settings)
    print_summary(summary, verbose=verbose)
    env_file = root.resolve() / ".env"
    print()
    print("Look around:")
    print(f"  records:   {settings.records_path}")
    print(f"  previews:  {settings.data_path}/**/*.thumb.png")
    print(f"  settings:  {env_file}")
    print(f"  history:   nexuslims sessions list --env-file {env_file}")
    print(f"  in a browser: nexuslims serve --env-file {env_file}")
    print("              then open http://127.0.0.1:8080/")
    return 0 if summary.failed == 0 else 1

