"""Meaningful metadata fields per dataset: this project against NexusLIMS 2.8.

NexusLIMS 2.8 must be installed in its own virtualenv (never in this project's)::

    python3 -m venv /work/nx28-venv && /work/nx28-venv/bin/pip install nexuslims==2.8.0
    python benchmarks/bench_vs_nexuslims28.py ../shared/corpus [more folders...] \\
        --nx28-python /work/nx28-venv/bin/python

For every file both read with a real extractor (not their basic fallbacks), the
datasets are paired in order and their *meaningful* fields counted: values present and
not empty, bookkeeping left out (extractor name, versions, warnings, the time source).
2.8's nested groups (``extensions``, ``Stage Position``) count per leaf. Prints one line
per file where 2.8 reports more, then totals. Field names differ between the two, so
the comparison is by count; ``--names`` lists 2.8's names per such file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

DUMP_28 = r'''
import json, sys, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from pathlib import Path
from nexusLIMS.extractors import get_registry
from nexusLIMS.extractors.base import ExtractionContext
registry = get_registry()
for root in sys.argv[1:]:
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file():
            continue
        try:
            context = ExtractionContext(file_path=path, instrument=None)
            extractor = registry.get_extractor(context)
            found = extractor.extract(context) or []
        except Exception as exc:
            print(json.dumps({"file": str(path), "error": repr(exc)[:200]}))
            continue
        for index, meta in enumerate(found):
            print(json.dumps({"file": str(path), "index": index,
                              "extractor": extractor.name, "meta": meta}, default=str))
'''

BOOKKEEPING = {"extractor", "nexuslims version", "creation time source", "warnings",
               "extraction profile", "nexuslims extraction", "extraction details"}
BASIC = {"basic", "basic_file_info_extractor"}


def meaningful(tree: object, prefix: str = "") -> dict[str, object]:
    """Flattened leaves that carry a value (not None, not empty, not bookkeeping)."""
    out: dict[str, object] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if str(key).lower() in BOOKKEEPING:
                continue
            out.update(meaningful(value, f"{prefix}{key}."))
        return out
    if tree is None or tree == "" or tree == [] or tree == {}:
        return out
    out[prefix.rstrip(".")] = tree
    return out


def run_28(python: str, roots: list[str]) -> dict[str, list[dict]]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(DUMP_28)
    home = tempfile.mkdtemp(prefix="nx28-")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "NX_DATA_PATH": home,
           "NX_INSTRUMENT_DATA_PATH": home}
    done = subprocess.run([python, handle.name, *roots], capture_output=True, text=True,
                          env=env, check=False)
    by_file: dict[str, list[dict]] = defaultdict(list)
    for line in done.stdout.splitlines():
        row = json.loads(line)
        if "meta" in row and row.get("extractor") not in BASIC:
            by_file[row["file"]].append(meaningful(row["meta"].get("nx_meta", {})))
    return by_file


def run_ours(roots: list[str]) -> dict[str, list[dict]]:
    done = subprocess.run([sys.executable, "-m", "nexuslims", "extract", "--json",
                           "--no-preview", "--timezone", "UTC", *roots],
                          capture_output=True, text=True, check=False)
    by_file: dict[str, list[dict]] = defaultdict(list)
    for line in done.stdout.splitlines():
        row = json.loads(line)  # stdout must be pure JSON lines
        if row.get("extractor") not in BASIC:
            by_file[row["file"]].append(meaningful(row["nx_meta"]))
    return by_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--nx28-python", default="/work/nx28-venv/bin/python")
    parser.add_argument("--names", action="store_true", help="list 2.8's field names")
    args = parser.parse_args(argv)
    theirs, ours = run_28(args.nx28_python, args.roots), run_ours(args.roots)
    both = sorted(set(theirs) & set(ours))
    total_28 = total_ours = behind = 0
    for name in both:
        pairs = list(zip(theirs[name], ours[name], strict=False))
        n28 = sum(len(t) for t, _ in pairs)
        n_ours = sum(len(o) for _, o in pairs)
        total_28, total_ours = total_28 + n28, total_ours + n_ours
        if n28 > n_ours:
            behind += 1
            print(f"{n28:4d} vs {n_ours:4d}  {name}")
            if args.names:
                for t, _ in pairs:
                    print("      2.8:", ", ".join(sorted(t)))
    print()
    print(f"files read by both (datasets paired in order): {len(both)}")
    print(f"meaningful fields: NexusLIMS 2.8 {total_28}, ours {total_ours} "
          f"(ratio {total_ours / max(total_28, 1):.2f})")
    print(f"files where 2.8 reports more: {behind}")
    only_ours = sorted(set(ours) - set(theirs))
    print(f"files only ours reads: {len(only_ours)}; only 2.8 reads: "
          f"{len(set(theirs) - set(ours))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
