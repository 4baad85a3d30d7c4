"""Imported by the extraction fork server when some file to read needs RosettaSciIO.

The reader stack is imported here once, in the fork server, so every worker forked from
it starts with it: dask (without ``sparse``, see :mod:`._imports`), HyperSpy's loader and
base signal classes, and pint with its unit registry (the extractors of these formats
convert the units their files state: importing pint and building the registry take
about 0.25 CPU-s, paid once here rather than by each worker on its first file).
RosettaSciIO's readers of the files at hand follow in the preload list
(:data:`._imports.READER_MODULES`). Not ``hyperspy.api`` as a whole, and not exspy:
:mod:`._reader` builds EELS and EDS signals as base classes, and exspy's import alone
takes seconds.
"""

from __future__ import annotations

import importlib

from nexuslims.extractors._imports import import_dask_array
from nexuslims.extractors._quiet import quiet_hyperspy
from nexuslims.extractors.values import unit_registry

SIGNAL_MODULES = ("hyperspy.io", "hyperspy._signals.signal1d", "hyperspy._signals.signal2d",
                  "hyperspy._signals.lazy", "hyperspy._signals.lazy_signal1d",
                  "hyperspy._signals.lazy_signal2d", "hyperspy._signals.complex_signal2d",
                  "hyperspy._signals.lazy_complex_signal2d")
"""HyperSpy's loader and the signal classes its readers build (lazy ones included: a
file is read lazily), imported once here rather than by every worker on first use."""


def warm() -> None:
    """Import the reader stack (a module that fails is imported again on use)."""
    quiet_hyperspy()
    import_dask_array()
    for name in SIGNAL_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a module missing here is imported on use
            continue
    unit_registry()


warm()
