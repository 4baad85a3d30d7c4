"""The extract stage: datasets in order, mirrored sidecars and previews, atomic JSON."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from nexuslims.atomic import write_atomically
from nexuslims.extract.command import run_extract
from nexuslims.extract.stage import extract_files
from nexuslims.extractors.base import ExtractionContext

CTX = ExtractionContext()


@pytest.fixture
def instrument(tmp_path, corpus):
    """A small instrument tree: DM files in a folder with a space, a TIA pair, junk."""
    src = corpus
    root = tmp_path / "instrument"
    (root / "Jane Doe" / "day 1").mkdir(parents=True)
    shutil.copy(src / "digitalmicrograph/test-EELS_spectrum.dm3", root / "Jane Doe/day 1/eels.dm3")
    shutil.copy(src / "digitalmicrograph/multi_signal.dm3", root / "Jane Doe/multi.dm3")
    for name in ("64x64_TEM_images_acquire.emi", "64x64_TEM_images_acquire_1.ser"):
        shutil.copy(src / "tia" / name, root / "Jane Doe" / name)
    (root / "Jane Doe/notes.qqq").write_bytes(b"\x00\x01")
    return root


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("workers", [1, 2])
def test_sidecars_and_previews_mirror_paths(instrument, tmp_path, workers):
    data = tmp_path / "data"
    files = files_of(instrument)
    seen = []
    datasets = extract_files(files, instrument_root=instrument, data_root=data, context=CTX,
                             workers=workers, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(files), len(files))
    # input order, multi-signal datasets consecutive, the .emi contributes none
    assert [d.location for d in datasets] == [
        "Jane Doe/64x64_TEM_images_acquire_1.ser",
        "Jane Doe/day 1/eels.dm3",
        "Jane Doe/multi.dm3",
        "Jane Doe/multi.dm3",
        "Jane Doe/notes.qqq",
    ]
    multi = [d for d in datasets if d.location.endswith("multi.dm3")]
    assert [d.preview for d in multi] == [data / "Jane Doe/multi.dm3.1.thumb.png",
                                          data / "Jane Doe/multi.dm3.2.thumb.png"]
    eels = datasets[1]
    assert eels.preview == data / "Jane Doe/day 1/eels.dm3.thumb.png"
    assert eels.preview_location == "Jane Doe/day 1/eels.dm3.thumb.png"
    assert eels.preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one line of JSON: indenting it made json use its pure-Python encoder
    assert eels.sidecar.read_bytes().count(b"\n") == 0
    assert eels.sidecar == data / "Jane Doe/day 1/eels.dm3.json"
    body = json.loads(eels.sidecar.read_text())
    assert body["file"] == "Jane Doe/day 1/eels.dm3"
    assert body["extractor"] == "digitalmicrograph"
    assert body["datasets"][0]["nx_meta"]["Data Type"] == "STEM_EELS"
    assert body["datasets"][0]["preview"] == eels.preview_location
    emi_json = json.loads((data / "Jane Doe/64x64_TEM_images_acquire.emi.json").read_text())
    assert emi_json["datasets"] == []
    junk = datasets[-1]
    assert junk.extractor == "basic" and junk.preview.is_file()  # placeholder
    assert not list(data.rglob("*.tmp*"))
    assert eels.mtime == (instrument / "Jane Doe/day 1/eels.dm3").stat().st_mtime


def test_dry_run_writes_nothing(instrument, tmp_path):
    datasets = extract_files(files_of(instrument), instrument_root=instrument, data_root=None,
                             context=CTX, workers=1)
    assert datasets and all(d.preview is None and d.sidecar is None for d in datasets)
    assert not (tmp_path / "data").exists()


def test_bad_file_and_failed_preview_do_not_fail_the_stage(instrument, tmp_path, monkeypatch):
    bad = instrument / "Jane Doe/broken.dm3"
    bad.write_bytes(b"\x00\x00\x00\x03garbage")
    import nexuslims.previews as previews

    def boom(*a, **k):
        raise RuntimeError("no drawing today")

    monkeypatch.setattr(previews, "render_signal", boom)
    data = tmp_path / "data"
    datasets = extract_files([bad, instrument / "Jane Doe/day 1/eels.dm3"],
                             instrument_root=instrument, data_root=data, context=CTX, workers=0)
    assert datasets[0].extractor == "basic" and datasets[0].error
    assert any("placeholder" in w for w in datasets[1].warnings)
    assert datasets[1].preview.is_file()


def test_write_atomically_replaces_whole_file(tmp_path):
    target = tmp_path / "a" / "x.json"
    write_atomically(target, b"one")
    write_atomically(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_run_extract_json_lines(instrument, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = run_extract([str(instrument)], json_out=True, no_preview=False,
                       preview_dir=str(tmp_path / "pv"), stdout=out, stderr=err)
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 5
    assert set(lines[0]) == {"file", "dataset", "extractor", "nx_meta", "preview", "error",
                             "fields", "time_source", "warnings"}
    assert all(line["preview"] and Path(line["preview"]).is_file() for line in lines)
    assert "files: 5" in err.getvalue() and "datasets: 5" in err.getvalue()


def test_run_extract_summary_without_previews(instrument):
    out, err = io.StringIO(), io.StringIO()
    code = run_extract([str(instrument / "Jane Doe/multi.dm3")], json_out=False,
                       no_preview=True, preview_dir=None, stdout=out, stderr=err)
    assert code == 0
    assert "multi.dm3 (2 of 2)" in out.getvalue()
    assert "failed: 0" in err.getvalue()


def test_run_extract_missing_path_is_usage_error(tmp_path):
    err = io.StringIO()
    assert run_extract([str(tmp_path / "nope")], json_out=True, no_preview=True,
                       preview_dir=None, stdout=io.StringIO(), stderr=err) == 2
    assert "no such file" in err.getvalue()


def test_a_pool_after_in_process_extraction_finishes_and_agrees(instrument, tmp_path):
    """Regression: a fork()ed pool started after in-process reading (dask/BLAS threads
    alive in the parent) hung for good. Run the sequence in a child with a deadline."""
    import subprocess
    import sys

    many = tmp_path / "many"
    many.mkdir()
    for i in range(20):
        shutil.copy(instrument / "Jane Doe/day 1/eels.dm3", many / f"eels_{i:02d}.dm3")
    script = f"""
import json, sys
from pathlib import Path
from nexuslims.extract.stage import extract_files
from nexuslims.extractors.base import ExtractionContext
root = Path({str(instrument)!r}); many = Path({str(many)!r}); ctx = ExtractionContext()
first = extract_files(sorted(p for p in root.rglob('*') if p.is_file()), instrument_root=root,
                      data_root=Path({str(tmp_path / 'd1')!r}), context=ctx, workers=0)
files = sorted(many.iterdir())
pooled = extract_files(files, instrument_root=many, data_root=Path({str(tmp_path / 'd2')!r}),
                       context=ctx, workers=2)
alone = extract_files(files[:1], instrument_root=many, data_root=None, context=ctx, workers=0)
print(json.dumps([len(first), len(pooled), [d.error for d in pooled],
                  pooled[0].nx_meta == alone[0].nx_meta]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    n_first, n_pooled, errors, same = json.loads(result.stdout.strip().splitlines()[-1])
    assert (n_first, n_pooled) == (5, 20)
    assert errors == [None] * 20 and same
    assert len(list((tmp_path / "d2").glob("*.thumb.png"))) == 20


def test_a_dataset_crosses_processes_with_its_paths_as_text(tmp_path):
    # Workers hand datasets back pickled; a pickled Path is rebuilt from its parts in
    # the coordinator, three times per dataset (a tenth of its CPU per file).
    import pickle

    from nexuslims.model.dataset import Dataset

    ds = Dataset(name="a.dm3", path=tmp_path / "a b" / "a.dm3", location="a b/a.dm3",
                 dataset_type="Image", nx_meta={"x": 1}, preview=tmp_path / "a.png",
                 unreliable={"x"})
    raw = pickle.dumps(ds)
    assert b"PosixPath" not in raw and b"WindowsPath" not in raw
    back = pickle.loads(raw)
    assert back == ds and isinstance(back.path, Path) and back.sidecar is None


def test_without_sources_workers_send_less_and_sidecars_keep_every_source(instrument,
                                                                          tmp_path):
    # A pass builds records, which never use a value's source: its workers leave them
    # out of what they send back, and the sidecars they write still have them.
    from nexuslims.extract.stage import FileJob, extract_jobs, local_pool

    eels = instrument / "Jane Doe/day 1/eels.dm3"
    answers = {}
    for kept in (True, False):
        got: list = []
        data = tmp_path / f"data-{kept}"
        extract_jobs([FileJob(eels, CTX)], instrument_root=instrument, data_root=data,
                     executor=local_pool(1), on_file=lambda i, ds, got=got: got.extend(ds),
                     sources=kept)
        answers[kept] = (got[0], (data / "Jane Doe/day 1/eels.dm3.json").read_bytes())
    with_sources, without = answers[True][0], answers[False][0]
    assert with_sources.sources and without.sources == {}
    assert without.nx_meta == with_sources.nx_meta
    assert answers[False][1] == answers[True][1]  # the same sidecar, every source in it
    fields = json.loads(answers[False][1])["datasets"][0]["fields"]
    assert {f["key"]: f["source"] for f in fields if f.get("source")} == with_sources.sources
