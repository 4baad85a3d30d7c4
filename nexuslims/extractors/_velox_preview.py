"""Previews of Velox datasets, drawn with the file's own calibration.

The pixel data are read with h5py (one frame of an image, one spectrum) and wrapped in a
HyperSpy signal whose axes carry the calibration Velox wrote beside them: the image's
``BinaryResult.PixelSize``/``Offset``/``PixelUnitX`` (a scale bar), an EDS detector's
``Dispersion``/``OffsetEnergy`` (eV; an energy axis in keV, as RosettaSciIO shows it) and
an EELS spectrum image's ``AcquisitionMetadata.Data.offset``/``dispersion`` (eV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._velox_layout import _json_at, _metadata, _shape

# Velox writes SI units; a preview reads better in nm (and 1/nm for reciprocal space).
_READABLE = {"m": ("nm", 1e9), "1/m": ("1/nm", 1e-9), "m^-1": ("1/nm", 1e-9)}


@dataclass(frozen=True)
class Axis:
    """One calibrated axis of a preview signal (HyperSpy's axis fields)."""

    name: str
    scale: float
    offset: float
    units: str


def _float(value: Any) -> float | None:
    try:
        val = float(value)
    except (TypeError, ValueError):
        return None
    return val if math.isfinite(val) else None


def image_axes(md: dict[str, Any]) -> list[Axis]:
    """The (y, x) axes of an image from ``BinaryResult``; empty when uncalibrated."""
    result = md.get("BinaryResult") or {}
    size = result.get("PixelSize") or {}
    offset = result.get("Offset") or {}
    unit = str(result.get("PixelUnitX") or "")
    width, height = _float(size.get("width")), _float(size.get("height"))
    if not unit or not width or not height:
        return []
    shown, factor = _READABLE.get(unit, (unit, 1.0))
    return [Axis("y", height * factor, (_float(offset.get("y")) or 0.0) * factor, shown),
            Axis("x", width * factor, (_float(offset.get("x")) or 0.0) * factor, shown)]


def eds_axis(detector: dict[str, Any]) -> list[Axis]:
    """The energy axis (keV) of an EDS spectrum from its detector's calibration (eV)."""
    dispersion = _float(detector.get("Dispersion"))
    if not dispersion:
        return []
    offset = _float(detector.get("OffsetEnergy")) or 0.0
    return [Axis("Energy", dispersion / 1000.0, offset / 1000.0, "keV")]


def eels_axis(md: dict[str, Any]) -> list[Axis]:
    """The energy-loss axis (eV) of an EELS spectrum image from its acquisition metadata."""
    data = (md.get("AcquisitionMetadata") or {}).get("Data") or {}
    dispersion = _float(data.get("dispersion"))
    if not dispersion:
        return []
    return [Axis("Energy loss", dispersion, _float(data.get("offset")) or 0.0, "eV")]


def eels_cube(data: Any) -> Any:
    """An EELS cube in (rows, columns, channels) order from Velox's stored order.

    Velox stores it with the energy axis in the middle; RosettaSciIO reads it
    transposed ``(2, 0, 1)``, and so does this.
    """
    return data.transpose(2, 0, 1)


def preview_signal(h5: Any, kind: str, uid: str, axes: list[Axis]) -> Any:
    """The calibrated HyperSpy signal a preview of one Velox dataset draws.

    ``h5`` is the open file: an EELS spectrum image stays a lazy (dask) array over it,
    summed chunk by chunk while the file is open. Returns None for an EDS spectrum
    image, whose compressed event stream only RosettaSciIO decodes.
    """
    import hyperspy.api as hs
    import numpy as np

    data = h5[f"Data/{kind}/{uid}/Data"]
    if kind == "Image":
        frame = np.asarray(data[:, :, 0])
        if frame.dtype.names and len(frame.dtype.names) == 2:
            # Velox stores a complex image (an FFT, a DPC result) as (real, imaginary)
            # fields: a complex array, drawn as magnitude and phase.
            real, imaginary = frame.dtype.names
            frame = frame[real].astype(np.float64) + 1j * frame[imaginary]
        signal = hs.signals.Signal2D(frame)
    elif kind == "Spectrum":
        signal = hs.signals.Signal1D(np.asarray(data[:, 0]))
    elif kind == "EelsSpectrumImage":
        import dask.array as da

        cube = da.from_array(data, chunks=data.chunks or "auto")
        signal = hs.signals.Signal1D(eels_cube(cube) if cube.ndim == 3 else cube).as_lazy()
    else:
        return None
    sig_axes = signal.axes_manager.signal_axes
    nav_axes = signal.axes_manager.navigation_axes
    # HyperSpy lists signal axes x first; our Axis lists are in array order.
    if kind == "Image" and len(axes) == 2:
        _apply(sig_axes[1], axes[0])
        _apply(sig_axes[0], axes[1])
    elif kind in ("Spectrum", "EelsSpectrumImage") and axes:
        _apply(sig_axes[0], axes[-1])
        for axis, calibrated in zip(reversed(nav_axes), axes[:-1], strict=False):
            _apply(axis, calibrated)
    return signal


def _apply(axis: Any, calibrated: Axis) -> None:
    axis.name, axis.units = calibrated.name, calibrated.units
    axis.scale, axis.offset = calibrated.scale, calibrated.offset


def velox_preview(path: Path, kind: str, uid: str, dataset_type: str, axes: list[Axis]):
    """A preview renderer for one Velox dataset (HyperSpy is imported when it runs)."""

    def render(out: Path) -> None:
        import h5py

        from nexuslims.previews import render_placeholder, render_signal

        with h5py.File(path, "r") as h5:
            signal = preview_signal(h5, kind, uid, axes)
            if signal is not None:
                render_signal(signal, out, dataset_type=dataset_type)
                return
            order = list(h5["Data/SpectrumImage"])
            dense = _dense_size(h5, uid)
        # A small spectrum image is decoded into memory: the same sums, without numba
        # compiling sparse's slicing (seconds, in every worker) for a few MB.
        images = _eds_spectrum_images(path, lazy=not dense or dense > EAGER_SPECTRUM_IMAGE)
        if not images:
            render_placeholder(out, "EDS spectrum image (Velox): no data in the stream")
            return
        position = order.index(uid) if len(images) == len(order) else 0
        render_signal(images[position], out, dataset_type=dataset_type)

    return render


EAGER_SPECTRUM_IMAGE = 2**26
"""Values (pixels x channels) up to which a spectrum image's preview decodes it into memory
(128 MB at Velox's usual 16-bit stream encoding, well under a worker's memory ceiling)."""


def _dense_size(h5: Any, uid: str) -> int:
    """Pixels x channels of a spectrum image (0 when the file does not tell).

    The scan size is in its metadata; the channels in its settings or, failing that, in
    the length of the file's spectra.
    """
    group = h5[f"Data/SpectrumImage/{uid}"]
    try:
        md = _metadata(group)
        if "SpectrumImageSettings" in group:
            md["SpectrumImageSettings"] = _json_at(group["SpectrumImageSettings"])
    except (KeyError, ValueError, TypeError):
        return 0
    shape = _shape("SpectrumImage", None, md)
    if len(shape) == 2 and "Spectrum" in h5["Data"]:
        spectra = [g["Data"].shape[0] for g in h5["Data/Spectrum"].values() if "Data" in g]
        shape = (*shape, max(spectra, default=0))
    return math.prod(shape) if len(shape) == 3 else 0


def _eds_spectrum_images(path: Path, lazy: bool = True) -> list[Any]:
    """The file's EDS spectrum images as lazy HyperSpy signals, summed over frames.

    The EDS spectrum image is a compressed event stream; RosettaSciIO decodes it (with
    `sparse`). Its reader also returns the file's EELS spectrum images, which HyperSpy
    cannot wrap lazily (RosettaSciIO 0.15 hands them over as plain arrays): only the
    EDS dictionaries are made into signals.
    """
    from rsciio.emd import file_reader

    from ._reader import signals_from_dicts

    dicts = file_reader(str(path), lazy=lazy, select_type="spectrum_image", sum_frames=True)
    return signals_from_dicts([d for d in dicts if str(
        d.get("metadata", {}).get("Signal", {}).get("signal_type", "")).startswith("EDS")],
        lazy=lazy)
