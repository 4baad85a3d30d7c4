"""The extract stage on a Dask worker: one file in, plain data out, nothing written.

A worker may not see ``NX_DATA_PATH`` (and should not write to it): it draws the previews
in a private temporary folder and hands back their PNG bytes with the datasets, as a
:class:`PlainFile`. The coordinator writes previews and the sidecar
(:func:`store_plain`, with the same functions and in the same places as a local pass).
See docs/cluster.md.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexuslims.atomic import write_atomically
from nexuslims.extract.one import _failed, _write_sidecar, extract_one
from nexuslims.extractors._quiet import quiet_hyperspy
from nexuslims.extractors.base import ExtractionContext
from nexuslims.model.dataset import Dataset

logger = logging.getLogger(__name__)


@dataclass
class PlainFile:
    """One file's extraction as a Dask worker hands it back: datasets (paths as the
    worker sees them) and each dataset's preview PNG (None when none could be drawn)."""

    datasets: list[Dataset]
    previews: list[bytes | None]


def extract_plain(path: Path, instrument_root: Path, context: ExtractionContext,
                  previews: bool) -> PlainFile:
    """:func:`extract_one` on a worker that need not see NX_DATA_PATH: previews drawn in a
    private temporary folder and returned as bytes; never raises for the file's sake."""
    import tempfile

    quiet_hyperspy()
    with tempfile.TemporaryDirectory(prefix="nexuslims-") as tmp:
        try:
            datasets = extract_one(path, instrument_root, Path(tmp), context, previews,
                                   sidecar=False)
        except MemoryError:
            datasets = _failed(Path(path), instrument_root, context,
                               "ran out of memory on its Dask worker")
        except Exception as exc:  # noqa: BLE001 - one bad file never fails the stage
            logger.exception("extraction of %s failed", path)
            datasets = _failed(Path(path), instrument_root, context,
                               f"extraction failed: {exc}")
        pngs = [d.preview.read_bytes() if d.preview is not None else None
                for d in datasets]
    for d in datasets:
        d.preview = None
    return PlainFile(datasets, pngs)


def store_plain(plain: PlainFile, path: Path, data_root: Path | None,
                fingerprint: dict[str, Any] | None = None) -> list[Dataset]:
    """In the coordinator: a worker's :class:`PlainFile` as datasets of ``path`` (this
    machine's path), with its previews and sidecar written under ``data_root``."""
    datasets = plain.datasets
    for d, png in zip(datasets, plain.previews, strict=True):
        d.path = Path(os.path.abspath(path))
        if data_root is None:  # nothing is written: no preview to point at
            d.preview_location = None
        if png is None or data_root is None or d.preview_location is None:
            continue
        target = Path(data_root) / d.preview_location
        try:
            write_atomically(target, png)
            d.preview = target
        except OSError as exc:
            d.preview_location = None
            d.warnings.append(f"no preview: {type(exc).__name__}: {exc}")
    if data_root is not None and datasets:
        _write_sidecar(Path(data_root), datasets[0].location, datasets,
                       datasets[0].extractor, fingerprint=fingerprint)
    return datasets
