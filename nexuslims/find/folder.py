"""Whether an instrument's folder can be searched at all: its filestore path, the
folder itself, and the share's mount point or marker."""

from __future__ import annotations

import os
import stat
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nexuslims.config import Settings
    from nexuslims.model.session import Instrument


def filestore_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an instrument's filestore path (absolute, climbing out of
    ``NX_INSTRUMENT_DATA_PATH`` with ``..``, empty), or None if it can."""
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
        return (f"filestore path {path}: must be relative to NX_INSTRUMENT_DATA_PATH "
                "(e.g. Titan or microscopy/Titan)")
    if ".." in PurePosixPath(path.replace("\\", "/")).parts:
        return f"filestore path {path}: must stay inside NX_INSTRUMENT_DATA_PATH (no '..')"
    if not path.strip():
        return "filestore path: must not be empty"
    return None


def instrument_folder_problem(settings: Settings, instrument: Instrument) -> str | None:
    """Why ``instrument``'s folder cannot be searched (a filestore path that leaves
    ``NX_INSTRUMENT_DATA_PATH``, missing, unreadable), or None."""
    if settings.instrument_data_path is None:
        return "NX_INSTRUMENT_DATA_PATH is not set"
    fix = (f"mount the share or fix its filestore_path (`nexuslims instruments edit "
           f"{instrument.pid} --filestore-path ...`)")
    # The database may have been written by other hands than `instruments add`.
    problem = filestore_path_problem(instrument.filestore_path)
    if problem is not None:
        return f"{problem}: not searched; fix it with `nexuslims instruments edit " \
            f"{instrument.pid} --filestore-path ...`"
    folder = settings.instrument_data_path / instrument.filestore_path
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            return f"{folder} is not a directory: {fix}"
    except FileNotFoundError:
        return f"folder {folder} does not exist: {fix}"
    except OSError as exc:
        return f"folder {folder} cannot be reached ({exc.strerror or exc}): {fix}"
    try:
        with os.scandir(folder) as entries:
            next(entries, None)  # a stale NFS handle or EACCES shows only when reading
    except OSError as exc:
        return f"folder {folder} cannot be read ({exc.strerror or exc}): {fix}"
    return None


def share_problem(settings: Settings) -> str | None:
    """Why the instrument share is not there by the site's own test (mount point, marker
    file), or None; without NX_INSTRUMENT_DATA_MOUNT or _MARKER there is no test."""
    root, share = settings.instrument_data_path, settings.share
    if root is None:
        return None
    if share.is_mount and not os.path.ismount(root):
        return (f"NX_INSTRUMENT_DATA_PATH={root} is not a mount point "
                "(NX_INSTRUMENT_DATA_MOUNT=true): mount the instruments' share")
    if share.marker is not None and not (root / share.marker).exists():
        return (f"{root / share.marker} is missing (NX_INSTRUMENT_DATA_MARKER): is the "
                "instruments' share mounted?")
    return None
