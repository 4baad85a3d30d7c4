"""A backlog in one pass: the coordinator's peak memory and CPU per file, at two sizes.

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_backlog.py \\
        [--files 100000] [--baseline-files 2000] [--files-per-session 100] [--keep DIR]

Builds a synthetic backlog (``facility_site.build_facility``): one instrument (an EDS
SEM writing EMSA and EDAX spectra, the cheapest real files of the corpus to read, so
that the workers' time does not swamp the run), sessions of about
``--files-per-session`` files on past days, all waiting; then runs one
``nexuslims process`` over it (local pool, as a user runs it) and prints the peak
resident memory (VmHWM) and CPU of the coordinating process, per file too. The same is
done first for a backlog of ``--baseline-files``: the ratio of the two peaks says
whether the pass's memory follows its backlog (issue 22: at most 300 MB at 100,000
files; before batching it grew 12-17 MB per 1,000 files).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import installed
from facility_site import build_facility, write_site
from synthetic_facility import run_pass, site_env

INSTRUMENT = "EDAX-SEM"
BUDGET_MB = 300


def one(root: Path, corpus: Path, files: int, per_session: int, base: dict[str, str]):
    sessions = max(1, files // per_session)
    facility, log = build_facility(root, corpus, 1, sessions, files, pids=[INSTRUMENT])
    print(f"  backlog: {facility.sessions} sessions, {facility.files} files "
          f"({facility.bytes / 1e6:.0f} MB), built in {facility.seconds:.0f} s", flush=True)
    env, url = site_env(dict(base, NX_EXECUTOR="local"), facility, "local", None)
    write_site(url, facility, log)
    result = run_pass("local", env, root / "pass.log")
    print(f"  pass: {result.wall_s:.0f} s wall, {result.built} built, {result.failed} failed; "
          f"coordinator peak RSS {result.peak_rss_mb:.0f} MB, CPU {result.cpu_s:.1f} s "
          f"({1000 * result.cpu_s / max(result.files, 1):.2f} ms per file); workers "
          f"{result.workers_cpu_s:.0f} CPU-s; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--baseline-files", type=int, default=2_000)
    parser.add_argument("--files-per-session", type=int, default=100)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the backlogs under DIR and keep them")
    args = parser.parse_args()
    corpus = Path(os.environ.get("NEXUSLIMS_TEST_CORPUS", ""))
    if not str(corpus) or not corpus.is_dir():
        sys.exit("set NEXUSLIMS_TEST_CORPUS to the corpus folder")
    base = installed.environment({k: v for k, v in os.environ.items()
                                  if not k.startswith("NX_")})
    root = args.keep or Path(tempfile.mkdtemp(prefix="nexuslims-backlog-"))
    print(f"backlog benchmark on {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; under {root}")
    try:
        results = []
        for files in (args.baseline_files, args.files):
            print(f"{files} files:", flush=True)
            results.append(one(root / f"b{files}", corpus, files, args.files_per_session, base))
        small, large = results
        growth = large.peak_rss_mb / small.peak_rss_mb
        met = "met" if large.peak_rss_mb <= BUDGET_MB else "NOT met"
        print(f"peak memory: {large.peak_rss_mb:.0f} MB at {large.files} files, "
              f"{small.peak_rss_mb:.0f} MB at {small.files}: x{growth:.2f} for "
              f"x{large.files / small.files:.0f} the files (target <= {BUDGET_MB} MB: {met})")
        per_file = 1000 * large.cpu_s / max(large.files, 1)
        marginal = 1000 * (large.cpu_s - small.cpu_s) / max(large.files - small.files, 1)
        print(f"coordinator CPU per file: {per_file:.2f} ms at {large.files} files, start-up "
              f"included (target <= 1 ms: {'met' if per_file <= 1 else 'NOT met'}); "
              f"{marginal:.2f} ms from the difference of the two passes (the first also "
              "compiles the libraries' bytecode into a fresh cache: a lower bound)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
