"""``nexuslims support-bundle``: one zip to send when asking for help."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("support-bundle", parents=[common],
                       help="write one zip with what is needed to help (secrets removed)",
                       description="Write a zip holding the settings (secrets replaced by "
                       "***), doctor's checks, the latest pass logs, the build history, the "
                       "sessions in problem states, the export attempts, and the versions "
                       "of nexuslims, its dependencies and the platform.")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="where to write it (default: nexuslims-support-DATE-TIME.zip here)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.config import read_environment
    from nexuslims.ops.bundle import make_bundle
    from nexuslims.web.settings import load_web_settings

    out = args.output or Path(f"nexuslims-support-{dt.datetime.now():%Y%m%d-%H%M%S}.zip")
    try:
        members = make_bundle(read_environment(args.env_file), out,
                              commands={"serve": load_web_settings})
    except OSError as exc:
        print(f"nexuslims: cannot write {out}: {exc.strerror or exc}; choose another place "
              "with -o FILE", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(members)} files); secrets are replaced by ***, but look "
          "inside before sending it")
    return 0
