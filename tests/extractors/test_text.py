"""Text files: line count, encoding, size and first line; the first lines as preview."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nexuslims.extractors.text import TextExtractor, guess_encoding

EX = TextExtractor()


def test_plain_text_file(tmp_path: Path, denver) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("\nSample A, grid 3\nbeam 200 kV\nno trailing newline")
    (ds,) = EX.extract(path, denver)
    meta = ds.nx_meta
    assert ds.dataset_type == meta["DatasetType"] == "Misc"
    assert meta["Data Type"] == "Text"
    assert meta["Line Count"] == 4
    assert meta["First Line"] == "Sample A, grid 3"
    assert meta["Encoding"] == "ascii"
    assert meta["File Size (bytes)"] == path.stat().st_size
    assert meta["Creation Time"][-6:] in ("-07:00", "-06:00")
    assert meta["Extractor"] == "text"


@pytest.mark.parametrize(
    ("raw", "encoding", "first"),
    [
        ("Probe 5 µm\nok\n".encode(), "utf-8", "Probe 5 µm"),
        (b"\xef\xbb\xbfBOM first\n", "utf-8-sig", "BOM first"),
        ("Temp 20 °C\r\nok\r\n".encode("utf-16"), "utf-16", "Temp 20 °C"),
        ("Temp 20 °C\nok\n".encode("latin-1"), "latin-1", "Temp 20 °C"),
    ],
)
def test_encodings(tmp_path: Path, utc, raw: bytes, encoding: str, first: str) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(raw)
    assert EX.sniff(path)
    (ds,) = EX.extract(path, utc)
    assert ds.nx_meta["Encoding"] == encoding == guess_encoding(raw[:8192])
    assert ds.nx_meta["First Line"] == first
    assert ds.nx_meta["Line Count"] == 2 - (encoding == "utf-8-sig")


def test_csv_columns_and_delimiter(tmp_path: Path, utc) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time;current;voltage\n0;1.5;200\n1;1.4;200\n")
    (ds,) = EX.extract(path, utc)
    assert (ds.nx_meta["Delimiter"], ds.nx_meta["Column Count"]) == (";", 3)


def test_big_log_is_counted_in_chunks(tmp_path: Path, utc) -> None:
    path = tmp_path / "big.log"
    path.write_text("".join(f"{i:08d} stage moved\n" for i in range(300_000)))
    (ds,) = EX.extract(path, utc)
    assert ds.nx_meta["Line Count"] == 300_000


def test_binary_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_bytes(b"abc\x00\x01\x02")
    assert not EX.sniff(tmp_path / "b.txt")


def test_preview_renders_first_lines(tmp_path: Path, utc) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Session notes\n" + "\n".join(f"- item {i} " * 8 for i in range(60)))
    (ds,) = EX.extract(path, utc)
    out = tmp_path / "p.png"
    ds.render_preview(out)
    with Image.open(out) as image:
        pixels = np.asarray(image.convert("L"))
    assert pixels.shape == (500, 500)
    assert (pixels < 128).sum() > 2000


@pytest.mark.corpus
def test_corpus_readme(corpus: Path, utc) -> None:
    (ds,) = EX.extract(corpus / "README.md", utc)
    assert ds.nx_meta["First Line"] == "# Real instrument files for tests"
    assert ds.nx_meta["Line Count"] > 10
