"""Reading a session's build history back in tests: its attempts and their stages."""

from __future__ import annotations

from nexuslims import db


def attempts(db_url: str, identifier: str) -> list:
    """The build attempts of session ``identifier``, oldest first, with their stages."""
    engine = db.make_engine(db_url)
    try:
        return db.session_detail(engine, identifier).attempts
    finally:
        engine.dispose()


def stage(attempt, name: str = "extract"):
    """The stage ``name`` of ``attempt``."""
    return next(s for s in attempt.stages if s.name == name)
