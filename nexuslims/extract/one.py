"""One file through the extract stage: its datasets, their previews and its JSON sidecar.

What a worker runs for each file (:func:`extract_one`, or :func:`_safe_extract_one` which
never raises), and what a file past a limit gets instead (:func:`_failed`). The stage
(:mod:`nexuslims.extract.stage`) hands files to workers; this module reads one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nexuslims.atomic import write_atomically
from nexuslims.extractors._quiet import reader_messages
from nexuslims.extractors.base import ExtractedDataset, ExtractionContext
from nexuslims.model.dataset import Dataset, relative_location

logger = logging.getLogger(__name__)


def preview_path(data_root: Path, location: str, index: int, total: int) -> Path:
    """Where the preview of dataset ``index`` (1-based) of ``total`` goes."""
    suffix = ".thumb.png" if total == 1 else f".{index}.thumb.png"
    return data_root / (location + suffix)


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    from nexuslims.extractors._common import scalar

    return {str(k): scalar(v) for k, v in meta.items()}


def _render(ds: ExtractedDataset, source: Path, out: Path) -> tuple[bool, str | None]:
    """Draw ``ds``'s preview to ``out`` atomically; (written, warning)."""
    from nexuslims.extractors._common import without_path
    from nexuslims.extractors.registry import EMPTY_FILE, preview_generator

    out.parent.mkdir(parents=True, exist_ok=True)
    renderer: Callable[[Path], None] | None = ds.render_preview
    owner = renderer
    if renderer is None and ds.error != EMPTY_FILE:
        generator = preview_generator(source)
        if generator is not None:
            owner = generator.render

            def renderer(target: Path, _gen: Any = generator) -> None:
                _gen.render(source, target)
    # nexuslims's own renderers write atomically (previews.save_png) and always write or
    # raise; a plug-in's draws into a temporary file, checked and moved into place.
    tmp = out if _own(owner) else out.with_name(f".{out.name}.{os.getpid()}.tmp.png")
    warning = None
    try:
        from nexuslims.previews import render_placeholder

        if renderer is None:
            render_placeholder(out, "empty file" if ds.error == EMPTY_FILE
                               else "the file could not be read" if ds.error
                               else f"no preview for {source.suffix or 'this'} files")
            return True, None
        try:
            renderer(tmp)
            if tmp != out and (not tmp.is_file() or tmp.stat().st_size == 0):
                raise RuntimeError("renderer wrote no image")
        except Exception as exc:  # noqa: BLE001 - any drawing failure gets a placeholder
            said = without_path(str(exc), source)
            warning = f"preview could not be drawn ({type(exc).__name__}: {said}); " \
                      "a placeholder is shown"
            render_placeholder(tmp, f"preview failed: {said}")
        if tmp != out:
            os.replace(tmp, out)
        return True, warning
    except Exception as exc:  # noqa: BLE001 - even the placeholder failed: no preview
        if tmp != out:
            tmp.unlink(missing_ok=True)
        return False, f"no preview: {type(exc).__name__}: {exc}"


def _own(renderer: Any) -> bool:
    """Whether ``renderer`` is one of nexuslims's own (an extractor's closure or method)."""
    module = getattr(renderer, "__module__", None) or ""
    return module == "nexuslims" or module.startswith("nexuslims.")


def extract_one(
    path: Path,
    instrument_root: Path,
    data_root: Path | None,
    context: ExtractionContext,
    previews: bool = True,
    fingerprint: dict[str, Any] | None = None,
    *,
    sidecar: bool = True,
) -> list[Dataset]:
    """Extract one file: datasets, and (with ``data_root``) its previews and (with
    ``sidecar``) its sidecar.

    ``fingerprint`` (:mod:`nexuslims.extract.cache`) goes into the sidecar if the
    extraction is clean, so that a later build may reuse it.
    """
    from nexuslims.extractors.registry import extract

    path = Path(path)
    location = relative_location(path, instrument_root)
    outside = _outside(path, context)
    if outside is not None:
        logger.warning("%s: %s", path, outside)
        refused = [Dataset(name=path.name, path=Path(os.path.abspath(path)), location=location,
                           dataset_type="Unknown", nx_meta={"DatasetType": "Unknown",
                                                            "Data Type": "Unknown"},
                           warnings=[], extractor="basic", error=outside, mtime=0.0)]
        if data_root is not None and sidecar:
            _write_sidecar(Path(data_root), location, refused, "basic")
        return refused
    try:
        st = path.stat()
        mtime, before = st.st_mtime, (st.st_size, st.st_mtime_ns)
    except OSError:
        mtime, before = 0.0, None
    with reader_messages() as reading:  # the readers' own notices, kept with the file
        extracted = extract(path, context)
    changed = _changed_while_read(path, fingerprint, before)
    if changed:
        # Still being written (a copy in progress): what was read may be cut short, so
        # it is said, and not kept for reuse: the next build reads the file again.
        logger.warning("%s %s", path, changed)
        fingerprint = None
        for ds in extracted[:1]:
            ds.warnings.append(f"the file {changed}: its metadata may be incomplete; it is "
                               "read again on the next build")
    if context.profile is not None:  # the site's corrections for this instrument
        from nexuslims.extractors.profiles import apply_profile

        extracted = apply_profile(extracted, context.profile)
    total = len(extracted)
    out: list[Dataset] = []
    for index, ds in enumerate(extracted, 1):
        warnings = list(ds.warnings)
        if index == 1:  # about the file: said once, with its first dataset
            warnings.extend(f"reading the file: {m}" for m in _plain(reading, path)
                            if m not in warnings)
        preview = preview_loc = None
        if previews and data_root is not None:
            target = preview_path(Path(data_root), location, index, total)
            with reader_messages() as drawing:
                written, warning = _render(ds, path, target)
            if warning:
                warnings.append(warning)
            warnings.extend(f"preview: {m}" for m in _plain(drawing, path))
            if written:
                preview = target
                preview_loc = relative_location(target, Path(data_root))
        out.append(
            Dataset(
                name=ds.name,
                path=Path(os.path.abspath(path)),
                location=location,
                dataset_type=ds.dataset_type,
                nx_meta=_json_safe(ds.nx_meta),
                unreliable=set(ds.unreliable),
                warnings=warnings,
                extractor=ds.extractor,
                error=ds.error,
                preview=preview,
                preview_location=preview_loc,
                mtime=mtime,
                sources=dict(ds.sources),
            )
        )
    if data_root is not None and sidecar:
        _write_sidecar(Path(data_root), location, out,
                       out[0].extractor if out else _chosen(path), fingerprint=fingerprint)
    return out


def _plain(messages: list[str], path: Path) -> list[str]:
    """The readers' notices about ``path`` with its server path written as its name."""
    if not messages:
        return messages
    from nexuslims.extractors._common import without_path

    return [without_path(m, path) for m in messages]


def _outside(path: Path, context: ExtractionContext) -> str | None:
    """Why ``path`` may not be read: it resolves outside its instrument's folder (a file
    swapped for a symlink after the walk); None when it may, or nothing is checked."""
    if not context.allowed_roots:
        return None
    real = os.path.realpath(path)
    # Resolved here, where the file is read (a worker may mount the share elsewhere).
    for allowed in context.allowed_roots:
        root = os.path.realpath(allowed)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return None
    return ("not read: it now resolves outside its instrument's folder (replaced by a "
            "symlink since it was found?)")


def _size_and_mtime(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _changed_while_read(path: Path, fingerprint: dict[str, Any] | None,
                        before: tuple[int, int] | None) -> str | None:
    """How the file's size or modification time changed since it was found (the
    fingerprint, taken before extraction) or since its reading began; None if not."""
    after = _size_and_mtime(path)
    if after is None:
        return None
    seen = [before] if before is not None else []
    if fingerprint is not None and "size" in fingerprint:
        seen.insert(0, (fingerprint["size"], fingerprint["mtime_ns"]))
    for size, mtime_ns in seen:
        if (size, mtime_ns) != after:
            return (f"changed since it was found or while it was read (size {size:,} -> "
                    f"{after[0]:,} bytes, modified {(after[1] - mtime_ns) / 1e9:+.3f} s later)")
    return None


def _write_sidecar(data_root: Path, location: str, datasets: list[Dataset],
                   extractor: str, fingerprint: dict[str, Any] | None = None) -> None:
    """``<location>.json`` under ``data_root``, atomically; notes a failure on the datasets."""
    from nexuslims.extract import cache as extraction_cache
    from nexuslims.extractors.fields import field_records

    sidecar = data_root / (location + ".json")
    body: dict[str, Any] = {
        "file": location,
        "extractor": extractor,
        "datasets": [
            {
                "name": d.name,
                "dataset_type": d.dataset_type,
                "nx_meta": d.nx_meta,
                "unreliable": sorted(d.unreliable),
                "warnings": d.warnings,
                "error": d.error,
                "preview": d.preview_location,
                "fields": field_records(d.nx_meta, d.sources),
            }
            for d in datasets
        ],
    }
    # Only a clean extraction is stamped for reuse by the extraction cache.
    stamp = extraction_cache.storable(fingerprint, datasets)
    if stamp is not None:
        body[extraction_cache.KEY] = stamp
    try:
        # A name that is not UTF-8 holds lone surrogates: written as JSON \udcXX escapes.
        # Not indented: indenting makes json use its pure-Python encoder (3.7x the CPU).
        write_atomically(sidecar, json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                                             default=str).encode("utf-8", "backslashreplace"))
        for d in datasets:
            d.sidecar = sidecar
    except OSError as exc:
        logger.warning("could not write %s: %s", sidecar, exc)
        for d in datasets:
            d.warnings.append(f"sidecar not written: {exc}")


def _chosen(path: Path) -> str:
    from nexuslims.extractors.registry import select

    try:
        return str(select(path).name)
    except Exception:  # noqa: BLE001
        return "basic"


def _safe_extract_one(*args: Any) -> list[Dataset]:
    """:func:`extract_one` that turns even an unexpected crash into a basic dataset."""
    path, instrument_root, data_root, context = args[:4]
    try:
        return extract_one(*args)
    except MemoryError:
        raise  # in a worker: the pool reports the memory ceiling and replaces the worker
    except Exception as exc:  # noqa: BLE001 - one bad file never fails the stage
        logger.exception("extraction of %s failed", path)
        return _failed(Path(path), instrument_root, context, f"extraction failed: {exc}")


def _failed(path: Path, instrument_root: Path, context: ExtractionContext,
            reason: str) -> list[Dataset]:
    from nexuslims.extractors.basic import basic_dataset

    ds = basic_dataset(path, context, error=reason)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return [Dataset(name=ds.name, path=Path(os.path.abspath(path)), mtime=mtime,
                        location=relative_location(Path(path), instrument_root),
                        dataset_type=ds.dataset_type, nx_meta=_json_safe(ds.nx_meta),
                        warnings=ds.warnings, extractor=ds.extractor, error=ds.error)]
