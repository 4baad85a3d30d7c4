"""Line plots and text panels drawn with PIL (a matplotlib figure costs ~100 ms; this ~5 ms)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = "white"
INK = (40, 40, 40)
GRID = (225, 225, 225)
LINE = (31, 90, 160)

LINE_INDEX = 0
"""Where a plot is drawn in grey levels (:func:`plot_canvas`), the value its line is drawn
with: no grey drawn on a plot is darker than ``INK`` (text is anti-aliased between
``INK`` and white), so 0 is free to stand for ``LINE`` in the palette."""


def plot_canvas(size: tuple[int, int]) -> Image.Image:
    """A white canvas for :func:`draw_line_plot` alone: grey levels, made a palette image
    by :func:`as_palette` once drawn.

    A plot is greys and one blue. Drawn in RGB it takes three bytes a pixel and PNG's
    costliest filtering; as a palette image it is one byte a pixel with no filtering,
    the same pixels in a fifth of the encoding time (2.8 -> 0.5 ms a plot, measured on
    the corpus's plots).
    """
    return Image.new("L", size, 255)


def as_palette(canvas: Image.Image) -> Image.Image:
    """The palette image of a :func:`plot_canvas`: each grey level as itself, except
    :data:`LINE_INDEX`, which is ``LINE``."""
    picture = canvas.copy()
    picture.putpalette(_PALETTE)
    return picture


_PALETTE = bytes([*LINE, *(v for level in range(1, 256) for v in (level,) * 3)])


def _ink(canvas: Image.Image, colour: tuple[int, int, int]) -> int | tuple[int, int, int]:
    """``colour`` as ``canvas`` takes it: on a grey canvas, its grey level (``LINE``:
    :data:`LINE_INDEX`)."""
    if canvas.mode != "L":
        return colour
    return LINE_INDEX if colour == LINE else colour[0]


@lru_cache(maxsize=8)
def font(size: int = 12) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """PIL's built-in font at ``size`` (no font file needed with Pillow >= 10.1)."""
    return ImageFont.load_default(size=size)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2, 5 x 10^n steps) within [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def tick_label(value: float) -> str:
    """A short label for a tick value."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.1e}"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.4g}"


DECADES_RATIO = 100.0
"""A spectrum whose tallest channel is this many times its typical (median) non-zero
channel spans decades and is drawn on a log scale: a zero-loss or low-energy peak would
otherwise flatten every other peak to the baseline."""


def spans_decades(y: np.ndarray) -> bool:
    """Whether ``y`` needs a log axis for its smaller peaks to be seen.

    Only for counts-like data: a spectrum with many negative channels (background
    subtracted, a derivative) keeps its linear axis.
    """
    values = np.asarray(y)
    if np.iscomplexobj(values):
        values = np.abs(values)
    values = values.astype(np.float64).ravel()
    finite = values[np.isfinite(values)]
    positive = finite[finite > 0]
    if positive.size < 8 or (finite < 0).sum() > finite.size // 20:
        return False
    typical = float(np.median(positive))
    return typical > 0 and float(positive.max()) / typical >= DECADES_RATIO


def _envelope(y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min and max of ``y`` per pixel column, so no peak vanishes when channels > pixels."""
    edges = np.linspace(0, y.size, columns + 1).astype(int)
    edges = np.unique(edges)
    lows = np.minimum.reduceat(y, edges[:-1])
    highs = np.maximum.reduceat(y, edges[:-1])
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    return centres, lows, highs


def draw_line_plot(
    canvas: Image.Image,
    box: tuple[int, int, int, int],
    y: np.ndarray,
    x: np.ndarray | None = None,
    *,
    x_label: str = "",
    y_label: str = "Intensity",
    title: str = "",
    log_y: bool = False,
) -> None:
    """Draw a line plot of ``y`` against ``x`` with ticks and axis labels inside ``box``."""
    draw = ImageDraw.Draw(canvas)
    ink, grid, line = _ink(canvas, INK), _ink(canvas, GRID), _ink(canvas, LINE)
    left, top, right, bottom = box
    small, label_font = font(11), font(12)
    y = np.asarray(y, dtype=np.float64).ravel()
    if np.iscomplexobj(y):
        y = np.abs(y)
    if x is None or len(x) != y.size:
        x = np.arange(y.size, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).ravel()
    finite = np.isfinite(y)
    y = np.where(finite, y, np.nan)
    if log_y:
        # log10(1 + counts): empty channels sit on the baseline instead of leaving gaps
        y = np.where(np.isfinite(y), np.log10(1.0 + np.clip(y, 0, None)), np.nan)
        y_label = f"{y_label} (log scale)"

    plot_l, plot_t = left + 58, top + (22 if title else 8)
    plot_r, plot_b = right - 12, bottom - 40
    if title:
        draw.text(((left + right) // 2, top + 4), title, fill=ink, font=label_font, anchor="mt")

    x_lo, x_hi = (float(x[0]), float(x[-1])) if x.size else (0.0, 1.0)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    valid = y[np.isfinite(y)]
    y_lo, y_hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 1.0, y_hi + 1.0
    pad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def px(value: Any) -> Any:  # a number or an array of them
        return plot_l + (value - x_lo) / (x_hi - x_lo) * (plot_r - plot_l)

    def py(value: Any) -> Any:
        return plot_b - (value - y_lo) / (y_hi - y_lo) * (plot_b - plot_t)

    for tick in nice_ticks(min(x_lo, x_hi), max(x_lo, x_hi)):
        tx = px(tick)
        draw.line([(tx, plot_t), (tx, plot_b)], fill=grid)
        draw.line([(tx, plot_b), (tx, plot_b + 4)], fill=ink)
        draw.text((tx, plot_b + 6), tick_label(tick), fill=ink, font=small, anchor="mt")
    y_ticks = ([float(t) for t in range(math.ceil(y_lo), math.floor(y_hi) + 1)] if log_y
               else nice_ticks(y_lo, y_hi))
    for tick in y_ticks:
        ty = py(tick)
        draw.line([(plot_l, ty), (plot_r, ty)], fill=grid)
        draw.line([(plot_l - 4, ty), (plot_l, ty)], fill=ink)
        label = tick_label(10.0 ** tick if tick else 0.0) if log_y else tick_label(tick)
        draw.text((plot_l - 6, ty), label, fill=ink, font=small, anchor="rm")

    if y.size:
        columns = max(1, plot_r - plot_l)
        if y.size > 2 * columns:
            centres, lows, highs = _envelope(np.nan_to_num(y, nan=y_lo + pad), columns)
            xs = np.interp(centres, np.arange(x.size), x)
            # Each column also reaches its neighbour's range, so the trace stays connected.
            joined_lo = np.minimum(lows, np.concatenate([highs[:1], highs[:-1]]))
            joined_hi = np.maximum(highs, np.concatenate([lows[:1], lows[:-1]]))
            draw_strokes(canvas, px(xs), py(joined_lo), py(joined_hi), line)
        else:
            segment: list[tuple[float, float]] = []
            for xv, yv in zip(x, y, strict=True):
                if math.isfinite(yv):
                    segment.append((px(xv), py(yv)))
                elif segment:
                    _draw_segment(draw, segment, line)
                    segment = []
            _draw_segment(draw, segment, line)

    draw.rectangle([plot_l, plot_t, plot_r, plot_b], outline=ink)
    draw.text(((plot_l + plot_r) // 2, bottom - 4), x_label, fill=ink, font=label_font, anchor="mb")
    _vertical_text(canvas, (left + 2, (plot_t + plot_b) // 2), y_label, label_font, ink)


def draw_strokes(canvas: Image.Image, xs: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 ink: int | tuple[int, int, int]) -> None:
    """Vertical strokes 2 px wide, from ``(xs[i], starts[i])`` to ``(xs[i], ends[i])``.

    The same pixels as ``ImageDraw.line([(x, start), (x, end)], width=2)`` for each
    (PIL fills rows ``floor(top)..floor(bottom)``; columns ``floor(x)`` and the one to
    its right going down, to its left going up, or ``floor(x)`` alone when both ends
    are in one row), written as array slices: a spectrum of thousands of channels is
    drawn as one stroke per pixel column, 430 PIL calls that took 2/3 of its plot.
    """
    pixels = np.array(canvas)
    height, width = pixels.shape[:2]
    first = np.floor(np.minimum(starts, ends)).astype(np.int64)
    last = np.floor(np.maximum(starts, ends)).astype(np.int64)
    column = np.floor(xs).astype(np.int64)
    left = np.where(first == last, column, np.where(ends > starts, column, column - 1))
    right = np.where(first == last, column, left + 1)
    for top, bottom, c0, c1 in zip(first.tolist(), last.tolist(), left.tolist(), right.tolist(),
                                   strict=True):
        if bottom >= 0 and c1 >= 0 and top < height and c0 < width:
            pixels[max(0, top):bottom + 1, max(0, c0):c1 + 1] = ink
    canvas.paste(Image.fromarray(pixels))


def _draw_segment(draw: ImageDraw.ImageDraw, segment: list[tuple[float, float]],
                  line: int | tuple[int, int, int]) -> None:
    if len(segment) == 1:
        x, y = segment[0]
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=line)
    elif segment:
        draw.line(segment, fill=line, width=2)


def _vertical_text(canvas: Image.Image, at: tuple[int, int], text: str, face: object,
                   ink: int | tuple[int, int, int]) -> None:
    """Paste ``text`` rotated 90 degrees with its left edge at ``at[0]``, centred on ``at[1]``."""
    if not text:
        return
    l_, t_, r_, b_ = face.getbbox(text)  # type: ignore[attr-defined]
    strip = Image.new("L", (r_ - l_ + 2, b_ - t_ + 2), 0)
    ImageDraw.Draw(strip).text((1 - l_, 1 - t_), text, fill=255, font=face)  # type: ignore[arg-type]
    strip = strip.rotate(90, expand=True)
    x, y = at[0], at[1] - strip.height // 2
    canvas.paste(Image.new(canvas.mode, strip.size, ink), (x, max(0, y)), strip)


def wrap(text: str, face: object, width: int) -> list[str]:
    """Split ``text`` into lines no wider than ``width`` pixels (hard-breaking long words)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if face.getlength(candidate) <= width:  # type: ignore[attr-defined]
                current = candidate
                continue
            if current:
                lines.append(current)
            current = word
            while face.getlength(current) > width and len(current) > 1:  # type: ignore[attr-defined]
                cut = len(current) - 1
                while cut > 1 and face.getlength(current[:cut]) > width:  # type: ignore[attr-defined]
                    cut -= 1
                lines.append(current[:cut])
                current = current[cut:]
        lines.append(current)
    return lines
