"""Previews: one PNG per dataset, longest side 500 px, written atomically.

- :func:`render_signal` -- a HyperSpy signal (lazy or not): image and diffraction
  pattern (log scale) with a scale bar when calibrated, stack (a montage of up to nine
  frames labelled "N frames"), spectrum (line plot with axis names and units, log-y
  when it spans decades), spectrum image (sum image beside the sum spectrum).
- :func:`render_array` -- the same for a plain numpy/dask array and a ``kind``;
  :func:`render_spectrum_image_sums` -- a spectrum image from its two sums.
- :func:`render_image_file` -- PNG, JPEG, GIF, BMP and TIFF files of any bit depth
  (with a scale bar when the extractor knows the pixel size).
- :func:`render_text_file` -- the first lines of a text file.
- :func:`render_placeholder` -- "Preview unavailable" and a short reason.

Images are contrast-stretched between the 0.5th and 99.5th percentiles, so 16-bit,
float and complex (magnitude) data are all visible; NaN/inf are drawn black and a
constant image is mid-grey. Small images are enlarged (nearest neighbour) to the same
500 px size, so every preview in a record has the same scale. The ``render_*``
functions may raise; callers fall back to :func:`render_placeholder`.
"""

from nexuslims.previews._raster import SIZE
from nexuslims.previews.files import render_image_file, render_placeholder, render_text_file
from nexuslims.previews.signals import (
    KINDS,
    render_array,
    render_signal,
    render_spectrum_image_sums,
)

__all__ = [
    "KINDS",
    "SIZE",
    "render_array",
    "render_image_file",
    "render_placeholder",
    "render_signal",
    "render_spectrum_image_sums",
    "render_text_file",
]
