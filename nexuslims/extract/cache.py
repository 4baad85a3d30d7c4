"""Extraction cache: a file unchanged since its sidecar was written is not read again.

Every sidecar written with a clean extraction carries a ``"fingerprint"``: what the
metadata and previews were made from. When a session is built again (``sessions
reset``, a pass after a crash, two sessions sharing files), a file whose current
fingerprint equals the one in its sidecar, and whose previews are all still on disk,
gets its datasets from the sidecar; nothing reads the file. The fingerprint holds:

- the file: its path relative to the instrument data root (so a store mounted elsewhere
  keeps its cache), its size and its modification time in nanoseconds;
- what the extraction depends on beyond the file: the instrument's PID and timezone, a
  digest of its extraction profile's content, and whether previews were drawn;
- the software: nexuslims' version plus a digest of its extraction code (a development
  install changes without a new version number), the versions of the reader libraries
  (:data:`READER_LIBRARIES`), and every installed extractor and preview plug-in with
  its distribution's version. Installing or upgrading any of them re-reads every file
  once: which plug-in reads a file can change when one is added.
  These are the coordinating process's versions: extraction workers elsewhere (a Dask
  cluster) must run the same ones, as Dask itself expects.

A missing, unreadable or corrupt sidecar, a different fingerprint or a missing preview
PNG means the file is read again. A file any of whose datasets has an error (a reader
failure, a time or memory limit, a worker that died) is never cached: its sidecar gets
no fingerprint, so the next build tries it again (the cause may have passed, or a limit
been raised), at the cost of re-reading only the bad files. ``NX_EXTRACT_CACHE=off`` or
``nexuslims process --re-extract`` read every file; the sidecars they write are
fingerprinted for the next build.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nexuslims.extractors.base import ExtractionContext
from nexuslims.model.dataset import Dataset, relative_location

logger = logging.getLogger(__name__)

KEY = "fingerprint"
"""The sidecar key that holds the fingerprint."""

READER_LIBRARIES = ("rosettasciio", "hyperspy", "exspy", "tifffile", "pillow", "numpy",
                    "h5py")
"""Distributions whose version changes what is read from a file or drawn from it."""

PLUGIN_GROUPS = ("nexuslims.extractors", "nexuslims.previews")

# The package's own code that turns a file into a sidecar and previews.
_CODE = ("extractors", "previews", "model/dataset.py", "extract/one.py")


@dataclass
class CacheUse:
    """Whether :func:`~nexuslims.extract.stage.extract_files` may reuse sidecars, and
    (filled in by it) how many files it reused and how many it read."""

    enabled: bool = True
    reused: int = 0
    extracted: int = 0

    def summary(self) -> str:
        """E.g. ``"720 files: 700 reused from cache, 20 extracted"``."""
        total = self.reused + self.extracted
        if not self.enabled:
            return f"{total} files: {self.extracted} extracted (cache off)"
        return f"{total} files: {self.reused} reused from cache, {self.extracted} extracted"


@dataclass
class Plan:
    """Which files of an extraction are reused, and the fingerprint of each."""

    fingerprints: list[dict[str, Any] | None]
    """Per input file, what its sidecar records if its extraction is clean (None: no
    sidecar is written, or the file cannot be looked at)."""
    reused: dict[int, list[Dataset]] = field(default_factory=dict)
    """Input index -> the datasets read back from the file's sidecar."""

    @property
    def todo(self) -> list[int]:
        """Indexes of the files to read."""
        return [i for i in range(len(self.fingerprints)) if i not in self.reused]


def plan(paths: Sequence[Path], *, instrument_root: Path, data_root: Path | None,
         contexts: Sequence[ExtractionContext], previews: bool, reuse: bool) -> Plan:
    """Fingerprint ``paths`` (each read with its ``contexts`` entry: its session's
    instrument) and, with ``reuse``, find those whose sidecar still holds.

    The files are looked at (``stat``) here, before any is read: a file that changes
    while it is being read gets the older fingerprint, so the next build reads it again.
    """
    if data_root is None:  # nothing is written, nothing can be reused
        return Plan([None] * len(paths))
    prints = [fingerprint(p, location=relative_location(p, instrument_root),
                          context=context, previews=previews)
              for p, context in zip(paths, contexts, strict=True)]
    result = Plan(prints)
    if reuse:
        for i, (path, stamp) in enumerate(zip(paths, prints, strict=True)):
            if stamp is not None:
                datasets = reuse_sidecar(path, stamp, data_root=Path(data_root))
                if datasets is not None:
                    result.reused[i] = datasets
    return result


def fingerprint(path: Path, *, location: str, context: ExtractionContext,
                previews: bool) -> dict[str, Any] | None:
    """What the sidecar of ``path`` must record to be reused (None if it cannot be
    looked at: then it is read, and its reader says what is wrong)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"location": location, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "instrument": context.instrument, "timezone": _zone(context.timezone),
            "profile": _profile_digest(context.profile), "previews": previews,
            "software": software()}


def storable(stamp: dict[str, Any] | None, datasets: Sequence[Dataset]) -> dict[str, Any] | None:
    """``stamp`` if ``datasets`` may be reused later, else None (see the module text)."""
    if stamp is None or any(d.error is not None for d in datasets):
        return None
    if stamp.get("previews") and any(d.preview is None for d in datasets):
        return None  # a preview could not be written: draw it again next time
    return stamp


def reuse_sidecar(path: Path, stamp: dict[str, Any], *, data_root: Path) -> list[Dataset] | None:
    """The datasets recorded in ``path``'s sidecar if it carries ``stamp`` and every
    preview it names is still there; None when the file must be read."""
    location = stamp["location"]
    sidecar = data_root / (location + ".json")
    try:
        body = json.loads(sidecar.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # unreadable or corrupt: written again
        logger.info("%s: sidecar cannot be reused (%s); reading the file", sidecar, exc)
        return None
    if not isinstance(body, dict) or body.get(KEY) != stamp:
        return None
    try:
        extractor = str(body.get("extractor") or "basic")
        datasets = [_dataset(entry, path, location, stamp, data_root, sidecar, extractor)
                    for entry in body["datasets"]]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        logger.info("%s: sidecar cannot be reused (%s); reading the file", sidecar, exc)
        return None
    if any(d.preview is not None and not _drawn(d.preview) for d in datasets):
        logger.info("%s: a preview is missing; reading the file again", sidecar)
        return None
    return datasets


def _dataset(entry: dict[str, Any], path: Path, location: str, stamp: dict[str, Any],
             data_root: Path, sidecar: Path, extractor: str) -> Dataset:
    preview = entry["preview"]
    if stamp["previews"] and not preview:
        raise ValueError("a dataset has no preview")
    mtime_ns = int(stamp["mtime_ns"])
    return Dataset(
        name=str(entry["name"]),
        path=Path(os.path.abspath(path)),
        location=location,
        dataset_type=str(entry["dataset_type"]),
        nx_meta=dict(entry["nx_meta"]),
        unreliable=set(entry["unreliable"]),
        warnings=list(entry["warnings"]),
        extractor=extractor,
        error=None,
        preview=data_root / preview if preview else None,
        preview_location=preview or None,
        sidecar=sidecar,
        # As os.stat computes st_mtime, so the value equals a fresh read's.
        mtime=mtime_ns // 10**9 + (mtime_ns % 10**9) * 1e-9,
        sources={f["key"]: f["source"] for f in entry.get("fields", ())
                 if f.get("source") is not None},
    )


def _drawn(preview: Path) -> bool:
    try:
        return preview.stat().st_size > 0
    except OSError:
        return False


def _zone(tz: Any) -> str:
    return str(getattr(tz, "key", None) or tz)


def _profile_digest(profile: Any) -> str | None:
    if profile is None:
        return None
    text = json.dumps(asdict(profile), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def software() -> dict[str, Any]:
    """The versions a sidecar's content depends on (computed once per ``sys.path``)."""
    return _software(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _software(search_path: tuple[str, ...]) -> dict[str, Any]:
    import nexuslims

    versions: dict[str, Any] = {"nexuslims": f"{nexuslims.__version__}+{_code_digest()}"}
    for name in READER_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    plugins = []
    for group in PLUGIN_GROUPS:
        try:
            found = importlib.metadata.entry_points(group=group)
        except Exception as exc:  # noqa: BLE001 - broken metadata: no plug-in is known
            logger.warning("cannot list %s plug-ins: %s", group, exc)
            continue
        for ep in found:
            dist = getattr(ep, "dist", None)
            plugins.append(f"{group}:{ep.name}={ep.value} "
                           f"({dist.name if dist else '?'} {dist.version if dist else '?'})")
    versions["plugins"] = sorted(plugins)
    return versions


@functools.cache
def _code_digest() -> str:
    """A digest of the package's extraction code: a changed extractor re-reads files."""
    root = Path(__file__).parent.parent
    digest = hashlib.sha256()
    for name in _CODE:
        base = root / name
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base]
        for file in files:
            try:
                digest.update(file.relative_to(root).as_posix().encode())
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"?")
    return digest.hexdigest()[:12]
