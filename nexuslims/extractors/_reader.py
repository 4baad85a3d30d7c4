"""Open a file through its RosettaSciIO reader, as HyperSpy signals of the base classes.

Separate from :mod:`._common` because it imports HyperSpy (on call only).

Only what reading needs is imported: RosettaSciIO's reader for this format, HyperSpy's
loading machinery and its base signal classes (not ``hyperspy.api``), and dask without
``sparse`` (:mod:`._imports`). A signal whose type an extension package provides (EELS,
EDS: exspy) is built as HyperSpy's base class of its dimension with its
``signal_type`` kept: the extractors read its data, axes and metadata, which the base
class carries all of, and importing exspy costs seconds in every process that reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._common import dig
from ._post_process import map_into_metadata, mapped_values, post_process_in_dictionary

EAGER_MAX_BYTES = 32 * 1024 * 1024
"""Files of the :data:`UNCOMPRESSED` formats up to this size are read whole, the rest
lazily (as dask arrays, of which a preview computes only a frame, a strided view or
chunked sums). For a small file the dask graph costs more than the read: the corpus's DM
files take 16 % less CPU read whole, its TIA files 30 %, and previews draw the same
pixels."""

UNCOMPRESSED = frozenset({"DigitalMicrograph", "TIA", "MSA", "EDAX"})
"""RosettaSciIO formats whose data is stored as is, so that reading a file whole needs
about its size in memory. A compressed format (Bruker's BCF, HDF5 with filters) can
hold a spectrum image many times its file's size: it is always read lazily."""


def read_lazily(path: Path, reader: str) -> bool:
    """Whether ``path``, a file of RosettaSciIO's format ``reader``, is read lazily (see
    :data:`EAGER_MAX_BYTES`)."""
    if reader not in UNCOMPRESSED:
        return True
    try:
        return path.stat().st_size > EAGER_MAX_BYTES
    except OSError:
        return True


def _plugin(path: Path, reader: str | None) -> dict[str, Any]:
    """RosettaSciIO's declaration of ``reader`` (a format name), else of the extension."""
    from rsciio import IO_PLUGINS

    if reader:
        for plugin in IO_PLUGINS:
            names = [plugin["name"], *(plugin.get("name_aliases") or [])]
            if reader.lower() in (n.lower() for n in names):
                return plugin
    ext = path.suffix.lstrip(".").lower()
    for plugin in IO_PLUGINS:
        if ext in [e.lower() for e in plugin["file_extensions"]]:
            return plugin
    raise ValueError(f"no RosettaSciIO reader for {path.name}")


def _own_signal_types() -> frozenset[str]:
    """Signal types (and aliases) whose class HyperSpy itself provides."""
    from hyperspy.extensions import ALL_EXTENSIONS

    names: set[str] = set()
    for entry in ALL_EXTENSIONS["signals"].values():
        if str(entry.get("module", "")).startswith("hyperspy."):
            names.add(entry["signal_type"])
            names.update(entry.get("signal_type_aliases") or ())
    return frozenset(names)


class _Foreign:
    """Signal types HyperSpy has no class for: an extension's (EDS, EELS: exspy) or
    none at all (``CL`` without LumiSpy). Both are built as base classes with the
    type put back, so HyperSpy neither imports the extension nor logs that it does
    not understand the type (that is no warning about the data)."""

    def __init__(self) -> None:
        self.own = _own_signal_types()

    def __contains__(self, kind: object) -> bool:
        return bool(kind) and kind not in self.own


def _bind_base_signal() -> None:
    """Look ``hyperspy.signals.BaseSignal`` up once, not once per metadata item.

    ``hyperspy.signals`` resolves its names in a module ``__getattr__`` that calls
    ``importlib.import_module`` on every access, and HyperSpy's metadata copies (which
    its readers' squeeze and transpose make) ask for ``signals.BaseSignal`` once per
    item: 100,000 times, 40 % of the read, for a DM file with many tags. Binding the
    same class as a plain attribute changes nothing else.
    """
    import hyperspy.signals

    if "BaseSignal" not in vars(hyperspy.signals):
        hyperspy.signals.BaseSignal = hyperspy.signals.BaseSignal


def _memoize_slugify() -> None:
    """Remember HyperSpy's ``slugify`` of a string, for its metadata trees.

    A ``DictionaryTreeBrowser`` slugifies the name of every attribute it is asked for
    (its own methods' too) and every key it is given: 300 to 1,000 calls per signal read,
    nearly all of a few hundred names (Unicode normalisation, encoding, translation:
    about 5 % of reading a DM or TIA file). The function is pure, so remembering its
    answers for strings changes nothing else.
    """
    import functools

    from hyperspy.misc import _utils

    if getattr(_utils.slugify, "_nexuslims_memo", False):
        return
    plain = _utils.slugify
    remembered = functools.lru_cache(maxsize=8192)(plain)

    @functools.wraps(plain)
    def slugify(value: Any, valid_variable_name: bool = False) -> str:
        if type(value) is str and len(value) <= 256:  # names, not a file's long texts
            return remembered(value, valid_variable_name)
        return plain(value, valid_variable_name)

    slugify._nexuslims_memo = True  # type: ignore[attr-defined]
    _utils.slugify = slugify


def plain_deepcopy(value: Any) -> Any:
    """``copy.deepcopy`` of plain data (dictionaries, lists, strings, numbers, NumPy
    arrays), made by a pickle round trip in this process: the same copy, shared
    references included, at a fifth of the CPU (a DM4 file's tag tree: 6.1 -> 1.1 ms).
    Anything pickle cannot take is copied by ``copy.deepcopy``."""
    import copy
    import pickle

    try:
        return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - not plain data: the general copy
        return copy.deepcopy(value)


def _copy_plain_data_by_pickling(module: Any) -> None:
    """Have RosettaSciIO's DigitalMicrograph reader, which deep-copies the file's whole
    tag tree for every image (even in a file of one: ~12 % of reading it), use
    :func:`plain_deepcopy`, once per process."""
    import copy

    if getattr(module, "deepcopy", None) is copy.deepcopy:
        module.deepcopy = plain_deepcopy


def open_signals(path: Path, reader: str | None = None, *, capture: bool = False,
                 plain_tree: bool = False, **kwargs: Any) -> list[Any]:
    """Signals of ``path`` (lazily, unless small and uncompressed), read by RosettaSciIO.

    Parameters
    ----------
    path
        The file.
    reader
        RosettaSciIO format name (e.g. ``"DigitalMicrograph"``); None: by extension.
    capture
        Also give, per signal, the metadata *the file* gave (see
        :func:`load_with_file_metadata`); the items are then (signal, tree, sources).
    plain_tree
        Give, per signal, (signal, its ``original_metadata`` as a plain dictionary); a
        DigitalMicrograph signal's tag tree is then *not* put into the signal (see
        :func:`load_with_tags`).
    **kwargs
        Passed to the reader (``select_type``...); ``lazy`` defaults to (and ``None``
        means) :func:`read_lazily`: by the format and the file's size.
    """
    import importlib
    import types

    from nexuslims.extractors._imports import import_dask_array
    from nexuslims.extractors._quiet import quiet_hyperspy

    quiet_hyperspy()
    import_dask_array()
    from hyperspy.io import load_with_reader

    _bind_base_signal()
    _memoize_slugify()

    plugin = _plugin(path, reader)
    module = importlib.import_module(plugin["api"])
    if plugin["name"] == "DigitalMicrograph":
        _copy_plain_data_by_pickling(module)
    foreign = _Foreign()
    captured: list[tuple[dict[str, Any], dict[str, str]]] = []
    signal_types: list[str | None] = []
    deferred: list[tuple[dict[str, Any], list[tuple[str, Any]]] | None] = []

    def file_reader(filename: str, **kw: Any) -> list[dict[str, Any]]:
        dicts = module.file_reader(filename, **kw)
        if by_size and not kw.get("lazy") and any(map(_misfit, dicts)):
            raise _ReadLazily  # before HyperSpy builds (and post-processes) anything
        for d in dicts:
            if capture:
                captured.append(_file_given(d))
            if "metadata" not in d:
                continue  # not a signal: HyperSpy skips it too
            later = _defer_original_metadata(d, plugin["name"])
            post_process_in_dictionary(d, lazy=bool(kw.get("lazy")))
            if later is not None:  # its mapping, done on the tree (see _post_process)
                values = mapped_values(*later)
                # HyperSpy maps after its post-processing (whose copies drop some metadata)
                done = not d.get("post_process") and map_into_metadata(d, values)
                later = (later[0], [] if done else values)
            deferred.append(later)
            signal = d["metadata"].get("Signal") or {}
            kind = signal.get("signal_type")
            signal_types.append(kind)
            if kind in foreign:  # built as the base class; its type is put back below
                signal["signal_type"] = ""
        return dicts

    proxy = types.ModuleType(f"nexuslims_reader_{plugin['name']}")
    proxy.file_reader = file_reader  # type: ignore[attr-defined]
    proxy.__loader__ = module.__loader__
    by_size = kwargs.get("lazy") is None
    if by_size:
        kwargs["lazy"] = read_lazily(path, plugin["name"])
    try:
        loaded = load_with_reader(str(path), proxy, **kwargs)
        signals = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
        if by_size and not kwargs["lazy"] and not all(map(_axes_fit_data, signals)):
            raise _ReadLazily
    except _ReadLazily:
        # A reader whose eager path disagrees with its own data (RosettaSciIO's DM reader
        # on packed complex FFTs gives an axis one too long): read lazily, as before.
        return open_signals(path, reader, capture=capture, plain_tree=plain_tree,
                            **{**kwargs, "lazy": True})
    trees: list[dict[str, Any]] = []
    for signal, kind, later in zip(signals, signal_types, deferred, strict=True):
        if kind in foreign:
            signal.metadata.Signal.signal_type = kind
        if later is not None and plain_tree:
            _set_mapped(signal, later[1])
            trees.append(later[0])
        elif later is not None:
            _restore_original_metadata(signal, *later)
        elif plain_tree:
            trees.append(signal.original_metadata.as_dictionary())
    if plain_tree:
        return list(zip(signals, trees, strict=True))
    if capture:
        return [(s, tree, sources) for s, (tree, sources) in zip(signals, captured, strict=True)]
    return signals


def signals_from_dicts(dicts: list[dict[str, Any]], *, lazy: bool) -> list[Any]:
    """HyperSpy signals of a reader's dictionaries, as base classes keeping their
    ``signal_type`` (see :func:`open_signals`: no exspy for EDS or EELS)."""
    from nexuslims.extractors._quiet import quiet_hyperspy

    quiet_hyperspy()
    from hyperspy.io import dict2signal

    foreign = _Foreign()
    out = []
    for d in dicts:
        signal_md = d.setdefault("metadata", {}).setdefault("Signal", {})
        kind = signal_md.get("signal_type")
        if kind in foreign:
            signal_md["signal_type"] = ""
        signal = dict2signal(d, lazy=lazy)
        if kind in foreign:
            signal.metadata.Signal.signal_type = kind
        out.append(signal)
    return out


def _defer_original_metadata(d: dict[str, Any], reader: str
                             ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Take a DM signal's ``original_metadata`` (and mapping) out of its dictionary.

    RosettaSciIO's DigitalMicrograph reader has HyperSpy squeeze each signal (and turn
    spectra into 1-D signals) after building it; each step deep-copies the signal with
    its whole tag tree, a third of reading a DM file. Without the tree the copies are
    cheap (and mostly not made: :mod:`._post_process`); the mapping is done on the plain
    tree (:func:`._post_process.mapped_values`), and
    :func:`_restore_original_metadata` gives the signal its tree, unless the caller
    takes it as a plain dictionary.
    """
    if reader != "DigitalMicrograph" or not d.get("post_process"):
        return None
    return d.pop("original_metadata", None) or {}, d.pop("mapping", None) or {}


def _restore_original_metadata(signal: Any, tree: dict[str, Any],
                               values: list[tuple[str, Any]]) -> None:
    """The tree :func:`_defer_original_metadata` took, and the mapped ``values`` that
    could not go into the reader's dictionary (HyperSpy's mapping step, by
    ``set_item``)."""
    signal.original_metadata.add_dictionary(tree)
    _set_mapped(signal, values)


def _set_mapped(signal: Any, values: list[tuple[str, Any]]) -> None:
    for mpattr, value in values:
        signal.metadata.set_item(mpattr, value)


class _ReadLazily(Exception):
    """A file read whole whose axes do not fit its data: it is read again lazily."""


def _misfit(d: dict[str, Any]) -> bool:
    """Whether a reader's dictionary gives every axis a size and the signal HyperSpy
    builds of it cannot fit its data (:func:`_axes_fit_data`): the axes longer than 1,
    in the list's order (HyperSpy's), are not the data's dimensions longer than 1 (a
    squeeze or transposition changes neither)."""
    sizes = [a.get("size") if isinstance(a, dict) else None for a in d.get("axes") or ()]
    shape = getattr(d.get("data"), "shape", None)
    return (shape is not None and bool(sizes) and None not in sizes
            and [n for n in sizes if n != 1] != [n for n in shape if n != 1])


def _axes_fit_data(signal: Any) -> bool:
    """Whether every axis of ``signal`` is as long as its data's dimension."""
    try:
        shape = signal.data.shape
        axes = [*signal.axes_manager.navigation_axes, *signal.axes_manager.signal_axes]
        return all(axis.size == shape[axis.index_in_array] for axis in axes)
    except Exception:  # noqa: BLE001 - a signal this odd is read lazily, as before
        return False


def load_with_tags(path: Path, reader: str | None = None, **kwargs: Any
                   ) -> list[tuple[Any, dict[str, Any]]]:
    """Signals of ``path`` (as :func:`load_signals`), each with its ``original_metadata``
    as a plain dictionary; a DigitalMicrograph signal's ``original_metadata`` is left
    empty, its tag tree given only as the dictionary (its ``metadata`` is mapped from
    the tags exactly as HyperSpy maps it)."""
    if "file_format" in kwargs:
        reader = kwargs.pop("file_format")
    return open_signals(path, reader, plain_tree=True, **kwargs)


def load_with_file_metadata(path: Path, reader: str | None, **kwargs: Any
                            ) -> list[tuple[Any, dict[str, Any], dict[str, str]]]:
    """Signals of ``path`` with the metadata *the file* gave, before any library default.

    HyperSpy/exspy fill EDS signals with defaults on creation (an energy resolution of
    130 eV, a stage tilt of 0); the reader's own dictionaries do not have them. For each
    signal: (signal, the reader's ``metadata`` tree with its ``original_metadata``
    mapping applied, {dotted metadata path: file key}).
    """
    return open_signals(path, reader, capture=True, **kwargs)


def _file_given(d: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A reader dictionary's metadata tree with its mapping applied, and the sources."""
    import copy

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
    return tree, sources


def _leaf_paths(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.extend(_leaf_paths(value, name))
        else:
            out.append(name)
    return out


def load_signals(path: Path, reader: str | None = None, **kwargs: Any) -> list[Any]:
    """Open ``path`` with RosettaSciIO (lazily unless ``lazy=False``); always a list of
    HyperSpy signals of the base classes (see :func:`._reader.open_signals`).

    ``reader`` is RosettaSciIO's format name (default: by extension). HyperSpy's
    import-time notices are filtered (see ``_quiet``); read errors propagate for the
    registry to translate.
    """
    if "file_format" in kwargs:  # HyperSpy's name for the same thing
        reader = kwargs.pop("file_format")
    return open_signals(path, reader, **kwargs)
