"""Silence the two notices HyperSpy prints on import, in every process that reads files.

That the optional Numba accelerator is missing, and HyperSpy's internal deprecations,
say nothing about the files being read; printed by every reader process they would
fill a pass's output and journal. Every other warning (about a file's content, say)
still reaches the log.
"""

import logging
import warnings

_installed = False


def quiet_hyperspy() -> None:
    """Install the filters (once per process; cheap to call again)."""
    global _installed
    if _installed:
        return
    _installed = True
    logging.getLogger("hyperspy.decorators").addFilter(
        lambda record: "Numba is not installed" not in record.getMessage())
    warnings.filterwarnings("ignore", message=r"Importing `\w+` from `hyperspy\._signals")
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            module=r"(hyperspy|rsciio|exspy)")


# Imported first by the extraction fork server, before HyperSpy.
quiet_hyperspy()
