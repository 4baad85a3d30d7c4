"""The ``eln`` destination: a ``.eln`` package (zipped RO-Crate 1.2) per session.

With ``NX_ELN_EXPORT=true``, each record ``<name>.xml`` gets ``<name>.eln`` in
``NX_ELN_EXPORT_PATH`` (default: beside the record), which eLabFTW, Kadi4Mat, RSpace,
SampleDB, PASTA and the other ELN Consortium tools import. The zip holds one folder,
``<name>/``, with ``ro-crate-metadata.json`` (see :mod:`nexuslims.export.crate`), the
XML record, and per activity its instrument files, previews and JSON sidecars.
Instrument files of ``NX_ELN_MAX_FILE_MB`` (default 99) megabytes or more are
referenced, not embedded (eLabFTW's importer skips files of 100 MB or more): by the web
face's download link (``NX_WEB_PUBLIC_URL/raw?...``) when it serves raw files
(``NX_WEB_SERVE_RAW_FILES=true``), else by their ``file:`` URI on the file store.

The package is written to a temporary file and moved into place, and is the same bytes
whenever it is made from the same record and files (fixed member times and order), so
a rebuilt session replaces it and an unchanged one compares equal.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from lxml import etree

from nexuslims.atomic import atomic_file
from nexuslims.config import number_setting
from nexuslims.export.base import ExportResult, Failure, RecordFile, Target, setting, truthy
from nexuslims.export.crate import Crate, build_crate
from nexuslims.export.summary import RecordSummary, read_summary

if TYPE_CHECKING:
    from nexuslims.config import Settings

SUFFIX = ".eln"
DEFAULT_MAX_FILE_MB = 99.0
MB = 1_000_000
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Every member's time: the package depends on content only."""


def web_links(env: Mapping[str, str], session_identifier: str) -> dict[str, str]:
    """``{"Web page": <the session's page>}`` when ``NX_WEB_PUBLIC_URL`` is set."""
    base = setting(env, "NX_WEB_PUBLIC_URL")
    if not base:
        return {}
    return {"Web page": f"{base.rstrip('/')}/sessions/{quote(session_identifier, safe='')}"}


def raw_links(env: Mapping[str, str], summary: RecordSummary) -> dict[str, str]:
    """Where the web face serves each file of the record, when it serves raw files.

    ``{NX_WEB_PUBLIC_URL}/raw?session=<id>&location=<as in the record>``; empty unless
    ``NX_WEB_PUBLIC_URL`` is set and ``NX_WEB_SERVE_RAW_FILES`` is true.
    """
    base = setting(env, "NX_WEB_PUBLIC_URL")
    if not base or not truthy(env, "NX_WEB_SERVE_RAW_FILES"):
        return {}
    query = "session=" + quote(summary.session_identifier, safe="")
    return {loc: f"{base.rstrip('/')}/raw?{query}&location={quote(loc, safe='')}"
            for loc in summary.locations}


def published_links(published: Mapping[str, str]) -> dict[str, str]:
    """Links to where other destinations put the record, for extra fields."""
    names = {"cdcs": "CDCS record"}
    return {names[k]: v for k, v in published.items()
            if k in names and v.startswith(("http://", "https://"))}


def max_file_mb(env: Mapping[str, str], problems: list[str]) -> float:
    """``NX_ELN_MAX_FILE_MB``: files this large or larger are referenced, not packed."""
    return number_setting(env, "NX_ELN_MAX_FILE_MB", DEFAULT_MAX_FILE_MB, problems,
                          minimum=0.000001, expects="a size in megabytes > 0 (e.g. 99; "
                          "eLabFTW's importer skips files of 100 MB or more)")


class ELNDestination:
    """Writes a ``.eln`` package for each record."""

    name = "eln"
    priority = 160

    @classmethod
    def check(cls, settings: Settings) -> list[str]:
        """Problems of the ``NX_ELN_*`` settings."""
        env = settings.env
        problems: list[str] = []
        if truthy(env, "NX_ELN_EXPORT") is None:
            problems.append(f"NX_ELN_EXPORT={env['NX_ELN_EXPORT']}: expects true or false")
        if settings.instrument_data_path is None:
            problems.append("NX_ELN_EXPORT=true needs NX_INSTRUMENT_DATA_PATH (the files "
                            "it packs)")
        raw = setting(env, "NX_ELN_EXPORT_PATH")
        if raw and not Path(raw).expanduser().is_absolute():
            problems.append(f"NX_ELN_EXPORT_PATH={raw}: expects an absolute directory path")
        max_file_mb(env, problems)
        license_url = setting(env, "NX_ELN_LICENSE")
        if license_url and not license_url.startswith(("https://", "http://")):
            problems.append(f"NX_ELN_LICENSE={license_url}: expects the URL of a license "
                            "(e.g. https://creativecommons.org/licenses/by/4.0/)")
        return problems

    def __init__(self, settings: Settings):
        assert settings.instrument_data_path is not None
        self.data_root = settings.instrument_data_path
        self.derived_root = settings.data_path
        self.env = dict(settings.env)
        raw = setting(self.env, "NX_ELN_EXPORT_PATH")
        self.directory = Path(raw).expanduser() if raw else None
        self.limit = int(max_file_mb(self.env, []) * MB)

    def target(self, record: RecordFile) -> Path:
        """Where the package of ``record`` goes."""
        return (self.directory or record.path.parent) / f"{record.name}{SUFFIX}"

    def export(self, record: RecordFile) -> ExportResult:
        """Write the package of ``record``; report, never raise."""
        target = self.target(record)
        if not self.data_root.is_dir():
            return ExportResult.failed(
                Failure.UNAVAILABLE, f"the instrument files cannot be read: {self.data_root} "
                                     "(NX_INSTRUMENT_DATA_PATH) is not a readable directory")
        try:
            summary = self.summary(record)
            crate = self.crate(summary, record)
            digest = write_package(target, record.name, crate)
        except etree.XMLSyntaxError as exc:
            return ExportResult.failed(Failure.REJECTED, f"record {record.path} is not XML: {exc}")
        except OSError as exc:
            where = exc.filename or target
            return ExportResult.failed(Failure.UNAVAILABLE,
                                       f"cannot write the package {target}: {where}: "
                                       f"{exc.strerror or exc}")
        url = target.resolve().as_uri()
        record.memory.remember(Target(None, url, {"path": str(target), "sha256": digest}))
        return ExportResult.ok(record_url=url, files=len(summary.files),
                               sha256=f"sha256:{digest}", referenced=crate.referenced or None,
                               missing=summary.missing or None)

    def summary(self, record: RecordFile) -> RecordSummary:
        """The record read back, with the files it names."""
        return read_summary(record.read(), session_identifier=record.session_identifier,
                            name=record.name, data_root=self.data_root,
                            derived_root=self.derived_root)

    def crate(self, summary: RecordSummary, record: RecordFile) -> Crate:
        """The package's metadata and files."""
        links = {**web_links(self.env, record.session_identifier),
                 **published_links(record.published)}
        return build_crate(summary, record.path, embed_limit=self.limit, links=links,
                           reference_url=raw_links(self.env, summary),
                           license_url=setting(self.env, "NX_ELN_LICENSE") or None)


def write_package(target: Path, folder: str, crate: Crate) -> str:
    """Zip ``crate`` under one top ``folder`` into ``target``, atomically; its sha256."""
    with atomic_file(target, durable=True) as out, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for sub in ["", *crate.folders]:
            info = zipfile.ZipInfo(f"{folder}/{sub}", ZIP_TIME)
            info.external_attr = (0o40755 << 16) | 0x10
            zf.writestr(info, b"")
        zf.writestr(_member(f"{folder}/ro-crate-metadata.json"), crate.metadata_bytes())
        for packed in crate.files:
            info = _member(f"{folder}/{packed.member}")
            with packed.source.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    with target.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
