"""Compare the signal kinds (``Data Type``) two runs of ``nexuslims extract --json`` gave.

Usage::

    nexuslims extract --json --no-preview --timezone UTC DIR... > before.jsonl   # old code
    nexuslims extract --json --no-preview --timezone UTC DIR... > after.jsonl    # new code
    python benchmarks/bench_kinds.py before.jsonl after.jsonl

Prints every dataset whose kind changed, with the evidence (the ``Data Type`` source)
the new run names, then how many datasets have a kind without a source.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(path: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    """``{(file, dataset): (Data Type, its source)}`` from one JSON-lines run."""
    out = {}
    for line in path.read_text("utf-8").splitlines():
        row = json.loads(line)
        source = next((f.get("source") for f in row.get("fields", [])
                       if f.get("key") == "Data Type"), None)
        out[(row["file"], row["dataset"])] = (row["nx_meta"].get("Data Type"), source)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before, after = load(args.before), load(args.after)
    changed = unsourced = 0
    for key in sorted(set(before) | set(after)):
        old, _ = before.get(key, (None, None))
        new, source = after.get(key, (None, None))
        if new is not None and not source:
            unsourced += 1
            print(f"NO SOURCE  {key[1]}: {new}")
        if old != new:
            changed += 1
            print(f"{key[1]}: {old} -> {new}  (evidence: {source})")
    print(f"{len(after)} datasets, {changed} kind(s) changed, {unsourced} without a source")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
