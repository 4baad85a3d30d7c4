"""Text files (notes, logs, CSV tables, settings): size, lines, encoding, first line."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ._common import finish, put
from ._time import stamp
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta

_SNIFF_BYTES = 8192
_CHUNK = 1 << 20
_FIRST_LINE_CHARS = 200


def guess_encoding(head: bytes) -> str:
    """The encoding of a text file from its first bytes: a BOM, else UTF-8/ASCII, else Latin-1."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("ascii")
        return "ascii"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the read limit is still UTF-8
        return "utf-8" if exc.start >= len(head) - 3 else "latin-1"


def _text_preview(path: Path):
    def render(out: Path) -> None:
        from nexuslims.previews import render_text_file

        render_text_file(path, out)

    return render


class TextExtractor:
    """Plain-text files: ``.txt``, ``.log``, ``.csv``/``.tsv``, ``.md``, settings and JSON/XML."""

    name = "text"
    format_name = "text file"
    extensions = frozenset(
        {"txt", "log", "csv", "tsv", "md", "ini", "cfg", "conf", "json", "xml", "yaml", "yml"}
    )
    priority = 5

    def sniff(self, path: Path) -> bool:
        """The first bytes hold no NUL (or a UTF-16 byte-order mark explains them)."""
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
        return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" not in head

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One Misc dataset describing the text."""
        meta = Meta()
        warnings: list[str] = []
        size = path.stat().st_size
        lines = 0
        last = b""
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
            encoding = guess_encoding(head)
            newline = "\n".encode(_utf16(head)) if encoding == "utf-16" else b"\n"
            chunk = head
            while chunk:
                lines += chunk.count(newline)
                last = chunk
                chunk = stream.read(_CHUNK)
        if size and not last.endswith(newline):
            lines += 1  # a last line without a line break
        text = head.decode(encoding, errors="replace")
        first = next((line for line in text.splitlines() if line.strip()), "")
        meta["Data Dimensions"] = f"({lines},)"
        put(meta, "File Size (bytes)", size)
        put(meta, "Line Count", lines)
        put(meta, "Encoding", encoding)
        put(meta, "First Line", first[:_FIRST_LINE_CHARS])
        if path.suffix.lower() in (".csv", ".tsv"):
            _table(text, meta, warnings)
        unreliable: set[str] = set()
        stamp(meta, None, path, context.timezone, unreliable, warnings)
        return [ExtractedDataset(
            name=path.name, dataset_type="Misc", extractor=self.name,
            nx_meta=finish(meta, dataset_type="Misc", data_type="Text", extractor=self.name,
                           default_source="text:content"),
            unreliable=unreliable, warnings=warnings, render_preview=_text_preview(path))]


def _utf16(head: bytes) -> str:
    return "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be"


def _table(text: str, meta: dict[str, Any], warnings: list[str]) -> None:
    """Delimiter and column count of a CSV/TSV from its first lines."""
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        warnings.append("could not tell the table's delimiter")
        return
    header = next(csv.reader([sample.splitlines()[0]], dialect), []) if sample else []
    put(meta, "Delimiter", {"\t": "tab"}.get(dialect.delimiter, dialect.delimiter))
    put(meta, "Column Count", len(header))
