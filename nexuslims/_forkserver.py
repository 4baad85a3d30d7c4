"""Imported by multiprocessing's fork server only (a preload, see extraction._pool_context).

Its one effect: the fork server is SIGKILLed by Linux when the process that started it
dies, even by ``kill -9``. Each worker does the same towards the fork server
(:func:`nexuslims.workers.die_with_parent`), so no reader outlives a pass. Without it the
fork server waits for its workers and a hung worker waits for nobody: both live for good.
Nothing else may import this module.
"""

from nexuslims.workers import die_with_parent

die_with_parent()
