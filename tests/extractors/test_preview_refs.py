"""Pixel-level regression tests for previews: each case is drawn and compared with a
stored reference PNG in ``preview_refs/`` within a small tolerance (font rasterising
may shift a few pixels between Pillow/FreeType versions; a changed picture may not).

Cases cover what issue 11 asked of previews: scale bars on calibrated images and
diffraction patterns (diffraction on a log scale), stacks as a labelled montage, and
spectra spanning decades on a log axis; some are generated signals, some corpus files.

Regenerate the references after an intended change, then look at every PNG::

    PYTHONPATH=. NEXUSLIMS_TEST_CORPUS=../shared/corpus \\
        python tests/extractors/test_preview_refs.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REFS = Path(__file__).parent / "preview_refs"
MEAN_TOLERANCE = 1.5
"""Largest mean absolute difference (0-255 grey levels) over the whole preview."""
PIXEL_TOLERANCE = 48
OUTLIER_FRACTION = 0.004
"""Largest fraction of pixels allowed to differ by more than PIXEL_TOLERANCE."""


def _hs():
    return pytest.importorskip("hyperspy.api")


def calibrated_image(out: Path, corpus: Path | None) -> None:
    """A 200 x 160 image with 2.5 nm pixels: a scale bar of 100 nm."""
    hs = _hs()
    yy, xx = np.mgrid[0:160, 0:200]
    data = np.sin(xx / 9.0) * np.cos(yy / 13.0) + (xx + yy) / 200.0
    signal = hs.signals.Signal2D(data.astype(np.float32))
    for axis in signal.axes_manager.signal_axes:
        axis.scale, axis.units = 2.5, "nm"
    from nexuslims.previews import render_signal

    render_signal(signal, out, dataset_type="Image")


def diffraction_pattern(out: Path, corpus: Path | None) -> None:
    """Rings around a bright centre, 0.05 1/nm per pixel: log scale and a 1/nm bar."""
    hs = _hs()
    yy, xx = np.mgrid[-128:128, -128:128]
    r = np.hypot(xx, yy)
    data = 1e5 * np.exp(-r / 3.0) + 50 * (np.exp(-((r - 60) ** 2) / 8) +
                                          np.exp(-((r - 100) ** 2) / 8)) + 1
    signal = hs.signals.Signal2D(data.astype(np.float32))
    for axis in signal.axes_manager.signal_axes:
        axis.scale, axis.units, axis.offset = 0.05, "1/nm", -6.4
    from nexuslims.previews import render_signal

    render_signal(signal, out, dataset_type="Diffraction")


def generated_stack(out: Path, corpus: Path | None) -> None:
    """Seven frames of a disc moving right: a 3 x 3 montage labelled "7 frames"."""
    yy, xx = np.mgrid[0:48, 0:64]
    stack = np.stack([((xx - 10 - 7 * i) ** 2 + (yy - 24) ** 2 < 80).astype(np.float32)
                      for i in range(7)])
    from nexuslims.previews import render_array

    render_array(stack, out, kind="stack")


def eds_spectrum(out: Path, corpus: Path | None) -> None:
    """A zero-energy peak 500 times the element peaks: drawn on a log axis."""
    hs = _hs()
    energy = np.arange(2048) * 0.01
    counts = (5e4 * np.exp(-(energy / 0.05) ** 2) + 80 * np.exp(-((energy - 1.74) / 0.06) ** 2)
              + 40 * np.exp(-((energy - 6.4) / 0.08) ** 2) + 20 * np.exp(-energy / 5))
    signal = hs.signals.Signal1D(counts)
    axis = signal.axes_manager.signal_axes[0]
    axis.scale, axis.units, axis.name = 0.01, "keV", "Energy"
    from nexuslims.previews import render_signal

    render_signal(signal, out, dataset_type="Spectrum")


def _extracted(name: str, index: int = 0) -> Callable[[Path, Path | None], None]:
    def render(out: Path, corpus: Path | None) -> None:
        if corpus is None:
            pytest.skip("set NEXUSLIMS_TEST_CORPUS to the shared corpus of real instrument files")
        from nexuslims.extractors.base import ExtractionContext
        from nexuslims.extractors.registry import extract

        datasets = extract(corpus / name, ExtractionContext())
        renderer = datasets[index].render_preview
        assert renderer is not None
        renderer(out)

    render.__doc__ = f"{name}, dataset {index + 1}, as its extractor draws it."
    return render


def _built_velox(index: int) -> Callable[[Path, Path | None], None]:
    def render(out: Path, corpus: Path | None) -> None:
        from nexuslims.extractors.base import ExtractionContext
        from nexuslims.extractors.registry import extract
        from tests.extractors.velox_files import build_velox_eels

        path = build_velox_eels(out.with_suffix(".emd"))
        renderer = extract(path, ExtractionContext())[index].render_preview
        assert renderer is not None
        renderer(out)
        path.unlink()

    render.__doc__ = (f"Dataset {index + 1} of a built Velox EELS + EDS file "
                      "(tests/extractors/velox_files.py).")
    return render


CASES: dict[str, Callable[[Path, Path | None], None]] = {
    "calibrated_image": calibrated_image,
    "diffraction_pattern": diffraction_pattern,
    "generated_stack": generated_stack,
    "eds_spectrum": eds_spectrum,
    "dm_diffraction": _extracted("digitalmicrograph/test_diffraction_pattern.dm3"),
    "dm_stack": _extracted("digitalmicrograph/test_stackbuilder_imagestack.dm3"),
    "tia_stack": _extracted("tia/64x64x5_TEM_preview_1.ser"),
    "fei_sem_tiff": _extracted("tiff/FEI-Helios-Ebeam-8bits.tif"),
    "velox_eds_spectrum": _extracted("emd/Test SI 16x16 215 kx.emd", 5),
    "velox_haadf": _extracted("emd/Test SI 16x16 ReducedData 215 kx.emd", 4),
    # the core-loss EELS SI: its energy-loss axis in eV from AcquisitionMetadata
    "velox_eels_si": _built_velox(6),
    # the EDS SI of the same file: drawn from the EDS stream, not the first EELS SI
    "velox_eds_si_beside_eels": _built_velox(4),
}


def grey(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float64)


SLOW_CASES = {"velox_eds_si_beside_eels"}  # RosettaSciIO decodes the EDS event stream


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES
                                  else c for c in sorted(CASES)])
def test_preview_matches_its_reference(case: str, tmp_path: Path) -> None:
    from tests.conftest import corpus_path

    reference = REFS / f"{case}.png"
    assert reference.is_file(), f"no reference {reference.name}: regenerate (see docstring)"
    out = tmp_path / f"{case}.png"
    CASES[case](out, corpus_path())
    drawn, wanted = grey(out), grey(reference)
    assert drawn.shape == wanted.shape, f"{case}: size {drawn.shape} != {wanted.shape}"
    diff = np.abs(drawn - wanted)
    assert diff.mean() <= MEAN_TOLERANCE, f"{case}: mean difference {diff.mean():.2f}"
    assert (diff > PIXEL_TOLERANCE).mean() <= OUTLIER_FRACTION, (
        f"{case}: {(diff > PIXEL_TOLERANCE).mean():.2%} of pixels differ")


def test_tolerance_catches_a_lost_scale_bar(tmp_path: Path) -> None:
    """The comparison is strict enough to notice a scale bar going missing."""
    hs = _hs()
    from nexuslims.previews import render_signal

    calibrated_image(tmp_path / "with.png", None)
    yy, xx = np.mgrid[0:160, 0:200]
    data = np.sin(xx / 9.0) * np.cos(yy / 13.0) + (xx + yy) / 200.0
    render_signal(hs.signals.Signal2D(data.astype(np.float32)), tmp_path / "without.png",
                  dataset_type="Image")
    diff = np.abs(grey(tmp_path / "with.png") - grey(tmp_path / "without.png"))
    assert (diff > PIXEL_TOLERANCE).mean() > OUTLIER_FRACTION


def test_velox_image_preview_draws_its_scale_bar(corpus: Path, tmp_path: Path) -> None:
    """The HAADF map is dark where the bar goes, so the whole-image tolerance would
    miss a lost bar: the bar's corner must hold its white bar and label."""
    out = tmp_path / "haadf.png"
    CASES["velox_haadf"](out, corpus)
    corner = grey(out)[430:, :160]
    assert (corner > 240).sum() > 300  # bar (about 90 x 5 px) and "10 nm" in white
    wanted = grey(REFS / "velox_haadf.png")[430:, :160]
    assert (np.abs(corner - wanted) > PIXEL_TOLERANCE).mean() < 0.02


def regenerate() -> None:
    """Redraw every reference PNG (run from the repository root, see the docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.conftest import corpus_path

    REFS.mkdir(exist_ok=True)
    for case, render in sorted(CASES.items()):
        render(REFS / f"{case}.png", corpus_path())
        with Image.open(REFS / f"{case}.png") as image:  # grey, optimised: a few KB each
            image.convert("L").save(REFS / f"{case}.png", optimize=True)
        print(f"{case}.png  {os.path.getsize(REFS / f'{case}.png') / 1024:.1f} KB")


if __name__ == "__main__":
    regenerate()
