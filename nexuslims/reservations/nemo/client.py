"""Talking to one NEMO server over its REST API.

Every request has a timeout; connection errors, timeouts and HTTP 5xx are retried with
exponential backoff, HTTP 4xx never. Whatever goes wrong becomes a
:class:`~nexuslims.errors.HarvesterError` naming the URL and what to check, never
the token. After a failure that would repeat for every request (server down, token
rejected, not an API) the client stops asking that server for the rest of the pass,
so one outage costs one timeout, not one per session.

Users, projects and tools are cached for the life of the client (one pass).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

import requests

from nexuslims import __version__
from nexuslims.errors import HarvesterError
from nexuslims.reservations.nemo.config import NemoServer

logger = logging.getLogger(__name__)

Json = dict[str, Any]


class NemoClient:
    """A requests session for one server, with its per-pass caches.

    Parameters
    ----------
    server
        Address, token and time formats.
    timeout
        Seconds per request (connect and each read).
    retries
        Further attempts after a connection error, timeout or HTTP 5xx.
    backoff
        Seconds before the first retry, doubled before each next one.
    """

    def __init__(self, server: NemoServer, *, timeout: float, retries: int, backoff: float):
        self.server = server
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Token {server.token}",
                                  "Accept": "application/json",
                                  "User-Agent": f"nexuslims/{__version__}"})
        self.unavailable: HarvesterError | None = None
        self._users: dict[int, Json | None] = {}
        self._projects: dict[int, Json | None] = {}
        self._tools: dict[int, Json] | None = None

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ objects

    def tools(self) -> dict[int, Json]:
        """Every tool of the server, by id."""
        if self._tools is None:
            self._tools = {int(t["id"]): t for t in self.get_list("tools/")}
        return self._tools

    def user(self, user_id: int | None) -> Json | None:
        """One user (``username``, ``first_name``, ``last_name``), or None if unknown."""
        return self._one("users/", user_id, self._users)

    def project(self, project_id: int | None) -> Json | None:
        """One project (``name``, ``application_identifier``), or None if unknown."""
        return self._one("projects/", project_id, self._projects)

    def usage_event(self, event_id: int) -> Json | None:
        """One usage event, or None if the server no longer has it."""
        found = self.get_list("usage_events/", {"id": event_id})
        return found[0] if found else None

    def _one(self, path: str, object_id: int | None, cache: dict[int, Json | None],
             ) -> Json | None:
        if object_id is None:
            return None
        if object_id not in cache:
            found = self.get_list(path, {"id": object_id})
            cache[object_id] = found[0] if found else None
        return cache[object_id]

    # ------------------------------------------------------------------ HTTP

    def get_list(self, path: str, params: dict[str, Any] | None = None) -> list[Json]:
        """The objects a list endpoint returns, following pages if the server pages.

        Raises
        ------
        HarvesterError
            The server could not be asked, refused, or answered something that is not
            a list of objects.
        """
        url = self.server.address + path
        if params:
            url += "?" + urlencode(params)
        items: list[Json] = []
        while url:
            body = self._get_json(url)
            if isinstance(body, dict) and isinstance(body.get("results"), list):
                page, url = body["results"], body.get("next") or ""
                if url and not url.startswith(self.server.root):
                    raise self._fail(url, f"NEMO server {self.server.address} sent a next "
                                     f"page on another host ({url}): check its "
                                     "USE_X_FORWARDED_HOST / proxy settings", sticky=True)
            elif isinstance(body, list):
                page, url = body, ""
            else:
                raise self._fail(url, self._not_api(url, "a JSON object that is not a list"),
                                 sticky=True)
            if not all(isinstance(item, dict) for item in page):
                raise self._fail(url, self._not_api(url, "a list of non-objects"), sticky=True)
            items.extend(page)
        return items

    def _get_json(self, url: str) -> Any:
        if self.unavailable is not None:
            raise HarvesterError(f"{self.unavailable} (not asked again this pass)")
        attempt = 0
        while True:
            try:
                response = self.http.get(url, timeout=self.timeout, allow_redirects=False)
            except requests.Timeout:
                problem = (f"NEMO server {self.server.address} did not answer {url} within "
                           f"{self.timeout:g} s: check that it is up and not overloaded "
                           "(or raise NX_NEMO_TIMEOUT)")
            except requests.ConnectionError as exc:
                problem = (f"NEMO server {self.server.address} cannot be reached ({url}): "
                           f"{_reason(exc)}; check that it is running and that "
                           f"{self.server.setting('ADDRESS')} is right")
            except requests.RequestException as exc:
                raise self._fail(url, f"NEMO request {url} failed: {_reason(exc)}",
                                 sticky=True) from exc
            else:
                if response.status_code < 500:
                    return self._read(url, response)
                problem = (f"NEMO server {self.server.address} answered HTTP "
                           f"{response.status_code} for {url}: check the server's logs")
            if attempt >= self.retries:
                raise self._fail(url, f"{problem} (tried {attempt + 1} times)", sticky=True)
            delay = self.backoff * 2 ** attempt
            attempt += 1
            logger.debug("%s; retry %d/%d in %.1f s", problem, attempt, self.retries, delay)
            time.sleep(delay)

    def _read(self, url: str, response: requests.Response) -> Any:
        status = response.status_code
        if status in (401, 403):
            detail = _detail(response)
            raise self._fail(url, f"NEMO server {self.server.address} rejected the token "
                             f"(HTTP {status}{': ' + detail if detail else ''}): check "
                             f"{self.server.setting('TOKEN')}; it must be the API token of "
                             "a NEMO superuser", sticky=True)
        if 300 <= status < 400:
            raise self._fail(url, f"NEMO server {self.server.address} redirected {url} to "
                             f"{response.headers.get('Location')}: check "
                             f"{self.server.setting('ADDRESS')} (scheme, host, /api/)",
                             sticky=True)
        if status >= 400:
            detail = _detail(response)
            raise self._fail(url, f"NEMO server {self.server.address} refused {url} "
                             f"(HTTP {status}{': ' + detail if detail else ''})")
        try:
            return response.json()
        except ValueError:
            raise self._fail(url, self._not_api(url, "a response that is not JSON"),
                             sticky=True) from None

    def _not_api(self, url: str, what: str) -> str:
        return (f"NEMO server {self.server.address} answered {url} with {what}: check that "
                f"{self.server.setting('ADDRESS')} is the API root of a NEMO server")

    def _fail(self, url: str, message: str, *, sticky: bool = False) -> HarvesterError:
        error = HarvesterError(message)
        if sticky:
            self.unavailable = error
        return error


def _reason(exc: BaseException) -> str:
    """The innermost reason of a requests error ("Connection refused"), short."""
    text = str(exc)
    for marker in ("Errno", "Failed to resolve", "timed out", "Connection aborted",
                   "RemoteDisconnected"):
        at = text.find(marker)
        if at >= 0:
            text = text[at:]
            break
    return text.strip("[]()' \"")[:200] or exc.__class__.__name__


def _detail(response: requests.Response) -> str:
    """The ``detail`` of a DRF error body, or the start of any text body."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:160]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:160]
    return " ".join(str(body).split())[:160]
