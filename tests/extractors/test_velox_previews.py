"""Velox previews: the renderers of one file share one open file, closed once all have run.

A Velox file holds many datasets (ten in the corpus' EDS file), each with its preview;
their renderers run one after the other right after the extraction, and open the file
once between them rather than once each.
"""

from __future__ import annotations

import gc
from pathlib import Path

import h5py
import pytest

from nexuslims.extractors import extract

pytestmark = pytest.mark.corpus

VELOX_EDS = "emd/Test SI 16x16 215 kx.emd"


def _open_files() -> int:
    """HDF5 files open in this process (h5py's and any other's)."""
    return h5py.h5f.get_obj_count(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE)


def test_a_velox_files_renderers_share_one_open_file_closed_after_the_last(
        corpus: Path, utc, tmp_path: Path) -> None:
    before = _open_files()
    datasets = extract(corpus / VELOX_EDS, utc)
    assert len(datasets) == 10
    assert _open_files() == before  # the extraction closed it; no renderer has run
    open_after_each = []
    for index, ds in enumerate(datasets):
        ds.render_preview(tmp_path / f"{index}.png")
        open_after_each.append(_open_files() - before)
    assert open_after_each == [1] * 9 + [0]


def test_velox_renderers_left_unrun_close_the_file_when_dropped(
        corpus: Path, utc, tmp_path: Path) -> None:
    before = _open_files()
    datasets = extract(corpus / VELOX_EDS, utc)
    datasets[0].render_preview(tmp_path / "first.png")
    assert _open_files() == before + 1  # kept for the nine others
    del datasets
    gc.collect()
    assert _open_files() == before


def test_a_velox_preview_drawn_again_in_any_order_is_the_same_picture(
        corpus: Path, utc, tmp_path: Path) -> None:
    before = _open_files()
    datasets = extract(corpus / VELOX_EDS, utc)
    for index, ds in enumerate(datasets):
        ds.render_preview(tmp_path / f"{index}.png")
    for index, ds in reversed(list(enumerate(datasets))):  # each opens it for itself
        ds.render_preview(tmp_path / f"{index}.again.png")
        assert _open_files() == before
    fresh = extract(corpus / VELOX_EDS, utc)
    fresh[4].render_preview(tmp_path / "alone.png")  # one renderer on its own
    for index in range(len(datasets)):
        first = (tmp_path / f"{index}.png").read_bytes()
        assert first[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{index}.again.png").read_bytes() == first
    assert (tmp_path / "alone.png").read_bytes() == (tmp_path / "4.png").read_bytes()
