"""The few eLabFTW API v2 calls the ``elabftw`` destination makes, with their errors.

Settings (NexusLIMS 2.x names): ``NX_ELABFTW_URL`` (the server, with or without
``/api/v2``), ``NX_ELABFTW_API_KEY`` (sent as ``Authorization: <key>``, never shown),
``NX_ELABFTW_EXPERIMENT_CATEGORY`` and ``NX_ELABFTW_EXPERIMENT_STATUS`` (ids, optional),
``NX_ELABFTW_TIMEOUT`` (seconds per call, default 30), ``NX_ELABFTW_RETRIES`` (tries in
all on connection errors, timeouts and 5xx, default 3) and ``NX_CERT_BUNDLE_FILE``.

What eLabFTW really answers differs from its description in ways handled here:
``metadata`` comes back as a JSON string, error ``code`` is an integer, tags come joined
with ``|``, and the ``Location`` of a 201 is on the server's own site URL (which may not
be ``NX_ELABFTW_URL``): only its last path segment, the new id, is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from nexuslims.config import file_setting, is_web_url, number_setting
from nexuslims.errors import shown_url
from nexuslims.export.base import setting
from nexuslims.export.errors import DestinationRefused, DestinationUnavailable

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_TRIES = 3


@dataclass(frozen=True)
class ELabFTWSettings:
    """How to reach and use an eLabFTW server."""

    url: str
    """The API base, ending with ``/api/v2/``."""
    api_key: str
    category: int | None = None
    status: int | None = None
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT_S
    tries: int = DEFAULT_TRIES

    def __repr__(self) -> str:  # never show the key
        return f"ELabFTWSettings(url={shown_url(self.url)!r})"

    @classmethod
    def read(cls, env: Mapping[str, str]) -> tuple[ELabFTWSettings | None, list[str]]:
        """The settings from ``env`` and the problems found (each naming its variable)."""
        problems: list[str] = []
        url = setting(env, "NX_ELABFTW_URL")
        if not is_web_url(url):
            problems.append(f"NX_ELABFTW_URL={shown_url(url)}: expects the eLabFTW server's "
                            "URL, e.g. https://elab.example.org")
        key = setting(env, "NX_ELABFTW_API_KEY")
        if not key:
            problems.append("NX_ELABFTW_URL is set but NX_ELABFTW_API_KEY is not: create an "
                            "API key with write access in eLabFTW (User panel > API keys)")
        ids: dict[str, int | None] = {}
        for name in ("NX_ELABFTW_EXPERIMENT_CATEGORY", "NX_ELABFTW_EXPERIMENT_STATUS"):
            raw = setting(env, name)
            ids[name] = None
            if raw:
                if raw.isdigit() and int(raw) > 0:
                    ids[name] = int(raw)
                else:
                    problems.append(f"{name}={raw}: expects the id (a whole number > 0) of "
                                    "an experiment " + ("category" if "CATEGORY" in name
                                                        else "status") + " of the team")
        bundle = file_setting(env, "NX_CERT_BUNDLE_FILE", problems,
                              "a PEM file of the certificate authorities to trust")
        timeout = number_setting(env, "NX_ELABFTW_TIMEOUT", DEFAULT_TIMEOUT_S, problems,
                                 minimum=0.001, expects="a number of seconds > 0 (e.g. 30)")
        tries = int(number_setting(env, "NX_ELABFTW_RETRIES", DEFAULT_TRIES, problems,
                                   minimum=1, expects="a whole number of tries >= 1 (e.g. 3)",
                                   whole=True))
        if problems:
            return None, problems
        base = re.sub(r"/api/v2/?$", "", url.rstrip("/")) + "/api/v2/"
        return cls(url=base, api_key=key, category=ids["NX_ELABFTW_EXPERIMENT_CATEGORY"],
                   status=ids["NX_ELABFTW_EXPERIMENT_STATUS"],
                   verify=str(bundle) if bundle else True, timeout=timeout, tries=tries), []


class ELabFTWClient:
    """Calls to one eLabFTW; errors come out as ExportErrors naming what to check."""

    def __init__(self, config: ELabFTWSettings):
        self.config = config
        self.base = shown_url(config.url)
        self.site = re.sub(r"api/v2/$", "", self.base)
        self.http = requests.Session()
        self.http.verify = config.verify
        self.http.headers["Authorization"] = config.api_key
        self.http.headers["Accept"] = "application/json"

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,),
             **kwargs: Any) -> requests.Response:
        """One request to ``<base><path>``; its answer if its status is in ``ok``.

        Raises
        ------
        DestinationUnavailable
            No connection, no answer in time, or a server error (5xx).
        DestinationRefused
            The key refused (401/403) or another client error.
        """
        where = f"{method} {self.base}{path}"
        try:
            response = self.http.request(method, self.config.url + path,
                                         timeout=self.config.timeout, **kwargs)
        except requests.Timeout:
            raise DestinationUnavailable(f"eLabFTW did not answer {where} within "
                                         f"{self.config.timeout:g} s (NX_ELABFTW_TIMEOUT)") \
                from None
        except requests.RequestException as exc:
            raise DestinationUnavailable(f"cannot reach eLabFTW ({where}): "
                                         f"{exc.__class__.__name__}") from None
        code = response.status_code
        if code in ok:
            return response
        if code in (401, 403):
            raise DestinationRefused(
                f"eLabFTW at {self.site} refused our API key (HTTP {code} on {where}): check "
                "NX_ELABFTW_API_KEY (an API key with write access, of a user in the team "
                "that should own the experiments); eLabFTW is not asked again this pass")
        if code >= 500:
            raise DestinationUnavailable(f"eLabFTW answered HTTP {code} to {where}: "
                                         f"{_detail(response)}")
        raise DestinationRefused(f"eLabFTW answered HTTP {code} to {where}: "
                                 f"{_detail(response)} (is NX_ELABFTW_URL an eLabFTW server, "
                                 "and are NX_ELABFTW_EXPERIMENT_CATEGORY/STATUS ids of "
                                 "this team?)")

    def json(self, response: requests.Response) -> Any:
        """The JSON body of an answer; DestinationRefused if it has none."""
        try:
            return response.json()
        except ValueError:
            raise DestinationRefused(f"eLabFTW at {self.site} answered {response.url} with "
                                     "something other than JSON: is NX_ELABFTW_URL the "
                                     "eLabFTW server?") from None

    def info(self) -> dict[str, Any]:
        """``GET info``: the server's version (proves the URL and the key)."""
        body = self.json(self.call("GET", "info"))
        return body if isinstance(body, dict) else {}

    def experiment(self, experiment_id: int) -> dict[str, Any] | None:
        """The experiment, or None if it is gone (404, or deleted)."""
        response = self.call("GET", f"experiments/{experiment_id}", ok=(200, 404))
        if response.status_code == 404:
            return None
        body = self.json(response)
        return body if isinstance(body, dict) and body.get("state", 1) != 3 else None

    def find(self, key: str, value: str) -> list[dict[str, Any]]:
        """Experiments whose extra field ``key`` is exactly ``value``, oldest first.

        Asked twice: by the extra field (``extended=extrafield:"key":"value"``), then, if
        that finds nothing, by the plain text search (``q``: title, body, elabid), since
        the body names the session too. Either answer is checked here, exactly.
        """

        def quoted(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        exact: list[dict[str, Any]] = []
        for params in ({"extended": f"extrafield:{quoted(key)}:{quoted(value)}"},
                       {"q": value}):
            found = self.json(self.call("GET", "experiments", params={**params, "limit": 100}))
            exact = [e for e in found if isinstance(e, dict) and e.get("state", 1) != 3
                     and extra_value(e, key) == value] if isinstance(found, list) else []
            if exact:
                break
        return sorted(exact, key=lambda e: int(e["id"]))

    def create(self, body: dict[str, Any]) -> int:
        """Create an experiment; its id, from the ``Location`` of the 201."""
        response = self.call("POST", "experiments", ok=(201,), json=body)
        return location_id(response, "experiment")

    def patch(self, experiment_id: int, body: dict[str, Any]) -> None:
        """Change the experiment's fields."""
        self.call("PATCH", f"experiments/{experiment_id}", json=body)

    def add_tag(self, experiment_id: int, tag: str) -> None:
        """Tag the experiment."""
        self.call("POST", f"experiments/{experiment_id}/tags", ok=(201,), json={"tag": tag})

    def uploads(self, experiment_id: int) -> list[dict[str, Any]]:
        """The experiment's current uploads."""
        body = self.json(self.call("GET", f"experiments/{experiment_id}/uploads"))
        return [u for u in body if isinstance(u, dict)] if isinstance(body, list) else []

    def upload(self, experiment_id: int, name: str, path: Path, comment: str,
               replace: int | None = None) -> None:
        """Attach ``path`` as ``name`` (or replace upload ``replace``, which is archived)."""
        where = f"experiments/{experiment_id}/uploads" + (f"/{replace}" if replace else "")
        with path.open("rb") as fh:
            self.call("POST", where, ok=(201,), files={"file": (name, fh)},
                      data={"comment": comment})


def extra_value(experiment: Mapping[str, Any], key: str) -> str | None:
    """The value of extra field ``key`` (``metadata`` may be a JSON string or an object)."""
    metadata = experiment.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    if not isinstance(metadata, dict):
        return None
    field = (metadata.get("extra_fields") or {}).get(key)
    value = field.get("value") if isinstance(field, dict) else None
    return str(value) if value is not None else None


def location_id(response: requests.Response, what: str) -> int:
    """The id at the end of a 201's ``Location`` (whatever host it names)."""
    location = response.headers.get("Location", "")
    last = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    if not last.isdigit():
        raise DestinationUnavailable(f"eLabFTW created the {what} but its Location header "
                                     f"{location[:200]!r} ends with no id; the next try finds "
                                     "it by its session id")
    return int(last)


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text or "")).strip()
        return text[:300] or response.reason or "no details"
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("message", "description") if body.get(k)]
        return ": ".join(parts) or json.dumps(body)[:300]
    return json.dumps(body)[:300]
