"""The extraction cache at the stage's edge: ``extract_files`` with and without it.

Whole passes (sessions reset and rebuilt, the fingerprint's parts) are in
``tests/cli/test_extraction_cache.py``; these read small real images in this process.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from nexuslims.extract.cache import CacheUse
from nexuslims.extract.stage import extract_files
from nexuslims.extractors.base import ExtractionContext

pytestmark = pytest.mark.corpus

CTX = ExtractionContext(instrument="scope")


@pytest.fixture
def images(tmp_path, corpus) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    out = []
    for name in ("nexuslims/test_image_thumb_source.png", "image/jpg_no_exif_tags.jpg"):
        target = folder / Path(name).name
        shutil.copyfile(corpus / name, target)
        os.utime(target, ns=(1_709_629_200_123_456_789, 1_709_629_200_123_456_789))
        out.append(target)
    return out


def extract(files: list[Path], data: Path, cache: CacheUse | None):
    return extract_files(files, instrument_root=files[0].parent, data_root=data, context=CTX,
                         workers=0, cache=cache)


def written(data: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data.iterdir()}


def test_an_unchanged_file_comes_back_from_its_sidecar_as_it_was_read(images, tmp_path):
    data = tmp_path / "data"
    first = CacheUse()
    read = extract(images, data, first)
    assert (first.reused, first.extracted) == (0, 2)
    assert first.summary() == "2 files: 0 reused from cache, 2 extracted"
    before = written(data)
    assert len(before) == 4

    again = CacheUse()
    reused = extract(images, data, again)
    assert (again.reused, again.extracted) == (2, 0)
    assert again.summary() == "2 files: 2 reused from cache, 0 extracted"
    assert written(data) == before  # nothing rewritten
    # Every field the record and the pipeline use, down to the float modification time.
    assert reused == read
    assert [d.mtime for d in reused] == [images[0].stat().st_mtime, images[1].stat().st_mtime]


def test_without_the_cache_every_file_is_read_and_its_sidecar_stamped(images, tmp_path):
    data = tmp_path / "data"
    extract(images, data, None)  # `nexuslims extract`: reads, but stamps for later
    before = written(data)
    off = CacheUse(enabled=False)
    extract(images, data, off)
    assert (off.reused, off.extracted) == (0, 2)
    assert off.summary() == "2 files: 2 extracted (cache off)"
    assert all(written(data)[name] != before[name] for name in before)
    stamp = json.loads((data / "test_image_thumb_source.png.json").read_text())["fingerprint"]
    assert stamp["location"] == "test_image_thumb_source.png"
    assert stamp["mtime_ns"] == 1_709_629_200_123_456_789 and stamp["instrument"] == "scope"
    assert stamp["size"] == images[0].stat().st_size and stamp["software"]["pillow"]

    on = CacheUse()
    extract(images, data, on)
    assert on.reused == 2


def test_a_file_that_could_not_be_read_is_not_stamped_and_is_read_again(images, tmp_path):
    data = tmp_path / "data"
    images[1].write_bytes(b"not an image at all")  # a .jpg whose content is not JPEG
    extract(images, data, CacheUse())
    sidecar = json.loads((data / "jpg_no_exif_tags.jpg.json").read_text())
    assert sidecar["datasets"][0]["error"] and "fingerprint" not in sidecar
    again = CacheUse()
    extract(images, data, again)
    assert (again.reused, again.extracted) == (1, 1)


@pytest.mark.slow
def test_a_file_that_killed_its_worker_is_not_stamped_and_is_tried_again(tmp_path, monkeypatch):
    from nexuslims.extract.workers import Limits
    from nexuslims.extractors import registry
    from tests.faulty_plugin import install_for_this_process, make_plugin_site

    install_for_this_process(make_plugin_site(tmp_path / "site"), monkeypatch)
    try:
        folder, data = tmp_path / "in", tmp_path / "data"
        folder.mkdir()
        (folder / "crash.fault").write_text("exit")  # os._exit in the worker, every time
        (folder / "fine.fault").write_text("ok")
        files = sorted(folder.iterdir())
        for attempt in (1, 2):
            use = CacheUse()
            datasets = extract_files(files, instrument_root=folder, data_root=data,
                                     context=CTX, workers=1, cache=use,
                                     limits=Limits(timeout=60, memory_mb=0))
            assert datasets[0].error and datasets[1].error is None
            assert (use.reused, use.extracted) == ((0, 2) if attempt == 1 else (1, 1))
            assert "fingerprint" not in json.loads((data / "crash.fault.json").read_text())
    finally:
        monkeypatch.undo()
        registry.reload()
