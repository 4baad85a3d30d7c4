"""The fallback extractor: what any file says about itself without being opened."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from ._common import provenance
from ._time import stamp
from .base import ExtractedDataset, ExtractionContext
from .fields import Meta

NAME = "basic"


def basic_dataset(
    path: Path,
    context: ExtractionContext,
    *,
    error: str | None = None,
    warnings: list[str] | None = None,
) -> ExtractedDataset:
    """Name, size, modification time and MIME guess of ``path``, as one Unknown dataset.

    Never raises: a file that vanished or cannot be stat-ed yields what is known.
    """
    meta = Meta({"DatasetType": "Unknown", "Data Type": "Unknown"})
    meta.sources["Data Type"] = f"format:{NAME}"  # nothing in the file was read
    notes = list(warnings or [])
    unreliable: set[str] = set()
    try:
        stat = path.stat()
        stamp(meta, None, path, context.timezone, unreliable, notes)
        meta.set("File Size (bytes)", stat.st_size, "filesystem:size")
    except OSError as exc:
        notes.append(f"could not stat file: {exc.strerror or exc}")
    meta.set("File Name", path.name, "filesystem:name")
    mime, _ = mimetypes.guess_type(path.name)
    meta.set("MIME Type", mime or "application/octet-stream", "filesystem:name")
    meta.update(provenance(NAME))
    if error and error not in notes:
        notes.append(error)
    return ExtractedDataset(
        name=path.name,
        dataset_type="Unknown",
        nx_meta=meta,
        extractor=NAME,
        unreliable=unreliable,
        warnings=notes,
        error=error,
    )


class BasicExtractor:
    """Answers for any file: basic file information, DatasetType ``Unknown``."""

    name = NAME
    format_name = "basic file information"
    extensions: frozenset[str] = frozenset()
    priority = -1_000_000

    def sniff(self, path: Path) -> bool:
        """Always accepts."""
        return True

    def extract(self, path: Path, context: ExtractionContext) -> list[ExtractedDataset]:
        """One Unknown dataset with the file's name, size, mtime and MIME type."""
        return [basic_dataset(path, context)]
