"""Velox EDS spectrum images summed from their event streams with numpy, against
RosettaSciIO's own decoder, and their previews against the ones HyperSpy signals gave."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from PIL import Image

from nexuslims.extractors import ExtractionContext, extract
from nexuslims.extractors._velox_layout import _json_at
from nexuslims.extractors._velox_stream import stream_sums

SI = "emd/Test SI 16x16 215 kx.emd"


def _decoded(stream, shape, channels, last_frame):
    """RosettaSciIO's decoding of a stream into a dense cube, frames summed."""
    from rsciio.utils._fei_stream_readers import stream_to_array

    return stream_to_array(stream=np.asarray(stream), spatial_shape=shape, channels=channels,
                           first_frame=0, last_frame=last_frame, sum_frames=True,
                           dtype="uint64")


def test_each_stream_of_a_velox_file_sums_as_rsciio_decodes_it(corpus):
    with h5py.File(corpus / SI, "r") as h5:
        shape = h5["Data/Image"][next(iter(h5["Data/Image"]))]["Data"].shape[:2]
        settings = _json_at(next(iter(h5["Data/SpectrumImage"].values())),
                            "SpectrumImageSettings")
        frames = int(settings["endFramePosition"])
        streams = list(h5["Data/SpectrumStream"].values())
        assert len(streams) == 4
        for group in streams:
            channels = int(_json_at(group, "AcquisitionSettings")["bincount"])
            stream = group["Data"][:, 0]
            cube = _decoded(stream, shape, channels, frames)
            spectrum, image = stream_sums(group["Data"], shape, channels, frames)
            assert cube.sum() > 0
            assert np.array_equal(spectrum, cube.sum(axis=(0, 1)))
            assert np.array_equal(image, cube.sum(axis=2))


def test_frames_past_the_last_and_channels_past_the_spectrum_are_not_counted(monkeypatch):
    from rsciio.utils._fei_stream_readers import array_to_stream

    rng = np.random.default_rng(7)
    shape, channels = (3, 5), 16
    frames = rng.poisson(0.8, size=(3, *shape, channels))
    stream = np.concatenate([np.append(array_to_stream(f), 65535) for f in frames])
    stream = np.append(stream, [channels + 3, 2]).astype(np.uint16)  # a stray value
    # blocks smaller than a frame: the pixel count carried from block to block
    monkeypatch.setattr("nexuslims.extractors._velox_stream.BLOCK", 7)
    spectrum, image = stream_sums(stream, shape, channels, frames=2)
    assert np.array_equal(spectrum, frames[:2].sum(axis=(0, 1, 2)))
    assert np.array_equal(image, frames[:2].sum(axis=(0, 3)))
    spectrum, image = stream_sums(stream[:, np.newaxis], shape, channels)  # every frame
    assert np.array_equal(image.sum(), frames.sum() + 1)  # the stray 2 counts, its 19 not
    with pytest.raises(ValueError, match="holds nothing"):
        stream_sums(stream, (0, 5), channels)


def _old_preview(path, out):
    """The EDS spectrum image's preview as drawn before: RosettaSciIO's reader, a
    HyperSpy signal, render_signal."""
    from rsciio.emd import file_reader

    from nexuslims.extractors._reader import signals_from_dicts
    from nexuslims.previews import render_signal

    dicts = [d for d in file_reader(str(path), lazy=False, select_type="spectrum_image")
             if str(d["metadata"]["Signal"]["signal_type"]).startswith("EDS")]
    [signal] = signals_from_dicts(dicts, lazy=False)
    render_signal(signal, out, dataset_type="SpectrumImage")


def test_the_eds_spectrum_image_preview_is_the_one_hyperspy_drew(corpus, tmp_path):
    [si] = [d for d in extract(corpus / SI, ExtractionContext())
            if d.dataset_type == "SpectrumImage"]
    si.render_preview(tmp_path / "new.png")
    _old_preview(corpus / SI, tmp_path / "old.png")
    new = np.asarray(Image.open(tmp_path / "new.png").convert("RGB"), dtype=int)
    old = np.asarray(Image.open(tmp_path / "old.png").convert("RGB"), dtype=int)
    assert new.shape == old.shape
    assert np.abs(new - old).max() == 0


def test_a_pruned_file_says_its_event_stream_is_missing(corpus, tmp_path):
    from nexuslims.extract.one import extract_one

    root = corpus / "emd"
    datasets = extract_one(root / "Test SI 16x16 ReducedData 215 kx.emd", root, tmp_path,
                           ExtractionContext())
    [si] = [d for d in datasets if d.dataset_type == "SpectrumImage"]
    assert si.preview is not None and si.preview.stat().st_size > 0  # a placeholder
    assert any("event stream is not in this file" in w for w in si.warnings), si.warnings


def test_without_maps_the_spectrum_image_is_summed_over_its_scanned_area(corpus, tmp_path):
    # No image beside it to take the scan shape from (RosettaSciIO's way): the area its
    # metadata says was scanned, 16x16 of a 128x128 frame; the same picture.
    import shutil

    shutil.copy(corpus / SI, tmp_path / "si.emd")
    with h5py.File(tmp_path / "si.emd", "r+") as h5:
        del h5["Data/Image"]
    [bare] = [d for d in extract(tmp_path / "si.emd", ExtractionContext())
              if d.dataset_type == "SpectrumImage"]
    [full] = [d for d in extract(corpus / SI, ExtractionContext())
              if d.dataset_type == "SpectrumImage"]
    bare.render_preview(tmp_path / "bare.png")
    full.render_preview(tmp_path / "full.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "bare.png")),
                          np.asarray(Image.open(tmp_path / "full.png")))


def test_a_velox_complex_image_shows_magnitude_and_phase(tmp_path):
    # Velox stores an FFT or DPC result as (real, imaginary) fields; drawn from h5py
    # without HyperSpy it must still be magnitude and phase side by side.
    from tests.extractors.test_signal_kind import _camera, _velox

    frames = np.zeros((32, 32, 1), dtype=[("realFloatHalfEven", "<f4"),
                                          ("imagFloatHalfEven", "<f4")])
    yy, xx = np.mgrid[0:32, 0:32]
    frames["realFloatHalfEven"][..., 0] = np.cos(xx / 3.0)
    frames["imagFloatHalfEven"][..., 0] = np.sin(yy / 4.0)
    path = _velox(tmp_path / "fft.emd", [("Image", "a1", _camera("1/m", "2"), frames, {})])
    extract(path, ExtractionContext())[0].render_preview(tmp_path / "fft.png")
    picture = np.asarray(Image.open(tmp_path / "fft.png").convert("L"))
    width = picture.shape[1]
    assert width == 500 and picture.shape[0] < width  # two panels side by side
    gap = picture[: picture.shape[0] // 2, width // 2 - 2: width // 2 + 2]
    assert (gap == 255).all()  # the white gap between them
