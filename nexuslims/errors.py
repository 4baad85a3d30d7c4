"""The errors nexuslims raises on purpose, each saying what the user can do about it.

Lower-level errors (sqlite, requests, hyperspy, OS) are translated into these at the
edge of the module that met them, carrying the path, session or URL involved.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class NexusLIMSError(Exception):
    """Base of every error nexuslims raises on purpose."""

    def __str__(self) -> str:
        # A message may quote a server's answer, which may echo our credentials.
        from nexuslims.redact import redact

        return redact(super().__str__())


class ConfigError(NexusLIMSError):
    """One or more settings are missing or invalid; ``problems`` names each one."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class UsageError(NexusLIMSError):
    """What was typed cannot be done (an unknown session, a bad option value); nothing
    was written. The command exits with status 2."""


class DatabaseError(NexusLIMSError):
    """The session database cannot be reached or read."""


class DatabaseNotAtHead(DatabaseError):
    """The database schema is older than this nexuslims: run ``nexuslims db upgrade``."""


class LockHeld(NexusLIMSError):
    """Another pass holds the builder lock."""


class HarvesterError(NexusLIMSError):
    """A calendar/scheduler could not be asked about a session."""


class RecordInvalid(NexusLIMSError):
    """A built record does not validate against the schema."""


def shown_url(url: str) -> str:
    """``url`` as messages and logs show it: no credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
