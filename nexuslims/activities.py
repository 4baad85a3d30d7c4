"""Cluster stage: group a session's files into acquisition activities.

Files acquired close together in time form one *activity*. The rule is the one
NexusLIMS has always used, so records built here group files exactly as before:

1. De-duplicate and sort the modification times ``x`` (``n`` of them).
2. Try 35 Gaussian-KDE bandwidths log-spaced from the smallest to the largest gap
   between consecutive times; keep the one with the highest leave-one-out
   log-likelihood (what scikit-learn's ``GridSearchCV(KernelDensity(), ...,
   cv=LeaveOneOut())`` picks, the first one on ties).
3. Divide it by the *sensitivity*, evaluate the density at ``10 n`` evenly spaced
   points from ``x[0]`` to ``x[-1]``; its strict local minima are the boundaries.
4. A file belongs to the first activity whose boundary is at or after its mtime;
   files after the last boundary form the last activity.

scikit-learn refits the model ``35 n`` times (about 40 s for 800 files). Here the
same numbers are computed directly: every Gaussian sum is taken in log space
relative to the target's nearest source, over the window of sources that can
matter, so isolated points give the same large-but-finite scores scikit-learn's
``logaddexp`` does. Where such windows grow large (bandwidth wide compared with
the local spacing) a 1-D fast Gauss transform with Hermite expansions takes over;
it agrees with direct sums to about 1e-12 of the sum there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import numpy as np

T = TypeVar("T")
Times = Sequence[float] | np.ndarray

N_BANDWIDTHS = 35
GRID_FACTOR = 10

# Sources whose kernel is e**-_CUTOFF below the nearest one's are left out; even
# 1e6 of them change a log-sum by under 1e-13.
_CUTOFF = 45.0
# Targets go to the fast transform only if their nearest source is within this
# many bandwidths, so their sum is at least e**-2 and the transform's absolute
# error stays small relative to it...
_FGT_MAX_NEAREST = 2.0
# ...and their box (see _fast_gauss_sums) would need more exact terms than this
# (measured: ~10 us per box for the transform, ~37 ns per exact term).
_FGT_MIN_BOX_WORK = 300
# Fast Gauss transform: boxes of _BOX kernel widths, _ORDER terms per expansion,
# boxes up to _REACH apart interact (farther ones are below e**-42 per source).
_BOX = 0.5
_ORDER = 22
_REACH = 14
_CHUNK = 1 << 22  # source-target pairs per vectorised block of exact sums


def cluster_mtimes(mtimes: Sequence[float], sensitivity: float = 1.0) -> list[float]:
    """Activity boundary times for these modification times.

    Parameters
    ----------
    mtimes
        File modification times (seconds since the epoch, any order, duplicates
        allowed).
    sensitivity
        Divides the chosen bandwidth: higher values give narrower kernels and more
        activities; 0 puts every file into one activity.

    Returns
    -------
    list of float
        Increasing boundary times; ``k`` boundaries make ``k + 1`` activities (some
        may be empty). Empty when all files form one activity.

    Raises
    ------
    ValueError
        If ``sensitivity`` is negative or not finite, or an mtime is not finite.
    """
    if not math.isfinite(sensitivity) or sensitivity < 0:
        raise ValueError(f"sensitivity must be a finite number >= 0, not {sensitivity!r}")
    x = _unique_times(mtimes)
    if sensitivity == 0 or x.size < 2:
        return []
    bandwidth = _choose_bandwidth(x)
    grid = np.linspace(x[0], x[-1], GRID_FACTOR * x.size)
    density = log_density(x, grid, bandwidth / sensitivity)
    return [float(grid[i]) for i in strict_minima(density)]


def strict_minima(values: np.ndarray) -> np.ndarray:
    """Indexes of the interior points lower than both neighbours.

    What ``scipy.signal.argrelextrema(values, np.less)`` returns (its ``clip`` mode never
    counts the ends), without importing ``scipy.signal``: that import alone costs
    1.5-3 s of every pass's start-up, more than a whole pass over unchanged files.
    """
    inner = values[1:-1]
    return np.flatnonzero((inner < values[:-2]) & (inner < values[2:])) + 1


def group_by_boundaries(
    items: Iterable[T], key: Callable[[T], float], boundaries: Sequence[float]
) -> list[list[T]]:
    """Split items into activities at the boundaries :func:`cluster_mtimes` gave.

    Parameters
    ----------
    items
        The things to group, e.g. found files.
    key
        The time of an item, e.g. ``lambda f: f.mtime``.
    boundaries
        Increasing boundary times.

    Returns
    -------
    list of list
        Non-empty activities in time order, each in time order (ties keep input
        order). An item goes to the first activity whose boundary is ``>=`` its
        time; items after the last boundary form the last activity.
    """
    ordered = sorted(items, key=key)
    groups: list[list[T]] = [[] for _ in range(len(boundaries) + 1)]
    if ordered:
        times = np.array([key(item) for item in ordered], dtype=float)
        index = np.searchsorted(np.asarray(boundaries, dtype=float), times, side="left")
        for item, i in zip(ordered, index, strict=True):
            groups[i].append(item)
    return [group for group in groups if group]


def candidate_bandwidths(mtimes: Times) -> np.ndarray:
    """The 35 bandwidths tried: log-spaced from the smallest to the largest gap.

    Empty when there are fewer than two distinct times.
    """
    gaps = np.diff(_unique_times(mtimes))
    if gaps.size == 0:
        return np.empty(0)
    return np.logspace(
        math.log(gaps.min()), math.log(gaps.max()), N_BANDWIDTHS, base=math.e
    )


def choose_bandwidth(mtimes: Times) -> float | None:
    """The candidate bandwidth with the best leave-one-out likelihood.

    ``None`` when there are fewer than two distinct times (nothing to choose).
    """
    x = _unique_times(mtimes)
    return _choose_bandwidth(x) if x.size >= 2 else None


def loo_log_likelihoods(mtimes: Times, bandwidths: Times) -> np.ndarray:
    """Mean leave-one-out log-likelihood of the distinct times under each bandwidth.

    For bandwidth ``h`` this is the mean over ``i`` of the log of the Gaussian KDE
    fitted to every distinct time but ``x[i]``, evaluated at ``x[i]``: scikit-learn's
    ``mean_test_score`` for ``KernelDensity`` under ``LeaveOneOut``.
    """
    x = _unique_times(mtimes)
    if x.size < 2:
        raise ValueError("leave-one-out needs at least two distinct times")
    gaps = np.diff(x)
    nearest = np.minimum(np.append(gaps, np.inf), np.insert(gaps, 0, np.inf))
    nearest_index = np.arange(x.size) + np.where(
        np.append(gaps, np.inf) < np.insert(gaps, 0, np.inf), 1, -1
    )
    scores = []
    for h in np.asarray(bandwidths, dtype=float):
        log_sums = _log_gauss_sums(x, x, nearest, nearest_index, h, leave_one_out=True)
        scores.append(log_sums.mean() - math.log(x.size - 1) - _log_norm(h))
    return np.array(scores)


def log_density(mtimes: np.ndarray, points: np.ndarray, bandwidth: float) -> np.ndarray:
    """Log of the Gaussian KDE of sorted distinct ``mtimes`` at sorted ``points``.

    Equal to scikit-learn's ``KernelDensity(bandwidth=bandwidth).fit(...)
    .score_samples(...)``; finite however far a point lies from the data.
    """
    x = np.asarray(mtimes, dtype=float)
    t = np.asarray(points, dtype=float)
    right = np.clip(np.searchsorted(x, t), 0, x.size - 1)
    left = np.maximum(right - 1, 0)
    nearest_index = np.where(np.abs(t - x[left]) <= np.abs(x[right] - t), left, right)
    nearest = np.abs(t - x[nearest_index])
    log_sums = _log_gauss_sums(x, t, nearest, nearest_index, bandwidth, leave_one_out=False)
    return log_sums - math.log(x.size) - _log_norm(bandwidth)


def _unique_times(mtimes: Times) -> np.ndarray:
    x = np.unique(np.asarray(mtimes, dtype=float).ravel())
    if not np.isfinite(x).all():
        raise ValueError("modification times must be finite numbers")
    return x


def _choose_bandwidth(x: np.ndarray) -> float:
    bandwidths = candidate_bandwidths(x)
    # np.argmax takes the first maximum, as GridSearchCV's ranking does.
    return float(bandwidths[int(np.argmax(loo_log_likelihoods(x, bandwidths)))])


def _log_norm(h: float) -> float:
    return 0.5 * math.log(2 * math.pi) + math.log(h)


def _log_gauss_sums(
    x: np.ndarray,
    t: np.ndarray,
    nearest: np.ndarray,
    nearest_index: np.ndarray,
    h: float,
    *,
    leave_one_out: bool,
) -> np.ndarray:
    """``log sum_j exp(-(t_i - x_j)**2 / 2h**2)`` for each target (``j != i`` if LOO)."""
    reach = np.sqrt(nearest * nearest + 2.0 * h * h * _CUTOFF)
    lo = np.searchsorted(x, t - reach, side="left")
    hi = np.searchsorted(x, t + reach, side="right")
    # Rounding in t -/+ reach must not drop the nearest source (nor, for LOO, self).
    keep_lo = keep_hi = nearest_index
    if leave_one_out:
        keep_lo = np.minimum(nearest_index, np.arange(t.size))
        keep_hi = np.maximum(nearest_index, np.arange(t.size))
    lo = np.minimum(lo, keep_lo)
    hi = np.maximum(hi, keep_hi + 1)
    fast = nearest <= _FGT_MAX_NEAREST * h
    if fast.any():
        # The transform costs about as much per target box as _FGT_MIN_BOX_WORK
        # exact terms: worth it only for boxes whose targets have more than that.
        box = np.floor((t - x[0]) / (h * math.sqrt(2.0) * _BOX)).astype(np.int64)
        _, box_of = _sorted_unique(box)
        work = np.bincount(box_of, weights=np.where(fast, hi - lo, 0))
        fast &= work[box_of] > _FGT_MIN_BOX_WORK
    out = np.empty(t.size)
    slow = ~fast
    if slow.any():
        out[slow] = _windowed_log_sums(
            x, t[slow], nearest[slow], lo[slow], hi[slow], h,
            np.flatnonzero(slow) if leave_one_out else None,
        )
    if fast.any():
        sums = _fast_gauss_sums(x, t[fast], h)
        # Here every sum is >= e**-2 beyond the self term, so subtracting it is safe.
        out[fast] = np.log(sums - 1.0 if leave_one_out else sums)
    return out


def _windowed_log_sums(
    x: np.ndarray,
    t: np.ndarray,
    nearest: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    h: float,
    self_index: np.ndarray | None,
) -> np.ndarray:
    """Exact sums over each target's window, scaled by its nearest source's kernel.

    The nearest source contributes exactly 1 to the scaled sum, so it never
    underflows, however far the target lies from the data.
    """
    inv = 0.5 / (h * h)
    counts = hi - lo
    ends = np.cumsum(counts)
    out = np.empty(t.size)
    start = 0
    while start < t.size:
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + _CHUNK, side="right")))
        c = counts[start:stop]
        first = ends[start:stop] - c - base
        j = np.arange(int(c.sum())) + np.repeat(lo[start:stop] - first, c)
        near2 = nearest[start:stop] ** 2
        terms = np.repeat(t[start:stop], c)
        terms -= x[j]
        terms *= terms
        np.subtract(np.repeat(near2, c), terms, out=terms)
        terms *= inv
        if self_index is not None:
            terms[first + self_index[start:stop] - lo[start:stop]] = -np.inf
        np.exp(terms, out=terms)
        out[start:stop] = np.log(np.add.reduceat(terms, first)) - near2 * inv
        start = stop
    return out


def _fast_gauss_sums(x: np.ndarray, t: np.ndarray, h: float) -> np.ndarray:
    """``sum_j exp(-(t_i - x_j)**2 / 2h**2)`` by a fast Gauss transform (sorted x, t).

    In units of ``sigma = h * sqrt(2)`` the kernel is ``exp(-(v - u)**2)``. Sources
    and targets fall in boxes of width ``_BOX``; with ``s``, ``w`` their offsets from
    their box centres and ``D`` the distance between centres,
    ``exp(-(D + w - s)**2) = sum_ab s**a/a! * (-1)**b w**b/b! * h_{a+b}(D)`` where
    ``h_n(D) = H_n(D) exp(-D**2)`` are Hermite functions. Source boxes are summarised
    by their moments ``sum s**a/a!``, turned into a Taylor series at each target box,
    and the series evaluated at each target.
    """
    sigma = h * math.sqrt(2.0)
    origin = x[0]
    u = (x - origin) / sigma
    v = (t - origin) / sigma
    src_box = np.floor(u / _BOX).astype(np.int64)
    tgt_box = np.floor(v / _BOX).astype(np.int64)
    tgt_ids, tgt_of = _sorted_unique(tgt_box)
    # Only sources within reach of some target box need moments.
    first = np.searchsorted(src_box, tgt_ids - _REACH, side="left")
    last = np.searchsorted(src_box, tgt_ids + _REACH, side="right")
    cover = np.cumsum(
        np.bincount(first, minlength=x.size + 1) - np.bincount(last, minlength=x.size + 1)
    )[:-1]
    needed = cover > 0
    u, src_box = u[needed], src_box[needed]
    s = u - (src_box + 0.5) * _BOX
    w = v - (tgt_box + 0.5) * _BOX
    src_ids, src_of = _sorted_unique(src_box)

    powers = np.empty((_ORDER, s.size))
    powers[0] = 1.0
    for a in range(1, _ORDER):
        np.multiply(powers[a - 1], s, out=powers[a])
    # Sources are sorted, so each box is one run of columns.
    starts = np.flatnonzero(np.diff(src_of, prepend=-1))
    moments = np.add.reduceat(powers, starts, axis=1).T / _FACTORIALS

    # Row i of the padded table is source box src_ids[i]; the last row is an empty box.
    padded = np.vstack([moments, np.zeros((1, _ORDER))])
    offsets = np.arange(-_REACH, _REACH + 1)
    local = np.empty((tgt_ids.size, _ORDER))
    rows = max(1, _CHUNK // (offsets.size * _ORDER))
    for start in range(0, tgt_ids.size, rows):
        want = tgt_ids[start:start + rows, None] - offsets[None, :]
        pos = np.minimum(np.searchsorted(src_ids, want), src_ids.size - 1)
        pos[src_ids[pos] != want] = src_ids.size
        # One product per block, neighbour moments side by side times the stacked
        # translations: 29 small products per block drown in BLAS overhead.
        local[start:start + rows] = padded[pos].reshape(len(want), -1) @ _translations()

    by_term = np.ascontiguousarray(local.T)  # row gathers beat column gathers
    sums = by_term[-1][tgt_of]
    for b in range(_ORDER - 2, -1, -1):
        sums *= w
        sums += by_term[b][tgt_of]
    return sums


def _sorted_unique(sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique values of a sorted array and each element's index among them."""
    new = np.empty(sorted_ids.size, dtype=bool)
    new[:1] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=new[1:])
    return sorted_ids[new], np.cumsum(new) - 1


_FACTORIALS = np.array([math.factorial(a) for a in range(_ORDER)], dtype=float)
_TRANSLATIONS: list[np.ndarray] = []


def _translations() -> np.ndarray:
    """Matrices ``(-1)**b / b! * h_{a+b}(k * _BOX)`` (rows ``a``, columns ``b``) for
    box offsets ``k = -_REACH.._REACH``, stacked in that order."""
    if not _TRANSLATIONS:
        n = np.arange(_ORDER)
        sign = np.where(n % 2 == 0, 1.0, -1.0)
        blocks = []
        for k in range(-_REACH, _REACH + 1):
            d = k * _BOX
            herm = np.empty(2 * _ORDER - 1)
            herm[0] = math.exp(-d * d)
            herm[1] = 2 * d * herm[0]
            for m in range(1, herm.size - 1):
                herm[m + 1] = 2 * d * herm[m] - 2 * m * herm[m - 1]
            blocks.append(herm[n[:, None] + n[None, :]] * (sign / _FACTORIALS)[None, :])
        _TRANSLATIONS.append(np.vstack(blocks))
    return _TRANSLATIONS[0]


class _Timed(Protocol):
    @property
    def mtime(self) -> float: ...


F = TypeVar("F", bound=_Timed)


def group_files(files: Sequence[F], sensitivity: float) -> list[list[F]]:
    """Group files (anything with an ``mtime``) into activities by clustering their
    modification times."""
    boundaries = cluster_mtimes([f.mtime for f in files], sensitivity)
    return group_by_boundaries(files, key=lambda f: f.mtime, boundaries=boundaries)
