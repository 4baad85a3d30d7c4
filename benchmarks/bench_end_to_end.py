"""End to end, as a user runs it: ``nexuslims extract`` on the corpus copied 4 times,
against NexusLIMS 1.4's extractors on the same files.

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_end_to_end.py
        [--copies 4] [--runs 3] [--against OTHER_CHECKOUT]
        [--nexuslims14-python /path/to/nl14-venv/bin/python --nexuslims14-src /path/to/src]

Builds a folder holding ``--copies`` copies of the corpus (180 files for 4) in a
temporary directory and measures, as fresh processes (process start and imports counted,
previews and JSON sidecars written), the wall time and the CPU time (user + system) of
the command and of every process it starts, its fork server and workers included (see
:mod:`descendants`: they are not its waited-for children, so ``/usr/bin/time`` misses
them), with the load average beside each run:

- ``nexuslims extract FOLDER --preview-dir OUT`` (``--runs`` times: min and median);
- with a NexusLIMS 1.4 environment (``--nexuslims14-python``, or the environment
  variable ``NEXUSLIMS14_PYTHON``; its source folder ``--nexuslims14-src`` or
  ``NEXUSLIMS14_SRC`` if the package is not installed there): one process calling 1.4's
  ``nexusLIMS.extractors.parse_metadata`` on every file in turn, as 1.4's record builder
  does (JSON and preview written, an empty instrument table as 1.4 needs one), and the
  ratio of the two. Runs alternate (ours, 1.4, ours, ...) so both see the same load on a
  shared machine. NexusLIMS 1.4 is not on PyPI: install it from its repository
  (tag v1.4.1; Python 3.10, hyperspy 1.7.3) in a virtual environment of its own.

The CPU ratio is the figure that counts on a shared machine: CPU seconds hardly change
with the load, wall time does (the ratio of wall times swings from 2x to 8x under load).
Without a 1.4 environment the ratios are computed against the figures quoted in issue 22
(26 s wall, 40 CPU-s for 180 files on a quiet 2-core machine), and say so: quoted, not
measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import descendants
import installed
from descendants import Usage

QUOTED_14 = (26.0, 40.0)
"""NexusLIMS 1.4 on the corpus x4 (180 files): wall s, CPU-s, as quoted in issue 22."""
GOAL = 10.0

# Runs in NexusLIMS 1.4's interpreter: its own extraction entry point over every file.
_DRIVER_14 = r"""
import sys, time
from pathlib import Path
files = [Path(line) for line in open(sys.argv[1], encoding="utf-8").read().splitlines()]
from nexusLIMS.extractors import parse_metadata
failed = 0
for path in files:
    try:
        parse_metadata(path, write_output=True, generate_preview=True, overwrite=True)
    except Exception as exc:  # 1.4 stops its record here; we count and go on
        failed += 1
        print(f"{path}: {type(exc).__name__}: {exc}", file=sys.stderr)
print(f"files: {len(files)}; raised: {failed}")
"""


def build_copies(corpus: Path, copies: int, into: Path) -> list[Path]:
    """``copies`` copies of the corpus (README excluded) under ``into``; the files."""
    for i in range(copies):
        shutil.copytree(corpus, into / f"copy{i}", ignore=shutil.ignore_patterns("README.md"))
        for path in (into / f"copy{i}").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)  # the corpus is read-only
    return sorted(p for p in into.rglob("*") if p.is_file())


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[Usage, str]:
    usage, proc = descendants.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])}... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return usage, proc.stderr


def time_ours(folder: Path, runs: int, work: Path,
              repo: Path = installed.REPO) -> tuple[list[Usage], str]:
    env = installed.environment(repo=repo)  # compiled once, as pip install leaves it
    times, summary = [], ""
    for _ in range(runs):
        out = Path(tempfile.mkdtemp(prefix="ours", dir=work))
        usage, stderr = _timed([sys.executable, "-m", "nexuslims", "extract", str(folder),
                                  "--preview-dir", str(out)], env, work)
        times.append(usage)
        summary = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        shutil.rmtree(out, ignore_errors=True)
    return times, summary


def time_14(python: str, src: str | None, files: list[Path], folder: Path, runs: int,
            work: Path) -> tuple[list[Usage], str]:
    listing = work / "files.txt"
    listing.write_text("\n".join(str(f) for f in files), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    # Its bytecode kept too, as ours is (written by its first run; the minimum counts).
    env["PYTHONPYCACHEPREFIX"] = str(work / "nl14-bytecode")
    if src:
        env["PYTHONPATH"] = src
        schema = Path(src) / "nexusLIMS" / "db" / "dev" / "NexusLIMS_db_creation_script.sql"
    else:
        schema = None
    times, summary = [], ""
    for _ in range(runs):
        out = Path(tempfile.mkdtemp(prefix="nl14_", dir=work))
        db = out / "nexuslims_db.sqlite"
        _empty_db(db, schema)
        env.update(mmfnexus_path=str(folder), nexusLIMS_path=str(out), nexusLIMS_db_path=str(db),
                   MPLBACKEND="Agg")
        usage, stderr = _timed([python, "-c", _DRIVER_14, str(listing)], env, work)
        times.append(usage)
        summary = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        shutil.rmtree(out, ignore_errors=True)
    return times, summary


def _empty_db(db: Path, schema: Path | None) -> None:
    """1.4 reads its instrument table on import; an empty one finds no instrument."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        if schema is not None and schema.is_file():
            conn.executescript(schema.read_text(encoding="utf-8"))
        else:
            conn.execute("CREATE TABLE IF NOT EXISTS instruments (instrument_pid TEXT)")


def show(label: str, runs: list[Usage], files: int) -> None:
    wall = [u.wall_s for u in runs]
    cpu = [u.cpu_s for u in runs]
    loads = ", ".join(f"{u.load:.1f}" for u in runs)
    print(f"  {label:<34} wall min {min(wall):6.2f} s  median {statistics.median(wall):6.2f} s"
          f"  {files / min(wall):6.1f} files/s")
    print(f"  {'':<34} CPU  min {min(cpu):6.2f} s  median {statistics.median(cpu):6.2f} s"
          f"  ({len(runs)} runs; load average at each: {loads})")


def _ratio(name: str, theirs: float, ours: float) -> str:
    ratio = theirs / ours
    return (f"{name} {ratio:.1f}x (goal {GOAL:g}x: {'met' if ratio >= GOAL else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nexuslims14-python", default=os.environ.get("NEXUSLIMS14_PYTHON"),
                        help="python of an environment with NexusLIMS 1.4 (and its deps)")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT",
                        help="another checkout of this project (e.g. `git archive` of an "
                             "earlier commit), run alternately with this one: the effect "
                             "of a change, in CPU-s and wall time")
    parser.add_argument("--nexuslims14-src", default=os.environ.get("NEXUSLIMS14_SRC"),
                        help="NexusLIMS 1.4 source folder, if not installed in that python")
    args = parser.parse_args()
    corpus = os.environ.get("NEXUSLIMS_TEST_CORPUS")
    if not corpus:
        sys.exit("set NEXUSLIMS_TEST_CORPUS to the shared corpus folder")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "corpus"
        files = build_copies(Path(corpus), args.copies, folder)
        print(f"end to end: {len(files)} files ({args.copies} copies of the corpus), "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        # Alternated runs, so that both see the same load on a shared machine.
        ours, theirs, summary, said = [], [], "", ""
        earlier: list[Usage] = []
        for _ in range(args.runs):
            times, summary = time_ours(folder, 1, work)
            ours += times
            if args.against:
                earlier += time_ours(folder, 1, work, args.against.resolve())[0]
            if args.nexuslims14_python:
                times, said = time_14(args.nexuslims14_python, args.nexuslims14_src, files,
                                      folder, 1, work)
                theirs += times
        show("nexuslims extract (this tree)", ours, len(files))
        print(f"    {summary}")
        best_wall, best_cpu = min(u.wall_s for u in ours), min(u.cpu_s for u in ours)
        if args.against:
            show(f"the same, {args.against.name}", earlier, len(files))
            print(f"  this tree against {args.against.name}, min/min: CPU "
                  f"{min(u.cpu_s for u in earlier) / best_cpu:.2f}x, wall "
                  f"{min(u.wall_s for u in earlier) / best_wall:.2f}x; run by run (CPU): "
                  + ", ".join(f"{e.cpu_s / o.cpu_s:.2f}x"
                              for o, e in zip(ours, earlier, strict=True)))
        if args.nexuslims14_python:
            show("NexusLIMS 1.4 parse_metadata", theirs, len(files))
            print(f"    {said}")
            print("  measured, min/min: "
                  + _ratio("CPU", min(u.cpu_s for u in theirs), best_cpu) + "; "
                  + _ratio("wall", min(u.wall_s for u in theirs), best_wall))
            pairs = ", ".join(f"{t.cpu_s / o.cpu_s:.1f}x CPU / {t.wall_s / o.wall_s:.1f}x wall"
                              for o, t in zip(ours, theirs, strict=True))
            print(f"  run by run (alternated): {pairs}")
        else:
            wall14, cpu14 = QUOTED_14
            print(f"  NexusLIMS 1.4: not measured here (no --nexuslims14-python); QUOTED from "
                  f"issue 22: {wall14:g} s wall, {cpu14:g} CPU-s for 180 files, quiet")
            print("  against the QUOTED figures: " + _ratio("CPU", cpu14, best_cpu) + "; "
                  + _ratio("wall", wall14, best_wall) + " (wall only comparable when quiet)")
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
