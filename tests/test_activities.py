"""Activity clustering groups files exactly as NexusLIMS's scikit-learn method does."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.signal import argrelextrema
from sklearn.model_selection import GridSearchCV, LeaveOneOut
from sklearn.neighbors import KernelDensity

from nexuslims import activities
from nexuslims.activities import (
    candidate_bandwidths,
    choose_bandwidth,
    cluster_mtimes,
    group_by_boundaries,
    log_density,
    loo_log_likelihoods,
)

START = 1.7e9  # realistic epoch seconds: differences must survive large offsets


@dataclass(frozen=True)
class Reference:
    """What the scikit-learn method gives for one input."""

    bandwidth: float
    scores: np.ndarray
    boundaries: list[float]


def reference(mtimes: np.ndarray, sensitivity: float = 1.0) -> Reference:
    """NexusLIMS's clustering written with GridSearchCV, as the issue describes it."""
    x = np.unique(mtimes)
    bandwidth, scores = _grid_search(x.tobytes())
    kde = KernelDensity(kernel="gaussian", bandwidth=bandwidth / sensitivity)
    kde.fit(x.reshape(-1, 1))
    points = np.linspace(x.min(), x.max(), 10 * x.size)
    density = kde.score_samples(points.reshape(-1, 1))
    boundaries = [float(points[i]) for i in argrelextrema(density, np.less)[0]]
    return Reference(bandwidth, scores, boundaries)


@functools.cache
def _grid_search(distinct_times: bytes) -> tuple[float, np.ndarray]:
    # The slow part (35 n refits), shared by the tests that use the same input.
    x = np.frombuffer(distinct_times)
    gaps = np.diff(x)
    bandwidths = np.logspace(math.log(gaps.min()), math.log(gaps.max()), 35, base=math.e)
    grid = GridSearchCV(
        KernelDensity(kernel="gaussian"), {"bandwidth": bandwidths}, cv=LeaveOneOut()
    )
    grid.fit(x.reshape(-1, 1))
    return grid.best_params_["bandwidth"], grid.cv_results_["mean_test_score"]


def bursty(rng: np.random.Generator, n: int, n_bursts: int) -> np.ndarray:
    starts = np.sort(rng.uniform(0, 6 * 3600, n_bursts))
    sizes = rng.multinomial(n, np.ones(n_bursts) / n_bursts)
    times = [
        s + np.cumsum(rng.exponential(rng.uniform(3, 60), k))
        for s, k in zip(starts, sizes, strict=True)
    ]
    return START + np.round(np.concatenate(times))


def with_duplicates(rng: np.random.Generator, n: int) -> np.ndarray:
    times = START + np.round(rng.uniform(0, 3 * 3600, n))
    return np.concatenate([times, rng.choice(times, n // 4)])


CASES = {
    "uniform-40": lambda: START + np.random.default_rng(1).uniform(0, 7200, 40),
    "uniform-50": lambda: START + np.random.default_rng(2).uniform(0, 28800, 50),
    "bursty-60": lambda: bursty(np.random.default_rng(3), 60, 3),
    "bursty-70": lambda: bursty(np.random.default_rng(4), 70, 6),
    "duplicates-50": lambda: with_duplicates(np.random.default_rng(5), 40),
    "small-integers": lambda: np.array([0.0, 1, 2, 3, 10, 11, 12, 30, 31, 50]),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request) -> tuple[np.ndarray, Reference]:
    mtimes = CASES[request.param]()
    return mtimes, reference(mtimes)


def groups(mtimes: np.ndarray, boundaries: list[float]) -> list[list[float]]:
    return group_by_boundaries(list(mtimes), float, boundaries)


def test_loo_scores_match_scikit_learn(case):
    mtimes, ref = case
    scores = loo_log_likelihoods(mtimes, candidate_bandwidths(mtimes))
    np.testing.assert_allclose(scores, ref.scores, rtol=1e-10, atol=0)


def test_chosen_bandwidth_matches_scikit_learn(case):
    mtimes, ref = case
    assert choose_bandwidth(mtimes) == ref.bandwidth


def test_grouping_matches_scikit_learn(case):
    mtimes, ref = case
    boundaries = cluster_mtimes(mtimes)
    assert groups(mtimes, boundaries) == groups(mtimes, ref.boundaries)
    np.testing.assert_allclose(boundaries, ref.boundaries, rtol=0, atol=1e-6)


@pytest.mark.parametrize("sensitivity", [0.5, 3.0])
def test_grouping_matches_scikit_learn_at_other_sensitivities(sensitivity):
    mtimes = CASES["bursty-60"]()
    expected = groups(mtimes, reference(mtimes, sensitivity).boundaries)
    assert groups(mtimes, cluster_mtimes(mtimes, sensitivity)) == expected


def test_fast_transform_path_matches_scikit_learn(monkeypatch):
    # Small inputs never reach the fast Gauss transform; force it to be used.
    monkeypatch.setattr(activities, "_FGT_MIN_BOX_WORK", 0)
    mtimes = CASES["bursty-60"]()
    ref = reference(mtimes)
    scores = loo_log_likelihoods(mtimes, candidate_bandwidths(mtimes))
    np.testing.assert_allclose(scores, ref.scores, rtol=1e-10)
    assert groups(mtimes, cluster_mtimes(mtimes)) == groups(mtimes, ref.boundaries)


def test_fast_gauss_sums_match_direct_sums():
    rng = np.random.default_rng(8)
    x = np.sort(rng.uniform(0, 500, 2000))
    t = np.sort(rng.uniform(-20, 520, 1500))
    for h in (0.5, 5.0, 50.0):
        direct = np.exp(-((t[:, None] - x[None, :]) ** 2) / (2 * h * h)).sum(axis=1)
        fast = activities._fast_gauss_sums(x, t, h)
        # Only sums the transform is trusted with: at least e**-2 of one kernel.
        used = direct > math.exp(-2)
        np.testing.assert_allclose(fast[used], direct[used], rtol=1e-12)


def test_log_density_matches_scikit_learn_far_from_the_data():
    x = START + np.array([0.0, 1.0, 2.0, 3600.0, 3601.0])
    points = np.linspace(x[0] - 100, x[-1] + 100, 500)
    kde = KernelDensity(bandwidth=0.5).fit(x.reshape(-1, 1))
    expected = kde.score_samples(points.reshape(-1, 1))
    got = log_density(x, points, 0.5)
    assert np.isfinite(got).all()  # no underflow to -inf in the gap
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_three_obvious_bursts_make_three_groups():
    # Files about 10 s apart, bursts an hour apart.
    rng = np.random.default_rng(9)
    mtimes = np.concatenate(
        [START + s + np.arange(0, 150, 10) + rng.integers(0, 3, 15) for s in (0, 3600, 7200)]
    )
    result = groups(mtimes, cluster_mtimes(mtimes))
    assert [len(g) for g in result] == [15, 15, 15]
    assert [min(g) // 3600 for g in result] == [START // 3600 + k for k in range(3)]


def test_single_file_is_one_activity():
    assert cluster_mtimes([START]) == []
    assert choose_bandwidth([START]) is None


def test_all_equal_mtimes_are_one_activity():
    assert cluster_mtimes([START] * 5) == []


def test_empty_input_has_no_boundaries_and_no_groups():
    assert cluster_mtimes([]) == []
    assert group_by_boundaries([], float, []) == []


def test_two_distinct_times_follow_the_reference():
    mtimes = np.array([START, START + 60])
    for sensitivity in (1.0, 3.0):
        expected = groups(mtimes, reference(mtimes, sensitivity).boundaries)
        assert groups(mtimes, cluster_mtimes(mtimes, sensitivity)) == expected
    # The density is symmetric about the midpoint and so is the grid of 20 points,
    # whose two middle values tie: never a strict minimum, so always one activity.
    for sensitivity in (1.0, 3.0, 50.0):
        assert cluster_mtimes(mtimes, sensitivity) == []


def test_sensitivity_zero_is_one_activity():
    mtimes = bursty(np.random.default_rng(10), 60, 5)
    assert len(cluster_mtimes(mtimes)) >= 1
    assert cluster_mtimes(mtimes, 0) == []


def test_higher_sensitivity_never_gives_fewer_activities():
    mtimes = bursty(np.random.default_rng(11), 80, 5)
    counts = [len(cluster_mtimes(mtimes, s)) for s in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)]
    assert counts == sorted(counts)
    assert counts[-1] > counts[0]


def test_negative_or_infinite_sensitivity_is_refused():
    with pytest.raises(ValueError, match="sensitivity"):
        cluster_mtimes([START, START + 1], -1.0)
    with pytest.raises(ValueError, match="sensitivity"):
        cluster_mtimes([START, START + 1], math.inf)


def test_non_finite_mtime_is_refused():
    with pytest.raises(ValueError, match="finite"):
        cluster_mtimes([START, math.nan])


def test_unsorted_input_gives_the_same_boundaries_as_sorted():
    mtimes = bursty(np.random.default_rng(12), 70, 4)
    shuffled = np.random.default_rng(13).permutation(mtimes)
    assert cluster_mtimes(shuffled) == cluster_mtimes(np.sort(mtimes))


def test_group_by_boundaries_uses_first_boundary_at_or_after_the_time():
    @dataclass(frozen=True)
    class File:
        name: str
        mtime: float

    files = [File("d", 25.0), File("a", 5.0), File("b", 10.0), File("c", 10.0), File("e", 40.0)]
    result = group_by_boundaries(files, lambda f: f.mtime, [10.0, 15.0, 30.0])
    # "b" and "c" sit exactly on a boundary: they end the first activity; the
    # empty activity between 10 and 15 is dropped; "e" forms the last one.
    assert [[f.name for f in g] for g in result] == [["a", "b", "c"], ["d"], ["e"]]


def test_duplicate_mtimes_land_in_the_same_activity():
    mtimes = with_duplicates(np.random.default_rng(14), 40)
    result = groups(mtimes, cluster_mtimes(mtimes))
    assert len(result) > 1
    assert sum(len(g) for g in result) == mtimes.size
    seen = [set(g) for g in result]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])


def test_strict_minima_are_scipys_relative_minima():
    rng = np.random.default_rng(7)
    cases = [rng.normal(size=n) for n in (0, 1, 2, 3, 50, 1000)]
    cases += [np.round(rng.normal(size=200), 1),  # ties and plateaus
              np.array([3.0, 1.0, 1.0, 3.0, 2.0, 5.0, 0.0]), np.full(9, 2.0)]
    for values in cases:
        assert activities.strict_minima(values).tolist() \
            == argrelextrema(values, np.less)[0].tolist(), values


def test_a_pass_does_not_import_scipy_signal():
    import subprocess
    import sys

    code = ("import sys, nexuslims.builder.run, nexuslims.builder.passlog; "
            "print('scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
