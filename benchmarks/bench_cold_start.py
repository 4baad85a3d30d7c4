"""Cold start: ``nexuslims extract`` on one DM3 file, and ``nexuslims --help``, as fresh
processes, with where the time goes.

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_cold_start.py [--runs 5]
        [--file PATH]

Prints min and median wall time over ``--runs`` fresh processes of

- ``python -c pass`` (the interpreter's own start: the baseline of the ratios);
- ``nexuslims --help`` (target: under 1 s);
- ``nexuslims extract FILE --preview-dir DIR`` (target: under 2 s on a quiet 2-core
  machine), with the preview and the JSON sidecar written as a user asks for them;
  again with ``--no-preview``, and again with no bytecode kept for the checkout's
  modules (``PYTHONDONTWRITEBYTECODE`` on an editable install: every module compiled
  from source in every process). Otherwise the package's bytecode is kept between runs,
  as ``pip install`` leaves it, in a temporary cache (not in the checkout), and one
  uncounted run of each command comes first;

then a breakdown of one extraction done step by step in one fresh process under
``python -X importtime``: interpreter start, the command's own imports, the imports of
the reader stack by top-level package, reading the file, drawing the preview, writing
the sidecar; what is left of the wall time is the worker pool (fork server start,
hand-over). The load average is printed too: on a busy machine every figure grows.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import descendants
import installed

DEFAULT_FILE = "digitalmicrograph/test_STEM_image.dm3"
EXTRACT_BUDGET = 2.0
ONE_FILE_BUDGET = 0.3
HELP_BUDGET = 1.0
HEAVY = ("exspy", "matplotlib", "sklearn", "numba", "sparse", "distributed", "sqlalchemy",
         "alembic", "fastapi")
"""Packages reading one DM3 file needs none of (by top-level name)."""

# Runs in a fresh interpreter: the steps of one extraction, timed one by one.
_PROBE = r"""
import json, sys, time
start = time.perf_counter()
from pathlib import Path
import nexuslims.cli, nexuslims.extract.command
cli = time.perf_counter()
from nexuslims.extract import one as extraction
from nexuslims.extract.stage import _preload
from nexuslims.extractors.base import ExtractionContext
from nexuslims.extractors.registry import extract
path, out = Path(sys.argv[1]), Path(sys.argv[2])
for name in _preload([path], True):
    if name != "nexuslims.extract._forkserver":
        __import__(name)
imports = time.perf_counter()
datasets = extract(path, ExtractionContext())
read = time.perf_counter()
for i, ds in enumerate(datasets, 1):
    extraction._render(ds, path, extraction.preview_path(out, path.name, i, len(datasets)))
preview = time.perf_counter()
extract(path, ExtractionContext())  # the read alone, warm, to take out of the next step
again = time.perf_counter()
extraction.extract_one(path, path.parent, out, ExtractionContext(), previews=False)
write = time.perf_counter() - again - (again - preview)
print(json.dumps({"command imports": cli - start, "reader stack imports": imports - cli,
                  "read (first: lazy imports)": read - imports, "preview": preview - read,
                  "write JSON sidecar": max(write, 0.0)}))
"""


def _env(bytecode: bool = True) -> dict[str, str]:
    """The checkout, as installed (see :mod:`installed`)."""
    return installed.environment(bytecode=bytecode)


CPU: dict[str, float] = {}
"""Least CPU seconds (the command and all its descendants: fork server, workers) of each
command measured by :func:`wall`, by its label."""


def wall(argv: list[str], runs: int, bytecode: bool = True) -> list[float]:
    """Wall times of ``runs`` fresh processes of ``argv`` (each must succeed), after one
    run that is not counted (it fills the bytecode cache and the page cache); the least
    CPU time of them, with every descendant's (see :mod:`descendants`), goes to CPU."""
    times, cpu = [], []
    for _ in range(runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [a.replace("{tmp}", tmp) for a in argv]
            usage, proc = descendants.run(cmd, env=_env(bytecode), cwd=tmp,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            proc.check_returncode()
            times.append(usage.wall_s)
            cpu.append(usage.cpu_s)
    CPU[" ".join(argv)] = min(cpu[1:])
    return times[1:]


def show(label: str, times: list[float], baseline: float | None = None,
         budget: float | None = None) -> None:
    best, median = min(times), statistics.median(times)
    line = f"  {label:<42} min {best:6.2f} s  median {median:6.2f} s"
    if baseline:
        line += f"  {best / baseline:6.1f}x python -c pass"
    if budget is not None:
        line += f"  (target < {budget:g} s: {'met' if best < budget else 'NOT met'})"
    print(line)


def import_times(stderr: str) -> collections.Counter:
    """Seconds of own import time per top-level package, from ``-X importtime`` output."""
    totals: collections.Counter = collections.Counter()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line.split(":", 1)[1].split("|")
        if int(own) > 1000:  # not the cheap look-ups of absent modules (``sparse`` hidden)
            totals[name.strip().split(".")[0]] += int(own) / 1e6
    return totals


def breakdown(file: Path, interpreter: float, extract_wall: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _PROBE, str(file), tmp],
                              env=_env(), cwd=tmp, capture_output=True, text=True, check=True)
        total = time.perf_counter() - start
    steps = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"breakdown of one extraction, step by step in one process ({total:.2f} s under "
          "-X importtime, which adds its own cost):")
    print(f"  {'interpreter start (python -c pass)':<42} {interpreter:6.2f} s")
    for step, seconds in steps.items():
        print(f"  {step:<42} {seconds:6.2f} s")
    accounted = interpreter + sum(steps.values())
    pool = max(0.0, extract_wall - accounted)
    print(f"  {'worker pool (fork server, hand-over)':<42} {pool:6.2f} s"
          "  (wall time of the command minus the above)")
    packages = import_times(proc.stderr)
    print("  imports by package (own time, all steps):")
    for name, seconds in packages.most_common(12):
        print(f"    {name:<30} {seconds:6.3f} s")
    heavy = [m for m in HEAVY if m in packages]
    print(f"  not imported: {', '.join(HEAVY)} -> imported of these: "
          f"{', '.join(heavy) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per command")
    parser.add_argument("--file", type=Path,
                        help=f"file to extract (default: corpus {DEFAULT_FILE})")
    args = parser.parse_args()
    file = args.file
    if file is None:
        corpus = os.environ.get("NEXUSLIMS_TEST_CORPUS")
        if not corpus:
            sys.exit("set NEXUSLIMS_TEST_CORPUS (or give --file)")
        file = Path(corpus) / DEFAULT_FILE
    file = file.resolve()
    print(f"cold start, {args.runs} fresh processes each; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; file {file}")
    python = wall([sys.executable, "-c", "pass"], args.runs)
    base = min(python)
    show("python -c pass (baseline)", python)
    show("nexuslims --help", wall([sys.executable, "-m", "nexuslims", "--help"], args.runs),
         base, HELP_BUDGET)
    argv = [sys.executable, "-m", "nexuslims", "extract", str(file), "--preview-dir",
            "{tmp}/out"]
    extract = wall(argv, args.runs)
    show("nexuslims extract FILE --preview-dir DIR", extract, base, EXTRACT_BUDGET)
    print(f"    CPU of it and all its processes (fork server, worker): min "
          f"{CPU[' '.join(argv)]:.2f} s; issue 22 asks <= {ONE_FILE_BUDGET:g} s wall on a "
          f"quiet machine: {'met' if min(extract) <= ONE_FILE_BUDGET else 'NOT met'}")
    show("  the same, --no-preview", wall([sys.executable, "-m", "nexuslims", "extract",
                                           str(file), "--no-preview"], args.runs), base)
    show("  the same, no bytecode kept (source compiled)",
         wall([sys.executable, "-m", "nexuslims", "extract", str(file),
               "--preview-dir", "{tmp}/out"], args.runs, bytecode=False), base)
    breakdown(file, base, min(extract))
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
