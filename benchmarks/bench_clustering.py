"""Benchmark activity clustering against the scikit-learn GridSearchCV reference.

Run ``python benchmarks/bench_clustering.py [--cases 20] [--n 200] [--big 100000]``.
It prints agreement with the reference on random and bursty sessions, both
implementations' times at ``--n`` files with their ratio, and the time for ``--big``
files (no reference there: it would take hours).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.signal import argrelextrema
from sklearn.model_selection import GridSearchCV, LeaveOneOut
from sklearn.neighbors import KernelDensity

from nexuslims.activities import cluster_mtimes, group_by_boundaries

SESSION_START = 1.7e9


def reference_boundaries(mtimes: np.ndarray, sensitivity: float = 1.0) -> list[float]:
    """NexusLIMS's clustering, written with scikit-learn as it always was."""
    x = np.unique(mtimes)
    if sensitivity == 0 or x.size < 2:
        return []
    gaps = np.diff(x)
    bandwidths = np.logspace(math.log(gaps.min()), math.log(gaps.max()), 35, base=math.e)
    grid = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": bandwidths},
                        cv=LeaveOneOut())
    grid.fit(x.reshape(-1, 1))
    kde = KernelDensity(kernel="gaussian", bandwidth=grid.best_params_["bandwidth"] / sensitivity)
    kde.fit(x.reshape(-1, 1))
    points = np.linspace(x.min(), x.max(), 10 * x.size)
    density = kde.score_samples(points.reshape(-1, 1))
    return [float(points[i]) for i in argrelextrema(density, np.less)[0]]


def bursty(rng: np.random.Generator, n: int, resolution: float = 1.0) -> np.ndarray:
    """3-8 bursts in a 2-8 hour session, files seconds to minutes apart, some repeats."""
    n_bursts = int(rng.integers(3, 9))
    session = rng.uniform(2, 8) * 3600
    starts = np.sort(rng.uniform(0, session, n_bursts))
    sizes = rng.multinomial(n, rng.dirichlet(np.ones(n_bursts) * 2))
    times = []
    for start, size in zip(starts, sizes, strict=True):
        gaps = rng.exponential(rng.uniform(2, 60) * resolution, size)
        times.append(start + np.cumsum(gaps))
    t = np.concatenate(times)
    t = np.round(t / resolution) * resolution  # file systems keep limited precision
    repeats = rng.choice(t, size=max(1, n // 20))  # exact duplicate mtimes
    return SESSION_START + np.concatenate([t, repeats])[:n]


def uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return SESSION_START + rng.uniform(0, rng.uniform(1, 8) * 3600, n)


def groups(mtimes: np.ndarray, boundaries: list[float]) -> list[list[float]]:
    return group_by_boundaries(list(mtimes), float, boundaries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20, help="cases per kind at --n")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)

    agree = total = 0
    t_ref = t_new = 0.0
    for kind, make in (("uniform", uniform), ("bursty", bursty)):
        kind_agree = 0
        for _ in range(args.cases):
            mtimes = make(rng, args.n)
            start = time.perf_counter()
            ref = reference_boundaries(mtimes)
            t_ref += time.perf_counter() - start
            start = time.perf_counter()
            new = cluster_mtimes(mtimes)
            t_new += time.perf_counter() - start
            same = groups(mtimes, ref) == groups(mtimes, new)
            kind_agree += same
            if not same:
                print(f"  {kind}: {len(ref) + 1} reference vs {len(new) + 1} activities")
        print(f"{kind:8s} n={args.n}: identical grouping in {kind_agree}/{args.cases} cases")
        agree += kind_agree
        total += args.cases
    print(f"agreement: {agree}/{total}")
    print(f"reference (GridSearchCV): {t_ref / total * 1e3:9.1f} ms per session")
    print(f"cluster_mtimes:           {t_new / total * 1e3:9.1f} ms per session")
    print(f"speed-up at n={args.n}: {t_ref / t_new:.0f}x")

    for kind, mtimes in (
        ("uniform", uniform(rng, args.big)),
        ("bursty", bursty(rng, args.big, resolution=0.01)),
    ):
        start = time.perf_counter()
        boundaries = cluster_mtimes(mtimes)
        elapsed = time.perf_counter() - start
        print(f"{kind:8s} n={args.big}: {elapsed:6.2f} s, {len(boundaries) + 1} activities")


if __name__ == "__main__":
    main()
