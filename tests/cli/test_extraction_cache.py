"""The extraction cache (issue 12): a rebuilt session reads only what changed.

Real passes through ``nexuslims process`` on real instrument files, plus a real plug-in
extractor, installed through the ``nexuslims.extractors`` entry point, that writes down
every file it reads. That a corpus file was not read again is seen on disk: its sidecar
and previews are the very files (inode and modification time) of the first build, since
every write replaces them atomically.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import cli

pytestmark = pytest.mark.corpus

START = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)

COUNTING_PLUGIN = '''
from pathlib import Path
from nexuslims.extractors.base import ExtractedDataset


class CountingExtractor:
    """Reads a .count file: its first word is a log to append its name to; a second
    word "fail" makes the read fail after it was counted."""

    name = "counting"
    extensions = frozenset({"count"})
    priority = 10

    def sniff(self, path):
        return True

    def extract(self, path, context):
        words = Path(path).read_text().split()
        with open(words[0], "a") as log:
            log.write(Path(path).name + "\\n")
        if words[1:] == ["fail"]:
            raise RuntimeError("asked to fail")
        meta = {"DatasetType": "Misc", "Data Type": "Misc", "Zone": str(context.timezone)}
        return [ExtractedDataset(Path(path).name, "Misc", meta, "counting")]
'''

CORPUS_FILES = ("digitalmicrograph/test_STEM_image.dm3", "msa/example1.msa",
                "tiff/FEI-Helios-Ebeam-8bits.tif")


def counting_plugin(site: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the counting plug-in (distribution version ``version``) from ``site``."""
    from nexuslims.extractors import registry

    site.mkdir(parents=True)
    (site / "counting_nexuslims_plugin.py").write_text(COUNTING_PLUGIN)
    dist = site / f"counting_nexuslims_plugin-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: counting-nexuslims-plugin\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(
        "[nexuslims.extractors]\ncounting = counting_nexuslims_plugin:CountingExtractor\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    sys.modules.pop("counting_nexuslims_plugin", None)
    registry.reload()


class World:
    """A CLI site with instrument "scope" and one session over three corpus files and
    two counted files (``good.count``, and ``bad.count`` whose read fails)."""

    def __init__(self, site, capsys, corpus: Path, monkeypatch: pytest.MonkeyPatch):
        self.site, self.capsys = site, capsys
        self.store = site.root / "instr/Scope"
        self.data = site.root / "data"
        self.log = site.root / "reads.log"
        counting_plugin(site.root / "plugin-1.0", "1.0", monkeypatch)
        for n, name in enumerate(CORPUS_FILES):
            target = self.store / Path(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(corpus / name, target)
            self.stamp(target.name, minutes=10 + n)
        (self.store / "good.count").write_text(f"{self.log}\n")
        self.stamp("good.count", minutes=20)
        (self.store / "bad.count").write_text(f"{self.log} fail\n")
        self.stamp("bad.count", minutes=21)
        assert self.run("instruments", "add", "scope", "--filestore-path", "Scope",
                        "--timezone", "UTC")[0] == 0
        assert self.run("sessions", "add", "scope", "--start", "2024-03-05T09:00:00+00:00",
                        "--end", "2024-03-05T12:00:00+00:00", "--id", "s1")[0] == 0

    def stamp(self, name: str, minutes: float) -> None:
        when = (START + dt.timedelta(minutes=minutes)).timestamp()
        os.utime(self.store / name, (when, when))

    def run(self, *args: str) -> tuple[int, str, str]:
        return cli(self.capsys, *args)

    def build(self, *options: str, reset: bool = True) -> str:
        """(Re)build session s1; what ``process`` printed."""
        if reset:
            assert self.run("sessions", "reset", "s1")[0] == 0
        code, out, err = self.run("process", *options)
        assert code == 0, err
        assert "s1 [scope]" in out and "COMPLETED" in out, out + err
        return out

    def reads(self) -> list[str]:
        """Files the plug-in read, in order; forgets them."""
        text = self.log.read_text() if self.log.exists() else ""
        self.log.unlink(missing_ok=True)
        return sorted(text.split())

    def outputs(self) -> dict[str, tuple[int, int]]:
        """Sidecar or preview name -> (inode, mtime in ns): a rewrite changes both."""
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
                for p in (self.data / "Scope").iterdir()}

    def rewritten(self, before: dict[str, tuple[int, int]]) -> set[str]:
        """The files among ``before``'s sidecars and previews that were written since."""
        after = self.outputs()
        return {Path(n).name.split(".")[0] for n in before if after.get(n) != before[n]}

    def record(self) -> bytes:
        return next((self.data / "records").glob("*.xml")).read_bytes()


@pytest.fixture
def world(cli_site, capsys, corpus, monkeypatch):
    yield World(cli_site, capsys, corpus, monkeypatch)
    from nexuslims.extractors import registry

    monkeypatch.undo()  # the plug-in off sys.path before the registry forgets it
    registry.reload()


ALL = {"test_STEM_image", "example1", "FEI-Helios-Ebeam-8bits", "good", "bad"}


@pytest.mark.slow
def test_a_rebuilt_session_reads_no_file_again_and_gets_the_same_record(world):
    world.build(reset=False)
    assert world.reads() == ["bad.count", "good.count"]
    first, outputs = world.record(), world.outputs()
    assert len(outputs) == 10  # a sidecar and a preview per file

    out = world.build()
    # The failed file is read again (its cause may have passed); nothing else is.
    assert world.reads() == ["bad.count"]
    assert world.rewritten(outputs) == {"bad"}
    assert "4 file(s) reused from the extraction cache" in out
    assert world.record() == first
    logs = "".join(p.read_text() for p in (world.data / "logs").rglob("*.log"))
    assert "session s1: 5 files: 4 reused from cache, 1 extracted" in logs
    events = [json.loads(line) for p in (world.data / "logs").rglob("events.jsonl")
              for line in p.read_text().splitlines()]
    counts = [(e["reused"], e["extracted"]) for e in events if e["event"] == "extraction_cache"]
    # (Both passes run in this process: the second writes its events to both logs.)
    assert counts[0] == (0, 5) and set(counts[1:]) == {(4, 1)}


@pytest.mark.slow
def test_only_a_changed_file_or_a_damaged_sidecar_or_preview_is_read_again(world):
    world.build(reset=False)
    world.reads()

    outputs = world.outputs()
    world.stamp("good.count", minutes=25)  # a new modification time, same size
    world.build()
    assert world.reads() == ["bad.count", "good.count"]
    assert world.rewritten(outputs) == {"good", "bad"}

    outputs = world.outputs()
    sidecar = world.data / "Scope/test_STEM_image.dm3.json"
    sidecar.write_bytes(sidecar.read_bytes()[:200])  # corrupt: cut short
    (world.data / "Scope/example1.msa.thumb.png").unlink()
    world.build()
    assert world.reads() == ["bad.count"]
    assert world.rewritten(outputs) == {"test_STEM_image", "example1", "bad"}
    assert (world.data / "Scope/example1.msa.thumb.png").stat().st_size > 0

    outputs = world.outputs()
    (world.store / "good.count").write_text(f"{world.log}  \n")  # a new size, same mtime
    world.stamp("good.count", minutes=25)
    world.build()
    assert world.reads() == ["bad.count", "good.count"]
    assert world.rewritten(outputs) == {"good", "bad"}


@pytest.mark.slow
def test_what_the_extraction_depends_on_invalidates_the_cache(world, monkeypatch):
    world.build(reset=False)
    world.reads()

    def everything_read_again() -> None:
        outputs = world.outputs()
        world.build()
        assert world.reads() == ["bad.count", "good.count"]
        assert world.rewritten(outputs) == ALL

    def only_the_failed_file_read_again() -> None:
        outputs = world.outputs()
        world.build()
        assert world.reads() == ["bad.count"]
        assert world.rewritten(outputs) == {"bad"}

    # The instrument's timezone (the session window is in UTC: the same files).
    assert world.run("instruments", "edit", "scope", "--timezone", "Europe/Paris")[0] == 0
    everything_read_again()
    meta = (world.data / "Scope/good.count.json").read_text()
    assert "Europe/Paris" in meta

    # The instrument's extraction profile: added, then its content changed.
    profiles = world.site.root / "profiles"
    profiles.mkdir()
    (profiles / "scope.toml").write_text('[defaults]\n"Operator" = "ann"\n')
    with open(world.site.root / ".env", "a") as env:
        env.write(f"NX_LOCAL_PROFILES_PATH={profiles}\n")
    everything_read_again()
    only_the_failed_file_read_again()
    (profiles / "scope.toml").write_text('[defaults]\n"Operator" = "bob"\n')
    everything_read_again()
    assert '"bob"' in (world.data / "Scope/test_STEM_image.dm3.json").read_text()

    # A new version of the plug-in extractor.
    counting_plugin(world.site.root / "plugin-1.1", "1.1", monkeypatch)
    everything_read_again()

    # A new version of a reader library (a distribution that shadows the installed one).
    shadow = world.site.root / "upgraded"
    (shadow / "tifffile-9999.1.1.dist-info").mkdir(parents=True)
    (shadow / "tifffile-9999.1.1.dist-info/METADATA").write_text(
        "Metadata-Version: 2.1\nName: tifffile\nVersion: 9999.1.1\n")
    monkeypatch.syspath_prepend(str(shadow))
    everything_read_again()
    sidecar = json.loads((world.data / "Scope/example1.msa.json").read_text())
    assert _values_of(sidecar, "tifffile") == ["9999.1.1"]  # in the fingerprint's versions
    only_the_failed_file_read_again()

    # Asked to: for one pass, or by the setting.
    world.build("--re-extract")
    assert world.reads() == ["bad.count", "good.count"]
    only_the_failed_file_read_again()
    with open(world.site.root / ".env", "a") as env:
        env.write("NX_EXTRACT_CACHE=off\n")
    everything_read_again()
    everything_read_again()


def test_an_unknown_NX_EXTRACT_CACHE_value_says_what_it_expects(cli_site, capsys) -> None:
    with open(cli_site.root / ".env", "a") as env:
        env.write("NX_EXTRACT_CACHE=sometimes\n")
    code, out, err = cli(capsys, "process")
    assert code == 1 and out == ""  # a configuration problem, as every setting's
    assert "NX_EXTRACT_CACHE=sometimes: expects 'on'" in err and "Traceback" not in err
    assert not (cli_site.root / "data").exists()


def _values_of(tree: object, key: str) -> list[object]:
    """Every value stored under ``key`` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == key] + [
            found for v in tree.values() for found in _values_of(v, key)]
    if isinstance(tree, list):
        return [found for v in tree for found in _values_of(v, key)]
    return []
