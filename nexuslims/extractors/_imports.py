"""Import the reader stack without what reading a file never uses.

Importing ``dask.array`` (every RosettaSciIO reader does) also imports ``sparse`` when
it is installed, only to register its array type with dask; ``sparse`` in turn imports
numba and LLVM: about 0.6 s of a 2 s cold start, in every process that reads a file.
:func:`import_dask_array` imports dask without it, and registers ``sparse``'s array
type the moment anything imports ``sparse`` for real (RosettaSciIO's Velox event-stream
decoder does), so dask treats sparse chunks exactly as it would have.
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
    # Velox's reader, its unit registry (pint: slow to build) and its event-stream
    # decoder (numba, sparse).
    "emd": ("rsciio.emd._api", "rsciio.emd._emd_velox", "rsciio.utils._fei_stream_readers"),
    "bcf": _BRUKER, "spx": _BRUKER, "spc": ("rsciio.edax._api",), "msa": ("rsciio.msa._api",),
    "mrc": ("rsciio.mrc._api",), "hspy": ("rsciio.hspy._api",),
}
"""RosettaSciIO modules that reading a file of each extension imports (the built-in
extractors of these extensions read through RosettaSciIO and HyperSpy): the extraction
fork server imports the reader stack and those of the files at hand once, for all its
workers."""


def import_dask_array() -> ModuleType:
    """``dask.array``, imported without importing ``sparse`` (see the module docstring)."""
    if "dask.array" in sys.modules or "sparse" in sys.modules:
        import dask.array

        return dask.array
    sys.modules["sparse"] = None  # type: ignore[assignment] - "not installed", for now
    try:
        import dask.array
    finally:
        del sys.modules["sparse"]
    if importlib.util.find_spec("sparse") is not None:
        sys.meta_path.insert(0, _RegisterSparse())
    return dask.array


class _RegisterSparse(importlib.abc.MetaPathFinder):
    """On the first ``import sparse``: load it normally, then register it with dask."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "sparse":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Registering(spec.loader)
        return spec


class _Registering(importlib.abc.Loader):
    """Wraps ``sparse``'s loader: after it ran, dask learns the ``SparseArray`` type."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        from dask.array.chunk_types import register_chunk_type

        register_chunk_type(module.SparseArray)
