"""A reader's post-processing steps done on its dictionary, before HyperSpy builds the signal.

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
"""

from __future__ import annotations

from collections.abc import Callable
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
