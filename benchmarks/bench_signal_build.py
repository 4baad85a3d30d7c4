"""CPU per file of reading through RosettaSciIO + HyperSpy, split into its three parts.

Usage::

    NEXUSLIMS_TEST_CORPUS=../shared/corpus python benchmarks/bench_signal_build.py [--repeat 5]

For each corpus file read through RosettaSciIO (DigitalMicrograph, TIA ``.ser``, MSA,
Bruker ``.bcf``/``.spx``), in this process (no pool), after a warm-up pass, best of
``--repeat``, prints milliseconds of CPU (``time.process_time``) by extension:

- ``reader``: RosettaSciIO's ``file_reader`` alone (eager or lazy as we read the file);
- ``+hyperspy``: what building the HyperSpy signals adds (our loader minus the reader);
- ``+extractor``: what the extractor adds on top (metadata, no preview).

The machine's load average is printed with the figures: compare CPU, A/B alternated.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

FORMATS = {".dm3": "DigitalMicrograph", ".dm4": "DigitalMicrograph", ".ser": "TIA",
           ".msa": "MSA", ".bcf": "Bruker", ".spx": "Bruker"}


def best(function: Callable[[], object], repeat: int) -> float:
    """Least CPU seconds of ``repeat`` calls."""
    least = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        function()
        least = min(least, time.process_time() - start)
    return least


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    corpus = Path(os.environ.get("NEXUSLIMS_TEST_CORPUS", ""))
    if not corpus.is_dir():
        sys.exit("set NEXUSLIMS_TEST_CORPUS to the shared corpus")

    from nexuslims.extractors._reader import _plugin, load_signals, load_with_tags, read_lazily
    from nexuslims.extractors.base import ExtractionContext
    from nexuslims.extractors.registry import extract

    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in FORMATS)
    context = ExtractionContext()
    parts: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    count: collections.Counter[str] = collections.Counter()
    for path in files:
        reader = FORMATS[path.suffix.lower()]
        api = importlib.import_module(_plugin(path, reader)["api"])
        load = load_with_tags if reader == "DigitalMicrograph" else load_signals
        lazy = read_lazily(path, reader)
        steps = (lambda: api.file_reader(str(path), lazy=lazy),  # noqa: B023
                 lambda: load(path, reader),  # noqa: B023
                 lambda: extract(path, context))  # noqa: B023
        for step in steps:  # warm-up: imports, caches
            step()
        times = [best(step, args.repeat) for step in steps]
        ext = path.suffix.lower()
        for i, spent in enumerate((times[0], times[1] - times[0], times[2] - times[1])):
            parts[ext][i] += spent
        count[ext] += 1
    print(f"load average {os.getloadavg()[0]:.2f}; ms of CPU a file, best of {args.repeat}")
    print(f"{'':6s} {'files':>5s} {'reader':>8s} {'+hyperspy':>10s} {'+extractor':>11s}"
          f" {'total':>8s}")
    for ext in sorted(parts):
        reader_ms, build_ms, extract_ms = (1000 * v / count[ext] for v in parts[ext])
        print(f"{ext:6s} {count[ext]:5d} {reader_ms:8.1f} {build_ms:10.1f} {extract_ms:11.1f}"
              f" {reader_ms + build_ms + extract_ms:8.1f}")


if __name__ == "__main__":
    main()
