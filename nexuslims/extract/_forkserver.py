"""Imported by multiprocessing's fork server only: the last of its preloads (see
``extraction._pool_context``). Nothing else may import this module.

Two effects:

- the fork server is SIGKILLed by Linux when the process that started it dies, even by
  ``kill -9``. Each worker does the same towards the fork server
  (:func:`nexuslims.extract.workers.die_with_parent`), so no reader outlives a pass. Without it
  the fork server waits for its workers, and a hung worker waits for nobody: both live
  for good;
- the extractor registry (built-in extractors, installed plug-ins) is loaded here once,
  after the reader stack when the files need it (``nexuslims.extractors._preload``), so
  a new worker (one per file that hit a limit or killed its worker, and one per worker
  for each session) starts ready in milliseconds;
- everything loaded so far is then frozen out of the garbage collector
  (``gc.freeze``): it lives as long as the workers, and their full collections no
  longer walk the reader stack's hundreds of thousands of objects after every few
  files (nor touch those pages, which stay shared with the fork server).
"""

from __future__ import annotations

import gc
import os
import sys

from nexuslims.extract.workers import die_with_parent

die_with_parent()

#: The fork server's pid: its workers check they still have it as their parent.
PID = os.getpid()

#: sys.path the registry was loaded with; a worker started with another (a plug-in
#: folder added since) loads its plug-ins again.
SYS_PATH = tuple(sys.path)


def _warm() -> None:
    from nexuslims.extractors.registry import default_registry

    registry = default_registry()
    registry.extractors()
    registry.previews()


_warm()
gc.collect()
gc.freeze()
