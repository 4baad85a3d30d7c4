"""``nexuslims serve``: the web face of nexuslims.

Pages to browse records, watch the builder and see one session's history; a JSON API
beside them (documented at ``/docs``); ``/healthz`` for monitoring; and session logging
over HTTP for instrument PCs, with bearer tokens.

It reads the database, records, sidecars and previews the builder writes, and never
writes a record. Modules: :mod:`~nexuslims.web.settings` (``NX_WEB_*``),
:mod:`~nexuslims.web.app` (the ASGI app), :mod:`~nexuslims.web.pages` and
:mod:`~nexuslims.web.api` (routes), :mod:`~nexuslims.web.views` (plain data for them),
:mod:`~nexuslims.web.recordview` (one record, read from its XML),
:mod:`~nexuslims.web.auth` (who may read and write), :mod:`~nexuslims.web.downloads`
(which files may be served).
"""

from nexuslims.web.app import create_app
from nexuslims.web.settings import WebSettings, load_web_settings

__all__ = ["WebSettings", "create_app", "load_web_settings"]
