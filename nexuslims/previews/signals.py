"""Previews of HyperSpy signals and plain arrays: images, stacks, spectra, spectrum images.

Only what the picture needs is ever computed: up to nine strided frames of a stack, a
strided view of a large image, and for a spectrum image two lazy sums evaluated
together in one pass over the data, chunk by chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from nexuslims.previews._montage import render_montage, stack_frames
from nexuslims.previews._plot import (
    BACKGROUND,
    INK,
    as_palette,
    draw_line_plot,
    font,
    plot_canvas,
    spans_decades,
)
from nexuslims.previews._raster import (
    SIZE,
    array_image,
    complex_width,
    downsample,
    fit,
    local_scheduler,
    materialise,
    save_png,
    stride_for,
)
from nexuslims.previews._scalebar import draw_scale_bar

KINDS = ("image", "stack", "spectrum", "spectrum_image", "diffraction")

PLOT_SIZE = (SIZE, 375)
PANEL_HEIGHT = 260


def render_signal(signal: Any, out: Path, *, dataset_type: str) -> None:
    """Write a PNG preview of a HyperSpy signal (lazy or not) to ``out``.

    Parameters
    ----------
    signal
        A ``hyperspy.signal.BaseSignal``; if lazy (``signal._lazy``) only the first frame,
        a strided view, or chunked sums are computed -- never the whole array.
    out
        Where to write the PNG (written atomically; parent folders are created).
    dataset_type
        The dataset's type (``"Diffraction"`` selects a log intensity scale).

    Raises
    ------
    ValueError
        If the signal has no dimension that can be drawn.
    """
    axes = signal.axes_manager
    nav_axes = list(axes.navigation_axes)
    sig_axes = list(axes.signal_axes)
    data = signal.data
    if data.dtype.names:  # HyperSpy's structured RGB(A) dtypes
        data = _structured_rgb(data)
        if data.ndim == 3:
            save_png(fit(array_image(materialise(downsample(data)))), out)
            return
    # A navigation axis of length 1 (a "1x1024 point spectrum") navigates nothing.
    nav_dims = [axis.index_in_array for axis in nav_axes if axis.size > 1]
    sig_dims = [axis.index_in_array for axis in sig_axes]
    if not sig_dims:  # a signal made only of navigation axes: draw the array itself
        sig_dims, nav_dims = nav_dims[:2], nav_dims[2:]
    log = dataset_type == "Diffraction" or np.iscomplexobj(data)

    if len(sig_dims) >= 2:
        calibration = _calibration(sig_axes)
        if nav_dims:
            frames, count = stack_frames(data, nav_dims, sig_dims[-2:])
            save_png(render_montage(frames, count, log=log, calibration=calibration), out)
            return
        frame = materialise(_first_frame(data, keep=sig_dims[-2:]))
        picture = fit(array_image(frame, log=log))
        if calibration is not None and np.iscomplexobj(frame):  # magnitude | phase
            calibration = (calibration[0], calibration[1],
                           complex_width(calibration[2]))
        if calibration is not None:
            picture = draw_scale_bar(picture, *calibration)
        save_png(picture, out)
        return
    if len(sig_dims) == 1:
        axis = sig_axes[0] if sig_axes else nav_axes[0]
        x = np.asarray(axis.axis, dtype=np.float64)
        x_label = _axis_label(axis)
        y_label = _quantity(signal)
        title = _title(signal)
        if not nav_dims:
            y = materialise(_first_frame(data, keep=sig_dims, stride=False)).reshape(-1)
            _save_plot(y, x, out, x_label=x_label, y_label=y_label, title=title)
            return
        spectrum, image = _spectrum_image_sums(data, sig_dims[0], nav_dims)
        _save_spectrum_image(image, spectrum, x, out, x_label=x_label, y_label=y_label)
        return
    raise ValueError(f"signal of shape {data.shape} has nothing to draw")


def render_array(
    data: Any,
    out: Path,
    *,
    kind: str,
    x: np.ndarray | None = None,
    x_label: str = "Channel",
    y_label: str = "Intensity",
    title: str = "",
    pixel_size: tuple[float, str] | None = None,
) -> None:
    """Write a PNG preview of a plain (numpy or dask) array to ``out``.

    Parameters
    ----------
    data
        The array. Images are ``(rows, columns)`` (or ``(rows, columns, 3|4)`` colour);
        stacks ``(frames, rows, columns)``; spectra 1-D; spectrum images
        ``(..., channels)``; diffraction patterns 2-D.
    out
        Where to write the PNG.
    kind
        One of ``image``, ``stack``, ``spectrum``, ``spectrum_image``, ``diffraction``.
    x, x_label, y_label, title
        Axis values and labels (with units, e.g. ``"Energy (keV)"``) for plots.
    pixel_size
        Size of one pixel of an image or diffraction pattern and its unit, e.g.
        ``(2.5, "nm")``: a scale bar, as :func:`render_signal` draws for a calibrated
        signal.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown preview kind {kind!r}; expected one of {KINDS}")
    ndim = len(data.shape)
    if kind in ("image", "diffraction", "stack"):
        colour = ndim == 3 and data.shape[-1] in (3, 4) and kind != "stack"
        keep = [ndim - 3, ndim - 2] if colour else [ndim - 2, ndim - 1]
        if ndim < 2:
            raise ValueError(f"a {kind} needs at least 2 dimensions, got shape {data.shape}")
        if kind == "stack" and ndim >= 3:
            frames, count = stack_frames(data, list(range(ndim - 2)), [ndim - 2, ndim - 1])
            save_png(render_montage(frames, count), out)
            return
        frame = data if ndim == 2 or (colour and ndim == 3) else _first_frame(data, keep=keep)
        if frame is data:
            frame = downsample(data)
        image = fit(array_image(materialise(frame), log=kind == "diffraction"))
        if pixel_size is not None and not colour:
            columns = int(data.shape[-1])
            if np.iscomplexobj(data):  # magnitude | phase: the bar over the magnitude
                columns = complex_width(columns)
            image = draw_scale_bar(image, pixel_size[0], pixel_size[1], columns)
        save_png(image, out)
    elif kind == "spectrum":
        _save_plot(materialise(data).reshape(-1), x, out, x_label=x_label, y_label=y_label,
                   title=title)
    else:
        if ndim < 2:
            raise ValueError(f"a spectrum image needs at least 2 dimensions, got {data.shape}")
        spectrum, image = _spectrum_image_sums(data, ndim - 1, list(range(ndim - 1)))
        _save_spectrum_image(image, spectrum, x, out, x_label=x_label, y_label=y_label)


def render_spectrum_image_sums(image: np.ndarray, spectrum: np.ndarray, out: Path, *,
                               x: np.ndarray | None = None, x_label: str = "Channel",
                               y_label: str = "Intensity") -> None:
    """Write the preview of a spectrum image from its two sums, already computed.

    ``image`` is the spectrum image summed over channels (2-D, or 1-D for a line scan),
    ``spectrum`` summed over pixels: the same picture as :func:`render_array` draws from
    the whole cube, for readers that can sum without building it (an event stream).
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 1:
        image = image[np.newaxis, :]
    _save_spectrum_image(image, np.asarray(spectrum, dtype=np.float64), x, out,
                         x_label=x_label, y_label=y_label)


def _first_frame(data: Any, keep: list[int], *, stride: bool = True) -> Any:
    """The slice at index 0 of every axis but ``keep``, strided down to preview size."""
    shape = data.shape
    step = stride_for(tuple(shape[d] for d in keep)) if stride else 1
    index = tuple(slice(None, None, step) if d in keep else 0 for d in range(len(shape)))
    return data[index]  # remaining axes keep array order: (rows, columns)


def _spectrum_image_sums(data: Any, sig_dim: int, nav_dims: list[int]) -> tuple[Any, Any]:
    """The summed spectrum and the summed (over channels) navigation image, in one pass."""
    nav = tuple(nav_dims)
    spectrum = data.sum(axis=nav, dtype=np.float64)
    image = data.sum(axis=sig_dim, dtype=np.float64)
    if len(nav_dims) > 2:  # e.g. a time series of maps: show the first two nav dims
        image = image.sum(axis=tuple(range(image.ndim - 2)), dtype=np.float64)
    if hasattr(spectrum, "compute"):
        import dask

        spectrum, image = dask.compute(spectrum, image, scheduler=local_scheduler())
    image = np.asarray(image)
    if image.ndim == 1:  # a line scan: one row of pixels
        image = image[np.newaxis, :]
    return np.asarray(spectrum), image


def _save_plot(y: np.ndarray, x: np.ndarray | None, out: Path, **labels: Any) -> None:
    canvas = plot_canvas(PLOT_SIZE)
    draw_line_plot(canvas, (0, 0, *PLOT_SIZE), y, x, log_y=spans_decades(y), **labels)
    save_png(as_palette(canvas), out)


def _save_spectrum_image(
    image: np.ndarray, spectrum: np.ndarray, x: np.ndarray | None, out: Path, **labels: Any
) -> None:
    """Two panels: the image summed over channels beside the spectrum summed over pixels."""
    canvas = Image.new("RGB", (SIZE, PANEL_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    caption = font(11)
    side = PANEL_HEIGHT - 30
    picture = fit(array_image(image), box=(side, side)).convert("RGB")
    left = 6 + (side - picture.width) // 2
    top = 20 + (side - picture.height) // 2
    canvas.paste(picture, (left, top))
    draw.text((6 + side // 2, 4), "Sum over channels", fill=INK, font=caption, anchor="mt")
    draw_line_plot(canvas, (side + 8, 0, SIZE, PANEL_HEIGHT), spectrum, x,
                   title="Sum spectrum", log_y=spans_decades(spectrum), **labels)
    save_png(canvas, out)


def _structured_rgb(data: Any) -> Any:
    names = data.dtype.names[:3]
    if hasattr(data, "compute"):
        import dask.array as da

        return da.stack([data[name] for name in names], axis=-1)
    return np.stack([data[name] for name in names], axis=-1)


def _calibration(sig_axes: list[Any]) -> tuple[float, str, int] | None:
    """(pixel size, unit, width in pixels) of an image's x axis, if it has a unit."""
    if not sig_axes:
        return None
    x_axis = sig_axes[0]  # HyperSpy lists signal axes x first
    units = _defined(getattr(x_axis, "units", ""))
    return (float(x_axis.scale), units, int(x_axis.size)) if units else None


def _axis_label(axis: Any) -> str:
    name = _defined(getattr(axis, "name", "")) or "Channel"
    units = _defined(getattr(axis, "units", ""))
    return f"{name} ({units})" if units else name


def _quantity(signal: Any) -> str:
    quantity = signal.metadata.get_item("Signal.quantity", default=None)
    return _defined(quantity) or "Intensity"


def _title(signal: Any) -> str:
    title = _defined(signal.metadata.get_item("General.title", default="")) or ""
    return title if len(title) <= 60 else title[:57] + "..."


def _defined(value: Any) -> str:
    """``value`` as text, or empty for HyperSpy's ``<undefined>`` (traits ``Undefined``)."""
    if value is None:
        return ""
    text = str(value)
    return "" if text in ("<undefined>", "Undefined", "") else text
