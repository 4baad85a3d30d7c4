"""``nexuslims extract PATH...``: metadata (and previews) of files, no configuration needed.

Paths may be files or folders (read recursively). With ``--json`` each dataset is one
JSON object per line on stdout: ``{"file", "dataset", "extractor", "nx_meta",
"preview", "error"}``; otherwise a readable summary per file. Previews are drawn only
when ``--preview-dir`` is given (into that folder, mirroring the paths, next to JSON
sidecars); without it nothing is written anywhere. Counters go to stderr at the end.
Times are read in the machine's local timezone.
"""

from __future__ import annotations

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


def run_extract(
    paths: list[str],
    *,
    json_out: bool,
    no_preview: bool,
    preview_dir: str | None,
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

    Returns
    -------
    int
        0 when it ran, whatever the files held; 2 when a path does not exist.
    """
    from nexuslims.extraction import extract_files
    from nexuslims.extractors.base import ExtractionContext

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    files, missing = _collect(paths)
    if missing:
        for raw in missing:
            print(f"nexuslims extract: no such file or folder: {raw}", file=err)
        return EXIT_USAGE
    local = dt.datetime.now().astimezone().tzinfo or dt.UTC
    root = _common_root(files)
    data_root = Path(preview_dir) if preview_dir else None
    datasets = extract_files(
        files,
        instrument_root=root,
        data_root=data_root,
        context=ExtractionContext(timezone=local),
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
                "preview": str(ds.preview) if ds.preview else None,
                "error": ds.error,
            }, ensure_ascii=False, default=str), file=out)
    if not json_out:
        for location, group in by_file.items():
            print(f"{location}  [{group[0].extractor}]", file=out)
            for ds in group:
                meta = ds.nx_meta
                print(f"  {ds.name}: {ds.dataset_type} / {meta.get('Data Type', '?')}, "
                      f"{meta.get('Creation Time', '?')}, {len(meta)} fields", file=out)
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
