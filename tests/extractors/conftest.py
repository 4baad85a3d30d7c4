"""Fixtures for extractor tests: the real-instrument corpus, reached only via env var."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nexuslims.extractors.base import ExtractionContext


def corpus_root() -> Path | None:
    value = os.environ.get("NEXUSLIMS_TEST_CORPUS")
    if not value:
        return None
    root = Path(value)
    return root if root.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus folder; tests that need it skip when NEXUSLIMS_TEST_CORPUS is unset."""
    root = corpus_root()
    if root is None:
        pytest.skip("NEXUSLIMS_TEST_CORPUS is not set to the instrument-file corpus")
    return root


@pytest.fixture(scope="session")
def denver() -> ExtractionContext:
    """An instrument in America/Denver (UTC-7 in winter, UTC-6 in summer)."""
    return ExtractionContext(timezone=ZoneInfo("America/Denver"))


@pytest.fixture(scope="session")
def utc() -> ExtractionContext:
    return ExtractionContext(timezone=dt.UTC)
