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
    # Drawing this pruned Velox file's preview makes RosettaSciIO log a coloured warning;
    # it used to land on stdout ahead of the JSON lines.
    emd = corpus / "emd/Test SI 16x16 ReducedData 215 kx.emd"
    result = _run(["--preview-dir", str(tmp_path), str(emd),
                   str(corpus / "digitalmicrograph/test-EDS_spectrum.dm3")])
    assert result.returncode == 0
    lines = _json_lines(result.stdout)
    assert len(lines) == 11 and "\x1b[" not in result.stdout + result.stderr
    # Kept with the dataset it concerns (in its sidecar and record), not printed.
    assert "RosettaSciIO" not in result.stderr
    (spectrum_image,) = [line for line in lines if line["nx_meta"].get("DatasetType")
                         == "SpectrumImage"]
    assert any(w.startswith("preview: RosettaSciIO: No spectrum stream")
               for w in spectrum_image["warnings"])


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
