"""A dataset of the record: one extracted signal, with where its file, sidecar and preview live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Dataset:
    """One dataset of the record: an extracted signal with where it lives."""

    name: str
    """``"<file name>"``, or ``"<file name> (i of N)"`` for multi-signal files."""
    path: Path
    """Absolute path of the file it came from."""
    location: str
    """Path relative to the instrument data root, with forward slashes (not yet URL-quoted)."""
    dataset_type: str
    nx_meta: dict[str, Any]
    unreliable: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    extractor: str = "basic"
    error: str | None = None
    preview: Path | None = None
    """Absolute path of the PNG preview, or None if none could be made."""
    preview_location: str | None = None
    """Preview path relative to NX_DATA_PATH (forward slashes), or None."""
    sidecar: Path | None = None
    mtime: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)
    """nx_meta key -> where in the file the value came from."""

    def __getstate__(self) -> dict[str, Any]:
        # Paths travel from workers as text: unpickling a Path rebuilds it from its parts
        # (15 us each, three per dataset), Path(text) is a third of that.
        state = dict(self.__dict__)
        for name in _PATHS:
            if state.get(name) is not None:
                state[name] = os.fspath(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in _PATHS:
            if state.get(name) is not None:
                state[name] = Path(state[name])
        self.__dict__.update(state)


_PATHS = ("path", "preview", "sidecar")


def relative_location(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes (the file name if outside it)."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.name
