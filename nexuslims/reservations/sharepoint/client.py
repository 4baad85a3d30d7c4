"""HTTP to SharePoint: NTLM, a timeout on every request, retries, errors that say what to do.

:class:`SharePointClient` is the only place that speaks HTTP. It retries connection
errors and 5xx answers with exponential backoff, never a 4xx; an answer that does not
come within the timeout is not retried (a slow server would only multiply the wait).
Every failure becomes a :class:`~nexuslims.errors.HarvesterError` naming the URL (without
its query) and what to check. A server that could not be reached, or that rejected the
account, is not asked again by the same client: one pass asks it once per session at
most, and a wrong password is not tried over and over (accounts get locked out).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from nexuslims.errors import HarvesterError, shown_url
from nexuslims.reservations.sharepoint.settings import SharePointSettings

logger = logging.getLogger(__name__)

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


class SharePointClient:
    """GETs from SharePoint with the configured account, timeout and retries."""

    def __init__(self, settings: SharePointSettings,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self._sleep = sleep
        self._session: requests.Session | None = None
        self._down: dict[str, str] = {}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def get(self, url: str, accept: str) -> requests.Response:
        """The successful (2xx/3xx) answer to ``GET url``.

        Raises
        ------
        HarvesterError
            When the server cannot be reached, is too slow, keeps failing, rejects the
            account or the request.
        """
        server = _server(url)
        if server in self._down:
            raise self._error(f"{self._down[server]} (not asked again in this pass)")
        shown = shown_url(url)
        attempts = 1 + self.settings.retries
        problem = "failed"
        for attempt in range(1, attempts + 1):
            try:
                response = self._http().get(url, headers={"Accept": accept},
                                            timeout=self.settings.timeout)
            except requests.exceptions.ConnectionError as exc:  # also ConnectTimeout
                problem = f"could not be reached ({self._reason(exc)})"
            except requests.exceptions.Timeout:
                self._give_up(server, f"SharePoint at {shown} did not answer within "
                              f"{self.settings.timeout:g} s: check the server, or raise "
                              "NX_SHAREPOINT_TIMEOUT")
            except requests.exceptions.RequestException as exc:
                raise self._error(f"SharePoint at {shown} could not be asked: "
                                  f"{exc.__class__.__name__}") from None
            except Exception as exc:  # NTLM failures surface from spnego / requests-ntlm
                raise self._error(f"NTLM authentication with SharePoint at {shown} failed "
                                  f"({exc.__class__.__name__}: {exc}): check "
                                  f"{self.settings.user_setting}") from None
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status == 401:
                    self._give_up(server, self._unauthorized(response, shown))
                if status < 500:
                    raise self._error(_refused(response, shown, self.settings.user))
                problem = f"answered {status} {response.reason}".rstrip()
            if attempt < attempts:
                delay = self.settings.backoff * 2 ** (attempt - 1)
                logger.warning("SharePoint at %s %s; retrying in %.3g s (attempt %d of %d)",
                               shown, problem, delay, attempt + 1, attempts)
                self._sleep(delay)
        self._give_up(server, f"SharePoint at {shown} {problem}"
                      f"{f' on all {attempts} attempts' if attempts > 1 else ''}: check that "
                      "the server is up and reachable from this machine")
        raise AssertionError("unreachable")

    def _http(self) -> requests.Session:
        if self._session is None:
            from requests_ntlm import HttpNtlmAuth  # pulls in spnego + cryptography

            session = requests.Session()
            session.auth = HttpNtlmAuth(self.settings.user, self.settings.password)
            if self.settings.ca_bundle is not None:
                session.verify = str(self.settings.ca_bundle)
            self._session = session
        return self._session

    def _unauthorized(self, response: requests.Response, shown: str) -> str:
        offered = response.headers.get("WWW-Authenticate", "")
        if not response.history and not re.search(r"\b(ntlm|negotiate)\b", offered, re.I):
            scheme = offered.split(" ", 1)[0] or "no"
            return (f"SharePoint at {shown} asks for {scheme} authentication, not NTLM: "
                    "nexuslims reads on-premises SharePoint calendars with NTLM "
                    "(SharePoint Online does not offer it)")
        return (f"SharePoint at {shown} rejected user {self.settings.user}: check "
                f"{self.settings.user_setting} / {self.settings.password_setting}")

    def _give_up(self, server: str, message: str) -> None:
        self._down[server] = message
        raise self._error(message)

    def _error(self, message: str) -> HarvesterError:
        password = self.settings.password
        if password:
            message = message.replace(password, "***")
        return HarvesterError(message)

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"no connection within {self.settings.timeout:g} s"
        found = _ERRNO.search(str(exc))
        return found.group(1).strip() if found else exc.__class__.__name__


def _server(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


def _refused(response: requests.Response, shown: str, user: str) -> str:
    status = response.status_code
    detail = _odata_message(response)
    said = f" ({detail})" if detail else ""
    if status == 403:
        return (f"SharePoint at {shown} refused user {user} (403 Forbidden){said}: give the "
                "account read permission on the calendar list")
    if status == 404:
        return (f"SharePoint at {shown} has no such list (404 Not Found){said}: check the "
                "instrument's api_url")
    return f"SharePoint at {shown} refused the request ({status} {response.reason}){said}"


def _odata_message(response: requests.Response) -> str:
    """The message of an OData error answer (XML or JSON), if it has one."""
    text = response.text[:4000]
    message = None
    try:
        if text.lstrip().startswith("{"):
            error = json.loads(text).get("error") or json.loads(text).get("odata.error") or {}
            message = (error.get("message") or {}).get("value")
        else:
            found = re.search(r"<(?:\w+:)?message[^>]*>([^<]*)</", text)
            message = found.group(1) if found else None
    except (ValueError, AttributeError):
        return ""
    return " ".join(str(message).split())[:200] if message else ""
