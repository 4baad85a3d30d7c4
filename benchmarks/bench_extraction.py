"""Extraction speed (with and without previews) over the corpus, and preview memory.

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_extraction.py [--size-gb 2]

Prints, for every file of the corpus through the extractor registry:

- files per second extracting metadata only, and extracting + writing PNG previews,
  in this process (after a warm-up pass that pays the imports) and in 1 and N worker
  processes (what a pass uses: each file under NX_EXTRACT_TIMEOUT/NX_EXTRACT_MEMORY_MB);
- the ratio to NexusLIMS 1.4 (0.25 s/file with previews, 0.03 s/file without);
- the peak resident memory of a child process that extracts and previews a generated
  spectrum image of ``--size-gb`` GB (float32, 256 x 256 x N channels, stored as .hspy).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_WITH_PREVIEWS = 0.25  # s/file, NexusLIMS 1.4
BASELINE_WITHOUT = 0.03


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")


def run_stage(files: list[Path], root: Path, previews: bool, workers: int) -> tuple[float, list]:
    """Time ``nexuslims.extract.stage.extract_files``: sidecars + previews, or metadata only."""
    from nexuslims.extract.stage import extract_files
    from nexuslims.extractors.base import ExtractionContext

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        datasets = extract_files(files, instrument_root=root,
                                 data_root=Path(tmp) if previews else None,
                                 context=ExtractionContext(), previews=previews,
                                 workers=workers)
        return time.perf_counter() - start, datasets


def report(label: str, files: int, elapsed: float, baseline: float) -> None:
    per_file = elapsed / files
    print(f"  {label:<44} {files / elapsed:8.1f} files/s  {per_file * 1000:7.1f} ms/file"
          f"  {baseline / per_file:6.1f}x NexusLIMS 1.4 ({baseline * 1000:.0f} ms/file)")


def speed(root: Path, workers: int) -> None:
    files = corpus_files(root)
    print(f"corpus: {len(files)} files under {root}")
    cold, datasets = run_stage(files, root, previews=True, workers=0)
    failed = sum(d.error is not None for d in datasets)
    print(f"  first call, cold (imports HyperSpy etc., paid once per process): {cold:.2f} s; "
          f"{len(datasets)} datasets, {failed} with errors")
    for previews, baseline in ((False, BASELINE_WITHOUT), (True, BASELINE_WITH_PREVIEWS)):
        what = "extraction + previews" if previews else "extraction only"
        best = min(run_stage(files, root, previews, 0)[0] for _ in range(3))
        report(f"{what}, in this process (best of 3)", len(files), best, baseline)
        # What a pass does: worker processes under time and memory limits. The fork server
        # (readers preloaded) and idle workers persist for the process, as in a pass.
        for n in sorted({1, workers}):
            run_stage(files, root, previews, n)
            pooled = min(run_stage(files, root, previews, n)[0] for _ in range(2))
            report(f"{what}, {n} worker{'s' if n > 1 else ''} (best of 2)", len(files),
                   pooled, baseline)


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
import hyperspy.api, nexuslims.extractors.registry, nexuslims.previews  # before the baseline
from nexuslims.extract.stage import extract_files
from nexuslims.extractors.base import ExtractionContext
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
file = Path(sys.argv[1])
datasets = extract_files([file], instrument_root=file.parent, data_root=Path(sys.argv[2]),
                         context=ExtractionContext(), workers=0)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
made = sum(d.preview is not None and d.error is None for d in datasets)
print(base, peak, elapsed, len(datasets), made, len(datasets) - made)
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
