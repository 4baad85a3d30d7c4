"""Demo file store: one TEM/STEM session's worth of data files, generated on the spot.

``nexuslims demo`` needs a site that works with nothing configured and no network. This
module supplies its instrument (:data:`DEMO_INSTRUMENT`), its user (:data:`DEMO_USER`)
and, through :func:`generate_filestore`, the files that user "acquired": a two-hour
session on an FEI Titan with three bursts of activity, which the record builder should
split into three activities:

1. ~+10 min, TEM imaging: overview, interface and HRTEM images (``.hspy``);
2. ~+50 min, STEM: HAADF images (``.hspy``), EDS point spectra (EMSA ``.msa``) and the
   operator's ``notes.txt`` (a file no extractor knows);
3. ~+95 min, EELS spectra and selected-area diffraction patterns (``.hspy``).

The data are synthetic but shaped like the real thing (lattice fringes, atomic columns,
X-ray lines on bremsstrahlung, edges on a power-law background, diffraction spots and
rings) so previews look like something, and each file carries the metadata a microscope
reader would fill in. The sample is a LaAlO3 film on SrTiO3 under a Pt cap.

Long because it is data: each generated file's metadata is written out in full.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

logger = logging.getLogger(__name__)

DEMO_USER = "demo_user"
"""The user who ran the demo session (the file store's top-level folder)."""

DEMO_PROJECT = "STO-LAO_interface"
"""The project folder the demo user saves into."""

DEMO_INSTRUMENT: MappingProxyType[str, Any] = MappingProxyType(
    {
        "pid": "FEI-Titan-TEM-demo",
        "schema_name": "FEI Titan TEM",
        "filestore_path": "Titan",
        "location": "Demo lab",
        "timezone": "America/New_York",
        "harvester": None,
        "api_url": None,
        "calendar_name": None,
        "calendar_url": None,
        "property_tag": "DEMO-0001",
        "computer_name": "TITAN-DEMO-PC",
        "computer_ip": None,
        "computer_mount": None,
    }
)
"""The demo instrument, keyed by :class:`nexuslims.model.session.Instrument` field names, so
``Instrument(**DEMO_INSTRUMENT)`` builds it."""

SESSION_LENGTH = dt.timedelta(hours=2)
"""How long the demo session lasts; every file's mtime falls inside it."""

MICROSCOPE = "FEI Titan"
BEAM_ENERGY_KV = 300.0

# HyperSpy is imported inside the builders below, so that importing this module for its
# constants (as the CLI does to describe the demo) stays cheap.


@dataclass(frozen=True)
class DemoFile:
    """One file the demo wrote into the file store."""

    path: Path
    mtime: float
    """Modification time (epoch seconds) set on the file: when it was acquired."""
    description: str
    dataset_type: str = "Unknown"
    """What a record should call it: Image, Spectrum, Diffraction or Misc."""


@dataclass(frozen=True)
class _Stamp:
    """When a file was acquired, on the microscope PC's clock (and that clock's zone)."""

    acquired: dt.datetime
    tz_name: str


# --- metadata ------------------------------------------------------------------------

# Stage positions (mm, degrees) drift a little between acquisitions, as on a real stage.
_STAGE_TEM = {"x": 0.1523, "y": -0.0871, "z": 0.0124, "tilt_alpha": 2.3, "tilt_beta": -1.1}
_STAGE_STEM = {"x": 0.1531, "y": -0.0866, "z": 0.0119, "tilt_alpha": 2.4, "tilt_beta": -1.0}
_STAGE_CAP = {"x": 0.1610, "y": -0.0802, "z": 0.0121, "tilt_alpha": 2.4, "tilt_beta": -1.0}


def _finish(
    s: Any, stamp: _Stamp, title: str, tem: dict[str, Any], stage: dict[str, float],
    axes: list[tuple[str, str, float, float]], original: dict[str, Any],
) -> Any:
    """Fill in the metadata every demo file carries; ``axes`` are (name, units, scale, offset)."""
    for axis, (name, units, scale, offset) in zip(s.axes_manager.signal_axes, axes, strict=True):
        axis.name, axis.units, axis.scale, axis.offset = name, units, scale, offset
    md = s.metadata
    md.General.title = title
    md.set_item("General.date", stamp.acquired.date().isoformat())
    md.set_item("General.time", stamp.acquired.strftime("%H:%M:%S"))
    md.set_item("General.time_zone", stamp.tz_name)
    md.set_item("General.authors", DEMO_USER)
    md.set_item("Sample.description", "LaAlO3 film on SrTiO3(001), Pt cap, FIB lamella #3")
    base = {"microscope": MICROSCOPE, "beam_energy": BEAM_ENERGY_KV}
    for key, value in {**base, **tem}.items():
        md.set_item(f"Acquisition_instrument.TEM.{key}", value)
    for key, value in stage.items():
        md.set_item(f"Acquisition_instrument.TEM.Stage.{key}", value)
    s.original_metadata.add_dictionary(original)
    return s


def _titan_original(mode: str, **extra: Any) -> dict[str, Any]:
    """The vendor-side header the Titan's software would have written."""
    header = {"Microscope": "Titan 80-300", "Software": "TIA 5.2", "High tension (kV)": 300,
              "Spot size": 6, "C2 aperture (um)": 70, "Mode": mode}
    return {"ObjectInfo": {"ExperimentalDescription": {**header, **extra}}}


# --- images ---------------------------------------------------------------------------


def _counts(rng: np.random.Generator, expected: np.ndarray) -> np.ndarray:
    """A camera's reading of ``expected`` counts: shot noise plus read noise, as uint16."""
    noisy = rng.poisson(np.clip(expected, 0, None)) + rng.normal(100, 3, expected.shape)
    return np.clip(noisy, 0, 65535).astype(np.uint16)


def _smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (periodic edges) by FFT; scipy.ndimage would add ~1 s of import."""
    fy = np.fft.fftfreq(field.shape[0])[:, None]
    fx = np.fft.rfftfreq(field.shape[1])[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    return np.fft.irfft2(np.fft.rfft2(field) * kernel, s=field.shape)


def _blobs(rng: np.random.Generator, shape: tuple[int, int], n: int, sigma: float) -> np.ndarray:
    """``n`` unit Gaussian blobs of width ``sigma`` (pixels) at random places."""
    spikes = np.zeros(shape)
    spikes[rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)] = rng.uniform(0.5, 1, n)
    return _smooth(spikes, sigma) * 2 * np.pi * sigma**2


def _tem_image(
    rng: np.random.Generator, stamp: _Stamp, title: str, mag: float, *, size: int = 512,
    defocus_nm: float | None = None,
) -> Any:
    """A bright-field TEM image on the Ceta camera: cap, film and substrate, top to bottom."""
    import hyperspy.api as hs

    scale = 18_600 / mag  # nm per pixel on the binned Ceta at this magnification
    y, x = np.mgrid[0:size, 0:size] * scale
    height = size * scale
    cap_end, film_end = 0.2 * height, 0.2 * height + min(8.0, 0.3 * height)
    intensity = np.full((size, size), 2000.0)
    if defocus_nm is None:
        # Lower magnification: thickness gradient, bend contours and defect blobs.
        intensity *= 0.9 - 0.4 * y / height
        intensity *= 1 - 0.25 * np.cos(2 * np.pi * (x + 0.4 * y) / (0.35 * height + 1)) ** 8
        intensity *= 1 - 0.5 * _blobs(rng, (size, size), 25, size / 60)
    else:
        # Lattice fringes: SrTiO3 (a = 0.3905 nm) below, strained LaAlO3 (0.379 nm) above;
        # the contrast flips sign between Scherzer and weaker defocus.
        sign = 1.0 if defocus_nm < -35 else -1.0
        a = np.where(y > film_end, 0.3905, 0.379)
        xr, yr = x * np.cos(0.03) + y * np.sin(0.03), y * np.cos(0.03) - x * np.sin(0.03)
        fringes = np.cos(2 * np.pi * xr / a) + np.cos(2 * np.pi * yr / a)
        intensity *= 1 + sign * 0.12 * fringes * (1 - 0.3 * y / height)
    amorphous = _smooth(rng.normal(0, 1, (size, size)), 1.5)
    intensity = np.where(y < cap_end, 900 * (1 + 0.3 * amorphous), intensity)
    intensity *= 1 + 0.02 * rng.normal(size=(size, size))
    s = hs.signals.Signal2D(_counts(rng, intensity))
    tem = {"acquisition_mode": "TEM", "magnification": mag, "beam_current": 2.1,
           "probe_area": 3.1e6, "detector": "Ceta", "Detector.Camera.name": "Ceta 16M",
           "Detector.Camera.exposure": 1.0}
    original = _titan_original("TEM Imaging", Magnification=mag,
                               **{"Defocus (um)": (defocus_nm or 0.0) / 1000})
    axes = [("x", "nm", scale, 0.0), ("y", "nm", scale, 0.0)]
    return _finish(s, stamp, title, tem, _STAGE_TEM, axes, original)


def _haadf(rng: np.random.Generator, stamp: _Stamp, title: str, mag: float, size: int) -> Any:
    """A STEM HAADF image of atomic columns: brighter La above the interface, Sr below."""
    import hyperspy.api as hs

    scale = 80e6 / mag / size  # 8 nm field of view at 10 Mx
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    # Scan noise: each line starts slightly off, which real HAADF images show as jitter.
    x = (cols + rng.normal(0, 0.4, (size, 1))) * scale
    y = rows * scale
    a, width = 0.3905, 0.05

    def columns(shift: float) -> np.ndarray:
        dx = (x - shift) % a - a / 2
        dy = (y - shift) % a - a / 2
        return np.exp(-(dx**2 + dy**2) / (2 * width**2))

    film = y < size * scale * (0.45 + 0.05 * rng.random())
    z_a = np.where(film, 57.0, 38.0)  # La over Sr on the A site
    z_b = np.where(film, 13.0, 22.0)  # Al over Ti on the B site
    # Z-contrast: column intensity goes roughly as Z^1.7.
    intensity = 20 + (z_a**1.7 * columns(0.0) + z_b**1.7 * columns(a / 2)) / 15
    s = hs.signals.Signal2D(rng.poisson(intensity).astype(np.float32))
    tem = {"acquisition_mode": "STEM", "magnification": mag, "beam_current": 0.05,
           "probe_area": 0.005, "convergence_angle": 21.4, "camera_length": 115.0,
           "dwell_time": 4e-6, "detector": "HAADF"}
    original = _titan_original("STEM", Magnification=mag, Detector="HAADF",
                               **{"Collection angles (mrad)": "60-200", "Dwell time (s)": 4e-6})
    axes = [("x", "nm", scale, 0.0), ("y", "nm", scale, 0.0)]
    return _finish(s, stamp, title, tem, _STAGE_STEM, axes, original)


def _diffraction(rng: np.random.Generator, stamp: _Stamp, title: str, rings: bool) -> Any:
    """A selected-area pattern: SrTiO3 [001] spots, or the polycrystalline Pt cap's rings."""
    import hyperspy.api as hs

    size, scale, camera_length = 512, 0.04, 520.0  # scale in 1/nm per pixel
    ky, kx = (np.mgrid[0:size, 0:size] - size / 2) * scale
    k = np.hypot(kx, ky)
    intensity = 4e4 / (1 + (k / 0.12) ** 2) + 300 / (1 + k)  # direct beam + diffuse
    if rings:
        a, sigma = 0.3924, 0.035  # Pt, fcc
        angle = np.arctan2(ky, kx)
        for hkl, weight in (((1, 1, 1), 1.0), ((2, 0, 0), 0.6), ((2, 2, 0), 0.4),
                            ((3, 1, 1), 0.4), ((2, 2, 2), 0.15)):
            g = np.sqrt(sum(i * i for i in hkl)) / a
            # Few grains: each ring is brighter in some directions than others.
            grains = 1 + 0.6 * np.cos(rng.integers(3, 9) * angle + rng.uniform(0, 6.3))
            intensity += 900 * weight * grains * np.exp(-((k - g) ** 2) / (2 * sigma**2))
    else:
        # Spots at g = (h, k) / a for |h|, |k| <= 3, fading with |g|, (h + k) odd ones
        # weaker. Weight and spot shape both factor into x and y parts, so the lattice
        # is a sum of two outer products instead of 48 full-frame Gaussians.
        g0, sigma = 1 / 0.3905, 0.05
        axis = kx[0]
        orders = np.arange(-3, 4)[:, None]
        profile = np.exp(-((orders * g0) ** 2) / 50 - (axis - orders * g0) ** 2 / (2 * sigma**2))
        even, odd = profile.sum(axis=0), (profile * (-1.0) ** orders).sum(axis=0)
        # Parity factor 1 for h + k even, 0.45 for odd: 0.725 + 0.275 (-1)^h (-1)^k.
        spots = 0.725 * np.outer(even, even) + 0.275 * np.outer(odd, odd)
        central = profile[3]  # h = k = 0 is the direct beam, drawn above
        intensity += 6e3 * (spots - np.outer(central, central))
    s = hs.signals.Signal2D(_counts(rng, intensity))
    # Left as a generic Signal2D: readers of SAED patterns give no signal_type, so the
    # reciprocal-space axes and the camera length are what mark it as diffraction.
    tem = {"acquisition_mode": "TEM", "camera_length": camera_length, "beam_current": 1.2,
           "probe_area": 2.8e6, "detector": "Ceta", "Detector.Camera.name": "Ceta 16M",
           "Detector.Camera.exposure": 0.5}
    original = _titan_original("Diffraction", **{"Camera length (mm)": camera_length,
                                                 "SA aperture (um)": 40})
    axes = [("kx", "1/nm", scale, -size / 2 * scale), ("ky", "1/nm", scale, -size / 2 * scale)]
    stage = _STAGE_CAP if rings else _STAGE_STEM
    return _finish(s, stamp, title, tem, stage, axes, original)


# --- spectra --------------------------------------------------------------------------

# X-ray lines (keV) and relative weights of the elements in the sample, grid and lamella.
_XRAY_LINES = {
    "O": [("Ka", 0.525, 1.0)],
    "Al": [("Ka", 1.4865, 1.0), ("Kb", 1.5574, 0.02)],
    "Ti": [("Ka", 4.5109, 1.0), ("Kb", 4.9318, 0.13), ("La", 0.4522, 0.1)],
    "Sr": [("La", 1.8066, 1.0), ("Ka", 14.165, 0.5), ("Kb", 15.835, 0.08)],
    "La": [("La", 4.651, 1.0), ("Lb1", 5.0421, 0.6), ("Lb2", 5.3835, 0.2), ("Ma", 0.8335, 0.3)],
    "Cu": [("Ka", 8.0478, 1.0), ("Kb", 8.9053, 0.13), ("La", 0.9297, 0.1)],
    "Ga": [("Ka", 9.2517, 1.0), ("La", 1.098, 0.3)],
}
_EDS_POINTS = {
    "substrate": {"O": 0.6, "Sr": 1.0, "Ti": 1.0, "Cu": 0.12},
    "interface": {"O": 0.6, "Sr": 0.5, "Ti": 0.55, "La": 0.5, "Al": 0.4, "Cu": 0.12},
    "film": {"O": 0.6, "La": 1.0, "Al": 0.9, "Cu": 0.12, "Ga": 0.04},
}


def _eds(rng: np.random.Generator, stamp: _Stamp, title: str, point: str) -> Any:
    """An EDS point spectrum (Super-X): lines on bremsstrahlung, saved as EMSA."""
    import hyperspy.api as hs

    channels, scale, offset, fwhm_mn = 2048, 0.01, -0.02, 130.0
    energy = offset + scale * np.arange(channels)
    e = np.clip(energy, 0.05, None)
    # Kramers' bremsstrahlung, absorbed by the detector window at low energy.
    expected = 12 * (BEAM_ENERGY_KV - e) / e * (1 - np.exp(-((e / 0.6) ** 3)))
    composition = _EDS_POINTS[point]
    for element, amount in composition.items():
        for _, line_kev, weight in _XRAY_LINES[element]:
            # Detector resolution grows with energy: FWHM^2 = FWHM(Mn Ka)^2 + 2.45 (E - E_Mn).
            fwhm = np.sqrt(fwhm_mn**2 + 2.45 * (line_kev - 5.8987) * 1000) / 1000
            sigma = fwhm / 2.3548
            expected += 1.5e5 * amount * weight * scale / (sigma * 2.5066) * np.exp(
                -((energy - line_kev) ** 2) / (2 * sigma**2))
    s = hs.signals.Signal1D(rng.poisson(expected).astype(np.float32))
    # Set, not set_signal_type(): the file is the same, and importing exspy to build an
    # EDSTEMSpectrum would take longer than making the whole demo; readers pick it up.
    s.metadata.set_item("Signal.signal_type", "EDS_TEM")
    elements = sorted(composition)
    xray_lines = sorted(f"{el}_{_XRAY_LINES[el][0][0]}" for el in elements)
    s.metadata.set_item("Sample.elements", elements)
    s.metadata.set_item("Sample.xray_lines", xray_lines)
    eds = {"live_time": 30.0, "real_time": 31.8, "azimuth_angle": 45.0, "elevation_angle": 18.0,
           "energy_resolution_MnKa": fwhm_mn, "detector_type": "Super-X (4 SDD)"}
    tem = {"acquisition_mode": "STEM", "beam_current": 0.05, "probe_area": 0.005,
           "convergence_angle": 21.4, "detector": "Super-X",
           **{f"Detector.EDS.{key}": value for key, value in eds.items()}}
    # An EMSA header as the writer keeps it: DATE/TIME/OWNER only survive this way.
    local = stamp.acquired
    # English month abbreviations whatever the locale, as EMSA asks.
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    original = {"FORMAT": "EMSA/MAS Spectral Data File", "VERSION": "1.0",
                "DATE": f"{local.day:02d}-{months[local.month - 1]}-{local.year}",
                "TIME": local.strftime("%H:%M:%S"), "OWNER": DEMO_USER,
                # EMSA splits long comments at 64 characters, and rsciio misreads a
                # header line whose value holds ": ", so keep it short and colon-free.
                "COMMENT": f"{MICROSCOPE}; {point}; lines {' '.join(xray_lines)}",
                "EDSDET": "SDWLS", "BEAMDIAM": 0.08,
                "XPOSITION": _STAGE_STEM["x"], "YPOSITION": _STAGE_STEM["y"],
                "ZPOSITION": _STAGE_STEM["z"], "YTILTSTGE": _STAGE_STEM["tilt_beta"]}
    axes = [("Energy", "keV", scale, offset)]
    return _finish(s, stamp, title, tem, _STAGE_STEM, axes, original)


def _eels(rng: np.random.Generator, stamp: _Stamp, title: str, core_loss: bool) -> Any:
    """An EELS spectrum: Ti L2,3 and O K edges on a power law, or zero loss and plasmon."""
    import hyperspy.api as hs

    channels = 2048
    if core_loss:
        dispersion, offset, exposure = 0.2, 380.0, 2.0
        e = offset + dispersion * np.arange(channels)
        expected = 3e4 * (e / 400) ** -3.1  # power-law background of everything before
        for onset, height in ((456.0, 0.25), (532.0, 0.2)):
            # Edge step: an arctan onset with a slow decay, under the near-edge peaks.
            step = (0.5 + np.arctan((e - onset) / 1.0) / np.pi) * (onset / e) ** 2
            expected += 3e4 * (onset / 400) ** -3.1 * height * step
        # Ti L3/L2 white lines, each split by the octahedral crystal field (t2g/eg), O K ELNES.
        for centre, amp, w in ((457.8, 1.0, 0.5), (460.0, 1.2, 0.8), (463.1, 0.9, 0.6),
                               (465.3, 1.1, 1.0), (531.0, 0.2, 0.7), (537.5, 0.25, 2.0),
                               (545.0, 0.2, 3.0)):
            expected += 5e3 * amp * np.exp(-((e - centre) ** 2) / (2 * w**2))
    else:
        dispersion, offset, exposure = 0.1, -10.0, 0.01
        e = offset + dispersion * np.arange(channels)
        zlp = 1e5 * (np.exp(-(e**2) / (2 * 0.35**2)) + 0.02 / (1 + (e / 0.8) ** 2))
        plasmon = 3e3 * 1 / (1 + ((e - 28.5) / 6.0) ** 2) * (e > 3)
        m_edge = 300 * (0.5 + np.arctan((e - 47) / 2) / np.pi)  # Ti M2,3, broad and delayed
        m_edge *= np.exp(-np.clip(e - 47, 0, None) / 40)
        expected = zlp + plasmon + m_edge
    s = hs.signals.Signal1D(rng.poisson(expected).astype(np.float32))
    s.metadata.set_item("Signal.signal_type", "EELS")  # as for EDS: no exspy import
    eels = {"collection_angle": 35.0, "aperture": 2.5, "dispersion": dispersion,
            "exposure": exposure, "spectrometer": "Gatan GIF Quantum ER"}
    tem = {"acquisition_mode": "STEM", "beam_current": 0.08, "probe_area": 0.005,
           "convergence_angle": 21.4, "camera_length": 29.5, "detector": "GIF Quantum ER",
           **{f"Detector.EELS.{key}": value for key, value in eels.items()}}
    original = _titan_original("STEM", **{"Spectrometer": "GIF Quantum ER",
                                          "Dispersion (eV/ch)": dispersion,
                                          "Entrance aperture (mm)": 2.5})
    axes = [("Energy loss", "eV", dispersion, offset)]
    return _finish(s, stamp, title, tem, _STAGE_STEM, axes, original)


_NOTES = """\
Titan session {date}, user demo_user, project STO-LAO_interface
Sample: LaAlO3 film on SrTiO3(001), Pt cap, FIB lamella #3, ~40 nm at the interface.
300 kV, spot 6, C2 70 um. Ceta for TEM/SAED; HAADF 60-200 mrad for STEM.
EDS points 1-3: substrate / interface / film, 30 s live each.
Interface looks sharp in HAADF; some La in the first STO cell?
Next time: EELS spectrum image across the interface for Ti L2,3 fine structure.
"""

# --- the session ----------------------------------------------------------------------

_Maker = Callable[[np.random.Generator, _Stamp], Any]
# (seconds after session start, path under the day's folder, description, type, maker)
_PLAN: list[tuple[int, str, str, str, _Maker]] = [
    # Burst 1, ~+10 min: TEM imaging on the Ceta camera.
    (600, "TEM/0001_overview_2500x.hspy", "TEM overview of the lamella at 2500x", "Image",
     lambda r, s: _tem_image(r, s, "Overview 2500x", 2_500, size=256)),
    (641, "TEM/0002_interface_38kx.hspy", "TEM image of the STO/LAO interface at 38kx", "Image",
     lambda r, s: _tem_image(r, s, "Interface 38kx", 38_000)),
    (702, "TEM/0003_HRTEM_620kx.hspy", "HRTEM of the interface at 620kx, Scherzer", "Image",
     lambda r, s: _tem_image(r, s, "HRTEM 620kx", 620_000, defocus_nm=-48)),
    (729, "TEM/0004_HRTEM_620kx_df-20nm.hspy", "HRTEM at 620kx, defocus -20 nm", "Image",
     lambda r, s: _tem_image(r, s, "HRTEM 620kx df -20 nm", 620_000, defocus_nm=-20)),
    (781, "TEM/0005_HRTEM_910kx.hspy", "HRTEM of the film at 910kx", "Image",
     lambda r, s: _tem_image(r, s, "HRTEM 910kx", 910_000, size=256, defocus_nm=-45)),
    # Burst 2, ~+50 min: STEM HAADF, EDS point spectra, and the operator's notes.
    (3000, "STEM/0006_HAADF_10Mx.hspy", "STEM HAADF of the interface at 10Mx", "Image",
     lambda r, s: _haadf(r, s, "HAADF 10Mx", 10e6, 512)),
    (3046, "STEM/0007_HAADF_20Mx.hspy", "STEM HAADF close-up at 20Mx", "Image",
     lambda r, s: _haadf(r, s, "HAADF 20Mx", 20e6, 256)),
    (3110, "STEM/EDS/0008_EDS_pt1_substrate.msa", "EDS point spectrum, STO substrate",
     "Spectrum", lambda r, s: _eds(r, s, "EDS point 1 substrate", "substrate")),
    (3158, "STEM/EDS/0009_EDS_pt2_interface.msa", "EDS point spectrum, interface", "Spectrum",
     lambda r, s: _eds(r, s, "EDS point 2 interface", "interface")),
    (3203, "STEM/EDS/0010_EDS_pt3_film.msa", "EDS point spectrum, LAO film", "Spectrum",
     lambda r, s: _eds(r, s, "EDS point 3 film", "film")),
    (3240, "notes.txt", "Operator's notes (plain text)", "Misc",
     lambda r, s: _NOTES.format(date=s.acquired.date().isoformat())),
    # Burst 3, ~+95 min: EELS, then diffraction.
    (5700, "EELS/0011_EELS_low-loss.hspy", "EELS low-loss spectrum (zero loss, plasmon)",
     "Spectrum", lambda r, s: _eels(r, s, "EELS low loss", core_loss=False)),
    (5742, "EELS/0012_EELS_Ti-L23_O-K.hspy", "EELS core-loss spectrum, Ti L2,3 and O K",
     "Spectrum", lambda r, s: _eels(r, s, "EELS Ti L2,3 O K", core_loss=True)),
    (5830, "SAED/0013_SAED_STO_001_CL520mm.hspy", "SAED of SrTiO3 along [001], CL 520 mm",
     "Diffraction", lambda r, s: _diffraction(r, s, "SAED STO [001] 520 mm", rings=False)),
    (5881, "SAED/0014_SAED_Pt-cap_CL520mm.hspy", "SAED of the polycrystalline Pt cap, CL 520 mm",
     "Diffraction", lambda r, s: _diffraction(r, s, "SAED Pt cap 520 mm", rings=True)),
]


def generate_filestore(
    root: Path, session_start: dt.datetime, *, seed: int = 0, timezone: str | None = None
) -> list[DemoFile]:
    """Write one demo TEM/STEM session's files into ``root``, with acquisition mtimes.

    Files go under ``root/<DEMO_USER>/<DEMO_PROJECT>/<YYYYMMDD>/`` in per-technique
    folders, as a microscope PC would save them. Their modification times come in three
    bursts, at about +10, +50 and +95 minutes, a few seconds to a minute apart.

    Parameters
    ----------
    root
        The instrument's file store (created if missing). Files of the same names are
        overwritten; nothing else is touched.
    session_start
        When the session started; must be timezone-aware. Every mtime falls in
        ``(session_start, session_start + SESSION_LENGTH]``.
    seed
        Seeds the noise and sample details: the same seed gives the same names and data.
    timezone
        IANA name of the microscope PC's clock, for the date and time written in the
        files' metadata; defaults to ``DEMO_INSTRUMENT["timezone"]``.

    Returns
    -------
    list of DemoFile
        The files written, in acquisition order.

    Raises
    ------
    ValueError
        If ``session_start`` is naive (the demo cannot know which clock it means).
    """
    if session_start.tzinfo is None or session_start.utcoffset() is None:
        raise ValueError("session_start must be timezone-aware, "
                         "e.g. datetime.datetime.now(datetime.UTC)")
    tz_name = timezone or DEMO_INSTRUMENT["timezone"]
    tz = ZoneInfo(tz_name)
    day = session_start.astimezone(tz).strftime("%Y%m%d")
    session_dir = Path(root) / DEMO_USER / DEMO_PROJECT / day

    written: list[DemoFile] = []
    with _quiet_hyperspy():
        for index, (offset_s, relpath, description, kind, make) in enumerate(_PLAN):
            acquired = (session_start + dt.timedelta(seconds=offset_s)).astimezone(tz)
            # One generator per file, so a file's content does not depend on the others.
            content = make(np.random.default_rng([seed, index]), _Stamp(acquired, tz_name))
            path = session_dir / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                content.save(path, overwrite=True)
            mtime = acquired.timestamp()
            os.utime(path, (mtime, mtime))
            written.append(DemoFile(path, mtime, description, kind))
            logger.debug("wrote demo file %s (acquired %s)", path, acquired.isoformat())
    return written


@contextmanager
def _quiet_hyperspy() -> Iterator[None]:
    """Mute HyperSpy's and exspy's import-time chatter ("Numba is not installed", ...).

    It says nothing about the demo's files and would bury what the demo prints.
    """
    import hyperspy.api  # noqa: F401  (its import sets the level we change below)

    hs_logger = logging.getLogger("hyperspy")
    previous = hs_logger.level
    hs_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(hyperspy|exspy|rsciio)(\.|$)")
            yield
    finally:
        hs_logger.setLevel(previous)
