"""The destination plug-in seam: what a destination receives and what it answers.

A destination is declared by a :class:`DestinationSpec` (name, priority, whether the
settings enable it, where its class lives), so choosing destinations imports nothing.
The class named by the spec provides:

- ``check(settings) -> list[str]`` (classmethod): the problems of its settings, each
  naming the variable and what it expects; empty when it can run;
- ``__init__(settings)``: build it from checked settings;
- ``export(record) -> ExportResult``: publish one record and report; never raise.

One instance lives for one pass (or one ``nexuslims export``), so it may remember
things between records (a template id, a server found down).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from nexuslims.export.errors import DestinationRefused, DestinationUnavailable, RecordRejected
from nexuslims.model.session import Status

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class Failure(enum.StrEnum):
    """Why an export failed, which decides what happens next."""

    UNAVAILABLE = "unavailable"
    """Network, timeout or server error: exported again on a later pass."""
    REFUSED = "refused"
    """Credentials or settings refused: the destination is not asked again this pass."""
    REJECTED = "rejected"
    """The record itself was refused as invalid: the session becomes ERROR."""


@dataclass(frozen=True)
class Target:
    """What a destination made of a session (an experiment, a package), kept across builds."""

    target_id: str | None
    target_url: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class TargetMemory(Protocol):
    """Where a destination keeps what it made of one session (``export_targets``)."""

    def recall(self) -> Target | None:
        """What was remembered, if anything."""
        ...

    def remember(self, target: Target) -> None:
        """Keep ``target`` now (before the attempt ends: a crash must not lose it)."""
        ...

    def forget(self) -> None:
        """Drop what was remembered (the thing was found gone)."""
        ...


class InProcessMemory:
    """A :class:`TargetMemory` that lives as long as the object (no database at hand)."""

    def __init__(self, target: Target | None = None):
        self.target = target

    def recall(self) -> Target | None:
        """What was remembered, if anything."""
        return self.target

    def remember(self, target: Target) -> None:
        """Keep ``target``."""
        self.target = target

    def forget(self) -> None:
        """Drop what was remembered."""
        self.target = None


@dataclass(frozen=True)
class RecordFile:
    """A built record waiting in the outbox (``NX_RECORDS_PATH``)."""

    session_identifier: str
    instrument: str
    path: Path
    memory: TargetMemory = field(default_factory=InProcessMemory, compare=False, repr=False)
    """What this destination made of the session before (the outbox gives each its own)."""
    published: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where the destinations that already have this build's record put it, by name
    (``{"cdcs": "https://.../data?id=7", "eln": "file:///.../x.eln"}``)."""

    @property
    def name(self) -> str:
        """The record's name: its file name without ``.xml``; unique per session."""
        return self.path.stem

    def read(self) -> bytes:
        """The record's XML bytes."""
        return self.path.read_bytes()


@dataclass
class ExportResult:
    """What one destination did with one record."""

    success: bool
    record_id: str | None = None
    """The destination's identifier for the record, if it has one."""
    record_url: str | None = None
    """Where the record can be seen (a URL, or a ``file://`` URI)."""
    error: str | None = None
    failure: Failure | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """Anything else worth keeping (stored as JSON in ``upload_log.metadata_json``)."""

    @classmethod
    def ok(cls, record_id: str | None = None, record_url: str | None = None,
           **metadata: Any) -> ExportResult:
        """A success."""
        return cls(True, record_id, record_url, metadata=metadata)

    @classmethod
    def failed(cls, failure: Failure, error: str, **metadata: Any) -> ExportResult:
        """A failure of kind ``failure`` with a message for the user (secrets removed)."""
        from nexuslims.redact import redact

        return cls(False, error=redact(error), failure=failure, metadata=metadata)


class Destination(Protocol):
    """A place records are exported to (see the module docstring for the contract)."""

    name: str
    priority: int

    def export(self, record: RecordFile) -> ExportResult:
        """Publish ``record``; report failures in the result, never raise."""
        ...


@dataclass(frozen=True)
class DestinationSpec:
    """The declaration of a destination: cheap to read, imports nothing.

    Third-party destinations publish one of these under the ``nexuslims.destinations``
    entry-point group.
    """

    name: str
    priority: int
    """Higher goes first (``first_success`` stops at the first that succeeds)."""
    target: str
    """``"package.module:Class"`` of the implementation."""
    enabled: Callable[[Mapping[str, str]], bool]
    """Whether the settings (``Settings.env``) turn it on."""
    description: str = ""
    incomplete: Callable[[Mapping[str, str]], str | None] | None = None
    """What is missing when some of its settings are given but not enough to turn it on
    (a warning: nothing needs it yet), or None."""

    def load(self) -> Any:
        """The implementation class (imported now)."""
        import importlib

        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


def truthy(env: Mapping[str, str], name: str, default: bool = False) -> bool | None:
    """``env[name]`` read as a boolean; None when it is not one."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    return None


def setting(env: Mapping[str, str], name: str, *legacy: str) -> str:
    """The stripped value of ``name``, else of the first legacy name set, else ``""``."""
    for key in (name, *legacy):
        value = env.get(key, "").strip()
        if value:
            return value
    return ""


@dataclass
class ExportOutcome:
    """What exporting one record came to."""

    session_identifier: str
    instrument: str
    status: Status
    message: str | None = None


class Exporter(Protocol):
    """Sends records from the outbox to the configured destinations."""

    def export(self, engine: Engine, session_identifier: str, instrument: str,
               record_path: Path) -> ExportOutcome:
        """Export one freshly built record; report, never raise."""
        ...

    def retry_pending(self, engine: Engine, *, now: dt.datetime,
                      dry_run: bool = False) -> list[ExportOutcome]:
        """Export again the records left BUILT_NOT_EXPORTED whose backoff has passed."""
        ...


logger = logging.getLogger(__name__)

FIRST_RETRY_DELAY_S = 1.0
"""Wait before the second try of a destination that is out of reach; doubles each try."""

T = TypeVar("T")


def retried(call: Callable[[], T], *, tries: int, sleep: Callable[[float], None],
            later: str) -> T | ExportResult:
    """``call()``, tried again after 1 s, 2 s, 4 s... while the destination is out of
    reach, ``tries`` times in all.

    Returns what ``call`` returned, or the failed :class:`ExportResult`: the last
    unavailability (with ``later``, what happens to the record next), a refusal (the
    destination's configuration) or a rejection (the record itself).
    """
    for attempt in range(1, tries + 1):
        try:
            return call()
        except DestinationUnavailable as exc:
            if attempt == tries:
                return ExportResult.failed(Failure.UNAVAILABLE,
                                           f"{exc} (tried {tries} time(s); {later})")
            delay = FIRST_RETRY_DELAY_S * 2 ** (attempt - 1)
            logger.warning("%s; trying again in %g s", exc, delay)
            sleep(delay)
        except DestinationRefused as exc:
            return ExportResult.failed(Failure.REFUSED, str(exc))
        except RecordRejected as exc:
            return ExportResult.failed(Failure.REJECTED, str(exc))
    raise AssertionError("tries must be at least 1")
