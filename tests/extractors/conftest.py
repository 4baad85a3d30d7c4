"""Fixtures for extractor tests (the corpus fixture is in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from nexuslims.extractors.base import ExtractionContext


@pytest.fixture(scope="session")
def denver() -> ExtractionContext:
    """An instrument in America/Denver (UTC-7 in winter, UTC-6 in summer)."""
    return ExtractionContext(timezone=ZoneInfo("America/Denver"))


@pytest.fixture(scope="session")
def utc() -> ExtractionContext:
    return ExtractionContext(timezone=dt.UTC)
