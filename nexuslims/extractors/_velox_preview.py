"""Previews of Velox datasets, drawn with the file's own calibration, from h5py and numpy.

What a preview draws is read with h5py and summed with numpy, without RosettaSciIO's
Velox reader or HyperSpy (whose imports, with pint, sparse and numba for the event
stream, cost more than drawing): one frame of an image, one spectrum, an EELS spectrum
image summed block by block, an EDS spectrum image summed straight from its event
stream (:mod:`._velox_stream`). The axes carry the calibration Velox wrote beside the
data: the image's ``BinaryResult.PixelSize``/``Offset``/``PixelUnitX`` (a scale bar), an
EDS detector's ``Dispersion``/``OffsetEnergy`` (eV; an energy axis in keV, as RosettaSciIO
shows it) and an EELS spectrum image's ``AcquisitionMetadata.Data.offset``/``dispersion``
(eV). The pictures are those HyperSpy signals with these axes gave.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._velox_layout import _dataset, _json_at, _metadata, scanned_area, stored_shape

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


@dataclass
class Picture:
    """What the preview of one Velox dataset draws: plain arrays and their axes."""

    kind: str
    """``"image"``, ``"diffraction"`` (log scale), ``"spectrum"`` or ``"spectrum_image"``."""
    data: Any
    """An image's first frame (2-D), a spectrum, or a spectrum image's summed spectrum."""
    axes: list[Axis] = field(default_factory=list)
    """An image's (y, x) axes; a spectrum's energy axis; empty when uncalibrated."""
    image: Any = None
    """A spectrum image summed over channels (rows, columns)."""

    def x(self) -> tuple[Any, str]:
        """The energy axis of a spectrum (values, label); channels when uncalibrated."""
        import numpy as np

        size = int(np.asarray(self.data).shape[-1])
        if not self.axes:
            return np.arange(size, dtype=np.float64), "Channel"
        axis = self.axes[-1]
        values = axis.offset + axis.scale * np.arange(size, dtype=np.float64)
        return values, f"{axis.name} ({axis.units})" if axis.units else axis.name

    def pixel_size(self) -> tuple[float, str] | None:
        """An image's pixel size along x and its unit (a scale bar), if calibrated."""
        return (self.axes[1].scale, self.axes[1].units) if len(self.axes) == 2 else None


EELS_BLOCK_BYTES = 64 * 2**20
"""An EELS spectrum image is summed in blocks of rows of about this size."""


def preview_picture(h5: Any, kind: str, uid: str, axes: list[Axis],
                    dataset_type: str = "") -> Picture | None:
    """What the preview of one Velox dataset draws, read from the open file ``h5``.

    Returns None for an EDS spectrum image (see :func:`eds_picture`).
    """
    import h5py
    import numpy as np

    data = h5py.Dataset(_dataset(h5, f"Data/{kind}/{uid}/Data"))  # lower-level lookup
    if kind == "Image":
        frame = np.asarray(data[:, :, 0])
        if frame.dtype.names and len(frame.dtype.names) == 2:
            # Velox stores a complex image (an FFT, a DPC result) as (real, imaginary)
            # fields: a complex array, drawn as magnitude and phase (log scale, as
            # HyperSpy signals of complex data are drawn).
            real, imaginary = frame.dtype.names
            frame = frame[real].astype(np.float64) + 1j * frame[imaginary]
        elif frame.dtype.names:  # drawn as colour, as HyperSpy's RGB
            frame = np.stack([frame[name] for name in frame.dtype.names[:3]], axis=-1)
        log = dataset_type == "Diffraction" or np.iscomplexobj(frame)
        return Picture("diffraction" if log else "image", frame,
                       axes if len(axes) == 2 else [])
    if kind == "Spectrum":
        return Picture("spectrum", np.asarray(data[:, 0]), axes[-1:])
    if kind == "EelsSpectrumImage":
        energy = [a for a in axes if a.name == "Energy loss"]
        spectrum, image = _eels_sums(data)
        if image is None:
            return Picture("spectrum", spectrum, energy)
        return Picture("spectrum_image", spectrum, energy, image)
    return None


def _eels_sums(data: Any) -> tuple[Any, Any]:
    """Summed spectrum and summed image of a stored EELS spectrum image, block by block.

    Stored 3-D with the energy axis in the middle (RosettaSciIO reads it transposed
    ``(2, 0, 1)``): the image is the sum over axis 1 transposed, as the cube's (rows,
    columns) are stored axes (2, 0).
    A 2-D one is (pixels, channels). The image is None when there is only one pixel.
    """
    import numpy as np

    shape = tuple(int(n) for n in data.shape)
    if len(shape) == 3:
        rows = max(1, EELS_BLOCK_BYTES // max(1, math.prod(shape[1:]) * data.dtype.itemsize))
        spectrum = np.zeros(shape[1], dtype=np.float64)
        image = np.zeros((shape[2], shape[0]), dtype=np.float64)
        for start in range(0, shape[0], rows):
            block = np.asarray(data[start:start + rows], dtype=np.float64)
            spectrum += block.sum(axis=(0, 2))
            image[:, start:start + rows] = block.sum(axis=1).T
        pixels = shape[0] * shape[2]
    else:
        cube = np.asarray(data, dtype=np.float64).reshape(-1, shape[-1])
        spectrum, image = cube.sum(axis=0), cube.sum(axis=1)
        pixels = cube.shape[0]
    return spectrum, (image if pixels > 1 else None)


def draw(picture: Picture, out: Path) -> None:
    """Write ``picture`` as a PNG preview."""
    from nexuslims.previews import render_array, render_spectrum_image_sums

    if picture.kind in ("image", "diffraction"):
        render_array(picture.data, out, kind=picture.kind, pixel_size=picture.pixel_size())
        return
    x, label = picture.x()
    if picture.kind == "spectrum":
        render_array(picture.data, out, kind="spectrum", x=x, x_label=label)
    else:
        render_spectrum_image_sums(picture.image, picture.data, out, x=x, x_label=label)


class VeloxFile:
    """One Velox file as its datasets' preview renderers read it: opened by the first
    renderer that runs, shared by the others, closed once each of them has run.

    A file's renderers run one after the other, right after its extraction: opening the
    file once for all of them spares an HDF5 open and close (and the lookups of a cold
    file) for each; ``renderers`` is how many share it. A renderer run again after that
    opens and closes the file for itself. Should some never run (no previews wanted, a
    failure between two), the file is not opened, or is closed when the renderers are
    dropped.
    """

    def __init__(self, path: Path, renderers: int) -> None:
        self.path = Path(path)
        self._waiting = set(range(renderers))
        self._h5: Any = None
        self._close: Callable[[], Any] = lambda: None
        self._lock = threading.Lock()

    def read(self, renderer: int, reader: Callable[[Any], Picture | None]) -> Picture | None:
        """``reader(h5)`` on the open file, for renderer number ``renderer`` (0-based)."""
        with self._lock:
            if self._h5 is None:
                import h5py

                self._h5 = h5py.File(self.path, "r")
                # Closed with this object at the latest (its renderers dropped).
                self._close = weakref.finalize(self, self._h5.close)
            try:
                return reader(self._h5)
            finally:
                self._waiting.discard(renderer)
                if not self._waiting:
                    self._close()
                    self._h5 = None


def velox_preview(file: VeloxFile, index: int, kind: str, uid: str, dataset_type: str,
                  axes: list[Axis]) -> Callable[[Path], None]:
    """The preview renderer of dataset ``index`` (0-based) of a Velox file (h5py is
    imported when it runs)."""

    def picture(h5: Any) -> Picture | None:
        found = preview_picture(h5, kind, uid, axes, dataset_type)
        return eds_picture(h5) if found is None else found

    def render(out: Path) -> None:
        found = file.read(index, picture)
        if found is None:  # drawn as a placeholder saying so, and a warning
            raise ValueError(PRUNED)
        draw(found, out)

    return render


PRUNED = ("the EDS spectrum image's event stream is not in this file (pruned by Velox, "
          "or converted from another format): nothing to sum")


def eds_picture(h5: Any) -> Picture | None:
    """The file's EDS spectrum image, summed over frames and detectors, from its event
    streams (None for a file pruned of them).

    As RosettaSciIO's Velox reader shows it (all detectors' streams summed, frames
    summed up to the spectrum image's ``endFramePosition``): the scan shape from the
    file's first image (or, with no image beside it, the area its metadata says was
    scanned), the channels from the stream's ``bincount``, the energy axis from the
    detector its ``BinaryResult.Detector`` names.
    """
    from ._velox_stream import stream_sums

    streams = h5.get("Data/SpectrumStream")
    if not streams:
        return None
    shape = _scan_shape(h5)
    if shape is None:
        raise ValueError("the spectrum image's scan size is not in this file")
    frames = _frames(h5)
    spectrum = image = None
    first = None
    for name in streams:  # by path: a Group object for each costs more than its reads
        try:
            channels = int(_json_at(streams, f"{name}/AcquisitionSettings")["bincount"])
        except (KeyError, ValueError, TypeError):
            continue
        summed = stream_sums(streams[f"{name}/Data"], shape, channels, frames)
        if spectrum is None:
            (spectrum, image), first = summed, name
        else:
            n = min(spectrum.size, summed[0].size)
            spectrum = spectrum[:n] + summed[0][:n]
            image = image + summed[1]
    if spectrum is None or first is None:
        return None
    try:
        md = _json_at(streams, f"{first}/Metadata")
    except (KeyError, ValueError):
        md = {}
    return Picture("spectrum_image", spectrum, _stream_energy(md), image)


def _scan_shape(h5: Any) -> tuple[int, int] | None:
    """(rows, columns) of the spectrum image: its first image's, else its scanned area."""
    images = h5.get("Data/Image")
    if images:
        rows, columns = stored_shape(images, next(iter(images)) + "/Data")[:2]
        return int(rows), int(columns)
    for group in (h5.get("Data/SpectrumImage") or {}).values():
        try:
            rows, columns = scanned_area(_metadata(group))
        except (KeyError, ValueError, TypeError):
            continue
        if rows > 0 and columns > 0:
            return rows, columns
    return None


def _frames(h5: Any) -> int | None:
    """Frames of the spectrum image to sum (its settings' ``endFramePosition``), or None."""
    try:
        group = next(iter(h5["Data/SpectrumImage"].values()))
        return int(_json_at(group, "SpectrumImageSettings")["endFramePosition"])
    except (KeyError, ValueError, TypeError, StopIteration):
        return None


def _stream_energy(md: dict[str, Any]) -> list[Axis]:
    """The energy axis (keV) of an EDS stream: the detector whose name holds the
    stream's ``BinaryResult.Detector`` (RosettaSciIO's rule); none if not found."""
    name = str((md.get("BinaryResult") or {}).get("Detector") or "")
    for detector in (md.get("Detectors") or {}).values():
        if isinstance(detector, dict) and name and name in str(detector.get("DetectorName")):
            found = eds_axis(detector)
            if found:
                return [Axis("X-ray energy", found[0].scale, found[0].offset, "keV")]
            break
    return [Axis("X-ray energy", 1.0, 0.0, "")]  # channels, as the reader leaves them
