"""``nexuslims extract --json``: standard output carries JSON lines only, whatever the
readers print (a real CLI process, real files, a real plug-in that prints and warns)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

NOISY_PLUGIN = '''
import logging, os, sys, warnings
from nexuslims.extractors.base import ExtractedDataset

handler = logging.StreamHandler(sys.stdout)  # as RosettaSciIO does, colours and all
logging.getLogger("noisy").addHandler(handler)


class NoisyExtractor:
    name = "noisy"
    extensions = frozenset({"noisy"})
    priority = 100

    def sniff(self, path):
        return True

    def extract(self, path, context):
        print("\\x1b[33mprinted by a reader\\x1b[0m")
        os.write(1, b"written to fd 1 by C code\\n")
        warnings.warn("a reader warning")
        logging.getLogger("noisy").warning("\\x1b[33mlogged to stdout\\x1b[0m")
        return [ExtractedDataset(path.name, "Misc", {"DatasetType": "Misc", "Noise": 1},
                                 "noisy")]
'''


def _run(args: list[str], site: Path | None = None) -> subprocess.CompletedProcess:
    paths = [str(REPO)] + ([str(site)] if site else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-m", "nexuslims", "extract", "--json", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]  # fails on any other line


@pytest.mark.slow
def test_a_rosettasciio_warning_becomes_the_datasets_warning_and_is_not_printed(corpus, tmp_path):
    # RosettaSciIO logs a coloured warning when an EMSA file's #DATE cannot be parsed; it
    # used to land on stdout ahead of the JSON lines. The corpus file with that one
    # header line made unreadable (Velox previews, which gave the warning before, no
    # longer go through RosettaSciIO's reader).
    original = (corpus / "msa/example1.msa").read_text(encoding="latin-1")
    assert "#DATE        : 01-OCT-1991" in original
    bad = tmp_path / "bad-date.msa"
    bad.write_text(original.replace("#DATE        : 01-OCT-1991", "#DATE        : 99-Foo-2001"),
                   encoding="latin-1")
    result = _run(["--preview-dir", str(tmp_path / "previews"), str(bad),
                   str(corpus / "digitalmicrograph/test-EDS_spectrum.dm3")])
    assert result.returncode == 0
    lines = _json_lines(result.stdout)
    assert len(lines) == 2 and "\x1b[" not in result.stdout + result.stderr
    # Kept with the dataset it concerns (in its sidecar and record), not printed.
    assert "RosettaSciIO" not in result.stderr
    (spectrum,) = [line for line in lines if line["file"].endswith("bad-date.msa")]
    assert any(w.startswith("reading the file: RosettaSciIO: Possibly malformed DATE")
               for w in spectrum["warnings"])


@pytest.mark.slow
def test_a_plugin_that_prints_and_warns_cannot_break_json_lines(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "noisy_plugin.py").write_text(NOISY_PLUGIN)
    dist = site / "noisy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: noisy-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[nexuslims.extractors]\nnoisy = noisy_plugin:NoisyExtractor\n")
    files = [tmp_path / f"f{i}.noisy" for i in range(9)]  # enough for a process pool
    for f in files:
        f.write_text("x")
    result = _run([str(f) for f in files], site)
    assert result.returncode == 0
    lines = _json_lines(result.stdout)
    assert [line["nx_meta"]["Noise"] for line in lines] == [1] * 9
    for noise in ("printed by a reader", "written to fd 1", "a reader warning",
                  "logged to stdout"):
        assert noise in result.stderr
