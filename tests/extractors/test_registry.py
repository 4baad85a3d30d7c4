"""The registry: choice by extension, sniff and priority; the fallback; plug-ins."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nexuslims.extractors import registry
from nexuslims.extractors.base import ExtractedDataset, ExtractionContext
from nexuslims.extractors.registry import Declaration, Registry

CTX = ExtractionContext()


class Fake:
    """A test extractor answering for ``.abc`` files whose content starts with a magic."""

    format_name = "Fake format"

    def __init__(self, name="fake", priority=0, magic=b"", fail=False, ext=("abc",)):
        self.name = name
        self.priority = priority
        self.magic = magic
        self.fail = fail
        self.extensions = frozenset(ext)

    def sniff(self, path: Path) -> bool:
        return path.read_bytes().startswith(self.magic)

    def extract(self, path, context):
        if self.fail:
            raise ValueError("bad header")
        return [ExtractedDataset(path.name, "Image", {"DatasetType": "Image"}, self.name)]


def empty_registry(*extractors) -> Registry:
    reg = Registry(declarations=(), entry_points=False)
    for ex in extractors:
        reg.register(ex)
    return reg


def test_highest_priority_accepting_extractor_wins(tmp_path):
    f = tmp_path / "a.abc"
    f.write_bytes(b"MAGIC rest")
    low, high = Fake("low", 1), Fake("high", 5, magic=b"MAGIC")
    assert empty_registry(low, high).select(f) is high


def test_sniff_refusal_passes_to_the_next_extractor(tmp_path):
    f = tmp_path / "a.abc"
    f.write_bytes(b"other")
    low, high = Fake("low", 1), Fake("high", 5, magic=b"MAGIC")
    assert empty_registry(low, high).select(f) is low


def test_extension_is_matched_case_insensitively(tmp_path):
    f = tmp_path / "A.ABC"
    f.write_bytes(b"x")
    ex = Fake()
    assert empty_registry(ex).select(f) is ex


def test_no_extractor_gives_basic_file_information(tmp_path):
    f = tmp_path / "notes.qqq"
    f.write_bytes(b"hello")
    [ds] = empty_registry().extract(f, CTX)
    assert ds.extractor == "basic"
    assert ds.dataset_type == "Unknown"
    meta = ds.nx_meta
    assert meta["Data Type"] == "Unknown"
    assert meta["File Size (bytes)"] == 5
    assert meta["File Name"] == "notes.qqq"
    assert "+00:00" in meta["Creation Time"]
    assert meta["MIME Type"] == "application/octet-stream"
    assert ds.error is None


def test_sniff_refusal_everywhere_gives_basic_with_warning(tmp_path):
    f = tmp_path / "a.abc"
    f.write_bytes(b"nope")
    [ds] = empty_registry(Fake(magic=b"MAGIC")).extract(f, CTX)
    assert ds.extractor == "basic"
    assert any("does not look like Fake format" in w for w in ds.warnings)
    assert ds.error is not None and "does not look like Fake format" in ds.error


def test_raising_extractor_becomes_basic_with_error(tmp_path):
    f = tmp_path / "a.abc"
    f.write_bytes(b"x")
    [ds] = empty_registry(Fake(fail=True)).extract(f, CTX)
    assert ds.extractor == "basic"
    assert ds.error == "could not read as Fake format: ValueError: bad header"
    assert ds.error in ds.warnings


def test_raising_sniff_counts_as_refusal(tmp_path):
    f = tmp_path / "a.abc"
    f.write_bytes(b"x")
    bad = Fake("bad", 9)
    bad.sniff = lambda p: 1 / 0
    good = Fake("good", 1)
    assert empty_registry(bad, good).select(f) is good


def test_extractor_returning_garbage_becomes_basic(tmp_path):
    f = tmp_path / "a.abc"
    f.write_bytes(b"x")
    ex = Fake()
    ex.extract = lambda p, c: {"not": "a list"}
    [ds] = empty_registry(ex).extract(f, CTX)
    assert ds.extractor == "basic" and "not datasets" in ds.error


def test_missing_declared_module_is_skipped():
    reg = Registry(
        declarations=(
            Declaration("nexuslims.extractors.not_written_yet", "Nope"),
            Declaration("nexuslims.extractors.basic", "NoSuchClass"),
        ),
        entry_points=False,
    )
    assert reg.extractors() == []
    assert reg.known_extensions() == frozenset()


def test_vanished_file_still_answers(tmp_path):
    [ds] = empty_registry().extract(tmp_path / "gone.dm3", CTX)
    assert ds.extractor == "basic"
    assert any("could not stat" in w for w in ds.warnings)


def test_known_extensions_are_those_of_real_extractors():
    exts = registry.Registry(entry_points=False).known_extensions()
    assert {"dm3", "dm4", "ser", "emi", "emd", "bcf", "spx", "spc", "msa", "hspy", "mrc"} <= exts
    assert "" not in exts
    assert "xyz" not in exts


def test_builtin_choice_for_corpus_like_names(tmp_path):
    reg = registry.Registry(entry_points=False)
    f = tmp_path / "x.dm3"
    f.write_bytes(b"\x00\x00\x00\x03" + b"\x00" * 20)
    assert reg.select(f).name == "digitalmicrograph"


def test_importing_registry_does_not_load_readers():
    code = textwrap.dedent(
        """
        import sys
        from nexuslims.extractors import known_extensions, select
        from pathlib import Path
        known_extensions()
        select(Path("x.dm3"))
        heavy = [m for m in ("hyperspy", "rsciio", "exspy", "matplotlib") if m in sys.modules]
        print(",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


PLUGIN_MODULE = '''
from nexuslims.extractors.base import ExtractedDataset

class WidgetExtractor:
    name = "widget"
    format_name = "Widget"
    extensions = frozenset({"wdg"})
    priority = 10

    def sniff(self, path):
        return True

    def extract(self, path, context):
        return [ExtractedDataset(path.name, "Misc", {"DatasetType": "Misc", "Widget": 1}, "widget")]
'''


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A throwaway distribution on sys.path declaring one good and one broken plug-in."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "widget_plugin.py").write_text(PLUGIN_MODULE)
    dist = site / "widget_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: widget-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[nexuslims.extractors]\n"
        "widget = widget_plugin:WidgetExtractor\n"
        "broken = widget_plugin_missing:Nothing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("widget_plugin", None)
    registry.reload()


def test_entry_point_plugin_is_loaded_and_broken_one_skipped(plugin_path, tmp_path, caplog):
    reg = registry.reload()
    assert "wdg" in reg.known_extensions()
    f = tmp_path / "thing.wdg"
    f.write_text("w")
    [ds] = registry.extract(f, CTX)
    assert ds.extractor == "widget" and ds.nx_meta["Widget"] == 1
    assert any("broken" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


def test_preview_generator_for_images_and_text():
    reg = Registry(declarations=(), entry_points=False)
    assert reg.preview_generator(Path("a.PNG")).name == "image"
    assert reg.preview_generator(Path("a.txt")).name == "text"
    assert reg.preview_generator(Path("a.dm3")) is None
