"""``nexuslims extract``: metadata and previews of any files, no configuration."""

from __future__ import annotations

import argparse


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("extract", parents=[common],
                       help="extract metadata (and previews) from files, no configuration needed",
                       description="Print the metadata of each dataset in the files. Previews "
                       "(PNG) and JSON sidecars are written only with --preview-dir; without "
                       "it nothing is written.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (recursive)")
    p.add_argument("--json", action="store_true", help="one JSON object per dataset per line")
    p.add_argument("--no-preview", action="store_true",
                   help="with --preview-dir: write only the JSON sidecars, no previews")
    p.add_argument("--preview-dir", metavar="DIR",
                   help="write a PNG preview and a JSON sidecar per file into DIR (without "
                   "it, no previews are drawn)")
    p.add_argument("--timezone", metavar="ZONE",
                   help="IANA timezone of wall-clock times in the files, e.g. Europe/Berlin "
                        "(default: this machine's)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.extract.command import run_extract

    return run_extract(args.paths, json_out=args.json, no_preview=args.no_preview,
                       preview_dir=args.preview_dir, timezone=args.timezone)
