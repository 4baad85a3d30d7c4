"""Rebuilding an unchanged session with a warm extraction cache (issue 12).

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_rebuild.py [--copies 20]

Builds a site in a temporary folder: the corpus copied ``--copies`` times (20 copies are
720 files) into one instrument folder, with modification times a few seconds to minutes
apart inside one four-hour session, as an instrument writes them. Then, as a user runs
it (each command a new process, start-up included):

1. ``nexuslims process``: the first build, every file read;
2. ``nexuslims sessions reset``, then ``nexuslims process`` again: the rebuild, where
   every unchanged file's sidecar and previews are reused.

The package runs as installed, from its compiled bytecode (see ``installed.py``).
Prints both wall times (and each pass's own time, without process start-up), the ratio
(target: the rebuild under 10% of the first build), what the pass log says about the
cache, and whether the two records are identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import installed

START = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=4)


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")


def make_store(corpus: Path, store: Path, copies: int) -> int:
    """Copy the corpus ``copies`` times under ``store`` with session-like mtimes."""
    rng = random.Random(12)
    when = START + dt.timedelta(minutes=2)
    files = corpus_files(corpus)
    count = 0
    for copy in range(copies):
        for source in files:
            target = store / f"sample_{copy:02d}" / source.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            # Acquisitions seconds apart, now and then a pause (a new activity).
            when += dt.timedelta(seconds=rng.uniform(2, 12) if rng.random() > 0.03
                                 else rng.uniform(300, 600))
            stamp = min(when, END - dt.timedelta(minutes=1)).timestamp()
            os.utime(target, (stamp, stamp))
            count += 1
    return count


def nexuslims(site: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = installed.environment({k: v for k, v in os.environ.items()
                                 if not k.startswith("NX_")})
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nexuslims", *args], cwd=site, env=env,
                          capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"nexuslims {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done


def pass_seconds(stdout: str) -> str:
    """The pass's own time, as ``process`` prints it (the rest is start-up and exit)."""
    line = next((x for x in stdout.splitlines() if x.startswith("Pass finished in ")), "")
    return line.split()[3] if line else "?"


def cache_line(stderr: str) -> str:
    return next((line.split("session s1: ", 1)[1] for line in stderr.splitlines()
                 if "reused from cache" in line), "(no cache line in the log)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="corpus copies (20: 720 files)")
    args = parser.parse_args()
    corpus = Path(os.environ.get("NEXUSLIMS_TEST_CORPUS", "../shared/corpus"))
    if not corpus.is_dir():
        sys.exit(f"NEXUSLIMS_TEST_CORPUS={corpus}: not a folder of instrument files")
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        site = Path(tmp)
        files = make_store(corpus, site / "instr/Scope", args.copies)
        (site / ".env").write_text(
            f"NX_INSTRUMENT_DATA_PATH={site / 'instr'}\nNX_DATA_PATH={site / 'data'}\n"
            f"NX_DB_PATH={site / 'db.sqlite'}\nNX_FILE_STRATEGY=inclusive\n")
        nexuslims(site, "db", "init")
        nexuslims(site, "instruments", "add", "scope", "--filestore-path", "Scope",
                  "--timezone", "UTC")
        nexuslims(site, "sessions", "add", "scope", "--id", "s1", "--start",
                  START.isoformat(), "--end", END.isoformat())
        print(f"{files} files in one session, {os.cpu_count()} cores, NX_EXTRACT_WORKERS "
              "default")

        first, run = nexuslims(site, "process")
        first_log, first_pass = cache_line(run.stderr), pass_seconds(run.stdout)
        record = next((site / "data/records").glob("*.xml"))
        first_record = record.read_bytes()
        reset, _ = nexuslims(site, "sessions", "reset", "s1")
        again, run = nexuslims(site, "process")
        print(f"  first build   `nexuslims process`  {first:8.2f} s (pass {first_pass} s)   "
              f"{first_log}")
        print(f"  rebuild       `nexuslims process`  {again:8.2f} s (pass "
              f"{pass_seconds(run.stdout)} s)   {cache_line(run.stderr)}")
        print(f"  (`sessions reset` took {reset:.2f} s, not counted)")
        print(f"  rebuild / first build = {again / first:.1%} (target: under 10%); "
              f"records identical: {record.read_bytes() == first_record}")


if __name__ == "__main__":
    main()
