"""Open a file through its RosettaSciIO reader and keep what the reader itself read.

Separate from :mod:`._common` because it imports HyperSpy (on call only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import dig


def load_with_file_metadata(path: Path, reader: str | None, **kwargs: Any
                            ) -> list[tuple[Any, dict[str, Any], dict[str, str]]]:
    """Signals of ``path`` with the metadata *the file* gave, before any library default.

    HyperSpy/exspy fill EDS signals with defaults on creation (an energy resolution of
    130 eV, a stage tilt of 0); the reader's own dictionaries do not have them. For each
    signal: (signal, the reader's ``metadata`` tree with its ``original_metadata``
    mapping applied, {dotted metadata path: file key}).
    """
    import copy
    import importlib
    import types

    from nexuslims.extractors._quiet import quiet_hyperspy

    quiet_hyperspy()
    import hyperspy.api  # noqa: F401 - registers the signal classes
    from hyperspy.io import load_with_reader
    from rsciio import IO_PLUGINS

    ext = path.suffix.lstrip(".").lower()
    plugin = next((p for p in IO_PLUGINS if p["name"] == reader), None) or next(
        p for p in IO_PLUGINS if ext in [e.lower() for e in p["file_extensions"]])
    module = importlib.import_module(plugin["api"])
    captured: list[tuple[dict[str, Any], dict[str, str]]] = []

    def file_reader(filename: str, **kw: Any) -> list[dict[str, Any]]:
        dicts = module.file_reader(filename, **kw)
        for d in dicts:
            tree = copy.deepcopy(d.get("metadata") or {})
            sources = {p: f"reader:{p}" for p in _leaf_paths(tree)}
            for opath, (mpath, func) in (d.get("mapping") or {}).items():
                value = dig(d.get("original_metadata") or {}, *opath.split("."))
                if value is None:
                    continue
                value = func(value) if func is not None else value
                if value is None:
                    continue
                node = tree
                *parents, leaf = mpath.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = value
                sources[mpath] = f"om:{opath}"
            captured.append((tree, sources))
        return dicts

    proxy = types.ModuleType(f"nexuslims_capture_{plugin['name']}")
    proxy.file_reader = file_reader  # type: ignore[attr-defined]
    proxy.__loader__ = module.__loader__
    kwargs.setdefault("lazy", True)
    loaded = load_with_reader(str(path), proxy, **kwargs)
    signals = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    return [(s, tree, sources) for s, (tree, sources) in zip(signals, captured, strict=True)]


def _leaf_paths(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.extend(_leaf_paths(value, name))
        else:
            out.append(name)
    return out
