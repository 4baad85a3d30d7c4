"""The demo file store: one Titan session's files, in three bursts, loadable by HyperSpy."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from nexuslims.demo.files import (
    DEMO_INSTRUMENT,
    DEMO_USER,
    SESSION_LENGTH,
    DemoFile,
    generate_filestore,
)
from nexuslims.model.session import Instrument

hs = pytest.importorskip("hyperspy.api")

# exspy's import (on loading the first EDS/EELS file) warns about HyperSpy's own API moves.
pytestmark = pytest.mark.filterwarnings("ignore:Importing .* is deprecated")

NY = ZoneInfo("America/New_York")
START = dt.datetime(2024, 3, 5, 9, 0, 0, tzinfo=NY)
BURST_GAP = dt.timedelta(minutes=15).total_seconds()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoFile]]:
    root = tmp_path_factory.mktemp("filestore")
    began = time.perf_counter()
    files = generate_filestore(root, START, seed=0)
    print(f"\ndemo file store: {len(files)} files in {time.perf_counter() - began:.2f} s")
    return root, files


def _bursts(mtimes: list[float]) -> list[list[float]]:
    """Group sorted mtimes into bursts separated by more than BURST_GAP."""
    groups: list[list[float]] = []
    for mtime in sorted(mtimes):
        if groups and mtime - groups[-1][-1] < BURST_GAP:
            groups[-1].append(mtime)
        else:
            groups.append([mtime])
    return groups


def _load(path: Path):
    # rsciio's EMSA reader cannot load lazily; everything else is loaded lazily.
    return hs.load(path, lazy=path.suffix != ".msa")


def _of_kind(files: list[DemoFile], kind: str, suffix: str = ".hspy") -> list[DemoFile]:
    return [f for f in files if f.dataset_type == kind and f.path.suffix == suffix]


def test_files_are_written_under_the_users_project_folder(demo):
    root, files = demo
    assert len(files) >= 12
    for f in files:
        assert f.path.is_file()
        relative = f.path.relative_to(root)
        assert relative.parts[0] == DEMO_USER
        assert len(relative.parts) >= 4  # user / project / day / file
    assert len({f.path for f in files}) == len(files)
    assert {f.path.suffix for f in files} == {".hspy", ".msa", ".txt"}


def test_store_is_small(demo):
    _, files = demo
    total = sum(f.path.stat().st_size for f in files)
    assert total < 20e6


def test_mtimes_on_disk_are_the_returned_ones_and_inside_the_session(demo):
    _, files = demo
    for f in files:
        assert os.stat(f.path).st_mtime == pytest.approx(f.mtime, abs=1e-3)
        assert START.timestamp() < f.mtime <= (START + SESSION_LENGTH).timestamp()


def test_mtimes_come_in_three_separated_bursts(demo):
    _, files = demo
    bursts = _bursts([f.mtime for f in files])
    assert len(bursts) >= 3
    for group in bursts:
        assert all(b - a <= 120 for a, b in zip(group, group[1:], strict=False))


def test_each_burst_holds_one_kind_of_work(demo):
    _, files = demo
    bursts = _bursts([f.mtime for f in files])
    kinds = [
        {(f.dataset_type, f.path.suffix) for f in files if group[0] <= f.mtime <= group[-1]}
        for group in bursts
    ]
    assert kinds[0] == {("Image", ".hspy")}
    assert {("Image", ".hspy"), ("Spectrum", ".msa"), ("Misc", ".txt")} <= kinds[1]
    assert kinds[2] == {("Spectrum", ".hspy"), ("Diffraction", ".hspy")}


def test_notes_file_is_plain_text_in_the_stem_burst(demo):
    _, files = demo
    (notes,) = [f for f in files if f.path.suffix == ".txt"]
    assert notes.dataset_type == "Misc"
    assert "demo_user" in notes.path.read_text(encoding="utf-8")
    eds = _of_kind(files, "Spectrum", ".msa")
    assert min(f.mtime for f in eds) < notes.mtime < min(f.mtime for f in eds) + 600


def test_every_data_file_carries_microscope_metadata_matching_its_mtime(demo):
    _, files = demo
    for f in files:
        if f.path.suffix == ".txt":
            continue
        md = _load(f.path).metadata
        tem = md.Acquisition_instrument.TEM
        assert tem.beam_energy == 300.0
        assert md.General.title
        assert {"tilt_alpha"} <= set(tem.Stage.as_dictionary())
        # The metadata's clock is the instrument's; EMSA files carry no zone of their own.
        zone = ZoneInfo(md.General.get_item("time_zone", DEMO_INSTRUMENT["timezone"]))
        written = dt.datetime.fromisoformat(f"{md.General.date}T{md.General.time}")
        assert written.replace(tzinfo=zone).timestamp() == pytest.approx(f.mtime, abs=1)
        if f.path.suffix == ".hspy":
            assert tem.microscope == "FEI Titan"
            assert tem.has_item("Stage.x") and tem.has_item("Stage.z")
            assert tem.beam_current > 0 and tem.probe_area > 0
            assert tem.detector


def test_images_are_real_space_signal2d_with_a_magnification(demo):
    _, files = demo
    images = _of_kind(files, "Image")
    assert len(images) >= 6
    for f in images:
        s = _load(f.path)
        assert s.axes_manager.signal_dimension == 2
        assert [a.units for a in s.axes_manager.signal_axes] == ["nm", "nm"]
        assert s.metadata.Signal.signal_type == ""
        assert s.metadata.Acquisition_instrument.TEM.magnification > 1000
        assert s.axes_manager.signal_shape[0] <= 512
    modes = {_load(f.path).metadata.Acquisition_instrument.TEM.acquisition_mode for f in images}
    assert modes == {"TEM", "STEM"}


def test_eds_spectra_are_emsa_with_detector_metadata_and_lines(demo):
    _, files = demo
    spectra = _of_kind(files, "Spectrum", ".msa")
    assert len(spectra) >= 2
    for f in spectra:
        s = _load(f.path)
        assert s.metadata.Signal.signal_type == "EDS_TEM"
        assert s.axes_manager.signal_axes[0].units == "keV"
        eds = s.metadata.Acquisition_instrument.TEM.Detector.EDS
        assert eds.live_time == 30.0 and eds.real_time > eds.live_time
        assert eds.azimuth_angle == 45.0 and eds.elevation_angle == 18.0
        assert eds.energy_resolution_MnKa == 130.0
        assert "O_Ka" in s.original_metadata.COMMENT
        assert s.original_metadata.OWNER == DEMO_USER
        # The O Ka line stands well above the bremsstrahlung beside it.
        energy = s.axes_manager.signal_axes[0].axis
        peak = s.data[np.abs(energy - 0.525) < 0.03].max()
        assert peak > 3 * s.data[np.abs(energy - 3.0) < 0.1].mean()


def test_eels_spectra_carry_spectrometer_metadata(demo):
    _, files = demo
    spectra = _of_kind(files, "Spectrum")
    assert len(spectra) >= 1
    for f in spectra:
        s = _load(f.path)
        assert s.metadata.Signal.signal_type == "EELS"
        assert s.axes_manager.signal_axes[0].units == "eV"
        eels = s.metadata.Acquisition_instrument.TEM.Detector.EELS
        assert eels.collection_angle == 35.0 and eels.aperture == 2.5
        assert eels.dispersion == pytest.approx(s.axes_manager.signal_axes[0].scale)


def test_diffraction_patterns_have_reciprocal_axes_and_a_camera_length(demo):
    _, files = demo
    patterns = _of_kind(files, "Diffraction")
    assert len(patterns) >= 1
    for f in patterns:
        s = _load(f.path)
        assert s.axes_manager.signal_dimension == 2
        assert [a.units for a in s.axes_manager.signal_axes] == ["1/nm", "1/nm"]
        tem = s.metadata.Acquisition_instrument.TEM
        assert tem.camera_length == 520.0 and not tem.has_item("magnification")
        assert s.original_metadata.ObjectInfo.ExperimentalDescription.Mode == "Diffraction"
        # The direct beam sits at k = 0, in the middle.
        data = np.asarray(s.data)
        assert np.unravel_index(data.argmax(), data.shape) == pytest.approx((256, 256), abs=3)


def _digest(root: Path, files: list[DemoFile]) -> str:
    """Names, mtimes and data of a generated store (HDF5 bytes hold write times; data don't)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.path.relative_to(root)} {f.mtime:.3f}".encode())
        if f.path.suffix == ".txt":
            h.update(f.path.read_bytes())
        else:
            h.update(np.ascontiguousarray(np.asarray(_load(f.path).data)).tobytes())
    return h.hexdigest()


def test_same_seed_gives_same_files_and_data(demo, tmp_path):
    root, files = demo
    again = generate_filestore(tmp_path, START, seed=0)
    assert _digest(root, files) == _digest(tmp_path, again)


def test_another_seed_gives_other_data_under_the_same_names(demo, tmp_path):
    root, files = demo
    other = generate_filestore(tmp_path, START, seed=1)
    names = [f.path.relative_to(root) for f in files]
    assert names == [f.path.relative_to(tmp_path) for f in other]
    assert _digest(root, files) != _digest(tmp_path, other)


def test_naive_start_is_refused(tmp_path):
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_filestore(tmp_path, dt.datetime(2024, 3, 5, 9, 0))
    assert not any(tmp_path.iterdir())


def test_demo_instrument_builds_an_instrument():
    instrument = Instrument(**DEMO_INSTRUMENT)
    assert instrument.pid == "FEI-Titan-TEM-demo"
    assert instrument.display_name == "FEI Titan TEM"
    assert instrument.filestore_path == "Titan"
    assert instrument.harvester is None
    assert str(instrument.tzinfo) == "America/New_York"
