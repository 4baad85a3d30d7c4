"""Extraction speed (with and without previews) over the corpus, and preview memory.

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_extraction.py [--size-gb 2]

Prints, for every file of the corpus through the extractor registry:

- files per second extracting metadata only, and extracting + writing PNG previews,
  in this process (after a warm-up pass that pays the imports) and with a process pool;
- the ratio to NexusLIMS 1.4 (0.25 s/file with previews, 0.03 s/file without);
- the peak resident memory of a child process that extracts and previews a generated
  spectrum image of ``--size-gb`` GB (float32, 256 x 256 x N channels, stored as .hspy).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

BASELINE_WITH_PREVIEWS = 0.25  # s/file, NexusLIMS 1.4
BASELINE_WITHOUT = 0.03


def extract_one(path: str, preview_dir: str | None) -> tuple[int, int, int]:
    """Extract ``path`` (and write its previews); (datasets, previews, placeholders)."""
    from nexuslims.extractors import registry
    from nexuslims.extractors.base import ExtractionContext
    from nexuslims.previews import render_placeholder

    file = Path(path)
    datasets = registry.extract(file, ExtractionContext())
    made = placeholders = 0
    if preview_dir is None:
        return len(datasets), 0, 0
    for index, ds in enumerate(datasets):
        out = Path(preview_dir) / f"{file.name}.{index}.png"
        try:
            if ds.render_preview is not None:
                ds.render_preview(out)
            elif (generator := registry.preview_generator(file)) is not None:
                generator.render(file, out)
            else:
                raise ValueError("no preview for this format")
            made += 1
        except Exception as exc:  # noqa: BLE001 - what the extract stage does: placeholder
            render_placeholder(out, str(exc)[:200])
            placeholders += 1
    return len(datasets), made, placeholders


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")


def run_pass(files: list[Path], previews: bool, workers: int) -> tuple[float, tuple[int, int, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        target = tmp if previews else None
        start = time.perf_counter()
        if workers <= 1:
            results = [extract_one(str(f), target) for f in files]
        else:
            # forkserver: a forked child of a process whose dask/BLAS threads held a lock
            # would wait on that lock for ever (seen here with the in-process passes first)
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                names = [str(f) for f in files]
                list(pool.map(extract_one, names, [target] * len(files), chunksize=2))
                start = time.perf_counter()  # workers warm: imports paid, as in a long run
                results = list(pool.map(extract_one, names, [target] * len(files), chunksize=2))
        elapsed = time.perf_counter() - start
    totals = tuple(sum(r[i] for r in results) for i in range(3))
    return elapsed, totals  # type: ignore[return-value]


def report(label: str, files: int, elapsed: float, baseline: float) -> None:
    per_file = elapsed / files
    print(f"  {label:<42} {files / elapsed:8.1f} files/s  {per_file * 1000:7.1f} ms/file"
          f"  {baseline / per_file:6.1f}x NexusLIMS 1.4 ({baseline * 1000:.0f} ms/file)")


def speed(root: Path, workers: int) -> None:
    files = corpus_files(root)
    print(f"corpus: {len(files)} files under {root}")
    cold, totals = run_pass(files, previews=True, workers=1)
    print(f"  first pass, cold (imports hyperspy etc.): {cold:.2f} s; "
          f"datasets {totals[0]}, previews {totals[1]}, placeholders {totals[2]}")
    for previews, baseline in ((False, BASELINE_WITHOUT), (True, BASELINE_WITH_PREVIEWS)):
        what = "extraction + previews" if previews else "extraction only"
        best = min(run_pass(files, previews, 1)[0] for _ in range(3))
        report(f"{what}, in-process (best of 3)", len(files), best, baseline)
        pooled = run_pass(files, previews, workers)[0]
        report(f"{what}, pool of {workers} (warm workers)", len(files), pooled, baseline)


# -- memory ----------------------------------------------------------------------------

_GENERATE = """
import sys, numpy as np, dask.array as da, hyperspy.api as hs
path, channels = sys.argv[1], int(sys.argv[2])
data = da.random.random((256, 256, channels), chunks=(32, 32, channels)).astype(np.float32)
s = hs.signals.Signal1D(data).as_lazy()
s.axes_manager[-1].name, s.axes_manager[-1].units, s.axes_manager[-1].scale = "Energy", "keV", 0.01
s.save(path, compression=None, overwrite=True)
"""

_MEASURE = """
import resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from bench_extraction import extract_one
import hyperspy.api, nexuslims.extractors.registry  # imports before the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
result = extract_one(sys.argv[1], sys.argv[2])
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, peak, elapsed, *result)
"""


def memory(size_gb: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        free = shutil.disk_usage(tmp).free / 1e9
        if free < size_gb * 1.5 + 1:
            size_gb = max(0.1, (free - 1) / 1.5)
            print(f"note: only {free:.1f} GB free; using a {size_gb:.2f} GB spectrum image")
        channels = max(16, int(size_gb * 1e9 / (256 * 256 * 4)))
        path = Path(tmp) / "spectrum_image.hspy"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", _GENERATE, str(path), str(channels)], check=True,
                       stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        size = path.stat().st_size / 1e9
        print(f"spectrum image 256 x 256 x {channels} float32, {size:.2f} GB "
              f"(written in {time.perf_counter() - start:.1f} s)")
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(path), tmp, str(Path(__file__).parent)],
            check=True, capture_output=True, text=True)
        base, peak, elapsed, datasets, made, placeholders = out.stdout.split()[-6:]
        print(f"  extract + preview: {float(elapsed):.1f} s, datasets {datasets}, "
              f"previews {made}, placeholders {placeholders}")
        print(f"  peak RSS {int(peak) / 1024:.0f} MB (after imports {int(base) / 1024:.0f} MB; "
              f"target < 1024 MB) -- {'OK' if int(peak) < 1024 * 1024 else 'OVER TARGET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=os.environ.get("NEXUSLIMS_TEST_CORPUS"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.corpus is None:
        sys.exit("set NEXUSLIMS_TEST_CORPUS or pass --corpus")
    speed(Path(args.corpus), args.workers)
    if not args.skip_memory:
        memory(args.size_gb)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process peaked at {own:.0f} MB)")


if __name__ == "__main__":
    main()
