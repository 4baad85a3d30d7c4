"""Time GNU find against the Python walk on a synthetic instrument file store.

Builds a store of ``--files`` files (default 20,000) spread over ``--days`` days in
``user/date/sample`` folders, then finds the files of a two-hour session with each
method (best of ``--repeat`` runs, warm cache) and prints counts, seconds and the ratio.

    python benchmarks/bench_find.py [--files 20000] [--days 10] [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from nexuslims.find import FindResult, find_files

EXTENSIONS = ["dm3", "dm4", "tif", "ser", "emi", "mib", "spx", "txt"]
BASE = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def build_store(root: Path, n_files: int, days: int, seed: int = 0) -> None:
    """``n_files`` files with mtimes spread evenly (at random) over ``days`` days."""
    rng = random.Random(seed)
    span_ns = days * 86_400 * 1_000_000_000
    base_ns = int(BASE.timestamp()) * 1_000_000_000
    for i in range(n_files):
        mtime_ns = base_ns + rng.randrange(span_ns)
        day = dt.datetime.fromtimestamp(mtime_ns / 1e9, dt.UTC).date().isoformat()
        folder = root / f"user{rng.randrange(8)}" / day / f"sample {rng.randrange(5)}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"image_{i:05d}.{rng.choice(EXTENSIONS)}"
        path.write_bytes(b"")
        os.utime(path, ns=(mtime_ns, mtime_ns))


def best_time(root: Path, start: dt.datetime, end: dt.datetime, method: str, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = find_files(
            root, start, end, method=method, ignore_patterns=("*.mib", "*.db", "*.emi")
        )
        best = min(best, time.perf_counter() - began)
    assert isinstance(result, FindResult)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the store and print where")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="nexuslims-bench-find-"))
    try:
        began = time.perf_counter()
        build_store(base / "store", args.files, args.days)
        print(
            f"built {args.files} files over {args.days} days in {time.perf_counter() - began:.1f} s"
        )
        start = BASE + dt.timedelta(days=args.days / 2, hours=9)
        end = start + dt.timedelta(hours=2)
        timings, found = {}, {}
        for method in ("gnu-find", "python"):
            seconds, result = best_time(base / "store", start, end, method, args.repeat)
            timings[method], found[method] = seconds, result.files
            print(
                f"{method:>9}: {len(result.files):5d} files in {seconds:.3f} s "
                f"(best of {args.repeat}, {len(result.warnings)} warnings)"
            )
        print(
            f"python / gnu-find: {timings['python'] / timings['gnu-find']:.2f}x; "
            f"same files: {found['python'] == found['gnu-find']}"
        )
    finally:
        if args.keep:
            print(f"store kept at {base / 'store'}")
        else:
            shutil.rmtree(base)


if __name__ == "__main__":
    main()
