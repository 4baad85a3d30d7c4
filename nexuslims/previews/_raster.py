"""Pixels: from any numeric array to a visible 8-bit image, and PNGs written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nexuslims.atomic import atomic_file

SIZE = 500
"""Longest side of every preview, in pixels."""

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
_PERCENTILE_SAMPLE = 250_000
"""Percentiles are estimated from at most this many pixels, so huge images stay fast."""


def stride_for(shape: tuple[int, ...], target: int = 2 * SIZE) -> int:
    """A step that brings the longest of ``shape`` down to about ``target`` pixels."""
    longest = max(shape) if shape else 1
    return max(1, longest // target)


def downsample(data: Any, target: int = 2 * SIZE) -> Any:
    """A strided view of a 2-D (or 2-D + colour) array no larger than needed for a preview.

    Works on numpy and dask arrays alike, so a lazy image is read only where sampled.
    """
    step = stride_for(tuple(data.shape[:2]), target)
    return data[::step, ::step] if step > 1 else data


def local_scheduler() -> Any:
    """Dask's threaded scheduler, to compute a preview in this process.

    Given by function, not by name: for any name (and for none) dask first imports
    ``distributed`` (a second of start-up) to look for a cluster client, and inside a
    Dask worker it would send a preview's few chunks round the cluster.
    """
    import dask.threaded

    return dask.threaded.get


def materialise(data: Any) -> np.ndarray:
    """A numpy array of ``data``, computing it if it is a dask array."""
    if hasattr(data, "compute"):
        data = data.compute(scheduler=local_scheduler())
    return np.asarray(data)


def to_uint8(data: np.ndarray, *, log: bool = False) -> np.ndarray:
    """Contrast-stretch any real or complex array to 0-255 by percentiles.

    Complex data shows its magnitude; NaN and inf become black; a constant image
    becomes mid-grey rather than dividing by zero. ``log`` compresses the range first
    (diffraction patterns and FFTs, whose centre outshines everything else).
    """
    data = np.asarray(data)
    if np.iscomplexobj(data):
        data = np.abs(data)
    if not log and data.dtype.kind in "ui" and data.dtype.itemsize <= 2:
        return _small_integers_to_uint8(data)
    values = data.astype(np.float64, copy=True)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    if log:
        floor = values[finite].min()
        values[finite] = np.log1p(values[finite] - floor)
    sample = values[finite]
    if sample.size > _PERCENTILE_SAMPLE:
        sample = sample[:: sample.size // _PERCENTILE_SAMPLE]
    lo, hi = np.percentile(sample, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi <= lo:
        lo, hi = float(sample.min()), float(sample.max())
    if hi <= lo:
        return np.where(finite, 128, 0).astype(np.uint8)
    scaled = (values - lo) * (255.0 / (hi - lo))
    scaled[~finite] = 0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _small_integers_to_uint8(data: np.ndarray) -> np.ndarray:
    """:func:`to_uint8` of 8- and 16-bit integers (most detectors' images), through a
    look-up table: the same percentiles (taken on the integers, which orders them as
    their float copies would) and the same arithmetic, done once per possible value
    instead of once per pixel. A 512 x 471 16-bit SEM image: 5.0 -> 1.0-1.4 ms."""
    sample = data.ravel()
    if sample.size > _PERCENTILE_SAMPLE:
        sample = sample[:: sample.size // _PERCENTILE_SAMPLE]
    if not sample.size:
        return np.zeros(data.shape, dtype=np.uint8)
    lo, hi = (float(v) for v in np.percentile(sample, [LOW_PERCENTILE, HIGH_PERCENTILE]))
    if hi <= lo:
        lo, hi = float(sample.min()), float(sample.max())
    if hi <= lo:
        return np.full(data.shape, 128, dtype=np.uint8)
    info = np.iinfo(data.dtype)
    levels = np.arange(info.min, info.max + 1, dtype=np.float64)
    table = np.clip((levels - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    if info.min:  # signed: -32768 is the table's first entry
        return table[data.astype(np.int32) - info.min]
    return table[data]


def fit(image: Image.Image, size: int = SIZE, box: tuple[int, int] | None = None) -> Image.Image:
    """Scale ``image`` so its longest side is ``size`` (or it fills ``box``), keeping aspect.

    Small sources are enlarged with nearest-neighbour so each pixel stays a crisp square;
    large ones are reduced with a box filter.
    """
    width, height = image.size
    box_w, box_h = box or (size, size)
    scale = min(box_w / width, box_h / height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new == image.size:
        return image
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BOX
    return image.resize(new, resample)


def array_image(data: np.ndarray, *, log: bool = False) -> Image.Image:
    """A PIL image from a 2-D array (grey) or an RGB(A) array, contrast-stretched."""
    if data.ndim == 3 and data.shape[-1] in (3, 4) and data.dtype == np.uint8:
        return Image.fromarray(np.ascontiguousarray(data[..., :3]), "RGB")
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        return Image.fromarray(to_uint8(data[..., :3], log=log), "RGB")
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    if np.iscomplexobj(data):
        return complex_image(data, log=log)
    return Image.fromarray(np.ascontiguousarray(to_uint8(data, log=log)), "L")


def complex_image(data: np.ndarray, *, log: bool = False) -> Image.Image:
    """A complex image (an FFT, a DPC/iDPC result) as magnitude and phase side by side.

    The magnitude is contrast-stretched like any image; the phase maps -pi..pi to
    black..white, so a phase ramp or a vortex is visible where the magnitude is flat.
    """
    magnitude = to_uint8(np.abs(data), log=log)
    angle = np.angle(np.where(np.isfinite(data), data, 0))
    phase = np.round((angle + np.pi) / (2 * np.pi) * 255).astype(np.uint8)
    gap = np.full((data.shape[0], complex_width(data.shape[1]) - 2 * data.shape[1]), 255,
                  dtype=np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.hstack([magnitude, gap, phase])), "L")


def complex_width(columns: int) -> int:
    """Width of :func:`complex_image`'s picture of an image ``columns`` wide (both panels
    and the white gap between), for a scale bar drawn over the magnitude."""
    return 2 * columns + max(2, columns // 64)


def save_png(image: Image.Image, out: Path) -> None:
    """Write ``image`` to ``out`` as PNG via a temporary file, so readers never see half a file.

    A colour image whose pixels are all grey (an image with a scale bar, a montage, a
    grey picture stored as RGB) is written with one channel: the same picture, a third
    of the pixels to compress (about half a preview's encoding time).
    """
    if image.mode == "RGB" and _is_grey(image):
        image = image.getchannel(0)
    if image.mode in ("L", "RGB"):
        from imagecodecs import png_encode

        encoded = png_encode(np.asarray(image), level=PNG_COMPRESS_LEVEL, filter=PNG_FILTER_UP)
        with atomic_file(Path(out)) as stream:
            stream.write(encoded)
        return
    with atomic_file(Path(out)) as stream:  # palette plots: one byte a pixel, unfiltered
        image.save(stream, "PNG", compress_level=PNG_COMPRESS_LEVEL)


PNG_COMPRESS_LEVEL = 3
"""zlib level of previews: 1-3 encode at much the same speed (3 is 3% smaller); 6 and
above take half as long again for nothing smaller (measured on the corpus's previews)."""

PNG_FILTER_UP = 32
"""libpng's PNG_FILTER_UP, the one row filter grey and colour previews are written with
(through imagecodecs' libpng). Pillow's encoder tries all five filters on every row and
keeps the best: on the corpus's grey previews that halves the encoding speed (1.33 ->
0.70 ms a 500 px preview) for files 4 % smaller. The pixels are the same: PNG is
lossless either way."""


def _is_grey(image: Image.Image) -> bool:
    """Whether red, green and blue are equal in every pixel (in C, without copies)."""
    from PIL import ImageChops

    red, green, blue = image.split()
    return (ImageChops.difference(red, green).getbbox() is None
            and ImageChops.difference(green, blue).getbbox() is None)
