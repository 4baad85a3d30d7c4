"""``nexuslims validate``: check records against the schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("validate", parents=[common], help="check an XML record against the schema")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.xml")
    p.add_argument("--schema", type=Path, help="another XSD (default: the project's)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nexuslims.record.validate import validate_record

    missing = [path for path in args.files if not path.is_file()]
    for path in missing:
        print(f"nexuslims validate: {path}: no such file", file=sys.stderr)
    if missing:
        return 2  # a typing error: nothing was checked
    bad = 0
    for path in args.files:
        problems = validate_record(path, args.schema)
        if problems:
            bad += 1
            for p in problems:
                print(f"{path}:{p.line}:{p.column}: {p.message}")
        else:
            print(f"{path}: valid")
    return 1 if bad else 0
