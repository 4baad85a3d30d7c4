"""The extract stage on a Dask worker: one file in, plain data out.

A worker may not see ``NX_DATA_PATH``: then it draws the previews in a private temporary
folder and hands back their PNG bytes with the datasets, as a :class:`PlainFile`, and the
coordinator writes previews and the sidecar (:func:`store_plain`, with the same functions
and in the same places as a local pass). A worker that sees ``NX_DATA_PATH`` at the
coordinator's own path (shown, file by file, by a marker file the coordinator put there
for the pass: :func:`extract_shared`) writes them itself, as a local pool's worker does,
and hands back only the datasets. See docs/cluster.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Iterator
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


@contextlib.contextmanager
def pass_marker(data_root: Path) -> Iterator[str | None]:
    """A file with a random name made under ``data_root`` while the block runs (its
    path; None if it cannot be made): a worker that sees it there sees ``NX_DATA_PATH``
    where this process does, and may write previews and sidecars itself."""
    marker = Path(data_root) / f".nexuslims-pass-{secrets.token_hex(8)}"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch(exist_ok=False)
    except OSError as exc:
        logger.info("Dask workers will hand previews back: no marker in %s (%s)",
                    data_root, exc)
        yield None
        return
    try:
        yield str(marker)
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()


_SEEN_MARKERS: set[str] = set()
"""Markers this worker process has seen (a pass's marker is looked at once, not per file)."""


def extract_shared(path: Path, instrument_root: Path, data_root: Path,
                   context: ExtractionContext, previews: bool,
                   fingerprint: dict[str, Any] | None, marker: str,
                   sources: bool) -> list[Dataset] | PlainFile:
    """On a Dask worker: :func:`extract_one` writing previews and the sidecar under
    ``data_root`` itself, as a local worker does, when ``marker`` (a file the coordinator
    made under ``data_root`` for this pass, with a random name) is there and its folder
    writable: the worker sees ``NX_DATA_PATH`` where the coordinator does. Otherwise
    :func:`extract_plain`, and the coordinator writes them (:func:`store_plain`). Datasets
    come back without each value's source unless ``sources`` (the sidecar keeps them); never
    raises for the file's sake."""
    if marker not in _SEEN_MARKERS:
        # seen where the coordinator put it, and writable (a read-only mount hands back)
        if not (os.path.isfile(marker) and os.access(os.path.dirname(marker), os.W_OK)):
            return extract_plain(path, instrument_root, context, previews)
        _SEEN_MARKERS.add(marker)
    quiet_hyperspy()
    try:
        datasets = extract_one(path, instrument_root, data_root, context, previews,
                               fingerprint)
    except Exception as exc:  # noqa: BLE001 - one bad file never fails the stage
        if isinstance(exc, MemoryError):
            reason = "ran out of memory on its Dask worker"
        else:
            logger.exception("extraction of %s failed", path)
            reason = f"extraction failed: {exc}"
        # As extract_plain and store_plain answer it: a basic dataset, and its sidecar.
        datasets = _failed(Path(path), instrument_root, context, reason)
        _write_sidecar(Path(data_root), datasets[0].location, datasets,
                       datasets[0].extractor, fingerprint=fingerprint)
    if not sources:
        for dataset in datasets:
            dataset.sources = {}
    return datasets
