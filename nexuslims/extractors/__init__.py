"""Metadata extractors: one per file format, chosen by :mod:`nexuslims.extractors.registry`.

Importing this package loads no file reader (hyperspy/rsciio load on first extraction).
"""

from .base import DATASET_TYPES, ExtractedDataset, ExtractionContext, Extractor
from .registry import (
    Registry,
    default_registry,
    extract,
    known_extensions,
    preview_generator,
    reload,
    select,
)

__all__ = [
    "DATASET_TYPES",
    "ExtractedDataset",
    "ExtractionContext",
    "Extractor",
    "Registry",
    "default_registry",
    "extract",
    "known_extensions",
    "preview_generator",
    "reload",
    "select",
]
