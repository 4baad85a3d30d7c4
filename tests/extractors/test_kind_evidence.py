"""The kind of signal comes from the file's most specific evidence, through kinds.py.

Each test takes a real file (the shared corpus, or the public extra files) and changes
only the key that names the mode or the beam, with the same number of bytes, so that
the file's own evidence contradicts the detector or the format's default; a Velox file
is built to the layout RosettaSciIO's reader documents (the corpus has no camera image
acquired in STEM mode). The last test holds every extractor to naming, as the
``Data Type`` source, the key that decided the kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from nexuslims.extractors import ExtractionContext, extract

CTX = ExtractionContext()


def _swap(source: Path, target: Path, old: bytes, new: bytes) -> Path:
    """A copy of ``source`` with every ``old`` replaced by ``new`` (same length)."""
    assert len(old) == len(new)
    raw = source.read_bytes()
    assert old in raw
    target.write_bytes(raw.replace(old, new))
    return target


def test_mode_beats_detector_and_the_first_of_equal_rank_wins():
    from nexuslims.extractors.kinds import BEAM, DETECTOR, MODE, Evidence, decide, mode_family

    scan = Evidence("STEM", DETECTOR, "tags:DigiScan")
    assert decide([scan, mode_family("TEM NANOPROBE", "illumination")]).family == "TEM"
    assert mode_family("IMAGING", "op", column="TEM").rank < DETECTOR
    assert mode_family("SCANNING", "op", scanning="STEM") == Evidence("STEM", MODE, "op")
    assert decide([Evidence("SEM", BEAM, "a"), Evidence("FIB", BEAM, "b")]).source == "a"


def test_dm_named_mode_beats_the_digiscan_group(corpus, tmp_path):
    # test_STEM_image.dm3: Operation Mode SCANNING, Illumination Mode STEM NANOPROBE and
    # a DigiScan group. With the modes saying TEM (same lengths, UTF-16 as DM stores
    # strings), the DigiScan group alone (detector evidence) no longer makes it STEM.
    path = _swap(corpus / "digitalmicrograph/test_STEM_image.dm3", tmp_path / "t.dm3",
                 "SCANNING".encode("utf-16-le"), "IMAGING ".encode("utf-16-le"))
    path.write_bytes(path.read_bytes().replace("STEM NANOPROBE".encode("utf-16-le"),
                                               " TEM NANOPROBE".encode("utf-16-le")))
    [ds] = extract(path, CTX)
    assert ds.nx_meta["Data Type"] == "TEM_Imaging"  # was STEM_Imaging
    assert ds.sources["Data Type"] == "tags:Microscope Info.Illumination Mode"
    [real] = extract(corpus / "digitalmicrograph/test_STEM_image.dm3", CTX)
    assert real.nx_meta["Data Type"] == "STEM_Imaging"
    assert real.sources["Data Type"] == "tags:Microscope Info.Operation Mode"


def _json_column(doc: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8).reshape(-1, 1)


def _camera_in(mode: str, unit: str) -> dict:
    return {
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1709189884"}},
        "Optics": {"AccelerationVoltage": "300000", "OperatingMode": mode,
                   "ProjectorMode": "2"},
        "BinaryResult": {"Detector": "BM-Ceta", "PixelUnitX": unit,
                         "PixelSize": {"width": "1e-10", "height": "1e-10"}},
        "Detectors": {"Detector-0": {"DetectorName": "BM-Ceta",
                                     "DetectorType": "ImagingDetector"}},
    }


def test_velox_operating_mode_beats_the_camera(tmp_path):
    # Velox's layout (/Data/Image/<uid>/Data and a JSON Metadata column): a Ceta camera
    # (an ImagingDetector, a TEM detector) recording in STEM mode (OperatingMode 2) a
    # ronchigram calibrated in real space and a pattern calibrated in reciprocal space.
    path = tmp_path / "ceta.emd"
    with h5py.File(path, "w") as h5:
        h5["Version"] = np.array([json.dumps({"version": "11", "format": "Velox"}).encode()])
        for uid, mode, unit in (("a1", "2", "m"), ("b2", "2", "1/m"), ("c3", "1", "m")):
            group = h5.create_group(f"Data/Image/{uid}")
            group["Data"] = np.zeros((16, 16, 1), np.uint16)
            group["Metadata"] = _json_column(_camera_in(mode, unit))
    image, pattern, tem = extract(path, CTX)
    assert image.nx_meta["Data Type"] == "STEM_Imaging"  # was TEM_Imaging
    assert pattern.nx_meta["Data Type"] == "STEM_Diffraction"  # was TEM_Diffraction
    assert image.sources["Data Type"] == "velox:Optics.OperatingMode"
    assert tem.nx_meta["Data Type"] == "TEM_Imaging"


def test_zeiss_crossbeam_image_taken_by_the_ion_beam_is_fib(extra_files, tmp_path):
    # A Zeiss 1500XB CrossBeam TIFF says which column imaged: "FIB Imaging = SEM".
    real = extra_files / "tiff/tiff_Zeiss_SEM/ZEISS_SEM_multipage.tif"
    [sem] = extract(real, CTX)
    assert sem.nx_meta["Data Type"] == "SEM_Imaging"
    assert sem.sources["Data Type"] == "tiff:34118 DP_FIB_IMAGING"
    path = _swap(real, tmp_path / "fib.tif", b"FIB Imaging = SEM", b"FIB Imaging = FIB")
    [fib] = extract(path, CTX)
    assert fib.nx_meta["Data Type"] == "FIB_Imaging"  # was SEM_Imaging
    assert fib.sources["Data Type"] == "tiff:34118 DP_FIB_IMAGING"


# The formats whose every corpus file names its kind: the default must not decide it.
_EVIDENT = {"velox": "velox:", "tia": "emi:", "jeol_tiff": "tiff:270 ",
            "fei_tiff": ("tiff:34682 ", "file-tail:"), "bruker": "reader:"}


def test_every_corpus_dataset_names_the_evidence_of_its_kind(corpus):
    seen: dict[str, int] = {}
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        for ds in extract(path, CTX):
            source = ds.sources.get("Data Type")
            assert source, f"{ds.name} ({ds.extractor}): Data Type without a source"
            prefix = _EVIDENT.get(ds.extractor)
            if prefix and ds.nx_meta["Data Type"] != "Unknown":
                assert source.startswith(prefix), f"{ds.name}: {source}"
            seen[ds.extractor] = seen.get(ds.extractor, 0) + 1
    assert {"velox", "tia", "digitalmicrograph", "fei_tiff", "bruker"} <= set(seen)
