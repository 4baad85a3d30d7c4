"""Import the reader stack without what reading a file never uses.

Importing ``dask.array`` (every RosettaSciIO reader does) also imports, when they are
installed, ``sparse`` and ``scipy.sparse`` only to register their array types with dask,
and ``scipy.fftpack`` only to wrap its transforms. ``sparse`` in turn imports numba and
LLVM (about 0.6 s), SciPy's modules about 0.3 s more with what they pull in (``pydoc``,
``numpy.f2py``): in every process that reads a file, for nothing a file's extraction
uses. :func:`import_dask_array` imports dask without them, and registers the array types
of ``sparse`` and ``scipy.sparse`` the moment anything imports them for real
(RosettaSciIO's Velox event-stream decoder imports ``sparse``, HyperSpy's decompositions
SciPy), so dask treats sparse chunks exactly as it would have. Only the SciPy wrappers
of ``dask.array.fft`` (``fft_wrap`` of a ``scipy.fftpack`` function) are given up.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any

_DM = ("rsciio.digitalmicrograph._api",)
_TIA = ("rsciio.tia._api",)
_BRUKER = ("rsciio.bruker._api",)
READER_MODULES: dict[str, tuple[str, ...]] = {
    "dm3": _DM, "dm4": _DM, "ser": _TIA, "emi": _TIA,
    "bcf": _BRUKER, "spx": _BRUKER, "spc": ("rsciio.edax._api",), "msa": ("rsciio.msa._api",),
    "mrc": ("rsciio.mrc._api",), "hspy": ("rsciio.hspy._api",),
}
"""RosettaSciIO modules that reading a file of each extension imports (the built-in
extractors of these extensions read through RosettaSciIO and HyperSpy): the extraction
fork server imports the reader stack and those of the files at hand once, for all its
workers. Velox EMD is not among them: its extractor and previews read it with h5py
(:data:`PLAIN_MODULES`), and RosettaSciIO's Velox reader would bring pint, sparse and
numba into every worker."""

_PIL = ("PIL.PngImagePlugin", "PIL.JpegImagePlugin", "PIL.GifImagePlugin",
        "PIL.BmpImagePlugin", "PIL.TiffImagePlugin")
_TIFF = ("tifffile", *_PIL)
PLAIN_MODULES: dict[str, tuple[str, ...]] = {
    "emd": ("h5py", "nexuslims.extractors.velox", "nexuslims.extractors._velox_stream"),
    "tif": _TIFF, "tiff": _TIFF,
    "png": _PIL, "jpg": _PIL, "jpeg": _PIL, "gif": _PIL, "bmp": _PIL,
}
"""Modules that reading a file of each extension imports without the reader stack
(neither dask nor HyperSpy): the fork server imports them once, for all its workers
(Pillow's format plug-ins are otherwise imported by each worker on its first image)."""

HELD_BACK: dict[str, tuple[str, ...]] = {
    "sparse": ("SparseArray",),
    "scipy": (),
    "scipy.sparse": ("spmatrix", "sparray"),
    "scipy.fftpack": (),
}
"""What :func:`import_dask_array` keeps out of the import of ``dask.array`` (those not
imported yet), each with the array types dask registers as chunk types once it is
imported for real."""


def import_dask_array() -> ModuleType:
    """``dask.array``, imported without ``sparse`` and SciPy (see the module docstring)."""
    if "dask.array" in sys.modules:
        import dask.array

        return dask.array
    held = [name for name in HELD_BACK if name not in sys.modules]
    for name in held:
        sys.modules[name] = None  # type: ignore[assignment] - "not installed", for now
    try:
        import dask.array
    finally:
        for name in held:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    late = [name for name in held
            if HELD_BACK[name] and importlib.util.find_spec(name.partition(".")[0]) is not None]
    if late:
        sys.meta_path.insert(0, _RegisterLater(late))
    return dask.array


class _RegisterLater(importlib.abc.MetaPathFinder):
    """On the first import of each held-back module: load it normally, then register its
    array types with dask."""

    def __init__(self, names: list[str]) -> None:
        self._names = set(names)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self._names:
            return None
        self._names.discard(fullname)
        if not self._names:
            sys.meta_path.remove(self)
        # The finders after this one (this one has just forgotten ``fullname``).
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Registering(spec.loader, HELD_BACK[fullname])
        return spec


class _Registering(importlib.abc.Loader):
    """Wraps a held-back module's loader: after it ran, dask learns its array types."""

    def __init__(self, loader: Any, types: tuple[str, ...]) -> None:
        self._loader = loader
        self._types = types

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        from dask.array.chunk_types import register_chunk_type

        for name in self._types:
            if hasattr(module, name):
                register_chunk_type(getattr(module, name))
