"""A stack's preview: a grid of evenly spaced frames, labelled with the frame count.

Showing only the first frame of a stack hides that it is one; the montage shows up to
nine frames, the first and last among them, on one contrast scale so that changes
between frames stay visible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from nexuslims.previews._plot import BACKGROUND, INK, font
from nexuslims.previews._raster import SIZE, fit, materialise, stride_for, to_uint8
from nexuslims.previews._scalebar import draw_scale_bar

MAX_FRAMES = 9
HEADER = 24


def frame_indices(count: int, wanted: int = MAX_FRAMES) -> list[int]:
    """Up to ``wanted`` evenly spaced indices in ``range(count)``, first and last included."""
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def stack_frames(data: Any, nav_dims: list[int], sig_dims: list[int]) -> tuple[list[Any], int]:
    """The chosen frames (2-D, strided to preview size, not yet computed) and the count."""
    shape = data.shape
    nav_shape = tuple(shape[d] for d in nav_dims)
    count = int(np.prod(nav_shape)) if nav_shape else 1
    step = stride_for(tuple(shape[d] for d in sig_dims))
    frames = []
    for flat in frame_indices(count):
        where = dict(zip(nav_dims, np.unravel_index(flat, nav_shape), strict=True))
        index = tuple(slice(None, None, step) if d in sig_dims else int(where.get(d, 0))
                      for d in range(len(shape)))
        frames.append(data[index])
    return frames, count


def render_montage(frames: list[Any], count: int, *, log: bool = False,
                   calibration: tuple[float, str, int] | None = None) -> Image.Image:
    """A ``SIZE``-wide grid of ``frames`` under a "``count`` frames" header.

    ``calibration`` -- (size of a frame pixel, unit, frame width in pixels) -- puts a
    scale bar on the first tile.
    """
    arrays = [np.asarray(materialise(f), dtype=np.float64) for f in frames]
    if arrays and any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError("frames of a stack differ in shape")
    grey = to_uint8(np.stack(arrays), log=log)  # one contrast scale for every frame
    columns = math.ceil(math.sqrt(len(arrays)))
    rows = math.ceil(len(arrays) / columns)
    gap = 4
    cell = (SIZE - gap * (columns + 1)) // columns
    tiles = [fit(Image.fromarray(np.ascontiguousarray(g), "L"), box=(cell, cell)) for g in grey]
    if calibration is not None and tiles:
        tiles[0] = draw_scale_bar(tiles[0], *calibration)
    tile_h = max(t.height for t in tiles)
    canvas = Image.new("RGB", (SIZE, HEADER + rows * (tile_h + gap) + gap), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    shown = "" if len(arrays) == count else f" (showing {len(arrays)})"
    draw.text((SIZE // 2, 5), f"{count} frames{shown}", fill=INK, font=font(14), anchor="mt")
    for i, tile in enumerate(tiles):
        row, col = divmod(i, columns)
        x = gap + col * (cell + gap) + (cell - tile.width) // 2
        y = HEADER + gap + row * (tile_h + gap)
        canvas.paste(tile.convert("RGB"), (x, y))
    return canvas
