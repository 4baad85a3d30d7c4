"""A reader's post-processing and mapping done on its dictionary, before HyperSpy builds it.

RosettaSciIO's DigitalMicrograph reader asks HyperSpy to post-process each signal it
builds: ``squeeze()``, after ``to_signal1D()`` for a spectrum image. Each step deep-copies
the signal (metadata, axes rebuilt with their traits observers) to change only its
shape: for the corpus's DM files, about half of what building the signals costs. The
same steps on the reader's dictionary (the data's view and the list of axes) let HyperSpy
build each signal once, as the steps would have left it:

- ``to_signal1D(optimize=...)`` is ``transpose(signal_axes=[0+3j])``: the first axis in
  array order becomes the one signal axis, moved last; the others keep their order and
  navigate; with ``optimize`` the data is made C-contiguous (a copy, as HyperSpy makes).
- ``squeeze()`` drops the axes of size 1 and squeezes the data (a view).

A step is recognised by the one method its lambda calls; anything else (another
reader's steps, a lazy spectrum image, whose chunks HyperSpy chooses for the new axes,
axes that do not fit the data, a signal squeezed to nothing) is left to HyperSpy, as
before.

The reader's ``mapping`` (tag tree -> metadata), which HyperSpy applies after those
steps with one ``set_item`` per value, is done the same way: its values are read from
the plain tree (:func:`mapped_values`) and put into the reader's metadata dictionary
(:func:`map_into_metadata`), where they land as ``set_item`` would have put them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_STEPS = {"to_signal1D", "squeeze"}


def _step(function: Callable[..., Any]) -> tuple[str, dict[str, Any]] | None:
    """The signal method a post-process lambda calls, and the values it closes over."""
    code = getattr(function, "__code__", None)
    if code is None or len(code.co_names) != 1 or code.co_names[0] not in _STEPS:
        return None
    cells = function.__closure__ or ()
    return code.co_names[0], {name: cell.cell_contents
                              for name, cell in zip(code.co_freevars, cells, strict=True)}


def _fits(d: dict[str, Any]) -> bool:
    """Whether the dictionary's axes are its data's dimensions, in array order, each
    saying whether it navigates (as HyperSpy then counts the signal dimension)."""
    axes, shape = d.get("axes"), getattr(d.get("data"), "shape", None)
    if not axes or shape is None or len(axes) != len(shape):
        return False
    return all(isinstance(a, dict) and a.get("index_in_array") == i and "navigate" in a
               and a.get("size") == shape[i] for i, a in enumerate(axes))


def post_process_in_dictionary(d: dict[str, Any], *, lazy: bool) -> bool:
    """Do ``d``'s post-processing steps on ``d`` itself (see the module's docstring).

    Returns whether they were done (and ``post_process`` removed); if not, ``d`` is
    unchanged.
    """
    functions = d.get("post_process")
    metadata = d.get("metadata") or {}
    if not functions or not _fits(d) or "Markers" in metadata \
            or "navigator" in (metadata.get("_HyperSpy") or {}) \
            or "Noise_properties" in (metadata.get("Signal") or {}):
        return False  # HyperSpy's copies would drop or change these
    steps = [_step(f) for f in functions]
    if any(s is None for s in steps):
        return False
    data, axes = d["data"], [dict(a) for a in d["axes"]]
    for name, closed in steps:  # type: ignore[misc]
        if name == "to_signal1D":
            if lazy or set(closed) != {"optimize"} or len(axes) < 2 \
                    or [a["navigate"] for a in axes[-2:]] != [False, False] \
                    or not all(a["navigate"] for a in axes[:-2]):
                return False  # not the Signal2D RosettaSciIO's DM reader has here
            axes = [*axes[1:], axes[0]]
            for i, axis in enumerate(axes):
                axis["navigate"] = i < len(axes) - 1
            data = data.transpose((*range(1, data.ndim), 0))
            if closed["optimize"] and not data.flags["C_CONTIGUOUS"]:
                import numpy as np

                data = np.ascontiguousarray(data)
        else:
            kept = [a for a in axes if a["size"] != 1]
            if not kept:
                return False  # HyperSpy then gives the signal a scalar axis
            axes = kept
            data = data.squeeze()
    for i, axis in enumerate(axes):
        axis["index_in_array"] = i
    d["data"], d["axes"] = data, axes
    del d["post_process"]
    return True


_NOT_IN_DICTIONARY = ("Signal.signal_type", "Signal.record_by", "Signal.binned", "Markers",
                      "_HyperSpy", "General.FileIO")
"""Metadata that HyperSpy reads or writes while building and loading a signal: a value
mapped there is set afterwards, as before."""


def mapped_values(tree: Mapping[str, Any], mapping: Mapping[str, Any]
                  ) -> list[tuple[str, Any]]:
    """HyperSpy's mapping step (``dict2signal``), read from the plain ``tree``: for each
    (tree path: (metadata path, function)) whose item the tree has, the metadata path and
    the value (the function's, if any; None is skipped).

    The tree is not made a ``DictionaryTreeBrowser`` (that slugifies every key of every
    tag: a third of reading a DM file); a function of a group is given one of the group,
    as HyperSpy gives it.
    """
    out = []
    for opattr, (mpattr, function) in mapping.items():
        found, node = _item(tree, opattr)
        if not found:
            continue
        if function is not None and isinstance(node, Mapping):
            from hyperspy.misc.utils import DictionaryTreeBrowser

            node = DictionaryTreeBrowser(node, lazy=False)
        value = function(node) if function is not None else node
        if value is not None:
            out.append((mpattr, value))
    return out


def map_into_metadata(d: dict[str, Any], values: list[tuple[str, Any]]) -> bool:
    """Put the mapped ``values`` into the reader's ``metadata`` dictionary of ``d``,
    where HyperSpy's ``set_item`` would put them after building the signal.

    Setting them one by one on the built signal's ``DictionaryTreeBrowser`` costs as
    much as building the signal (each ``set_item`` walks the path by slugified attribute
    look-ups); in the dictionary they are added with the rest. Returns whether they were
    put there; not if one would not land where ``set_item`` puts it (a name that is not
    already a Python name, or that matches another key once slugified, a group as value,
    a value under a leaf, or metadata HyperSpy itself handles, see
    :data:`_NOT_IN_DICTIONARY`); ``d`` is then unchanged.
    """
    import copy

    from hyperspy.misc.utils import slugify

    metadata = copy.deepcopy(d.get("metadata") or {})
    for path, value in values:
        parts = path.split(".")
        if isinstance(value, Mapping) or hasattr(value, "as_dictionary") \
                or path.startswith(_NOT_IN_DICTIONARY) \
                or any(slugify(p, valid_variable_name=True) != p for p in parts):
            return False
        node = metadata
        for i, part in enumerate(parts):
            if part not in node and any(slugify(k, valid_variable_name=True) == part
                                        for k in node):
                return False
            if i == len(parts) - 1:
                node[part] = value
            elif not isinstance(node.setdefault(part, {}), dict):
                return False
            else:
                node = node[part]
    d["metadata"] = metadata
    return True


def _item(tree: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """The item at ``dotted`` of ``tree`` as HyperSpy's tree finds it: each name as
    written or as a Python name (``EELS_Spectrometer`` is ``"EELS Spectrometer"``:
    RosettaSciIO's mappings use both)."""
    from hyperspy.misc.utils import slugify

    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return False, None
        if part in node:
            node = node[part]
            continue
        name = slugify(part, valid_variable_name=True)
        keys = [k for k in node if slugify(k, valid_variable_name=True) == name]
        if not keys:
            return False, None
        node = node[keys[-1]]
    return True, node
