"""Formats the corpus lacks (HyperSpy .hspy/.zspy, MRC), written here by their own
libraries, and files the extractor may not read (no permission)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nexuslims.extractors import registry
from nexuslims.extractors.base import ExtractionContext
from tests.privileges import run_as_nobody

CTX = ExtractionContext()


def tem_image():
    import hyperspy.api as hs

    s = hs.signals.Signal2D(np.random.default_rng(0).poisson(50, (64, 64)).astype("uint16"))
    s.metadata.General.title = "HRTEM 620kx"
    s.metadata.General.date, s.metadata.General.time = "2024-03-05", "09:15:00"
    s.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 300.0)
    s.metadata.set_item("Acquisition_instrument.TEM.magnification", 620000.0)
    s.metadata.set_item("Acquisition_instrument.TEM.microscope", "FEI Titan")
    s.metadata.set_item("Acquisition_instrument.TEM.Stage.tilt_alpha", 2.5)
    s.metadata.set_item("Acquisition_instrument.TEM.Detector.Camera.exposure", 0.5)
    for axis, name in zip(s.axes_manager.signal_axes, "xy", strict=True):
        axis.scale, axis.units, axis.name = 0.02, "nm", name
    return s


@pytest.mark.parametrize("extension", ["hspy", "zspy"])
def test_hyperspy_files_keep_their_microscope_metadata(tmp_path: Path, extension: str) -> None:
    path = tmp_path / f"image.{extension}"
    tem_image().save(path)
    (ds,) = registry.extract(path, CTX)
    assert (ds.extractor, ds.error, ds.dataset_type) == ("hspy", None, "Image")
    meta = ds.nx_meta
    assert meta["Voltage (kV)"] == 300.0 and meta["Microscope"] == "FEI Titan"
    assert meta["Indicated Magnification (x)"] == 620000.0
    assert meta["Creation Time"] == "2024-03-05T09:15:00+00:00"
    assert meta["Data Dimensions"] == "(64, 64)" and meta["Data Type"] == "TEM_Imaging"
    out = tmp_path / "preview.png"
    ds.render_preview(out)
    assert out.stat().st_size > 1000


def test_mrc_header_fields(tmp_path: Path) -> None:
    mrcfile = pytest.importorskip("mrcfile")
    path = tmp_path / "tomogram.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.random.default_rng(1).random((4, 32, 32), dtype=np.float32))
        mrc.voxel_size = 1.5  # angstrom
        mrc.header.ispg = 1
        mrc.update_header_stats()
    (ds,) = registry.extract(path, CTX)
    assert (ds.extractor, ds.error, ds.dataset_type) == ("mrc", None, "Image")
    meta = ds.nx_meta
    assert meta["Pixel Size (nm)"] == pytest.approx(0.15)
    assert meta["Pixel Data Type"] == "float32" and meta["Number of Sections"] == 4
    assert meta["Stack Kind"] == "volume"
    assert 0.4 < meta["Density Mean"] < 0.6 and meta["Labels"].startswith("Created by mrcfile")
    assert "Creation Time" in ds.unreliable  # MRC carries no acquisition time


def test_a_file_we_may_not_read_gives_basic_metadata_and_says_why(corpus: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="nexuslims-perm-", dir="/tmp"))
    try:
        base.chmod(0o755)
        locked = base / "locked spectrum.dm3"
        shutil.copy(corpus / "digitalmicrograph/test-EELS_spectrum.dm3", locked)
        locked.chmod(0o000)

        def extract() -> dict:
            (ds,) = registry.extract(locked, CTX)
            return {"extractor": ds.extractor, "error": ds.error, "size":
                    ds.nx_meta.get("File Size (bytes)"), "name": ds.name}

        outcome = run_as_nobody(extract)
        assert outcome["extractor"] == "basic" and outcome["name"] == "locked spectrum.dm3"
        assert outcome["size"] == os.stat(locked).st_size
        assert outcome["error"] and "Permission denied" in outcome["error"]
    finally:
        shutil.rmtree(base)
