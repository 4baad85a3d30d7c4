"""Which files the web face serves: only those a record references, inside their root.

A record names each dataset's file (``location``, under ``NX_INSTRUMENT_DATA_PATH``)
and preview (``preview``, under ``NX_DATA_PATH``); the sidecar is the location plus
``.json`` under ``NX_DATA_PATH``. URLs carry the record id and the dataset's number,
never a path, and the path the record gives is resolved (symlinks followed) and must
stay inside its root. So ``..``, absolute paths, symlinks out of the root and
URL-encoded tricks in a record, or in a URL, lead nowhere.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote


class NotServed(Exception):
    """The file is not one the web face will serve; the message says why."""


def inside(root: Path, relative: str) -> Path:
    """``relative`` (as a record writes it: URL-quoted, forward slashes) under ``root``.

    Raises
    ------
    NotServed
        The path is empty, absolute, climbs with ``..``, resolves (through symlinks)
        outside ``root``, or is not a regular file.
    """
    text = unquote(relative).replace("\\", "/")
    if not text or "\x00" in text:
        raise NotServed("empty path")
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise NotServed(f"absolute path {text!r}")
    if any(part == ".." for part in pure.parts):
        raise NotServed(f"path {text!r} leaves its folder")
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root / pure))
    if target != real_root and real_root not in target.parents:
        raise NotServed(f"{text!r} resolves outside {root}")
    if not target.is_file():
        raise NotServed(f"no file {text!r}")
    return target


def record_file(records_root: Path, record_path: str) -> Path:
    """The record's XML file, which must lie inside the records folder.

    ``record_path`` is the absolute path the builder wrote. A web server on another
    host may mount the builder's records folder under another path: then the file of
    that name directly in ``records_root`` is the record.
    """
    real_root = Path(os.path.realpath(records_root))
    target = Path(os.path.realpath(record_path))
    if real_root in target.parents and target.is_file():
        return target
    name = PurePosixPath(record_path.replace("\\", "/")).name
    moved = Path(os.path.realpath(real_root / name)) if name not in ("", ".", "..") else None
    if moved is not None and moved.parent == real_root and moved.is_file():
        return moved
    raise NotServed(f"record file {record_path} is not inside {records_root}")
