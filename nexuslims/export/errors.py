"""What can go wrong when a record leaves the outbox, each saying what to do about it.

Destinations raise these inside their own code (lower-level errors from requests or the
OS are translated where they happen, naming the URL or path) and turn them into an
:class:`~nexuslims.export.base.ExportResult` at their edge: the export stage never
sees an exception from a destination.
"""

from __future__ import annotations

from nexuslims.errors import NexusLIMSError


class ExportError(NexusLIMSError):
    """A record could not be exported to a destination."""


class DestinationUnavailable(ExportError):
    """The destination cannot be reached now (network, timeout, server error): try later."""


class DestinationRefused(ExportError):
    """The destination refused our credentials or settings: fix the configuration."""


class RecordRejected(ExportError):
    """The destination refused this record as invalid: retrying will not help."""
