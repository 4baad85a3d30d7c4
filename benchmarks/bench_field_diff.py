"""Compare the fields two runs of ``nexuslims extract --json`` published, file by file.

Usage::

    nexuslims extract --json --no-preview --timezone UTC DIR > before.jsonl   # old code
    nexuslims extract --json --no-preview --timezone UTC DIR > after.jsonl    # new code
    python benchmarks/bench_field_diff.py before.jsonl after.jsonl

Prints, per dataset, the field names lost and gained (and the values that changed with
``--values``), then totals. A lost field is a regression unless it is a "not set" value
now dropped on purpose (see docs/formats.md) or a key renamed to carry its unit.
Exit status 1 when any dataset lost a field and ``--strict`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

BOOKKEEPING = {"Extractor", "nexuslims version", "Creation Time Source", "Extraction Profile"}


def load(path: Path) -> dict[tuple[str, str], dict]:
    """``{(file, dataset name): nx_meta}``; every stdout line must be one JSON object."""
    out = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not a JSON line ({exc}): {line[:80]!r}") from exc
        out[(row["file"], row["dataset"])] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--values", action="store_true", help="also list changed values")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a field was lost")
    args = parser.parse_args(argv)
    before, after = load(args.before), load(args.after)
    totals: Counter[str] = Counter()
    lost_any = False
    for key in sorted(set(before) | set(after)):
        old = before.get(key, {}).get("nx_meta", {})
        new = after.get(key, {}).get("nx_meta", {})
        old_ex, new_ex = before.get(key, {}).get("extractor"), after.get(key, {}).get("extractor")
        lost = sorted(set(old) - set(new) - BOOKKEEPING)
        gained = sorted(set(new) - set(old) - BOOKKEEPING)
        changed = sorted(k for k in set(old) & set(new) - BOOKKEEPING - {"Creation Time"}
                         if old[k] != new[k])
        totals["fields before"] += len(set(old) - BOOKKEEPING)
        totals["fields after"] += len(set(new) - BOOKKEEPING)
        totals["datasets"] += 1
        if not (lost or gained or (changed and args.values) or old_ex != new_ex):
            continue
        print(f"{key[1]}  [{old_ex} -> {new_ex}]" if old_ex != new_ex else key[1])
        if lost:
            lost_any = True
            totals["datasets that lost a field"] += 1
            print("   lost:   ", ", ".join(f"{k}={old[k]!r}" for k in lost))
        if gained:
            totals["fields gained"] += len(gained)
            print("   gained: ", ", ".join(gained))
        if changed and args.values:
            print("   changed:", "; ".join(f"{k}: {old[k]!r} -> {new[k]!r}" for k in changed))
    print()
    for name, count in totals.items():
        print(f"{name}: {count}")
    return 1 if (lost_any and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
