"""``nexuslims extract PATH...``: metadata (and previews) of files, no configuration needed.

Paths may be files or folders (read recursively). With ``--json`` each dataset is one
JSON object per line on stdout: ``{"file", "dataset", "extractor", "nx_meta",
"preview", "error"}``; otherwise a readable summary per file. Previews are drawn only
when ``--preview-dir`` is given (into that folder, mirroring the paths, next to JSON
sidecars); without it nothing is written anywhere. Counters go to stderr at the end.

Wall-clock times in files are read in ``--timezone`` (an IANA name), else the machine's
zone, at the date of each file (so DST is right). Each JSON line also carries
``fields`` (value, unit, file key, EM Glossary term of every value), ``time_source`` and
``warnings``. Whatever the reader libraries print goes to stderr: standard output
carries the JSON lines only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

EXIT_OK = 0
EXIT_USAGE = 2


def _collect(paths: list[str]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        else:
            missing.append(raw)
    return files, missing


def _common_root(files: list[Path]) -> Path:
    if not files:
        return Path.cwd()
    parents = [str(Path(os.path.abspath(f)).parent) for f in files]
    return Path(os.path.commonpath(parents))


@contextlib.contextmanager
def _stdout_to_stderr():
    """While reading files, file descriptor 1 (and ``sys.stdout``) point at stderr.

    Libraries print warnings to stdout (RosettaSciIO's coloured log handler holds
    ``sys.stdout``; C code writes to fd 1); worker processes inherit the descriptor. The
    caller gets a text stream on the original stdout for its own output.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded interpreter): nothing to protect
        yield sys.stdout
        return
    real = os.fdopen(os.dup(saved), "w", encoding="utf-8", closefd=True)
    os.dup2(2, 1)
    try:
        yield real
    finally:
        real.flush()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        real.close()


def parse_timezone(name: str | None) -> dt.tzinfo:
    """The IANA zone ``name`` (``ValueError`` if unknown), else the machine's zone."""
    if not name:
        from nexuslims.extractors._time import local_zone

        return local_zone()
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as "
                         "Europe/Berlin or America/New_York") from exc


def run_extract(
    paths: list[str],
    *,
    json_out: bool,
    no_preview: bool,
    preview_dir: str | None,
    timezone: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Extract the files under ``paths`` and print what they hold.

    Parameters
    ----------
    paths
        Files or folders (folders are read recursively).
    json_out
        One JSON object per dataset per line instead of the readable summary.
    no_preview
        Draw no previews even when ``preview_dir`` is given.
    preview_dir
        Folder for previews and JSON sidecars (mirroring the paths below their common
        folder); None writes nothing.
    timezone
        IANA zone of the files' wall-clock times; None: this machine's zone.

    Returns
    -------
    int
        0 when it ran, whatever the files held; 2 when a path does not exist.
    """
    err = stderr or sys.stderr
    try:
        zone = parse_timezone(timezone)
    except ValueError as exc:
        print(f"nexuslims extract: {exc}", file=err)
        return EXIT_USAGE
    files, missing = _collect(paths)
    if missing:
        for raw in missing:
            print(f"nexuslims extract: no such file or folder: {raw}", file=err)
        return EXIT_USAGE
    if stdout is not None:
        return _run(files, json_out, no_preview, preview_dir, zone, stdout, err)
    with _stdout_to_stderr() as real_stdout:
        return _run(files, json_out, no_preview, preview_dir, zone, real_stdout, err)


def _run(files: list[Path], json_out: bool, no_preview: bool, preview_dir: str | None,
         zone: dt.tzinfo, out: TextIO, err: TextIO) -> int:
    from nexuslims.extract.stage import extract_files
    from nexuslims.extractors.base import ExtractionContext
    from nexuslims.extractors.fields import field_records

    root = _common_root(files)
    data_root = Path(preview_dir) if preview_dir else None
    datasets = extract_files(
        files,
        instrument_root=root,
        data_root=data_root,
        context=ExtractionContext(timezone=zone),
        previews=not no_preview,
    )
    by_file: dict[str, list] = {}
    for ds in datasets:
        by_file.setdefault(ds.location, []).append(ds)
    for ds in datasets:
        if json_out:
            print(json.dumps({
                "file": str(ds.path),
                "dataset": ds.name,
                "extractor": ds.extractor,
                "nx_meta": ds.nx_meta,
                "time_source": ds.nx_meta.get("Creation Time Source"),
                "fields": field_records(ds.nx_meta, ds.sources),
                "warnings": ds.warnings,
                "preview": str(ds.preview) if ds.preview else None,
                "error": ds.error,
            }, ensure_ascii=False, default=str), file=out)
    if not json_out:
        for location, group in by_file.items():
            print(f"{location}  [{group[0].extractor}]", file=out)
            for ds in group:
                meta = ds.nx_meta
                print(f"  {ds.name}: {ds.dataset_type} / {meta.get('Data Type', '?')}, "
                      f"{meta.get('Creation Time', '?')} "
                      f"({meta.get('Creation Time Source', '?')}), {len(meta)} fields", file=out)
                if ds.preview:
                    print(f"    preview: {ds.preview}", file=out)
                if ds.error:
                    print(f"    error: {ds.error}", file=out)
                for warning in ds.warnings:
                    if warning != ds.error:
                        print(f"    warning: {warning}", file=out)
    size = sum(f.stat().st_size for f in files if f.exists())
    by_extractor = Counter(ds.extractor for ds in datasets)
    failed = sum(1 for ds in datasets if ds.error)
    parts = ", ".join(f"{name} {count}" for name, count in sorted(by_extractor.items()))
    print(f"files: {len(files)} ({size} bytes); datasets: {len(datasets)}"
          f" ({parts or 'none'}); failed: {failed}", file=err)
    return EXIT_OK
