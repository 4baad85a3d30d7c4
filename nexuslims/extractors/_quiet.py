"""Silence the notices HyperSpy prints on import in reader processes.

Imported first by the extraction fork server (before HyperSpy), so a pass's output and
journal are not filled with the same two notices from every process: that the optional
Numba accelerator is missing, and HyperSpy's internal deprecations. Other warnings and
errors pass through.
"""

import logging
import warnings

logging.getLogger("hyperspy.decorators").addFilter(
    lambda record: "Numba is not installed" not in record.getMessage())
warnings.filterwarnings("ignore", message=r"Importing `\w+` from `hyperspy\._signals")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(hyperspy|rsciio|exspy)")
