"""Velox's EDS event stream, summed with numpy: a spectrum image's two preview sums.

Velox stores an EDS spectrum image as a stream of 16-bit values per detector: 65535
("gate pulse") moves to the next pixel of the scan, in rows, frame after frame; any
other value is one X-ray counted in that channel of the current pixel. RosettaSciIO
decodes it into a sparse cube with a numba loop (and imports sparse, numba and LLVM to
do so); a preview needs only the spectrum summed over pixels and the image summed over
channels, which are two ``bincount`` of the stream, block by block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NEXT_PIXEL = 65535
BLOCK = 2**22
"""Stream values read and summed at a time (8 MB of uint16)."""


def stream_sums(stream: Any, shape: tuple[int, int], channels: int,
                frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The summed spectrum (``channels``) and the summed image (``shape``) of a stream.

    Parameters
    ----------
    stream
        The stream: an h5py dataset (or array) of shape ``(n,)`` or ``(n, 1)``.
    shape
        The scan's (rows, columns).
    channels
        Channels of a spectrum; counts in channels past it are dropped.
    frames
        Frames to sum (the first ``frames``); None sums all of them.

    Frames are summed, as RosettaSciIO's reader does with ``sum_frames=True``.
    """
    pixels = int(shape[0]) * int(shape[1])
    if pixels <= 0 or channels <= 0:
        raise ValueError(f"a spectrum image of shape {shape} x {channels} holds nothing")
    limit = frames * pixels if frames else None
    counts_below = min(channels, NEXT_PIXEL)  # a gate pulse is never a count
    spectrum = np.zeros(channels, dtype=np.int64)
    image = np.zeros(pixels, dtype=np.int64)
    passed = 0  # gate pulses before the block: the pixel the block starts in
    total = int(stream.shape[0])
    for start in range(0, total, BLOCK):
        block = np.asarray(stream[start:start + BLOCK]).reshape(-1)
        pulses = np.flatnonzero(block == NEXT_PIXEL)
        counted = block < counts_below
        if limit is not None and passed + pulses.size >= limit:
            pulses = pulses[:limit - passed]
            counted[pulses[-1]:] = False  # past the last frame summed
        spectrum += np.bincount(block[counted], minlength=channels)
        # The counts of each pixel of the block: those between two pulses (the first
        # pixel's before the first pulse, the last one's after the last).
        before = np.cumsum(counted)
        per_pixel = np.diff(before[pulses], prepend=0, append=before[-1])
        where = (passed + np.arange(per_pixel.size)) % pixels
        image += np.bincount(where, weights=per_pixel, minlength=pixels).astype(np.int64)
        passed += pulses.size
        if limit is not None and passed >= limit:
            break
    return spectrum.astype(np.float64), image.reshape(shape).astype(np.float64)
