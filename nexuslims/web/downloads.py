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
from urllib.parse import unquote_to_bytes


class NotServed(Exception):
    """The file is not one the web face will serve; the message says why."""


def inside(root: Path, relative: str, *, within: Path | None = None,
           also: tuple[Path, ...] = ()) -> Path:
    """``relative`` (as a record writes it: URL-quoted from the name's bytes, forward
    slashes) under ``root``.

    A name may hold a backslash or bytes that are not UTF-8 (both legal on a POSIX
    share): the quoted bytes are decoded back to exactly that name. A location written
    with Windows separators (older records) is tried with ``/`` when the literal name
    is not there.

    Parameters
    ----------
    within
        A folder under ``root`` the file's real path must lie in (the instrument's own);
        ``also`` lists other folders allowed (``NX_INSTRUMENT_DATA_ROOTS``).

    Raises
    ------
    NotServed
        The path is empty, absolute, climbs with ``..``, resolves (through symlinks)
        outside ``root`` (or ``within``), or is not a regular file.
    """
    raw = unquote_to_bytes(relative)
    if not raw or b"\x00" in raw:
        raise NotServed("empty path")
    text = os.fsdecode(raw)
    candidates = [text] + ([text.replace("\\", "/")] if "\\" in text else [])
    problem = NotServed(f"no file {text[:120]!r}")
    for candidate in candidates:
        try:
            return _resolve(root, candidate, within, also)
        except NotServed as exc:
            problem = exc
    raise problem


def _resolve(root: Path, text: str, within: Path | None, also: tuple[Path, ...]) -> Path:
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise NotServed(f"absolute path {text[:120]!r}")
    if any(part == ".." for part in pure.parts):
        raise NotServed(f"path {text[:120]!r} leaves its folder")
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root / pure))
    if target != real_root and real_root not in target.parents:
        raise NotServed(f"{text[:120]!r} resolves outside {root}")
    if within is not None:
        allowed = [Path(os.path.realpath(p)) for p in (within, *also)]
        if not any(target == a or a in target.parents for a in allowed):
            raise NotServed(f"{text[:120]!r} resolves outside its instrument's folder")
    if not target.is_file():
        raise NotServed(f"no file {text[:120]!r}")
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
